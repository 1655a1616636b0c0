//===- QatSpec.h - Deployed quantization specs and qat.json ------*- C++ -*-===//
//
// How each quantized module runs once deployed (LinearQuantSpec,
// EmbeddingQuantSpec: the combinations the compiler runs), and QatSpec, a
// whole model's specs with the calibrated activation ranges, which a QAT
// checkpoint stores as qat.json (docs/formats.md). The modules that carry
// the specs are in QuantizedLinear.h.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_QATSPEC_H
#define QUANTBERT_TRAIN_QATSPEC_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Train/Quantizers.h"

#include <map>
#include <string>
#include <string_view>

namespace quantbert::train {

/// What a linear's input becomes in the deployed model.
enum class InputQuant {
  /// Stays f32.
  Float,
  /// int8 with a static symmetric scale from the EMA range (or a
  /// post-training calibration).
  Int8,
  /// int8 with one symmetric scale per row computed from the row at run
  /// time, max|x| / 127 (dynamic quantization, qb.quantize_rows).
  DynamicInt8,
  /// +-1 signs (binary linears).
  Sign,
};

/// "f32", "i8", "i8-dynamic", "binary" (quant.json's precision names,
/// and dynamic int8).
std::string_view inputQuantName(InputQuant input);

/// The deployed quantization of one linear. The compiler runs three
/// combinations, so only these are valid (validateLinearSpec):
/// symmetric-ema or twn weights with int8 inputs, static or dynamic
/// (qb.int8_linear),
/// binary-sign or binary-mean-scale weights with sign inputs
/// (qb.binary_linear), and per-tensor asymmetric-index weights with f32
/// inputs (dequantized storage, a float linear).
struct LinearQuantSpec {
  Quantizer weight = Quantizer::SymmetricEma;
  Granularity granularity = Granularity::PerTensor;
  InputQuant input = InputQuant::Int8;
};

/// The deployed quantization of one embedding table (its lookups are exact:
/// the table is dequantized).
struct EmbeddingQuantSpec {
  Quantizer weight = Quantizer::SymmetricEma;
  Granularity granularity = Granularity::PerTensor;
};

/// Checks a spec against the combinations above; `where` prefixes errors.
Error validateLinearSpec(const LinearQuantSpec &spec, const std::string &where);
Error validateEmbeddingSpec(const EmbeddingQuantSpec &spec,
                            const std::string &where);

/// The deployed quantization of a whole model, keyed by module path
/// ("bert.encoder.layer.0.attention.self.query"), with the calibrated
/// activation ranges. Saved as qat.json beside a QAT checkpoint:
///
///   {"format_version": 1, "recipe": "q8bert",
///    "linears": {"bert.encoder.layer.0.attention.self.query": {
///        "quantizer": "symmetric-ema", "granularity": "tensor",
///        "input": "i8", "input_range": 4.25}},
///    "embeddings": {"bert.embeddings.word_embeddings": {
///        "quantizer": "symmetric-ema", "granularity": "tensor"}}}
///
/// `granularity` is "tensor" or "row"; `input` "f32", "i8" or "binary";
/// `input_range` (i8 inputs, once calibrated) the EMA of max|x|.
struct QatSpec {
  std::string recipe;
  std::map<std::string, LinearQuantSpec> linears;
  std::map<std::string, EmbeddingQuantSpec> embeddings;
  /// Calibrated ranges of int8-input linears.
  std::map<std::string, float> inputRanges;

  Error validate(const std::string &source = "qat.json") const;
  static Expected<QatSpec> fromJson(std::string_view text,
                                    const std::string &source = "qat.json");
  static Expected<QatSpec> load(const std::string &path);
  std::string toJson() const;
  /// validate(), then writes toJson() atomically.
  Error save(const std::string &path) const;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_QATSPEC_H
