//===- Recipes.cpp - Quantization-aware training recipes ------------------===//
//
// Recipe resolution (which module gets which quantizer), SensiMix's MP-layer
// choice, schedule and ABWR term, the recipe config file, and QatTask.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Recipes.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/PrecisionBudget.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

namespace quantbert::train {

namespace {

using Json = nlohmann::json;

constexpr std::pair<RecipeKind, const char *> kRecipes[] = {
    {RecipeKind::Q8Bert, "q8bert"},
    {RecipeKind::SensiMix, "sensimix"},
    {RecipeKind::Ternary, "ternary"},
};

std::string layerPrefix(int64_t layer) {
  return "bert.encoder.layer." + std::to_string(layer) + ".";
}

const char *kAttentionLinears[] = {"attention.self.query", "attention.self.key",
                                   "attention.self.value",
                                   "attention.output.dense"};
const char *kFfnLinears[] = {"intermediate.dense", "output.dense"};

LinearQuantSpec int8Linear(Quantizer weight = Quantizer::SymmetricEma) {
  return {weight, Granularity::PerTensor, InputQuant::Int8};
}

BertLayer encoderLayer(BertModel &bert, int64_t layer) {
  return bert->encoder->layer->ptr<BertLayerImpl>(layer);
}

/// The QuantLinears of `module`.
std::vector<QuantLinear> moduleLinears(BertModel &bert,
                                       const EncoderModule &module) {
  BertLayer layer = encoderLayer(bert, module.layer);
  if (module.module == BertModule::Attention)
    return {layer->attention->self->query, layer->attention->self->key,
            layer->attention->self->value, layer->attention->output->dense};
  return {layer->intermediate->dense, layer->output->dense};
}

constexpr std::pair<Assignment, const char *> kAssignments[] = {
    {Assignment::Layers, "layers"},
    {Assignment::Budget, "budget"},
    {Assignment::Random, "random"},
};

int64_t bitsPerWeight(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return 32;
  case Precision::F16:
  case Precision::BF16:
    return 16;
  case Precision::I8:
    return 8;
  case Precision::Ternary:
    return 2;
  case Precision::Binary:
    return 1;
  }
  return 32;
}

bool isAssignable(Precision precision) {
  return precision == Precision::I8 || precision == Precision::Ternary ||
         precision == Precision::Binary;
}

/// Every encoder module of a model with `layers` stored layers, in order.
std::vector<EncoderModule> encoderModules(int64_t layers) {
  std::vector<EncoderModule> modules;
  for (int64_t layer = 0; layer < layers; ++layer)
    for (BertModule module : {BertModule::Attention, BertModule::Ffn})
      modules.push_back({layer, module});
  return modules;
}

/// The precisions of SensiMix's policy: `mpLayers`' FFNs 1-bit, else int8.
std::map<EncoderModule, Precision>
layerPolicy(int64_t layers, const std::vector<int64_t> &mpLayers) {
  std::map<EncoderModule, Precision> precisions;
  for (const EncoderModule &module : encoderModules(layers))
    precisions[module] =
        module.module == BertModule::Ffn &&
                std::count(mpLayers.begin(), mpLayers.end(), module.layer)
            ? Precision::Binary
            : Precision::I8;
  return precisions;
}

int64_t assignedBits(const BertConfig &config,
                     const std::map<EncoderModule, Precision> &precisions) {
  int64_t bits = 0;
  for (const auto &[module, precision] : precisions)
    bits += encoderModuleParams(config, module) * bitsPerWeight(precision);
  return bits;
}

/// Assignment::Budget: the solver over `sensitivity`.
Expected<std::map<EncoderModule, Precision>>
assignUnderBudget(const BertConfig &config, int64_t layers,
                  const std::vector<Precision> &candidates, int64_t budgetBits,
                  const SensitivityReport &sensitivity, double &totalCost) {
  std::vector<EncoderModule> modules = encoderModules(layers);
  std::vector<std::vector<BudgetOption>> units;
  std::vector<std::vector<Precision>> choices;
  for (const EncoderModule &module : modules) {
    auto entry = std::find_if(
        sensitivity.modules.begin(), sensitivity.modules.end(),
        [&](const ModuleSensitivity &m) {
          return m.layer == module.layer && m.module == module.module;
        });
    if (entry == sensitivity.modules.end())
      return Error::failure("sensitivity.json does not measure the " +
                            std::string(bertModuleName(module.module)) +
                            " of layer " + std::to_string(module.layer));
    std::vector<BudgetOption> &options = units.emplace_back();
    std::vector<Precision> &available = choices.emplace_back();
    int64_t params = encoderModuleParams(config, module);
    for (Precision precision : candidates) {
      auto cost = entry->sensitivity.find(precision);
      if (cost == entry->sensitivity.end())
        return Error::failure(
            "sensitivity.json has no '" + std::string(precisionName(precision)) +
            "' sensitivity for the " +
            std::string(bertModuleName(module.module)) + " of layer " +
            std::to_string(module.layer) +
            " (measure it with --precisions, or drop it from 'precisions')");
      options.push_back({params * bitsPerWeight(precision), cost->second});
      available.push_back(precision);
    }
  }
  std::optional<BudgetSolution> best =
      solvePrecisionBudget(units, 0, budgetBits);
  if (!best)
    return Error::failure(
        "no assignment fits the budget: the smallest needs " +
        std::to_string(minimumBudgetBits(units, 0) / 8) + " bytes of " +
        "encoder-linear weights, the budget allows " +
        std::to_string(budgetBits / 8));
  std::map<EncoderModule, Precision> precisions;
  for (size_t i = 0; i < modules.size(); ++i)
    precisions[modules[i]] = choices[i][best->picks[i]];
  totalCost = best->cost;
  return precisions;
}

/// Assignment::Random (see its comment in Recipes.h).
Expected<std::map<EncoderModule, Precision>>
assignAtRandom(const BertConfig &config, int64_t layers,
               std::vector<Precision> candidates, int64_t budgetBits,
               uint64_t seed) {
  // Widest first.
  std::sort(candidates.begin(), candidates.end(), [](Precision a, Precision b) {
    return bitsPerWeight(a) > bitsPerWeight(b);
  });
  std::vector<EncoderModule> modules = encoderModules(layers);
  std::map<EncoderModule, Precision> precisions;
  for (const EncoderModule &module : modules)
    precisions[module] = candidates.front();
  std::mt19937_64 rng(seed);
  int64_t bits = assignedBits(config, precisions);
  std::vector<EncoderModule> order = modules;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<EncoderModule> dropped;
  for (const EncoderModule &module : order) {
    if (bits <= budgetBits)
      break;
    int64_t params = encoderModuleParams(config, module);
    bits += params * (bitsPerWeight(candidates.back()) -
                      bitsPerWeight(precisions[module]));
    precisions[module] = candidates.back();
    dropped.push_back(module);
  }
  if (bits > budgetBits)
    return Error::failure(
        "no assignment fits the budget: the smallest needs " +
        std::to_string(bits / 8) + " bytes of encoder-linear weights, the "
        "budget allows " + std::to_string(budgetBits / 8));
  std::shuffle(dropped.begin(), dropped.end(), rng);
  for (const EncoderModule &module : dropped) {
    int64_t params = encoderModuleParams(config, module);
    for (Precision precision : candidates) {
      int64_t raised = bits + params * (bitsPerWeight(precision) -
                                        bitsPerWeight(precisions[module]));
      if (bitsPerWeight(precision) > bitsPerWeight(precisions[module]) &&
          raised <= budgetBits) {
        precisions[module] = precision;
        bits = raised;
        break;
      }
    }
  }
  return precisions;
}

} // namespace

std::string encoderModuleName(const EncoderModule &module) {
  return "layer." + std::to_string(module.layer) + "." +
         std::string(bertModuleName(module.module));
}

Expected<EncoderModule> parseEncoderModule(std::string_view name) {
  auto bad = [&] {
    return Error::failure("'" + std::string(name) +
                          "' is not a module name (expected layer.N.attention "
                          "or layer.N.ffn)");
  };
  constexpr std::string_view prefix = "layer.";
  if (name.substr(0, prefix.size()) != prefix)
    return bad();
  std::string_view rest = name.substr(prefix.size());
  size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 6)
    return bad();
  EncoderModule module;
  for (char c : rest.substr(0, dot)) {
    if (c < '0' || c > '9')
      return bad();
    module.layer = module.layer * 10 + (c - '0');
  }
  std::string_view kind = rest.substr(dot + 1);
  if (kind == "attention")
    module.module = BertModule::Attention;
  else if (kind == "ffn")
    module.module = BertModule::Ffn;
  else
    return bad();
  return module;
}

std::vector<std::string> encoderModuleLinears(const EncoderModule &module) {
  std::vector<std::string> names;
  if (module.module == BertModule::Attention)
    for (const char *linear : kAttentionLinears)
      names.push_back(layerPrefix(module.layer) + linear);
  else
    for (const char *linear : kFfnLinears)
      names.push_back(layerPrefix(module.layer) + linear);
  return names;
}

int64_t encoderModuleParams(const BertConfig &config,
                            const EncoderModule &module) {
  int64_t hidden = config.hiddenSize;
  int64_t inner = module.module == BertModule::Attention
                      ? config.numHeads(module.layer) * config.headSize()
                      : config.ffnWidth(module.layer);
  int64_t params = 0;
  for (const std::string &name : encoderModuleLinears(module)) {
    // attention.output.dense and output.dense map inner -> hidden, the
    // others hidden -> inner.
    bool toHidden = name.size() >= 12 &&
                    name.compare(name.size() - 12, 12, "output.dense") == 0;
    int64_t in = toHidden ? inner : hidden, out = toHidden ? hidden : inner;
    int64_t rank = config.rankOf(name);
    params += rank > 0 ? rank * (in + out) : in * out;
  }
  return params;
}

std::string_view assignmentName(Assignment assignment) {
  for (const auto &[value, name] : kAssignments)
    if (value == assignment)
      return name;
  return "?";
}

std::optional<Assignment> parseAssignment(std::string_view name) {
  for (const auto &[value, spelling] : kAssignments)
    if (name == spelling)
      return value;
  return std::nullopt;
}

std::string_view recipeName(RecipeKind kind) {
  for (const auto &[value, name] : kRecipes)
    if (value == kind)
      return name;
  return "?";
}

Expected<RecipeKind> parseRecipeName(std::string_view name) {
  for (const auto &[value, spelling] : kRecipes)
    if (name == spelling)
      return value;
  return Error::failure("unknown recipe '" + std::string(name) +
                        "' (expected q8bert, sensimix or ternary)");
}

Error readRecipeConfig(const std::string &path, RecipeOptions &options) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  Json root;
  try {
    root = Json::parse(*text);
  } catch (const std::exception &err) {
    return Error::failure(path + ": not valid JSON: " + err.what());
  }
  if (!root.is_object())
    return Error::failure(path + ": top level must be a JSON object");
  std::string where = path + ": ";
  auto wrongType = [&](const std::string &key, const std::string &rule) {
    return Error::failure(where + "field '" + key + "' " + rule + ", got " +
                          root[key].dump());
  };
  auto readCount = [&](const std::string &key, int64_t &field) {
    const Json &value = root[key];
    if (!value.is_number_integer() || value.get<int64_t>() < 0)
      return wrongType(key, "must be a non-negative integer");
    field = value.get<int64_t>();
    return Error::success();
  };
  auto readFlag = [&](const std::string &key, bool &field) {
    if (!root[key].is_boolean())
      return wrongType(key, "must be true or false");
    field = root[key].get<bool>();
    return Error::success();
  };
  auto readReal = [&](const std::string &key, double &field, double below) {
    const Json &value = root[key];
    if (!value.is_number() || !std::isfinite(value.get<double>()) ||
        value.get<double>() < 0 || value.get<double>() >= below)
      return wrongType(key, below == 1.0 ? "must be a number in [0, 1)"
                                         : "must be a non-negative number");
    field = value.get<double>();
    return Error::success();
  };
  const double unbounded = std::numeric_limits<double>::infinity();
  for (const auto &item : root.items()) {
    const std::string &key = item.key();
    const Json &value = item.value();
    Error err = Error::success();
    if (key == "recipe") {
      if (!value.is_string())
        return wrongType(key, "must be a string");
      Expected<RecipeKind> kind = parseRecipeName(value.get<std::string>());
      if (!kind)
        return Error::failure(where + "field 'recipe': " + kind.message());
      options.kind = *kind;
    } else if (key == "mp_layers") {
      err = readCount(key, options.mpLayers);
    } else if (key == "keep_layers") {
      err = readCount(key, options.keepLayers);
    } else if (key == "abwr") {
      err = readFlag(key, options.abwr);
    } else if (key == "prioritized_training") {
      err = readFlag(key, options.prioritizedTraining);
    } else if (key == "inverse_layerwise") {
      err = readFlag(key, options.inverseLayerwise);
    } else if (key == "abwr_coefficient") {
      err = readReal(key, options.abwrCoefficient, unbounded);
    } else if (key == "ema_decay") {
      err = readReal(key, options.emaDecay, 1.0);
    } else if (key == "binary_quantizer") {
      std::optional<Quantizer> quantizer =
          value.is_string() ? parseQuantizer(value.get<std::string>())
                            : std::nullopt;
      if (!quantizer || !isBinaryQuantizer(*quantizer))
        return wrongType(key,
                         "must be \"binary-sign\" or \"binary-mean-scale\"");
      options.binaryQuantizer = *quantizer;
    } else if (key == "sensitivity") {
      if (!value.is_string() || value.get<std::string>().empty())
        return wrongType(key, "must be a file name");
      options.sensitivityPath = value.get<std::string>();
    } else if (key == "assign") {
      std::optional<Assignment> assignment =
          value.is_string() ? parseAssignment(value.get<std::string>())
                            : std::nullopt;
      if (!assignment)
        return wrongType(key, "must be \"layers\", \"budget\" or \"random\"");
      options.assign = *assignment;
    } else if (key == "bits_per_weight") {
      if (!value.is_number() || !(value.get<double>() > 0) ||
          value.get<double>() > 32)
        return wrongType(key, "must be a number in (0, 32]");
      options.bitsPerWeight = value.get<double>();
    } else if (key == "assign_seed") {
      if (!value.is_number_unsigned())
        return wrongType(key, "must be a non-negative integer");
      options.assignSeed = value.get<uint64_t>();
    } else if (key == "precisions") {
      auto precision = [](const Json &item) -> std::optional<Precision> {
        return item.is_string() ? parsePrecision(item.get<std::string>())
                                : std::nullopt;
      };
      if (!value.is_array() || value.empty())
        return wrongType(key, "must be a non-empty list of precisions");
      options.precisions.clear();
      for (const Json &item : value) {
        std::optional<Precision> parsed = precision(item);
        if (!parsed || !isAssignable(*parsed))
          return wrongType(key, "must list \"i8\", \"ternary\" or \"binary\"");
        if (std::count(options.precisions.begin(), options.precisions.end(),
                       *parsed) == 0)
          options.precisions.push_back(*parsed);
      }
    } else if (key == "module_precisions") {
      if (!value.is_object())
        return wrongType(key, "must be an object of \"layer.N.attention\" or "
                              "\"layer.N.ffn\" to a precision");
      options.modulePrecisions.clear();
      for (const auto &entry : value.items()) {
        Expected<EncoderModule> module = parseEncoderModule(entry.key());
        if (!module)
          return Error::failure(where + "field 'module_precisions': " +
                                module.message());
        std::optional<Precision> precision =
            entry.value().is_string()
                ? parsePrecision(entry.value().get<std::string>())
                : std::nullopt;
        if (!precision || !isAssignable(*precision))
          return Error::failure(where + "field 'module_precisions': '" +
                                entry.key() + "' must be \"i8\", \"ternary\" "
                                "or \"binary\", got " + entry.value().dump());
        options.modulePrecisions[*module] = *precision;
      }
    } else {
      return Error::failure(where + "unknown field '" + key + "'");
    }
    if (err)
      return err;
  }
  return Error::success();
}

Expected<std::vector<int64_t>>
chooseMpLayers(int64_t numLayers, int64_t count,
               const SensitivityReport *sensitivity) {
  if (count < 0 || count > numLayers)
    return Error::failure("--mp-layers " + std::to_string(count) +
                          " is out of range: the model has " +
                          std::to_string(numLayers) + " layers");
  std::vector<int64_t> chosen;
  if (!sensitivity) {
    for (int64_t layer = numLayers - count; layer < numLayers; ++layer)
      chosen.push_back(layer);
    return chosen;
  }
  std::vector<std::pair<double, int64_t>> candidates;
  for (int64_t layer = 0; layer < numLayers; ++layer) {
    auto it =
        std::find_if(sensitivity->modules.begin(), sensitivity->modules.end(),
                     [&](const ModuleSensitivity &m) {
                       return m.layer == layer && m.module == BertModule::Ffn;
                     });
    if (it == sensitivity->modules.end() ||
        !it->sensitivity.count(Precision::Binary))
      return Error::failure("sensitivity.json has no 'binary' sensitivity for "
                            "the ffn of layer " +
                            std::to_string(layer));
    candidates.emplace_back(it->sensitivity.at(Precision::Binary), layer);
  }
  // Least sensitive first; on a tie the upper layer, as SensiMix binarizes
  // from the top.
  std::sort(
      candidates.begin(), candidates.end(), [](const auto &a, const auto &b) {
        return a.first != b.first ? a.first < b.first : a.second > b.second;
      });
  for (int64_t i = 0; i < count; ++i)
    chosen.push_back(candidates[i].second);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

Expected<ResolvedRecipe> resolveRecipe(const RecipeOptions &options,
                                       const BertConfig &config,
                                       const SensitivityReport *sensitivity) {
  if (!options.kind)
    return Error::failure("no recipe given: pass --recipe q8bert|sensimix|"
                          "ternary or set 'recipe' in the recipe config");
  if (*options.kind != RecipeKind::SensiMix &&
      (options.mpLayers >= 0 || !options.sensitivityPath.empty() ||
       options.assign != Assignment::Layers ||
       !options.modulePrecisions.empty()))
    return Error::failure("the MP layers and module precisions (mp_layers, "
                          "sensitivity, assign, module_precisions) apply to "
                          "the sensimix recipe only, not " +
                          std::string(recipeName(*options.kind)));
  ResolvedRecipe recipe;
  recipe.options = options;
  QatSpec &spec = recipe.spec;
  spec.recipe = std::string(recipeName(*options.kind));
  // The stored layers: a weight-shared model quantizes each group once.
  int64_t layers = config.storedLayers();
  switch (*options.kind) {
  case RecipeKind::Q8Bert:
    for (int64_t layer = 0; layer < layers; ++layer) {
      for (const char *linear : kAttentionLinears)
        spec.linears[layerPrefix(layer) + linear] = int8Linear();
      for (const char *linear : kFfnLinears)
        spec.linears[layerPrefix(layer) + linear] = int8Linear();
    }
    for (const char *table : {"bert.embeddings.word_embeddings",
                              "bert.embeddings.position_embeddings"})
      spec.embeddings[table] = {Quantizer::SymmetricEma,
                                Granularity::PerTensor};
    break;
  case RecipeKind::SensiMix: {
    int64_t count = options.mpLayers >= 0 ? options.mpLayers : layers / 2;
    if (config.isShared() && count == 0 && options.mpLayers < 0 &&
        options.modulePrecisions.empty() && options.bitsPerWeight == 0)
      return Error::failure(
          "the sensimix recipe's default MP layers (half of the model's " +
          std::to_string(layers) +
          " stored layer groups) is none: give --mp-layers (1 makes the "
          "group's FFN 1-bit)");
    if (config.isShared() && sensitivity)
      for (const ModuleSensitivity &entry : sensitivity->modules)
        if (entry.layer >= layers)
          return Error::failure(
              "sensitivity.json measures layer " +
              std::to_string(entry.layer) + ", but the weight-shared model "
              "stores " + std::to_string(layers) +
              " layer groups (measure the shared model)");
    // Every size below counts the encoder linears' weights.
    int64_t totalParams = 0;
    for (const EncoderModule &module : encoderModules(layers))
      totalParams += encoderModuleParams(config, module);
    if (!options.modulePrecisions.empty()) {
      // An explicit map: every module it does not name is int8.
      recipe.precisions = layerPolicy(layers, {});
      for (const auto &[module, precision] : options.modulePrecisions) {
        if (module.layer >= layers)
          return Error::failure("module_precisions names " +
                                encoderModuleName(module) + ", but the model "
                                "has " + std::to_string(layers) +
                                (config.isShared() ? " stored layer group"
                                                   : " layer") +
                                (layers == 1 ? "" : "s"));
        recipe.precisions[module] = precision;
      }
    } else if (options.assign == Assignment::Layers) {
      Expected<std::vector<int64_t>> mp =
          chooseMpLayers(layers, count, sensitivity);
      if (!mp)
        return mp.error();
      recipe.precisions = layerPolicy(layers, *mp);
    } else {
      // The budget: the fixed policy's size unless bits_per_weight says.
      if (count < 0 || count > layers)
        return Error::failure("--mp-layers " + std::to_string(count) +
                              " is out of range: the model has " +
                              std::to_string(layers) + " layers");
      std::vector<int64_t> top;
      for (int64_t layer = layers - count; layer < layers; ++layer)
        top.push_back(layer);
      int64_t budgetBits =
          options.bitsPerWeight > 0
              ? static_cast<int64_t>(options.bitsPerWeight *
                                     double(totalParams))
              : assignedBits(config, layerPolicy(layers, top));
      if (options.assign == Assignment::Budget && !sensitivity)
        return Error::failure("assign budget needs sensitivity.json "
                              "(--sensitivity or 'sensitivity')");
      double cost = 0;
      Expected<std::map<EncoderModule, Precision>> assigned =
          options.assign == Assignment::Budget
              ? assignUnderBudget(config, layers, options.precisions,
                                  budgetBits, *sensitivity, cost)
              : assignAtRandom(config, layers, options.precisions,
                               budgetBits, options.assignSeed);
      if (options.assign == Assignment::Budget)
        recipe.totalSensitivity = cost;
      if (!assigned)
        return Error::failure("assign " +
                              std::string(assignmentName(options.assign)) +
                              ": " + assigned.message());
      recipe.precisions = std::move(*assigned);
    }
    for (const auto &[module, precision] : recipe.precisions)
      if (precision == Precision::Binary) {
        recipe.binaryModules.push_back(module);
        if (recipe.mpLayers.empty() || recipe.mpLayers.back() != module.layer)
          recipe.mpLayers.push_back(module.layer);
      }
    recipe.bitsPerWeight =
        double(assignedBits(config, recipe.precisions)) / double(totalParams);
    for (const auto &[module, precision] : recipe.precisions)
      for (const std::string &linear : encoderModuleLinears(module))
        spec.linears[linear] =
            precision == Precision::Binary
                ? LinearQuantSpec{options.binaryQuantizer,
                                  Granularity::PerTensor, InputQuant::Sign}
            : precision == Precision::Ternary ? int8Linear(Quantizer::Twn)
                                              : int8Linear();
    // SensiMix's 8-bit word and position tables, in its own index format:
    // a lookup table is storage, so nothing is lost to the float kernels.
    for (const char *table : {"bert.embeddings.word_embeddings",
                              "bert.embeddings.position_embeddings"})
      spec.embeddings[table] = {Quantizer::AsymmetricIndex,
                                Granularity::PerTensor};
    break;
  }
  case RecipeKind::Ternary:
    for (int64_t layer = 0; layer < layers; ++layer) {
      for (const char *linear : kAttentionLinears)
        spec.linears[layerPrefix(layer) + linear] = int8Linear(Quantizer::Twn);
      for (const char *linear : kFfnLinears)
        spec.linears[layerPrefix(layer) + linear] = int8Linear(Quantizer::Twn);
    }
    // TernaryBERT ternarizes the word embedding row by row.
    spec.embeddings["bert.embeddings.word_embeddings"] = {Quantizer::Twn,
                                                          Granularity::PerRow};
    break;
  }
  // A low-rank factorized linear's two factors get the same spec, each
  // quantized on its own (the down factor is the child module "down").
  std::vector<std::pair<std::string, LinearQuantSpec>> factors;
  for (const auto &[module, linearSpec] : spec.linears)
    if (config.rankOf(module) > 0)
      factors.emplace_back(module + ".down", linearSpec);
  for (auto &[module, linearSpec] : factors)
    spec.linears[module] = linearSpec;
  if (Error err = spec.validate("recipe " + spec.recipe))
    return err;
  return recipe;
}

std::vector<FfnPhase> mpLayerSchedule(int64_t epoch, int64_t numMpLayers,
                                      bool prioritizedTraining,
                                      bool inverseLayerwise) {
  std::vector<FfnPhase> phases(numMpLayers);
  // Epochs of binarization so far (PT's epoch 0 binarizes inputs only).
  int64_t binarizingEpochs = prioritizedTraining ? epoch : epoch + 1;
  int64_t binarizedFromTop = binarizingEpochs <= 0 ? 0
                             : inverseLayerwise
                                 ? std::min(binarizingEpochs, numMpLayers)
                                 : numMpLayers;
  for (int64_t i = 0; i < numMpLayers; ++i) {
    bool weights = i >= numMpLayers - binarizedFromTop;
    phases[i].binaryWeights = weights;
    // PT binarizes inputs first; without it a layer waits in full FP.
    phases[i].binaryInputs = weights || prioritizedTraining;
  }
  return phases;
}

void applyMpSchedule(BertModel &bert,
                     const std::vector<EncoderModule> &binaryModules,
                     const std::vector<int64_t> &mpLayers,
                     const std::vector<FfnPhase> &phases) {
  for (const EncoderModule &module : binaryModules) {
    auto at = std::lower_bound(mpLayers.begin(), mpLayers.end(), module.layer);
    const FfnPhase &phase = phases.at(size_t(at - mpLayers.begin()));
    for (QuantLinear linear : moduleLinears(bert, module)) {
      for (QuantLinearImpl *factor : {linear.get(), linear->down.get()}) {
        if (!factor)
          continue;
        factor->binarizeInputsInTraining = phase.binaryInputs;
        factor->binarizeWeightsInTraining = phase.binaryWeights;
      }
    }
  }
}

torch::Tensor abwrLoss(BertModel &bert,
                       const std::vector<EncoderModule> &modules) {
  torch::Tensor loss = torch::zeros({});
  for (const EncoderModule &module : modules) {
    for (QuantLinear linear : moduleLinears(bert, module)) {
      loss = loss + (linear->weight.abs() - 1.0).pow(2).mean();
      if (linear->down) // each factor of a low-rank linear is binarized
        loss = loss + (linear->down->weight.abs() - 1.0).pow(2).mean();
    }
  }
  return loss;
}

Expected<BertConfig> keepFirstLayers(const BertConfig &config, int64_t keep,
                                     LoadPolicy &policy) {
  if (keep < 0 || keep > config.numHiddenLayers)
    return Error::failure("--keep-layers " + std::to_string(keep) +
                          " is out of range: the checkpoint has " +
                          std::to_string(config.numHiddenLayers) + " layers");
  BertConfig kept = config;
  if (keep == 0)
    return kept;
  if (config.isShared())
    return Error::failure("--keep-layers does not apply to a weight-shared "
                          "model (num_hidden_groups " +
                          std::to_string(config.numHiddenGroups) + ")");
  kept.numHiddenLayers = keep;
  for (int64_t layer = keep; layer < config.numHiddenLayers; ++layer) {
    policy.ignoredPrefixes.push_back(layerPrefix(layer));
    // The dropped layers' pruning and factorization go with them.
    kept.prunedHeads.erase(layer);
    for (auto it = kept.lowRank.begin(); it != kept.lowRank.end();)
      it = it->first.rfind(layerPrefix(layer), 0) == 0 ? kept.lowRank.erase(it)
                                                      : std::next(it);
  }
  if (!kept.intermediateSizes.empty())
    kept.intermediateSizes.resize(size_t(keep));
  return kept;
}

QatTask::QatTask(std::unique_ptr<TrainingTask> inner,
                 BertForSequenceClassification model, ResolvedRecipe recipe)
    : inner_(std::move(inner)), model_(std::move(model)),
      recipe_(std::move(recipe)) {
  for (const auto &item : model_->named_modules())
    if (auto *linear = item.value()->as<QuantLinearImpl>())
      linear->emaDecay = recipe_.options.emaDecay;
  beginEpoch(0);
}

std::string recipeIdentity(const ResolvedRecipe &recipe) {
  std::string text;
  for (const auto &[module, spec] : recipe.spec.linears)
    text += module + "=" + std::string(quantizerName(spec.weight)) + "/" +
            std::to_string(int(spec.granularity)) + "/" +
            std::string(inputQuantName(spec.input)) + ";";
  for (const auto &[table, spec] : recipe.spec.embeddings)
    text += table + "=" + std::string(quantizerName(spec.weight)) + "/" +
            std::to_string(int(spec.granularity)) + ";";
  const RecipeOptions &o = recipe.options;
  char switches[128];
  std::snprintf(switches, sizeof(switches), "abwr=%d,%.17g;pt=%d;ilf=%d;ema=%.17g",
                int(o.abwr), o.abwrCoefficient, int(o.prioritizedTraining),
                int(o.inverseLayerwise), o.emaDecay);
  text += switches;
  uint64_t hash = 14695981039346656037ull; // FNV-1a, 64 bits
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char digest[17];
  std::snprintf(digest, sizeof(digest), "%016llx",
                static_cast<unsigned long long>(hash));
  return recipe.spec.recipe + "-" + digest;
}

std::string QatTask::name() const {
  return inner_->name() + "-" + recipeIdentity(recipe_);
}

void QatTask::beginEpoch(int64_t epoch) {
  inner_->beginEpoch(epoch);
  const RecipeOptions &options = recipe_.options;
  std::vector<FfnPhase> phases =
      mpLayerSchedule(epoch, int64_t(recipe_.mpLayers.size()),
                      options.prioritizedTraining, options.inverseLayerwise);
  applyMpSchedule(model_->bert, recipe_.binaryModules, recipe_.mpLayers,
                  phases);
  binarized_.clear();
  for (size_t i = 0; i < phases.size(); ++i)
    if (phases[i].binaryWeights)
      binarized_.push_back(recipe_.mpLayers[i]);
  binarizedModules_.clear();
  for (const EncoderModule &module : recipe_.binaryModules)
    if (std::binary_search(binarized_.begin(), binarized_.end(), module.layer))
      binarizedModules_.push_back(module);
}

Expected<torch::Tensor> QatTask::loss(const std::vector<int64_t> &examples) {
  Expected<torch::Tensor> loss = inner_->loss(examples);
  if (!loss || !recipe_.options.abwr || binarizedModules_.empty())
    return loss;
  return *loss + recipe_.options.abwrCoefficient *
                     abwrLoss(model_->bert, binarizedModules_);
}

Expected<std::optional<double>> QatTask::evaluate() {
  // The eval forward runs the deployed model: every int8 input needs its
  // range, which the first training step sets.
  if (Error err = checkCalibrated(*model_))
    return err;
  return inner_->evaluate();
}

Error QatTask::saveModel(const std::string &dir) {
  if (Error err = inner_->saveModel(dir))
    return err;
  if (Error err =
          qatSpecOf(*model_, recipe_.spec.recipe).save(dir + "/qat.json"))
    return err;
  if (recipe_.options.sensitivityPath.empty())
    return Error::success();
  Expected<std::string> sensitivity = readFile(recipe_.options.sensitivityPath);
  if (!sensitivity)
    return sensitivity.error();
  return writeFileAtomically(dir + "/sensitivity.json", *sensitivity);
}

} // namespace quantbert::train
