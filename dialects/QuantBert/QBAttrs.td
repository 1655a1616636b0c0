//===- QBAttrs.td - qb dialect attributes ------------------*- tablegen -*-===//
//
// Enumerations and attributes of the qb dialect: the precision a linear-like
// op computes in, the quantizer that produced its weights, and the role a
// linear plays in BERT (which also tells its module: attention or FFN).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_DIALECT_QB_ATTRS
#define QUANTBERT_DIALECT_QB_ATTRS

include "QBBase.td"
include "mlir/IR/EnumAttr.td"

def QB_Precision : I32EnumAttr<"Precision",
    "numeric precision of a linear-like op", [
      I32EnumAttrCase<"f32", 0>,
      I32EnumAttrCase<"f16", 1>,
      I32EnumAttrCase<"bf16", 2>,
      I32EnumAttrCase<"i8", 3>,
      I32EnumAttrCase<"ternary", 4>,
      I32EnumAttrCase<"binary", 5>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::quantbert::qb";
}

def QB_PrecisionAttr : EnumAttr<QB_Dialect, QB_Precision, "precision"> {
  let summary = "Numeric precision of a linear-like op";
  let description = [{
    `#qb.precision<f32|f16|bf16|i8|ternary|binary>`: the precision in which a
    linear-like op's weights (and, for `i8` and `binary`, its inputs) are
    represented. `f16`/`bf16` mean storage in that type with f32 accumulation;
    `ternary` means weights in {-a, 0, +a} with 8-bit activations; `binary`
    means both weights and inputs are signs (XNOR-popcount arithmetic).
  }];
  let assemblyFormat = "`<` $value `>`";
}

def QB_Quantizer : I32EnumAttr<"Quantizer",
    "quantizer that maps latent f32 weights to their low-precision form", [
      I32EnumAttrCase<"symmetric_ema", 0>,
      I32EnumAttrCase<"asymmetric_index", 1>,
      I32EnumAttrCase<"twn", 2>,
      I32EnumAttrCase<"binary_sign", 3>,
      I32EnumAttrCase<"binary_mean_scale", 4>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::quantbert::qb";
}

def QB_QuantizerAttr : EnumAttr<QB_Dialect, QB_Quantizer, "quantizer"> {
  let summary = "Weight quantizer of a linear";
  let description = [{
    Which quantizer produced (or will produce) a linear's weights:
    `symmetric_ema` (Q8BERT symmetric 8-bit, EMA activation ranges),
    `asymmetric_index` (SensiMix 8-bit index format with per-tensor min/max),
    `twn` (ternary weight networks), `binary_sign` (sign without scale,
    SensiMix) and `binary_mean_scale` (sign times mean |W|, BWN). The
    `symmetric_ema` and `asymmetric_index` quantizers require `i8`
    precision, `twn` requires `ternary`, and the binary ones `binary`.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def QB_LinearRole : I32EnumAttr<"LinearRole",
    "role of a linear layer inside a BERT model", [
      I32EnumAttrCase<"query", 0>,
      I32EnumAttrCase<"key", 1>,
      I32EnumAttrCase<"value", 2>,
      I32EnumAttrCase<"attention_output", 3>,
      I32EnumAttrCase<"intermediate", 4>,
      I32EnumAttrCase<"output", 5>,
      I32EnumAttrCase<"pooler", 6>,
      I32EnumAttrCase<"classifier", 7>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::quantbert::qb";
}

def QB_LinearRoleAttr : EnumAttr<QB_Dialect, QB_LinearRole, "role"> {
  let summary = "Role of a linear inside BERT";
  let description = [{
    The Hugging Face module a linear corresponds to: `query`, `key`, `value`,
    `attention_output` (`attention.output.dense`), `intermediate`
    (`intermediate.dense`), `output` (`output.dense`), `pooler` and
    `classifier`. Import sets it from the tensor name; export and sensitivity
    data are keyed by it.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def QB_LayerModule : I32EnumAttr<"LayerModule",
    "sub-layer of a BERT encoder layer", [
      I32EnumAttrCase<"attention", 0>,
      I32EnumAttrCase<"ffn", 1>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::quantbert::qb";
}

def QB_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "formula used by qb.gelu", [
      I32EnumAttrCase<"erf", 0>,
      I32EnumAttrCase<"tanh", 1>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::quantbert::qb";
}

def QB_GeluApproximationAttr
    : EnumAttr<QB_Dialect, QB_GeluApproximation, "gelu_approximation"> {
  let summary = "GELU formula: exact (erf) or the tanh approximation";
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Module attributes: what import knows about the model
//===----------------------------------------------------------------------===//

def QB_ModelAttr : QB_Attr<"Model", "model"> {
  let summary = "The facts about an imported model its C API needs";
  let description = [{
    Import attaches it to the module as `qb.model`; quant-bert-compile reads
    it to write the model's C header and descriptor (label count and names,
    the vocabulary and position limits the generated run function checks).
    `labels`, when present, has `num_labels` strings in class order
    (config.json's `id2label`); without it the header names them
    `LABEL_0`, ... as transformers does.

    ```mlir
    module attributes {qb.model = #qb.model<num_labels = 3, vocab_size = 30522,
        max_positions = 512, type_vocab_size = 2, labels = ["neg", "neu", "pos"]>}
    ```
  }];
  let parameters = (ins
    "int64_t":$num_labels,
    "int64_t":$vocab_size,
    "int64_t":$max_positions,
    "int64_t":$type_vocab_size,
    OptionalParameter<"::mlir::ArrayAttr">:$labels);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def QB_ModuleSensitivityAttr : QB_Attr<"ModuleSensitivity", "sensitivity"> {
  let summary = "One module's measured quantization sensitivity";
  let description = [{
    An entry of sensitivity.json (docs/formats.md): the dev-set loss
    increase when encoder layer `layer`'s `module` (attention or ffn) alone
    is quantized to each precision. The module attribute `qb.sensitivity`
    is an array of these, at most one per (layer, module); import copies a
    bundle's sensitivity.json there and qb-assign-precision reads it.

    ```mlir
    module attributes {qb.sensitivity = [
      #qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.01 : f64, binary = 0.3 : f64}>]}
    ```
  }];
  let parameters = (ins
    "int64_t":$layer,
    EnumParameter<QB_LayerModule>:$module,
    "::mlir::DictionaryAttr":$losses);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QUANTBERT_DIALECT_QB_ATTRS
