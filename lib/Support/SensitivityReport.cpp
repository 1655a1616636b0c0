//===- SensitivityReport.cpp - sensitivity.json ---------------------------===//
//
// Strict like quant.json (QuantConfig.cpp): unknown keys are errors, and
// validate() runs in both the parser and save(), so a file quant-bert
// writes is always one it accepts.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/SensitivityReport.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/JsonFields.h"

#include <cmath>
#include <set>

using namespace quantbert;
using namespace quantbert::json_fields;

namespace {

std::string quote(std::string_view text) {
  return "'" + std::string(text) + "'";
}

Expected<SensitivityReport> parseSensitivity(const Json &root,
                                             const std::string &source) {
  std::string where = source + ": ";
  if (Error err = rejectUnknownKeys(root, where,
                                    {"format_version", "metric",
                                     "baseline_loss", "modules",
                                     "parameter_counts"}))
    return err;
  SensitivityReport report;
  Expected<int64_t> version = readFormatVersion(root, where, kQuantFormatVersion);
  if (!version)
    return version.error();
  for (const char *key : {"metric", "baseline_loss", "modules",
                          "parameter_counts"})
    if (!root.contains(key))
      return missingField(where, key);
  Expected<std::string> metric = readString(root["metric"], where, "metric");
  if (!metric)
    return metric.error();
  report.metric = *metric;
  Expected<double> baseline =
      readNumber(root["baseline_loss"], where, "baseline_loss", false);
  if (!baseline)
    return baseline.error();
  report.baselineLoss = *baseline;

  const Json &modules = root["modules"];
  if (!modules.is_array())
    return fieldError(where, "modules", "must be an array", modules);
  for (size_t i = 0; i < modules.size(); ++i) {
    std::string at = source + ": modules[" + std::to_string(i) + "]: ";
    const Json &entry = modules[i];
    if (!entry.is_object())
      return Error::failure(at + "entry must be an object, got " +
                            describe(entry));
    if (Error err = rejectUnknownKeys(entry, at,
                                      {"layer", "module", "params",
                                       "sensitivity", "hessian_trace"}))
      return err;
    for (const char *key : {"layer", "module", "params", "sensitivity"})
      if (!entry.contains(key))
        return missingField(at, key);
    ModuleSensitivity module;
    Expected<int64_t> layer = readInteger(entry["layer"], at, "layer", 0);
    if (!layer)
      return layer.error();
    module.layer = *layer;
    const Json &kind = entry["module"];
    if (kind == "attention")
      module.module = BertModule::Attention;
    else if (kind == "ffn")
      module.module = BertModule::Ffn;
    else
      return fieldError(at, "module", "must be \"attention\" or \"ffn\"", kind);
    Expected<int64_t> params = readInteger(entry["params"], at, "params", 1);
    if (!params)
      return params.error();
    module.params = *params;
    const Json &sensitivity = entry["sensitivity"];
    if (!sensitivity.is_object())
      return fieldError(at, "sensitivity",
                        "must be an object mapping precisions to numbers",
                        sensitivity);
    for (const auto &[name, value] : sensitivity.items()) {
      std::optional<Precision> precision = parsePrecision(name);
      if (!precision)
        return Error::failure(at + "field 'sensitivity' has key " + quote(name) +
                              ", expected a precision (f32, f16, bf16, i8, "
                              "ternary, binary)");
      Expected<double> loss =
          readNumber(value, at, "sensitivity." + name, false);
      if (!loss)
        return loss.error();
      module.sensitivity[*precision] = *loss;
    }
    if (entry.contains("hessian_trace")) {
      Expected<double> trace =
          readNumber(entry["hessian_trace"], at, "hessian_trace", false);
      if (!trace)
        return trace.error();
      module.hessianTrace = *trace;
    }
    report.modules.push_back(std::move(module));
  }

  const Json &counts = root["parameter_counts"];
  std::string countsWhere = source + ": parameter_counts: ";
  if (!counts.is_object())
    return fieldError(where, "parameter_counts", "must be an object", counts);
  if (Error err = rejectUnknownKeys(counts, countsWhere,
                                    {"embeddings", "encoder", "head", "total"}))
    return err;
  for (const auto &[key, field] :
       {std::pair<const char *, int64_t *>{"embeddings",
                                           &report.parameterCounts.embeddings},
        {"encoder", &report.parameterCounts.encoder},
        {"head", &report.parameterCounts.head},
        {"total", &report.parameterCounts.total}}) {
    if (!counts.contains(key))
      return missingField(countsWhere, key);
    Expected<int64_t> value = readInteger(counts[key], countsWhere, key, 0);
    if (!value)
      return value.error();
    *field = *value;
  }
  if (Error err = report.validate(source))
    return err;
  return report;
}

} // namespace

std::string_view quantbert::bertModuleName(BertModule module) {
  return module == BertModule::Attention ? "attention" : "ffn";
}

//===----------------------------------------------------------------------===//
// SensitivityReport
//===----------------------------------------------------------------------===//

Expected<SensitivityReport>
SensitivityReport::fromJson(std::string_view text, const std::string &source) {
  return parseDocument<SensitivityReport>(text, source, parseSensitivity);
}

Expected<SensitivityReport> SensitivityReport::load(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  return fromJson(*text, path);
}

Error SensitivityReport::validate(const std::string &source) const {
  std::string where = source + ": ";
  if (formatVersion != kQuantFormatVersion)
    return fieldError(where, "format_version",
                      "must be " + std::to_string(kQuantFormatVersion),
                      formatVersion);
  if (metric != "dev_loss_increase")
    return fieldError(where, "metric", "must be \"dev_loss_increase\"", metric);
  if (!std::isfinite(baselineLoss))
    return fieldError(where, "baseline_loss", "must be a number", baselineLoss);
  std::set<std::pair<int64_t, BertModule>> seen;
  for (size_t i = 0; i < modules.size(); ++i) {
    const ModuleSensitivity &module = modules[i];
    std::string at = source + ": modules[" + std::to_string(i) + "]: ";
    if (module.layer < 0)
      return fieldError(at, "layer", "must be a non-negative integer",
                        module.layer);
    if (module.params <= 0)
      return fieldError(at, "params", "must be a positive integer",
                        module.params);
    if (module.sensitivity.empty())
      return Error::failure(at + "field 'sensitivity' must list at least one "
                                 "precision");
    for (const auto &[precision, loss] : module.sensitivity)
      if (!std::isfinite(loss))
        return fieldError(at, "sensitivity." +
                                  std::string(precisionName(precision)),
                          "must be a number", loss);
    if (module.hessianTrace && !std::isfinite(*module.hessianTrace))
      return fieldError(at, "hessian_trace", "must be a number",
                        *module.hessianTrace);
    if (!seen.emplace(module.layer, module.module).second)
      return Error::failure(at + "layer " + std::to_string(module.layer) +
                            " module '" +
                            std::string(bertModuleName(module.module)) +
                            "' is listed twice");
  }
  const ParameterCounts &counts = parameterCounts;
  if (counts.embeddings < 0 || counts.encoder < 0 || counts.head < 0)
    return Error::failure(where + "parameter_counts: counts must be "
                                  "non-negative");
  int64_t sum = 0;
  if (__builtin_add_overflow(counts.embeddings, counts.encoder, &sum) ||
      __builtin_add_overflow(sum, counts.head, &sum) || sum != counts.total)
    return Error::failure(where + "parameter_counts: field 'total' (" +
                          std::to_string(counts.total) +
                          ") must equal embeddings + encoder + head (" +
                          std::to_string(counts.embeddings) + " + " +
                          std::to_string(counts.encoder) + " + " +
                          std::to_string(counts.head) + ")");
  return Error::success();
}

std::string SensitivityReport::toJson() const {
  Json modulesJson = Json::array();
  for (const ModuleSensitivity &module : modules) {
    Json losses = Json::object();
    for (const auto &[precision, loss] : module.sensitivity)
      losses[std::string(precisionName(precision))] = loss;
    Json entry = {{"layer", module.layer},
                  {"module", bertModuleName(module.module)},
                  {"params", module.params},
                  {"sensitivity", std::move(losses)}};
    if (module.hessianTrace)
      entry["hessian_trace"] = *module.hessianTrace;
    modulesJson.push_back(std::move(entry));
  }
  Json root = {{"format_version", formatVersion},
               {"metric", metric},
               {"baseline_loss", baselineLoss},
               {"modules", std::move(modulesJson)},
               {"parameter_counts",
                {{"embeddings", parameterCounts.embeddings},
                 {"encoder", parameterCounts.encoder},
                 {"head", parameterCounts.head},
                 {"total", parameterCounts.total}}}};
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Error SensitivityReport::save(const std::string &path) const {
  if (Error err = validate(path))
    return err;
  // What is written must read back: toJson() prints doubles exactly, and
  // a reader mismatch is caught here rather than by the compiler later.
  std::string text = toJson();
  Expected<SensitivityReport> reread = fromJson(text, path);
  if (!reread)
    return reread.error();
  return saveDocument(path, text);
}
