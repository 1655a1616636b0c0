#!/usr/bin/python3
"""Writes ONNX graphs of a Hugging Face BertForSequenceClassification
checkpoint (config.json + model.safetensors, FP32) for ONNX Runtime.

onnx_bert.py CHECKPOINT_DIR OUT_DIR

Four graphs, all with inputs input_ids, token_type_ids, attention_mask
(int64 [batch, seq]) and output logits (float [batch, num_labels]):

  fp32-plain.onnx   what torch.onnx.export of the Hugging Face module gives
                    (opset 17): Gather embeddings, LayerNormalization,
                    MatMul + Add, softmax attention with the additive -10000
                    mask, Erf GELU. ORT's own graph optimizer fuses it.
  int8-plain.onnx   what onnxruntime.quantization.quantize_dynamic makes of
                    it (per_channel=True, weight_type=QInt8): every encoder
                    linear DynamicQuantizeLinear -> MatMulInteger (int8
                    weights, symmetric per output column) -> Cast -> Mul by
                    the two scales -> Add bias. Pooler and classifier FP32.
  fp32-fused.onnx   what onnxruntime.transformers.optimizer --model_type
                    bert makes of the plain graph: EmbedLayerNormalization,
                    com.microsoft Attention (one packed QKV weight),
                    BiasGelu, SkipLayerNormalization.
  int8-fused.onnx   quantize_dynamic of the fused graph: QAttention (int8
                    QKV, per-column scales) and DynamicQuantizeMatMul.

The fused forms are the strongest ONNX Runtime setup a user gets from the
tools ORT ships; building them here directly (the ORT Python package is not
installable on this machine) keeps the same numerics, which the bench checks
against LibTorch. Needs Debian's python3-onnx and python3-numpy.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MS = "com.microsoft"


def read_safetensors(path):
    dtypes = {"F32": np.float32, "I8": np.int8, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        if entry["dtype"] not in dtypes:
            sys.exit("onnx_bert.py: %s: dtype %s is not FP32 (give an FP32 "
                     "checkpoint)" % (name, entry["dtype"]))
        array = np.frombuffer(data[begin:end], dtype=dtypes[entry["dtype"]])
        tensors[name] = array.reshape(entry["shape"])
    return tensors


class Graph:
    def __init__(self, weights):
        self.w = weights
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return "%s_%d" % (stem, self.count)

    def const(self, array, stem="c"):
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, outputs=1, domain="", **attrs):
        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, domain=domain,
                                           **attrs))
        return names[0] if outputs == 1 else names

    def weight(self, name):
        if name not in self.w:
            sys.exit("onnx_bert.py: checkpoint has no tensor %s" % name)
        return self.w[name].astype(np.float32)


def quantize_per_column(w_t):
    """quantize_dynamic's symmetric int8 weights, one scale per output column
    of the [in, out] MatMul weight."""
    scale = np.abs(w_t).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w_t / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def linear(g, x, prefix, int8):
    """x @ W^T + b for the Hugging Face Linear `prefix`."""
    w_t = g.weight(prefix + ".weight").T.copy()
    b = g.weight(prefix + ".bias")
    if not int8:
        return g.op("Add", [g.op("MatMul", [x, g.const(w_t, "w")]), g.const(b, "b")])
    q, scale = quantize_per_column(w_t)
    xq, xs, xzp = g.op("DynamicQuantizeLinear", [x], outputs=3)
    acc = g.op("MatMulInteger", [xq, g.const(q, "wq"), xzp,
                                 g.const(np.zeros(q.shape[1], np.int8), "wzp")])
    scales = g.op("Mul", [xs, g.const(scale, "ws")])
    y = g.op("Mul", [g.op("Cast", [acc], to=TensorProto.FLOAT), scales])
    return g.op("Add", [y, g.const(b, "b")])


def fused_linear(g, x, prefix, int8, with_bias=True):
    """The fused graphs' MatMul (bias left to the consumer when with_bias is
    False): MatMul, or DynamicQuantizeMatMul for int8."""
    w_t = g.weight(prefix + ".weight").T.copy()
    b = g.weight(prefix + ".bias")
    if int8:
        q, scale = quantize_per_column(w_t)
        inputs = [x, g.const(q, "wq"), g.const(scale, "ws"),
                  g.const(np.zeros(q.shape[1], np.int8), "wzp")]
        if with_bias:
            inputs.append(g.const(b, "b"))
        return g.op("DynamicQuantizeMatMul", inputs, domain=MS)
    y = g.op("MatMul", [x, g.const(w_t, "w")])
    return g.op("Add", [y, g.const(b, "b")]) if with_bias else y


def layer_norm(g, x, prefix, eps):
    return g.op("LayerNormalization",
                [x, g.const(g.weight(prefix + ".weight")),
                 g.const(g.weight(prefix + ".bias"))], axis=-1, epsilon=eps)


def gelu(g, x):
    inner = g.op("Erf", [g.op("Div", [x, g.const(np.float32(math.sqrt(2.0)))])])
    half = g.op("Mul", [x, g.const(np.float32(0.5))])
    return g.op("Mul", [half, g.op("Add", [inner, g.const(np.float32(1.0))])])


def plain_graph(g, cfg, int8):
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps = h // nh, cfg.get("layer_norm_eps", 1e-12)
    e = "bert.embeddings."
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(np.int64(1))], axis=0)
    positions = g.op("Range", [g.const(np.int64(0)), seq, g.const(np.int64(1))])
    x = g.op("Add", [g.op("Gather", [g.const(g.weight(e + "word_embeddings.weight")),
                                     "input_ids"]),
                     g.op("Gather", [g.const(g.weight(e + "token_type_embeddings.weight")),
                                     "token_type_ids"])])
    x = g.op("Add", [x, g.op("Gather", [g.const(g.weight(e + "position_embeddings.weight")),
                                        positions])])
    x = layer_norm(g, x, e + "LayerNorm", eps)
    # [batch, seq] 1/0 -> [batch, 1, 1, seq] 0/-10000 (BertModel.cpp, HF < 4.3)
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op("Mul", [g.op("Sub", [g.const(np.float32(1.0)), mask]),
                        g.const(np.float32(-10000.0))])
    mask = g.op("Unsqueeze", [mask, g.const(np.array([1, 2], np.int64))])
    heads = g.const(np.array([0, 0, nh, d], np.int64))
    merged = g.const(np.array([0, 0, h], np.int64))
    for layer in range(cfg["num_hidden_layers"]):
        p = "bert.encoder.layer.%d." % layer

        def split(t, perm):
            return g.op("Transpose", [g.op("Reshape", [t, heads])], perm=perm)

        q = split(linear(g, x, p + "attention.self.query", int8), [0, 2, 1, 3])
        k = split(linear(g, x, p + "attention.self.key", int8), [0, 2, 3, 1])
        v = split(linear(g, x, p + "attention.self.value", int8), [0, 2, 1, 3])
        scores = g.op("Div", [g.op("MatMul", [q, k]), g.const(np.float32(math.sqrt(d)))])
        probs = g.op("Softmax", [g.op("Add", [scores, mask])], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merged])
        attn = linear(g, ctx, p + "attention.output.dense", int8)
        x = layer_norm(g, g.op("Add", [attn, x]), p + "attention.output.LayerNorm", eps)
        inner = gelu(g, linear(g, x, p + "intermediate.dense", int8))
        out = linear(g, inner, p + "output.dense", int8)
        x = layer_norm(g, g.op("Add", [out, x]), p + "output.LayerNorm", eps)
    return x


def fused_graph(g, cfg, int8):
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-12)
    e = "bert.embeddings."
    ids = g.op("Cast", ["input_ids"], to=TensorProto.INT32)
    types = g.op("Cast", ["token_type_ids"], to=TensorProto.INT32)
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)
    x, mask_index = g.op(
        "EmbedLayerNormalization",
        [ids, types, g.const(g.weight(e + "word_embeddings.weight")),
         g.const(g.weight(e + "position_embeddings.weight")),
         g.const(g.weight(e + "token_type_embeddings.weight")),
         g.const(g.weight(e + "LayerNorm.weight")), g.const(g.weight(e + "LayerNorm.bias")),
         mask], outputs=2, domain=MS, epsilon=eps)
    for layer in range(cfg["num_hidden_layers"]):
        p = "bert.encoder.layer.%d." % layer
        a = p + "attention.self."
        w_t = np.concatenate([g.weight(a + n + ".weight").T
                              for n in ("query", "key", "value")], axis=1)
        b = np.concatenate([g.weight(a + n + ".bias") for n in ("query", "key", "value")])
        if int8:
            q, scale = quantize_per_column(w_t)
            xq, xs, xzp = g.op("DynamicQuantizeLinear", [x], outputs=3)
            ctx = g.op("QAttention",
                       [xq, g.const(q, "wq"), g.const(b, "b"), xs, g.const(scale, "ws"),
                        mask_index, xzp, g.const(np.zeros(q.shape[1], np.int8), "wzp")],
                       domain=MS, num_heads=nh)
        else:
            ctx = g.op("Attention", [x, g.const(w_t, "w"), g.const(b, "b"), mask_index],
                       domain=MS, num_heads=nh)
        o = p + "attention.output."
        attn = fused_linear(g, ctx, o + "dense", int8, with_bias=False)
        x = g.op("SkipLayerNormalization",
                 [attn, x, g.const(g.weight(o + "LayerNorm.weight")),
                  g.const(g.weight(o + "LayerNorm.bias")), g.const(g.weight(o + "dense.bias"))],
                 domain=MS, epsilon=eps)
        inner = fused_linear(g, x, p + "intermediate.dense", int8, with_bias=False)
        inner = g.op("BiasGelu", [inner, g.const(g.weight(p + "intermediate.dense.bias"))],
                     domain=MS)
        out = fused_linear(g, inner, p + "output.dense", int8, with_bias=False)
        x = g.op("SkipLayerNormalization",
                 [out, x, g.const(g.weight(p + "output.LayerNorm.weight")),
                  g.const(g.weight(p + "output.LayerNorm.bias")),
                  g.const(g.weight(p + "output.dense.bias"))], domain=MS, epsilon=eps)
    return x


def build(weights, cfg, fused, int8):
    g = Graph(weights)
    x = (fused_graph if fused else plain_graph)(g, cfg, int8)
    first = g.op("Gather", [x, g.const(np.int64(0))], axis=1)  # [CLS]
    pooled = g.op("Tanh", [linear(g, first, "bert.pooler.dense", False)])
    logits = linear(g, pooled, "classifier", False)
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    dims = ["batch", "seq"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
              for n in ("input_ids", "token_type_ids", "attention_mask")]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                           ["batch", cfg["num_labels"]])
    graph = helper.make_graph(g.nodes, "bert", inputs, [output], g.inits)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="quant-bert")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=False)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: onnx_bert.py CHECKPOINT_DIR OUT_DIR")
    src, out = sys.argv[1:]
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("num_labels", len(cfg.get("id2label", {})) or 2)
    for field in ("pruned_heads", "intermediate_sizes", "low_rank_linears"):
        if cfg.get(field):
            sys.exit("onnx_bert.py: %s: config.json has '%s': this writer builds "
                     "unpruned, unfactorized BERTs only" % (src, field))
    weights = read_safetensors(os.path.join(src, "model.safetensors"))
    os.makedirs(out, exist_ok=True)
    for fused in (False, True):
        for int8 in (False, True):
            name = "%s-%s.onnx" % ("int8" if int8 else "fp32", "fused" if fused else "plain")
            onnx.save(build(weights, cfg, fused, int8), os.path.join(out, name))
            print("onnx_bert.py: wrote", os.path.join(out, name))


if __name__ == "__main__":
    main()
