//===- QatSpec.cpp - Deployed quantization specs and qat.json -------------===//

#include "quantbert/Train/QatSpec.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/JsonFields.h"

namespace quantbert::train {

namespace {

using Json = nlohmann::json;

std::string quote(std::string_view text) {
  return "'" + std::string(text) + "'";
}

} // namespace

//===----------------------------------------------------------------------===//
// Specs
//===----------------------------------------------------------------------===//

std::string_view inputQuantName(InputQuant input) {
  switch (input) {
  case InputQuant::Float:
    return "f32";
  case InputQuant::Int8:
    return "i8";
  case InputQuant::DynamicInt8:
    return "i8-dynamic";
  case InputQuant::Sign:
    return "binary";
  }
  return "?";
}

Error validateLinearSpec(const LinearQuantSpec &spec,
                         const std::string &where) {
  std::string quantizer(quantizerName(spec.weight));
  InputQuant needed = InputQuant::Float;
  switch (spec.weight) {
  case Quantizer::SymmetricEma:
  case Quantizer::Twn:
    // qb.int8_linear quantizes its input with a static scale.
    needed = InputQuant::Int8;
    break;
  case Quantizer::AsymmetricIndex:
    // The compiler dequantizes the index format to f32 weights (one offset
    // per tensor) and runs a float linear.
    if (spec.granularity != Granularity::PerTensor)
      return Error::failure(where + "quantizer 'asymmetric-index' is per "
                                    "tensor only (field 'granularity' must "
                                    "be \"tensor\")");
    needed = InputQuant::Float;
    break;
  case Quantizer::BinarySign:
  case Quantizer::BinaryMeanScale:
    // qb.binary_linear packs the signs of its input.
    needed = InputQuant::Sign;
    break;
  }
  // int8-input quantizers take static or dynamic int8 inputs.
  if (needed == InputQuant::Int8 && spec.input == InputQuant::DynamicInt8)
    return Error::success();
  if (spec.input != needed)
    return Error::failure(where + "quantizer " + quote(quantizer) +
                          " runs on " + std::string(inputQuantName(needed)) +
                          " inputs: field 'input' must be \"" +
                          std::string(inputQuantName(needed)) + "\", got \"" +
                          std::string(inputQuantName(spec.input)) + "\"");
  return Error::success();
}

Error validateEmbeddingSpec(const EmbeddingQuantSpec &spec,
                            const std::string &where) {
  if (spec.weight == Quantizer::AsymmetricIndex &&
      spec.granularity != Granularity::PerTensor)
    return Error::failure(where + "quantizer 'asymmetric-index' is per tensor "
                                  "only (field 'granularity' must be "
                                  "\"tensor\")");
  return Error::success();
}

//===----------------------------------------------------------------------===//
// QatSpec and qat.json
//===----------------------------------------------------------------------===//

namespace {

std::string entryWhere(const std::string &source, const char *section,
                       const std::string &name) {
  return source + ": " + section + "['" + name + "']: ";
}

using json_fields::fieldError;
using json_fields::rejectUnknownKeys;

Expected<const Json *> requireField(const Json &object,
                                    const std::string &where, const char *key) {
  if (!object.contains(key))
    return Error::failure(where + "missing field '" + key + "'");
  return &object[key];
}

Expected<Quantizer> readQuantizer(const Json &entry, const std::string &where) {
  Expected<const Json *> value = requireField(entry, where, "quantizer");
  if (!value)
    return value.error();
  std::optional<Quantizer> quantizer =
      (*value)->is_string() ? parseQuantizer((*value)->get<std::string>())
                            : std::nullopt;
  if (!quantizer)
    return fieldError(where, "quantizer",
                      "must be one of \"symmetric-ema\", \"asymmetric-index\", "
                      "\"twn\", \"binary-sign\", \"binary-mean-scale\"",
                      **value);
  return *quantizer;
}

Expected<Granularity> readGranularity(const Json &entry,
                                      const std::string &where) {
  Expected<const Json *> value = requireField(entry, where, "granularity");
  if (!value)
    return value.error();
  if (**value == "tensor")
    return Granularity::PerTensor;
  if (**value == "row")
    return Granularity::PerRow;
  return fieldError(where, "granularity", "must be \"tensor\" or \"row\"",
                    **value);
}

const char *granularityName(Granularity granularity) {
  return granularity == Granularity::PerRow ? "row" : "tensor";
}

Expected<QatSpec> parseQatSpec(const Json &root, const std::string &source) {
  std::string where = source + ": ";
  if (Error err = rejectUnknownKeys(
          root, where, {"format_version", "recipe", "linears", "embeddings"}))
    return err;
  Expected<const Json *> version = requireField(root, where, "format_version");
  if (!version)
    return version.error();
  if (!(*version)->is_number_integer() ||
      (*version)->get<int64_t>() != kQuantFormatVersion)
    return fieldError(where, "format_version",
                      "must be " + std::to_string(kQuantFormatVersion),
                      **version);
  QatSpec spec;
  Expected<const Json *> recipe = requireField(root, where, "recipe");
  if (!recipe)
    return recipe.error();
  if (!(*recipe)->is_string() || (*recipe)->get<std::string>().empty())
    return fieldError(where, "recipe", "must be a non-empty string", **recipe);
  spec.recipe = (*recipe)->get<std::string>();

  Expected<const Json *> linears = requireField(root, where, "linears");
  if (!linears)
    return linears.error();
  if (!(*linears)->is_object())
    return fieldError(where, "linears", "must be an object", **linears);
  for (const auto &[name, entry] : (*linears)->items()) {
    std::string at = entryWhere(source, "linears", name);
    if (!entry.is_object())
      return Error::failure(at + "entry must be an object, got " +
                            entry.dump());
    if (Error err = rejectUnknownKeys(
            entry, at, {"quantizer", "granularity", "input", "input_range"}))
      return err;
    LinearQuantSpec linear;
    Expected<Quantizer> quantizer = readQuantizer(entry, at);
    if (!quantizer)
      return quantizer.error();
    linear.weight = *quantizer;
    Expected<Granularity> granularity = readGranularity(entry, at);
    if (!granularity)
      return granularity.error();
    linear.granularity = *granularity;
    Expected<const Json *> input = requireField(entry, at, "input");
    if (!input)
      return input.error();
    if (**input == "f32")
      linear.input = InputQuant::Float;
    else if (**input == "i8")
      linear.input = InputQuant::Int8;
    else if (**input == "i8-dynamic")
      linear.input = InputQuant::DynamicInt8;
    else if (**input == "binary")
      linear.input = InputQuant::Sign;
    else
      return fieldError(at, "input",
                        "must be \"f32\", \"i8\", \"i8-dynamic\" or "
                        "\"binary\"",
                        **input);
    if (entry.contains("input_range")) {
      const Json &range = entry["input_range"];
      if (!range.is_number() || !std::isfinite(range.get<double>()) ||
          range.get<double>() < 0)
        return fieldError(at, "input_range", "must be a non-negative number",
                          range);
      spec.inputRanges[name] = range.get<float>();
    }
    spec.linears[name] = linear;
  }
  if (root.contains("embeddings")) {
    const Json &embeddings = root["embeddings"];
    if (!embeddings.is_object())
      return fieldError(where, "embeddings", "must be an object", embeddings);
    for (const auto &[name, entry] : embeddings.items()) {
      std::string at = entryWhere(source, "embeddings", name);
      if (!entry.is_object())
        return Error::failure(at + "entry must be an object, got " +
                              entry.dump());
      if (Error err =
              rejectUnknownKeys(entry, at, {"quantizer", "granularity"}))
        return err;
      EmbeddingQuantSpec embedding;
      Expected<Quantizer> quantizer = readQuantizer(entry, at);
      if (!quantizer)
        return quantizer.error();
      embedding.weight = *quantizer;
      Expected<Granularity> granularity = readGranularity(entry, at);
      if (!granularity)
        return granularity.error();
      embedding.granularity = *granularity;
      spec.embeddings[name] = embedding;
    }
  }
  if (Error err = spec.validate(source))
    return err;
  return spec;
}

} // namespace

Error QatSpec::validate(const std::string &source) const {
  if (recipe.empty())
    return Error::failure(source + ": field 'recipe' must be a non-empty "
                                   "string");
  for (const auto &[name, linear] : linears)
    if (Error err =
            validateLinearSpec(linear, entryWhere(source, "linears", name)))
      return err;
  for (const auto &[name, embedding] : embeddings)
    if (Error err = validateEmbeddingSpec(
            embedding, entryWhere(source, "embeddings", name)))
      return err;
  for (const auto &[name, range] : inputRanges) {
    std::string at = entryWhere(source, "linears", name);
    auto it = linears.find(name);
    if (it == linears.end() || it->second.input != InputQuant::Int8)
      return Error::failure(at + "field 'input_range' applies to \"i8\" "
                                 "inputs only");
    if (!(range >= 0) || !std::isfinite(range))
      return Error::failure(at + "field 'input_range' must be a non-negative "
                                 "number");
  }
  return Error::success();
}

Expected<QatSpec> QatSpec::fromJson(std::string_view text,
                                    const std::string &source) {
  return json_fields::parseDocument<QatSpec>(text, source, parseQatSpec);
}

Expected<QatSpec> QatSpec::load(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  return fromJson(*text, path);
}

std::string QatSpec::toJson() const {
  Json linearsJson = Json::object();
  for (const auto &[name, linear] : linears) {
    Json entry = {{"quantizer", quantizerName(linear.weight)},
                  {"granularity", granularityName(linear.granularity)},
                  {"input", inputQuantName(linear.input)}};
    if (auto it = inputRanges.find(name); it != inputRanges.end())
      entry["input_range"] = double(it->second);
    linearsJson[name] = std::move(entry);
  }
  Json root = {{"format_version", kQuantFormatVersion},
               {"recipe", recipe},
               {"linears", std::move(linearsJson)}};
  if (!embeddings.empty()) {
    Json embeddingsJson = Json::object();
    for (const auto &[name, embedding] : embeddings)
      embeddingsJson[name] = {
          {"quantizer", quantizerName(embedding.weight)},
          {"granularity", granularityName(embedding.granularity)}};
    root["embeddings"] = std::move(embeddingsJson);
  }
  return root.dump(2) + "\n";
}

Error QatSpec::save(const std::string &path) const {
  if (Error err = validate(path))
    return err;
  return json_fields::saveDocument(path, toJson());
}

} // namespace quantbert::train
