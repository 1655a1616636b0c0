//===- QuantConfig.h - quant.json --------------------------------*- C++ -*-===//
//
// The JSON file of a compressed bundle that quant-bert-train writes and
// the importer reads (docs/formats.md is the full specification), and the
// precision and quantizer enumerations the rest of the project shares:
//
// quant.json says, for each linear layer and embedding table, at which
// precision it runs, which quantizer produced it, and which tensors of
// model.safetensors hold its codes and quantization parameters:
//
//   {"format_version": 1, "recipe": "sensimix",
//    "linears": {"bert.encoder.layer.0.attention.self.query": {
//        "precision": "i8", "quantizer": "asymmetric-index",
//        "in_features": 768, "out_features": 768,
//        "weight": "bert.encoder.layer.0.attention.self.query.weight",
//        "scale": "bert.encoder.layer.0.attention.self.query.weight_scale",
//        "zero_point": -128,
//        "offset": "bert.encoder.layer.0.attention.self.query.weight_offset",
//        "bias": "bert.encoder.layer.0.attention.self.query.bias",
//        "input_scale": 0.0421}},
//    "embeddings": {"bert.embeddings.word_embeddings": {
//        "precision": "f16", "num_embeddings": 30522, "embedding_dim": 768,
//        "weight": "bert.embeddings.word_embeddings.weight"}}}
//
// Which fields each precision/quantizer pair requires, and the dtype and
// shape of each tensor, are the table in docs/formats.md; QuantConfig::
// checkTensors enforces that table against a SafetensorsFile.
//
// sensitivity.json, the bundle's other JSON file, is SensitivityReport.h.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_QUANTCONFIG_H
#define QUANTBERT_SUPPORT_QUANTCONFIG_H

#include "quantbert/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert {

class SafetensorsFile;

/// The format_version this library reads and writes.
constexpr int64_t kQuantFormatVersion = 1;

/// Storage/compute precision of a weight (the dialect's #qb.precision).
enum class Precision { F32, F16, BF16, I8, Ternary, Binary };

/// How a quantized weight was produced; it fixes the parameters stored.
enum class Quantizer {
  /// Q8BERT: int8, q = round(w / scale), scale from an EMA of max |w|.
  SymmetricEma,
  /// SensiMix "index": int8, q = round((w - min) * 255 / (max - min)) - 128.
  AsymmetricIndex,
  /// Ternary weight networks: codes in {-1, 0, +1} times alpha.
  Twn,
  /// sign(w) only; packed sign bits, no scale.
  BinarySign,
  /// sign(w) * mean|w| (per channel or per tensor); packed sign bits + scale.
  BinaryMeanScale,
};

/// "f32", "f16", "bf16", "i8", "ternary", "binary".
std::string_view precisionName(Precision precision);
std::optional<Precision> parsePrecision(std::string_view name);
/// "symmetric-ema", "asymmetric-index", "twn", "binary-sign",
/// "binary-mean-scale".
std::string_view quantizerName(Quantizer quantizer);
std::optional<Quantizer> parseQuantizer(std::string_view name);

/// f32, f16 and bf16: stored as floats, no quantizer, no parameters.
bool isFloatPrecision(Precision precision);
/// The precision a quantizer produces (int8 for both int8 quantizers).
Precision producedPrecision(Quantizer quantizer);
/// binary-sign and binary-mean-scale: packed sign bits, sign-quantized inputs.
bool isBinaryQuantizer(Quantizer quantizer);

/// A quantization parameter given inline as a number or as the name of a
/// tensor in model.safetensors (exactly one of the two is set).
struct ScalarOrTensor {
  std::optional<double> value;
  std::string tensor;
};

/// A linear's int8 or ternary codes stored block-sparse
/// (quantbert/Support/BlockSparse.h): `weight` is then I8 [stored blocks,
/// blockRows, blockCols] and `mask` a U8 tensor [ceil(out / blockRows),
/// ceil(ceil(in / blockCols) / 8)] of the stored blocks.
struct BlockSparsity {
  int64_t blockRows = 0, blockCols = 0;
  std::string mask;
};

/// The quantization of one weight matrix: a linear's [out, in] weight or an
/// embedding's [num_embeddings, embedding_dim] table ("rows" x "cols").
struct WeightQuant {
  Precision precision = Precision::F32;
  /// Absent exactly for the float precisions.
  std::optional<Quantizer> quantizer;
  /// The tensor holding the float weight, int8/ternary codes, or packed bits.
  std::string weight;
  /// Per-tensor [] or per-row [rows] F32 scale; required by every quantizer
  /// except binary-sign.
  std::string scale;
  /// asymmetric-index only (required there): integer in [-128, 127] or an
  /// I32 tensor [] / [rows].
  std::optional<ScalarOrTensor> zeroPoint;
  /// asymmetric-index only (required there): number or F32 tensor [] / [rows].
  std::optional<ScalarOrTensor> offset;
  /// Linears' i8 and ternary codes only; absent: stored dense [rows, cols].
  std::optional<BlockSparsity> sparsity;
};

/// quant.json's entry for one nn.Linear, keyed by its module path.
struct LinearQuant : WeightQuant {
  int64_t inFeatures = 0;
  int64_t outFeatures = 0;
  /// F32 [out_features] bias tensor; empty when the linear has none.
  std::string bias;
  /// Static scale of the int8 input activations (i8 and ternary precision,
  /// both of which run on int8 inputs); absent means inputs are quantized
  /// dynamically at run time.
  std::optional<double> inputScale;
};

/// quant.json's entry for one nn.Embedding, keyed by its module path.
struct EmbeddingQuant : WeightQuant {
  int64_t numEmbeddings = 0;
  int64_t embeddingDim = 0;
};

/// The contents of quant.json.
struct QuantConfig {
  int64_t formatVersion = kQuantFormatVersion;
  /// Informational: the training recipe ("sensimix", "q8bert", ...).
  std::string recipe;
  std::map<std::string, LinearQuant> linears;
  std::map<std::string, EmbeddingQuant> embeddings;

  /// Parses and validates quant.json text; `source` prefixes errors.
  static Expected<QuantConfig> fromJson(std::string_view text,
                                        const std::string &source = "quant.json");
  static Expected<QuantConfig> load(const std::string &path);

  /// Checks every entry's field rules (see docs/formats.md).
  Error validate(const std::string &source = "quant.json") const;

  /// Checks that every tensor an entry names exists in `weights` with the
  /// dtype and shape its precision and quantizer require.
  Error checkTensors(const SafetensorsFile &weights,
                     const std::string &source = "quant.json") const;

  /// Pretty-printed JSON, keys sorted, optional fields omitted when unset.
  std::string toJson() const;
  /// validate(), then write toJson() to `path` atomically.
  Error save(const std::string &path) const;
};

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_QUANTCONFIG_H
