//===- Recipes.cpp - Quantization-aware training recipes ------------------===//
//
// Recipe resolution (which module gets which quantizer), SensiMix's MP-layer
// choice, schedule and ABWR term, the recipe config file, and QatTask.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Recipes.h"

#include "quantbert/Support/FileIO.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

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

} // namespace

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
      (options.mpLayers >= 0 || !options.sensitivityPath.empty()))
    return Error::failure("the MP layers (mp_layers, sensitivity) apply to "
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
    if (config.isShared() && count == 0 && options.mpLayers < 0)
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
    Expected<std::vector<int64_t>> mp =
        chooseMpLayers(layers, count, sensitivity);
    if (!mp)
      return mp.error();
    recipe.mpLayers = *mp;
    for (int64_t layer = 0; layer < layers; ++layer) {
      bool isMp = std::count(mp->begin(), mp->end(), layer) > 0;
      for (const char *linear : kAttentionLinears)
        spec.linears[layerPrefix(layer) + linear] = int8Linear();
      for (const char *linear : kFfnLinears)
        spec.linears[layerPrefix(layer) + linear] =
            isMp ? LinearQuantSpec{options.binaryQuantizer,
                                   Granularity::PerTensor, InputQuant::Sign}
                 : int8Linear();
    }
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

void applyMpSchedule(BertModel &bert, const std::vector<int64_t> &mpLayers,
                     const std::vector<FfnPhase> &phases) {
  for (size_t i = 0; i < mpLayers.size(); ++i) {
    BertLayer layer = encoderLayer(bert, mpLayers[i]);
    for (QuantLinear linear :
         {layer->intermediate->dense, layer->output->dense}) {
      for (QuantLinearImpl *factor : {linear.get(), linear->down.get()}) {
        if (!factor)
          continue;
        factor->binarizeInputsInTraining = phases[i].binaryInputs;
        factor->binarizeWeightsInTraining = phases[i].binaryWeights;
      }
    }
  }
}

torch::Tensor abwrLoss(BertModel &bert, const std::vector<int64_t> &layers) {
  torch::Tensor loss = torch::zeros({});
  for (int64_t index : layers) {
    BertLayer layer = encoderLayer(bert, index);
    for (QuantLinear linear :
         {layer->intermediate->dense, layer->output->dense}) {
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

std::string QatTask::name() const {
  return inner_->name() + "-" + recipe_.spec.recipe;
}

void QatTask::beginEpoch(int64_t epoch) {
  inner_->beginEpoch(epoch);
  const RecipeOptions &options = recipe_.options;
  std::vector<FfnPhase> phases =
      mpLayerSchedule(epoch, int64_t(recipe_.mpLayers.size()),
                      options.prioritizedTraining, options.inverseLayerwise);
  applyMpSchedule(model_->bert, recipe_.mpLayers, phases);
  binarized_.clear();
  for (size_t i = 0; i < phases.size(); ++i)
    if (phases[i].binaryWeights)
      binarized_.push_back(recipe_.mpLayers[i]);
}

Expected<torch::Tensor> QatTask::loss(const std::vector<int64_t> &examples) {
  Expected<torch::Tensor> loss = inner_->loss(examples);
  if (!loss || !recipe_.options.abwr || binarized_.empty())
    return loss;
  return *loss +
         recipe_.options.abwrCoefficient * abwrLoss(model_->bert, binarized_);
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
