//===- QuantConfig.h - quant.json and sensitivity.json -----------*- C++ -*-===//
//
// The two JSON files of a compressed bundle that quant-bert-train writes and
// the importer reads (docs/formats.md is the full specification):
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
// sensitivity.json records, per encoder layer and module (attention / ffn),
// the dev-set loss increase when that module alone is quantized to each
// candidate precision, plus the model's parameter counts, so a bit budget can
// be solved without loading weights.
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

/// The two modules of an encoder layer that precision is assigned to.
enum class BertModule {
  /// Self-attention: query, key, value and attention.output.dense.
  Attention,
  /// Feed-forward: intermediate.dense and output.dense.
  Ffn,
};

std::string_view bertModuleName(BertModule module);

/// One measured module of sensitivity.json.
struct ModuleSensitivity {
  int64_t layer = 0;
  BertModule module = BertModule::Attention;
  /// Weights of the module's linears (biases and LayerNorms excluded).
  int64_t params = 0;
  /// Loss increase over the baseline with only this module at that
  /// precision; may be slightly negative (measurement noise).
  std::map<Precision, double> sensitivity;
  std::optional<double> hessianTrace;
};

/// Parameter counts of the whole model; total = embeddings + encoder + head.
struct ParameterCounts {
  int64_t embeddings = 0;
  /// All encoder layers, including biases and LayerNorms.
  int64_t encoder = 0;
  /// Pooler and classifier.
  int64_t head = 0;
  int64_t total = 0;
};

/// The contents of sensitivity.json.
struct SensitivityReport {
  int64_t formatVersion = kQuantFormatVersion;
  /// The only metric defined so far: "dev_loss_increase".
  std::string metric = "dev_loss_increase";
  /// Dev-set loss of the unquantized model.
  double baselineLoss = 0;
  /// Unique (layer, module) pairs, in the order written.
  std::vector<ModuleSensitivity> modules;
  ParameterCounts parameterCounts;

  static Expected<SensitivityReport>
  fromJson(std::string_view text,
           const std::string &source = "sensitivity.json");
  static Expected<SensitivityReport> load(const std::string &path);
  Error validate(const std::string &source = "sensitivity.json") const;
  std::string toJson() const;
  Error save(const std::string &path) const;
};

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_QUANTCONFIG_H
