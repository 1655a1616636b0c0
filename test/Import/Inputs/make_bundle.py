#!/usr/bin/env python3
"""Writes a small random BERT checkpoint or compressed bundle for tests.

make_bundle.py DIR [--layers N] [--hidden H] [--heads A] [--intermediate I]
               [--vocab V] [--labels L] [--positions P] [--seed S]
               [--quant sensimix|q8bert|ternary|index] [--mp-layers N]
               [--int8-embeddings] [--id2label default|none|tricky]
               [--sensitivity] [--latent DIR]
               [--pruned-heads L:H,H;L:H] [--ffn-widths W,W,...]
               [--low-rank LAYER.LINEAR:RANK,...]
               [--break missing-tensor|wrong-shape|bad-config|truncated]

The layout is Hugging Face's BertForSequenceClassification (config.json,
model.safetensors); --quant adds quant.json with quantized weights stored as
docs/formats.md specifies. --latent DIR also writes the FP32 checkpoint the
bundle was quantized from (the same values before quantization), so that
other engines can run the same model. --pruned-heads and --ffn-widths write
a structurally pruned model (config.json's pruned_heads and
intermediate_sizes, narrower tensors); --low-rank factorizes linears
(low_rank_linears: <module>.down without bias, then <module>). Python
standard library only.
"""
import argparse
import json
import math
import os
import random
import struct


def pack_signs(row):
    """BitPacking.h: element k -> bit k % 64 of word k / 64; set bit = -1."""
    words = [0] * ((len(row) + 63) // 64)
    for k, value in enumerate(row):
        if not value > 0:
            words[k // 64] |= 1 << (k % 64)
    return [w - (1 << 64) if w >= 1 << 63 else w for w in words]


def round_half_even(x):
    return int(round(x))  # Python's round() is half-to-even


class Writer:
    def __init__(self):
        self.tensors = {}

    def add(self, name, dtype, shape, values):
        fmt = {"F32": "f", "I8": "b", "I64": "q", "I32": "i"}[dtype]
        self.tensors[name] = (dtype, shape, struct.pack("<%d%s" % (len(values), fmt), *values))

    def write(self, path):
        header, chunks, offset = {}, [], 0
        for name in sorted(self.tensors):
            dtype, shape, raw = self.tensors[name]
            header[name] = {"dtype": dtype, "shape": shape,
                            "data_offsets": [offset, offset + len(raw)]}
            chunks.append(raw)
            offset += len(raw)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
            for raw in chunks:
                f.write(raw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=64)
    p.add_argument("--vocab", type=int, default=50)
    p.add_argument("--positions", type=int, default=16)
    p.add_argument("--labels", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quant", choices=["sensimix", "q8bert", "ternary", "index",
                                       "ptq", "ptq-dynamic"],
                   help="ptq: what quant-bert-train quantize writes (int8 weights "
                        "per channel, a calibrated input scale per linear, int8 "
                        "word and position tables); ptq-dynamic: the same "
                        "without input scales")
    p.add_argument("--sensitivity", action="store_true")
    p.add_argument("--mp-layers", type=int,
                   help="sensimix: how many top layers get 1-bit FFNs "
                        "(default: the upper half)")
    p.add_argument("--int8-embeddings", action="store_true",
                   help="word and position tables as per-row symmetric int8")
    p.add_argument("--id2label", choices=["default", "none", "tricky"], default="default",
                   help="label names: label_N (default), none (no id2label), or "
                        "names that need escaping in C")
    p.add_argument("--fast-random", action="store_true",
                   help="tile a 4096-value random block (for BERT-base-sized "
                        "benchmarks; Python's gauss is too slow for 110M values)")
    p.add_argument("--latent", metavar="DIR",
                   help="also write the FP32 checkpoint before quantization")
    p.add_argument("--pruned-heads", default="",
                   help="LAYER:HEAD,HEAD;LAYER:HEAD... removed heads")
    p.add_argument("--ffn-widths", default="",
                   help="one FFN width per layer, comma-separated")
    p.add_argument("--low-rank", default="",
                   help="LAYER.LINEAR:RANK,... e.g. 1.intermediate.dense:8")
    p.add_argument("--groups", type=int, default=0,
                   help="num_hidden_groups: layers sharing weights (ALBERT)")
    p.add_argument("--embedding-size", type=int, default=0,
                   help="embedding_size E < hidden (ALBERT's factorized embedding)")
    p.add_argument("--block-sparsity", type=float, default=0.0,
                   help="zero this share of the aligned 16x4 blocks (16 output "
                        "channels x 4 inputs) of every encoder linear's weights, "
                        "chosen at random: the pattern of a pruned model")
    p.add_argument("--break", dest="breakage",
                   choices=["missing-tensor", "wrong-shape", "bad-config", "truncated"])
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.dir, exist_ok=True)
    h, i = a.hidden, a.intermediate

    config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
              "hidden_size": h, "num_hidden_layers": a.layers,
              "num_attention_heads": a.heads, "intermediate_size": i,
              "vocab_size": a.vocab, "max_position_embeddings": a.positions,
              "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
              "num_labels": a.labels}
    tricky = ['say "hi"', "back\\slash", "tab\tand\nnewline", "trigraph ??= */",
              "na\u00efve \u65e5\u672c1"]
    if a.id2label != "none":
        config["id2label"] = {
            str(k): tricky[k % len(tricky)] if a.id2label == "tricky" else "label_%d" % k
            for k in range(a.labels)}
    pruned = {}
    for item in filter(None, a.pruned_heads.split(";")):
        layer, heads = item.split(":")
        pruned[layer] = sorted(int(x) for x in heads.split(","))
    widths = [int(x) for x in a.ffn_widths.split(",")] if a.ffn_widths else []
    if pruned:
        config["pruned_heads"] = pruned
    if widths:
        config["intermediate_sizes"] = widths
    stored = a.groups or a.layers
    e = a.embedding_size or h
    if a.groups:
        config["num_hidden_groups"] = a.groups
    if a.embedding_size:
        config["embedding_size"] = a.embedding_size
    low_rank = {}
    for item in filter(None, a.low_rank.split(",")):
        name, rank = item.split(":")
        low_rank["bert.encoder.layer." + name] = int(rank)
    if low_rank:
        config["low_rank_linears"] = low_rank
    if a.breakage == "bad-config":
        config["num_attention_heads"] = 5
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    w = Writer()
    latent = Writer()

    def add_latent(name, shape, values):
        latent.add(name, "F32", shape, values)

    block = [rng.gauss(0.0, 1.0) for _ in range(4096)]

    def randn(n, std=0.1):
        if a.fast_random:
            start = rng.randrange(4096)
            return [std * block[(start + j) % 4096] for j in range(n)]
        return [rng.gauss(0.0, std) for _ in range(n)]

    def add_both(name, shape, values):
        w.add(name, "F32", shape, values)
        add_latent(name, shape, values)

    def add_f32(name, shape, std=0.1):
        add_both(name, shape, randn(math.prod(shape), std))

    def add_norm(prefix, width=h):
        add_both(prefix + ".weight", [width], [1.0 + x for x in randn(width, 0.05)])
        add_both(prefix + ".bias", [width], randn(width, 0.05))

    quant = {"format_version": 1, "recipe": a.quant or "float", "linears": {}}

    def add_linear(module, out, inp, precision, bias=True):
        if module in low_rank:
            add_linear(module + ".down", low_rank[module], inp, precision, bias=False)
            inp = low_rank[module]
        values = randn(out * inp, 0.5 / math.sqrt(inp))
        if a.block_sparsity and ".encoder." in module:
            strips, cols = -(-out // 16), -(-inp // 4)
            count = strips * cols
            for block in rng.sample(range(count), round(a.block_sparsity * count)):
                s, c = divmod(block, cols)
                lo, hi = 4 * c, min(inp, 4 * c + 4)
                for r in range(16 * s, min(out, 16 * s + 16)):
                    values[r * inp + lo:r * inp + hi] = [0.0] * (hi - lo)
        add_latent(module + ".weight", [out, inp], values)
        entry = {"precision": precision, "in_features": inp, "out_features": out,
                 "weight": module + ".weight"}
        if bias:
            add_both(module + ".bias", [out], randn(out, 0.02))
            entry["bias"] = module + ".bias"
        if precision == "f32":
            w.add(module + ".weight", "F32", [out, inp], values)
            return
        if precision == "i8" and a.quant in ("ptq", "ptq-dynamic"):
            scales, codes = [], []
            for r in range(out):
                row = values[r * inp:(r + 1) * inp]
                scale = max(abs(v) for v in row) / 127.0 or 1.0
                scales.append(scale)
                codes += [max(-127, min(127, round_half_even(v / scale))) for v in row]
            w.add(module + ".weight", "I8", [out, inp], codes)
            w.add(module + ".weight_scale", "F32", [out], scales)
            entry.update(quantizer="symmetric-ema", scale=module + ".weight_scale")
            if a.quant == "ptq":
                # A distinct "calibrated" scale per linear, exact in binary.
                entry["input_scale"] = 0.03125 + 0.0078125 * len(quant["linears"])
        elif precision == "i8" and a.quant != "index":
            scale = max(abs(v) for v in values) / 127.0
            codes = [max(-128, min(127, round_half_even(v / scale))) for v in values]
            w.add(module + ".weight", "I8", [out, inp], codes)
            w.add(module + ".weight_scale", "F32", [], [scale])
            entry.update(quantizer="symmetric-ema", scale=module + ".weight_scale",
                         input_scale=0.05)
        elif precision == "i8":
            lo, hi = min(values), max(values)
            scale = (hi - lo) / 255.0
            codes = [max(-128, min(127, round_half_even((v - lo) / scale) - 128)) for v in values]
            w.add(module + ".weight", "I8", [out, inp], codes)
            w.add(module + ".weight_scale", "F32", [], [scale])
            entry.update(quantizer="asymmetric-index", scale=module + ".weight_scale",
                         zero_point=-128, offset=lo)
        elif precision == "ternary":
            mean = sum(abs(v) for v in values) / len(values)
            kept = [abs(v) for v in values if abs(v) > 0.7 * mean]
            alpha = sum(kept) / len(kept)
            codes = [(1 if v > 0 else -1) if abs(v) > 0.7 * mean else 0 for v in values]
            w.add(module + ".weight", "I8", [out, inp], codes)
            w.add(module + ".weight_scale", "F32", [], [alpha])
            entry.update(quantizer="twn", scale=module + ".weight_scale", input_scale=0.05)
        elif precision == "binary":
            rows = [values[r * inp:(r + 1) * inp] for r in range(out)]
            packed = [x for row in rows for x in pack_signs(row)]
            w.add(module + ".weight", "I64", [out, (inp + 63) // 64], packed)
            entry.update(quantizer="binary-sign")
        quant["linears"][module] = entry

    def add_embedding(module, rows):
        if not (a.int8_embeddings or a.quant in ("ptq", "ptq-dynamic")):
            add_f32(module + ".weight", [rows, e])
            return
        codes, scales, table = [], [], []
        for _ in range(rows):
            values = randn(e)
            table += values
            scale = max(abs(v) for v in values) / 127.0 or 1.0
            scales.append(scale)
            codes += [max(-127, min(127, round_half_even(v / scale))) for v in values]
        w.add(module + ".weight", "I8", [rows, e], codes)
        w.add(module + ".weight_scale", "F32", [rows], scales)
        add_latent(module + ".weight", [rows, e], table)
        quant.setdefault("embeddings", {})[module] = {
            "precision": "i8", "quantizer": "symmetric-ema",
            "num_embeddings": rows, "embedding_dim": e,
            "weight": module + ".weight", "scale": module + ".weight_scale"}

    add_embedding("bert.embeddings.word_embeddings", a.vocab)
    add_embedding("bert.embeddings.position_embeddings", a.positions)
    add_f32("bert.embeddings.token_type_embeddings.weight", [2, e])
    add_norm("bert.embeddings.LayerNorm", e)
    if a.embedding_size:
        add_linear("bert.encoder.embedding_hidden_mapping_in", h, e, "f32")
    for layer in range(stored):
        prefix = "bert.encoder.layer.%d." % layer
        mp_layers = stored - stored // 2 if a.mp_layers is None else a.mp_layers
        mp_layer = layer >= stored - mp_layers
        attention = {"sensimix": "i8", "q8bert": "i8", "ternary": "ternary",
                     "index": "i8", "ptq": "i8", "ptq-dynamic": "i8"}.get(a.quant, "f32")
        ffn = {"sensimix": "binary" if mp_layer else "i8", "q8bert": "i8",
               "ternary": "ternary", "index": "i8", "ptq": "i8",
               "ptq-dynamic": "i8"}.get(a.quant, "f32")
        width = (a.heads - len(pruned.get(str(layer), []))) * (h // a.heads)
        ffn_width = widths[layer] if widths else i
        for name in ("query", "key", "value"):
            add_linear(prefix + "attention.self." + name, width, h, attention)
        add_linear(prefix + "attention.output.dense", h, width, attention)
        add_norm(prefix + "attention.output.LayerNorm")
        add_linear(prefix + "intermediate.dense", ffn_width, h, ffn)
        add_linear(prefix + "output.dense", h, ffn_width, ffn)
        add_norm(prefix + "output.LayerNorm")
    add_linear("bert.pooler.dense", h, h, "f32")
    add_linear("classifier", a.labels, h, "f32")

    if a.breakage == "missing-tensor":
        del w.tensors["bert.encoder.layer.1.attention.self.key.weight"]
    if a.breakage == "wrong-shape":
        dtype, shape, raw = w.tensors["bert.encoder.layer.0.output.dense.bias"]
        w.tensors["bert.encoder.layer.0.output.dense.bias"] = (dtype, [h + 1], raw + b"\0" * 4)
    path = os.path.join(a.dir, "model.safetensors")
    w.write(path)
    if a.breakage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    if a.latent:
        os.makedirs(a.latent, exist_ok=True)
        with open(os.path.join(a.latent, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        latent.write(os.path.join(a.latent, "model.safetensors"))
    if a.quant or a.int8_embeddings:
        with open(os.path.join(a.dir, "quant.json"), "w") as f:
            json.dump(quant, f, indent=2)
    if a.sensitivity:
        modules = []
        for layer in range(stored):
            depth = (stored - layer) / stored
            modules.append({"layer": layer, "module": "attention", "params": 4 * h * h,
                            "sensitivity": {"i8": 0.01 * depth, "binary": 0.5 * depth}})
            modules.append({"layer": layer, "module": "ffn", "params": 2 * h * i,
                            "sensitivity": {"i8": 0.005 * depth, "binary": 0.2 * depth}})
        embeddings = (a.vocab + a.positions + 2) * e + 2 * e
        encoder = stored * (4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h)
        head = h * h + h + a.labels * h + a.labels
        report = {"format_version": 1, "metric": "dev_loss_increase", "baseline_loss": 0.5,
                  "modules": modules,
                  "parameter_counts": {"embeddings": embeddings, "encoder": encoder,
                                       "head": head, "total": embeddings + encoder + head}}
        with open(os.path.join(a.dir, "sensitivity.json"), "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
