//===- SensitivityReport.h - sensitivity.json --------------------*- C++ -*-===//
//
// sensitivity.json records, per encoder layer and module (attention / ffn),
// the dev-set loss increase when that module alone is quantized to each
// candidate precision, plus the model's parameter counts, so a bit budget can
// be solved without loading weights (docs/formats.md). quant-bert-train
// sensitivity writes it (SensitivityReport::save, the one writer); the
// recipes, the importer and qb-assign-precision read it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_SENSITIVITYREPORT_H
#define QUANTBERT_SUPPORT_SENSITIVITYREPORT_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/QuantConfig.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert {

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
  /// validate(), check that toJson() reads back, then write it to `path`
  /// atomically.
  Error save(const std::string &path) const;
};

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_SENSITIVITYREPORT_H
