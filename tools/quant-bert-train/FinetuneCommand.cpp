//===- FinetuneCommand.cpp - quant-bert-train finetune --------------------===//
//
// Fine-tuning for sequence classification, from a checkpoint's encoder
// (--model) or a fresh one; with --recipe quantization-aware training
// (Recipes.h), with --teacher knowledge distillation (Distillation.h),
// alone or together. A --model with a qat.json and no --recipe continues
// its QAT.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Distillation.h"
#include "quantbert/Train/FinetuneDefaults.h"
#include "quantbert/Train/MagnitudePruning.h"
#include "quantbert/Train/Recipes.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace quantbert::train::cli {

namespace {

struct FinetuneOptions {
  TrainFlags flags;
  std::string trainPath, devPath, model, freeze;
  int64_t maxSeqLength = 128, evalEvery = 0, patience = 0;
  // Quantization-aware training.
  std::string recipe, recipeConfig, sensitivity, assign;
  int64_t mpLayers = -1, keepLayers = 0;
  double bitsPerWeight = 0;
  uint64_t assignSeed = 1;
  bool noAbwr = false, noPt = false, noIlf = false;
  // Gradual magnitude pruning.
  double sparsity = 0;
  std::string sparsityBlock = "16x4", sparsityWindow = "0.1:0.7";
  // Distillation.
  std::string teacher, kd = "pred,rep,map", kdLayerMap;
  double kdTemperature = 1.0, kdUnifiedWeight = 0.5;
};

/// The recipe of --recipe / --recipe-config and the recipe options, or
/// nullopt for plain fine-tuning.
std::optional<RecipeOptions> recipeOptions(const FinetuneOptions &o,
                                           const CLI::App &command) {
  if (!given(command, "--recipe") && !given(command, "--recipe-config")) {
    for (const char *option :
         {"--mp-layers", "--sensitivity", "--keep-layers", "--no-abwr",
          "--no-pt", "--no-ilf", "--assign", "--bits-per-weight",
          "--assign-seed"})
      if (given(command, option) &&
          !(given(command, "--teacher") &&
            std::string(option) == "--keep-layers"))
        fail(std::string(option) + " needs --recipe");
    return std::nullopt;
  }
  RecipeOptions recipe;
  if (given(command, "--recipe-config"))
    orFail(readRecipeConfig(o.recipeConfig, recipe));
  if (given(command, "--recipe"))
    recipe.kind = orFail(parseRecipeName(o.recipe));
  if (given(command, "--mp-layers"))
    recipe.mpLayers = o.mpLayers;
  if (given(command, "--sensitivity"))
    recipe.sensitivityPath = o.sensitivity;
  if (given(command, "--keep-layers"))
    recipe.keepLayers = o.keepLayers;
  if (given(command, "--assign")) {
    std::optional<Assignment> assignment = parseAssignment(o.assign);
    if (!assignment)
      fail("--assign must be layers, budget or random, got '" + o.assign +
           "'");
    recipe.assign = *assignment;
  }
  if (given(command, "--bits-per-weight"))
    recipe.bitsPerWeight = o.bitsPerWeight;
  if (given(command, "--assign-seed"))
    recipe.assignSeed = o.assignSeed;
  recipe.abwr &= !o.noAbwr;
  recipe.prioritizedTraining &= !o.noPt;
  recipe.inverseLayerwise &= !o.noIlf;
  for (const char *flag : {"--no-abwr", "--no-pt", "--no-ilf"})
    if (given(command, flag) && recipe.kind != RecipeKind::SensiMix)
      fail(std::string(flag) + " applies to the sensimix recipe only");
  return recipe;
}

/// One line per quantized module group, so a run's log says what it trains.
void describeRecipe(const ResolvedRecipe &recipe) {
  std::cerr << "recipe " << recipe.spec.recipe << ": "
            << recipe.spec.linears.size() << " quantized linears, "
            << recipe.spec.embeddings.size() << " quantized embeddings";
  if (!recipe.mpLayers.empty()) {
    std::cerr << "; MP layers";
    for (int64_t layer : recipe.mpLayers)
      std::cerr << " " << layer;
    const RecipeOptions &r = recipe.options;
    std::cerr << " (ABWR " << (r.abwr ? "on" : "off") << ", PT "
              << (r.prioritizedTraining ? "on" : "off") << ", ILF "
              << (r.inverseLayerwise ? "on" : "off") << ")";
  }
  std::cerr << "\n";
  if (recipe.precisions.empty())
    return;
  const RecipeOptions &r = recipe.options;
  std::cerr << "modules ("
            << (r.modulePrecisions.empty() ? assignmentName(r.assign)
                                           : "module_precisions")
            << "):";
  for (const auto &[module, precision] : recipe.precisions)
    std::cerr << " " << encoderModuleName(module) << "="
              << precisionName(precision);
  std::cerr << "; " << recipe.bitsPerWeight
            << " bits per encoder-linear weight";
  if (recipe.totalSensitivity)
    std::cerr << ", total sensitivity " << *recipe.totalSensitivity;
  std::cerr << "\n";
}

/// --teacher: distillation into `student` with the --kd options.
std::unique_ptr<TrainingTask>
distillationTask(const FinetuneOptions &o, const CLI::App &command,
                 const BertConfig &config, BertForSequenceClassification student,
                 Tokenizer tokenizer, const std::string &vocabPath,
                 TextDataset trainSet, std::optional<TextDataset> devSet) {
  Teacher teacher = orFail(loadTeacher(o.teacher, trainSet.labelNames, vocabPath));
  DistillationOptions options;
  if (Error err = options.setTerms(o.kd))
    fail("--kd: " + err.message());
  options.temperature = o.kdTemperature;
  if (given(command, "--kd-unified-weight")) {
    if (!options.map || !options.out)
      fail("--kd-unified-weight mixes map and out: --kd must list both");
    if (Error err = options.setUnifiedWeight(o.kdUnifiedWeight))
      fail("--kd-unified-weight: " + err.message());
  }
  LayerMapKind kind = LayerMapKind::Full;
  if (given(command, "--kd-layer-map")) {
    std::optional<LayerMapKind> parsed = parseLayerMapKind(o.kdLayerMap);
    if (!parsed)
      fail("--kd-layer-map must be full, uniform or first, got '" +
           o.kdLayerMap + "'");
    kind = *parsed;
  } else if (config.numHiddenLayers != teacher.config.numHiddenLayers) {
    fail("a student of " + std::to_string(config.numHiddenLayers) +
         " layers and a teacher of " +
         std::to_string(teacher.config.numHiddenLayers) +
         " need --kd-layer-map uniform or first");
  }
  std::vector<LayerPair> layers = orFail(mapLayers(
      kind, config.numHiddenLayers, teacher.config.numHiddenLayers));
  std::cerr << "distill: teacher " << o.teacher << " ("
            << teacher.config.numHiddenLayers << " layers, map "
            << layerMapKindName(kind) << "), terms " << options.termNames()
            << ", temperature " << options.temperature << ", c_map "
            << options.mapWeight << ", c_out " << options.outWeight << "\n";
  return orFail(DistillationTask::create(
      config, std::move(student), teacher.config, std::move(teacher.model),
      std::move(layers), options, std::move(tokenizer), vocabPath,
      std::move(trainSet), std::move(devSet), o.maxSeqLength));
}

/// --lr auto: trains one short run (autoLearningRateTrialSteps of the
/// whole run's `totalSteps`, its own warm-up and decay, scored on dev at
/// its end) per rate of `rates`, and returns the rate whose run scored best
/// (pickLearningRate). The trials go to OUTPUT/lr-trials/ and are deleted
/// afterwards; OUTPUT/lr-trials.json keeps their scores, and a --resume of
/// the same output reuses its choice instead of searching again.
template <typename TrainFn>
double searchLearningRate(const TrainOptions &options,
                          const std::vector<double> &rates, int64_t totalSteps,
                          TrainFn &&train) {
  std::string record = options.outputDir + "/lr-trials.json";
  bool leader = !options.parallel || options.parallel->rank() == 0;
  if (!options.resumeFrom.empty()) {
    Expected<std::string> text = readFile(record);
    if (!text)
      fail("--resume with --lr auto needs " + record +
           " (the search's choice); give --lr instead");
    nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
    if (!json.is_object() || !json.contains("learning_rate") ||
        !json["learning_rate"].is_number())
      fail(record + ": no number 'learning_rate'");
    double rate = json["learning_rate"].get<double>();
    std::cerr << "finetune: learning rate " << rate << " (auto, from "
              << record << ")\n";
    return rate;
  }
  int64_t steps = autoLearningRateTrialSteps(totalSteps);
  std::cerr << "finetune: --lr auto: " << rates.size() << " trials of "
            << steps << " steps\n";
  std::vector<double> scores;
  nlohmann::json trials = nlohmann::json::array();
  for (double rate : rates) {
    TrainOptions trial = options;
    trial.learningRate = rate;
    trial.maxSteps = steps;
    trial.evalEvery = steps;
    trial.patience = 0;
    trial.checkpointEvery = 0;
    trial.onStep = nullptr;
    char name[64];
    std::snprintf(name, sizeof(name), "/lr-trials/lr-%g", rate);
    trial.outputDir = options.outputDir + name;
    TrainResult result = train(trial);
    // Rank 0 alone evaluates: it tells the others its score.
    double score = result.bestScore.value_or(0);
    if (options.parallel)
      score = orFail(options.parallel->allReduceSum(leader ? score : 0.0));
    scores.push_back(score);
    trials.push_back({{"learning_rate", rate}, {"dev_score", score}});
    std::cerr << "finetune: --lr auto: " << rate << ": dev score " << score
              << "\n";
  }
  double rate = rates[pickLearningRate(scores)];
  if (leader) {
    std::error_code ignored;
    std::filesystem::remove_all(options.outputDir + "/lr-trials", ignored);
    nlohmann::json json = {{"learning_rate", rate},
                           {"trial_steps", steps},
                           {"trials", trials}};
    orFail(writeFileAtomically(record, json.dump(1) + "\n"));
  }
  std::cerr << "finetune: learning rate " << rate << " (auto)\n";
  return rate;
}

/// --sparsity's schedule for a run of `totalSteps` steps: pruning from
/// --sparsity-window's first fraction of the run to its second, a mask
/// update every twentieth of that window (at least every step), blocks of
/// --sparsity-block.
MagnitudePruningOptions pruningSchedule(const FinetuneOptions &o,
                                        int64_t totalSteps) {
  MagnitudePruningOptions p;
  p.finalSparsity = o.sparsity;
  p.block = orFail(parseSparsityBlock(o.sparsityBlock));
  size_t colon = o.sparsityWindow.find(':');
  double begin = -1, end = -1;
  try {
    if (colon != std::string::npos) {
      size_t used = 0;
      begin = std::stod(o.sparsityWindow.substr(0, colon), &used);
      if (used != colon)
        begin = -1;
      std::string rest = o.sparsityWindow.substr(colon + 1);
      end = std::stod(rest, &used);
      if (used != rest.size())
        end = -1;
    }
  } catch (const std::exception &) {
    begin = end = -1;
  }
  if (!(begin >= 0 && begin <= end && end <= 1))
    fail("--sparsity-window '" + o.sparsityWindow +
         "' is not BEGIN:END, fractions of the run with 0 <= BEGIN <= END "
         "<= 1 (e.g. 0.1:0.7)");
  p.beginStep = std::llround(begin * double(totalSteps));
  p.endStep = std::max<int64_t>(p.beginStep,
                               std::llround(end * double(totalSteps)));
  p.updateEvery = std::max<int64_t>(1, (p.endStep - p.beginStep) / 20);
  return p;
}

void runFinetune(const FinetuneOptions &o, const CLI::App &command) {
  o.flags.threads.apply();
  std::optional<RecipeOptions> recipe = recipeOptions(o, command);
  if (!given(command, "--teacher"))
    for (const char *option : {"--kd", "--kd-temperature",
                               "--kd-unified-weight", "--kd-layer-map"})
      if (given(command, option))
        fail(std::string(option) + " needs --teacher");
  bool fromModel = given(command, "--model");
  if (!fromModel && o.flags.vocab.empty())
    fail("finetune needs --model DIR or, for a fresh encoder, --vocab VOCAB");
  TextDataset trainSet = orFail(readTsv(o.trainPath));
  std::optional<TextDataset> devSet;
  if (given(command, "--dev"))
    devSet = orFail(readTsv(o.devPath, &trainSet.labelNames));

  std::string vocabPath = fromModel ? o.model + "/vocab.txt" : o.flags.vocab;
  Tokenizer tokenizer = orFail(Tokenizer::open(vocabPath));
  BertConfig config = fromModel ? orFail(loadCheckpointConfig(o.model))
                                : o.flags.sizedConfig(tokenizer.vocabSize());
  // An MLM checkpoint has no pooler or classifier: those start fresh, as in
  // transformers' from_pretrained.
  LoadPolicy policy{{"bert.pooler.", "classifier."}, {"cls."}};
  int64_t keepLayers = recipe ? recipe->keepLayers : o.keepLayers;
  if (keepLayers > 0) {
    if (!fromModel)
      fail("--keep-layers needs --model");
    config = orFail(keepFirstLayers(config, keepLayers, policy));
  }
  config.numLabels = int64_t(trainSet.labelNames.size());
  config.id2label.clear();
  for (int64_t i = 0; i < config.numLabels; ++i)
    config.id2label[i] = trainSet.labelNames[i];
  config.architectures = {"BertForSequenceClassification"};
  orFail(config.validate());

  TrainOptions options = o.flags.options();
  options.evalEvery = o.evalEvery;
  bool sensimix = recipe && recipe->kind == RecipeKind::SensiMix;
  // The run's length, evaluations and early stopping: what the command line
  // says, else autoFinetuneSchedule (FinetuneDefaults.h).
  bool autoLength = !given(command, "--epochs") && !given(command, "--max-steps");
  if (autoLength) {
    AutoSchedule schedule = autoFinetuneSchedule(
        int64_t(trainSet.examples.size()), options.batchSize);
    options.epochs = schedule.epochs;
    if (!given(command, "--eval-every") && devSet)
      options.evalEvery = schedule.evalEvery;
    // SensiMix's schedule binarizes one more layer per epoch: a dev score
    // that falls as it does must not end the run.
    if (devSet && !sensimix)
      options.patience = schedule.patience;
  }
  if (given(command, "--patience")) {
    if (o.patience > 0 && !devSet)
      fail("--patience needs --dev (early stopping watches the dev score)");
    options.patience = o.patience;
  }
  // The learning rate: --lr's number, else a search over short trial runs
  // (searchLearningRate), except where a search cannot work.
  bool searchRate = o.flags.learningRateAuto;
  bool rateGiven = given(command, "--lr");
  std::vector<double> rates = autoLearningRates(config.hiddenSize);
  bool continuesQat = fromModel && std::filesystem::exists(o.model + "/qat.json");
  if (searchRate && (sensimix || !devSet || ((recipe || continuesQat) && !rateGiven))) {
    if (rateGiven && sensimix)
      fail("--lr auto: sensimix's schedule is per epoch, so short trials say "
           "nothing of it; give --lr");
    if (rateGiven && !devSet)
      fail("--lr auto needs --dev (it keeps the rate with the best dev "
           "score); give --lr instead");
    // Quantization-aware training starts from a fine-tuned model: the
    // lowest rate of the grid. Without a dev set: its middle one.
    options.learningRate = recipe || continuesQat ? rates.front()
                                                  : rates[rates.size() / 2];
    std::cerr << "finetune: learning rate " << options.learningRate
              << " (default for "
              << (recipe || continuesQat ? "quantization-aware training"
                                         : "a run without --dev")
              << "; --lr sets it)\n";
    searchRate = false;
  }
  if (o.sparsity == 0)
    for (const char *option : {"--sparsity-block", "--sparsity-window"})
      if (given(command, option))
        fail(std::string(option) + " needs --sparsity");
  if (o.sparsity > 0 && options.emaDecay > 0)
    fail("--sparsity with --ema-decay: the average would hold the pruned "
         "weights' past values; use one or the other");
  int64_t stepsPerEpoch =
      (int64_t(trainSet.examples.size()) + options.batchSize - 1) /
      options.batchSize;
  int64_t totalSteps =
      options.maxSteps > 0 ? options.maxSteps : stepsPerEpoch * options.epochs;
  std::cerr << "finetune: " << trainSet.examples.size() << " examples, "
            << config.numLabels << " labels; " << totalSteps << " steps ("
            << (autoLength ? "auto: " : "")
            << (options.maxSteps > 0 ? "--max-steps"
                                     : std::to_string(options.epochs) +
                                           " epochs of " +
                                           std::to_string(stepsPerEpoch))
            << ")";
  if (devSet)
    std::cerr << ", dev every "
              << (options.evalEvery > 0 ? std::to_string(options.evalEvery) +
                                              " steps"
                                        : std::string("epoch"))
              << (options.patience > 0
                      ? ", early stopping after " +
                            std::to_string(options.patience) +
                            " evaluations without a better score"
                      : std::string());
  std::cerr << "\n";
  if (o.sparsity > 0)
    pruningSchedule(o, totalSteps); // its errors before any work

  // Quantization-aware training: a recipe, or the qat.json of a QAT
  // checkpoint being trained further. Resolved once; every run (the
  // learning-rate trials and the real one) applies a copy.
  std::optional<ResolvedRecipe> qatRecipe;
  if (recipe) {
    std::optional<SensitivityReport> sensitivity;
    if (!recipe->sensitivityPath.empty())
      sensitivity = orFail(SensitivityReport::load(recipe->sensitivityPath));
    qatRecipe = orFail(resolveRecipe(*recipe, config,
                                     sensitivity ? &*sensitivity : nullptr));
  } else if (continuesQat) {
    qatRecipe.emplace();
    qatRecipe->spec = orFail(QatSpec::load(o.model + "/qat.json"));
  }
  if (qatRecipe)
    describeRecipe(*qatRecipe);

  // One training run of `runOptions` from --model (or a fresh encoder).
  auto train = [&](const TrainOptions &runOptions) {
    torch::manual_seed(runOptions.seed);
    BertForSequenceClassification model(config);
    initBertWeights(*model);
    if (fromModel)
      orFail(loadCheckpointWeights(o.model, *model, policy));
    std::optional<ResolvedRecipe> resolved = qatRecipe;
    if (resolved)
      orFail(applyQatSpec(*model, resolved->spec));
    std::unique_ptr<TrainingTask> task;
    if (given(command, "--teacher"))
      task = distillationTask(o, command, config, model, tokenizer, vocabPath,
                              trainSet, devSet);
    else
      task = std::make_unique<ClassificationTask>(
          config, model, tokenizer, vocabPath, trainSet, devSet,
          o.maxSeqLength);
    std::istringstream prefixes(o.freeze);
    for (std::string prefix; std::getline(prefixes, prefix, ',');) {
      if (prefix.empty())
        continue;
      Expected<int64_t> frozen = freezeParameters(*model, prefix);
      if (!frozen)
        fail("--freeze: " + frozen.message());
      std::cerr << "finetune: froze " << *frozen << " parameters under '"
                << prefix << "'\n";
    }
    // --sparsity: the encoder linears pruned during the run (after every
    // step), best/ and early stopping from the end of the pruning on.
    TrainOptions run = runOptions;
    std::optional<MagnitudePruner> pruner;
    if (o.sparsity > 0) {
      int64_t runSteps = run.maxSteps > 0 ? run.maxSteps
                                          : stepsPerEpoch * run.epochs;
      MagnitudePruningOptions schedule = pruningSchedule(o, runSteps);
      pruner = orFail(MagnitudePruner::create(*model, schedule));
      run.bestFromStep = std::max(run.bestFromStep, schedule.endStep);
      auto previous = run.onStep;
      run.onStep = [&pruner, previous](const StepReport &report) {
        pruner->afterStep(report.step);
        if (previous)
          previous(report);
      };
      std::cerr << "finetune: pruning " << pruner->linearNames().size()
                << " encoder linears to " << schedule.finalSparsity
                << " sparsity in " << schedule.block.rows << "x"
                << schedule.block.cols << " blocks, steps "
                << schedule.beginStep << "-" << schedule.endStep
                << ", masks updated every " << schedule.updateEvery
                << " steps\n";
      if (std::vector<std::string> binary = pruner->binaryBlockNames();
          !binary.empty()) {
        std::cerr << "finetune: 1-bit linears in " << kBinaryBlockRows << "x"
                  << kBitsPerPackedWord << " blocks (the binary kernel's):";
        for (const std::string &name : binary)
          std::cerr << " " << name;
        std::cerr << "\n";
      }
      if (!pruner->skippedNames().empty()) {
        std::cerr << "finetune: left dense (binary-mean-scale weights, "
                     "whose scale would count the zeros):";
        for (const std::string &name : pruner->skippedNames())
          std::cerr << " " << name;
        std::cerr << "\n";
      }
    }
    if (!resolved)
      return orFail(runTraining(*task, run));
    QatTask qat(std::move(task), model, std::move(*resolved));
    return orFail(runTraining(qat, run));
  };

  if (searchRate)
    options.learningRate =
        searchLearningRate(options, rates, totalSteps, train);
  reportTraining(train(options), options);
}

} // namespace

void addFinetuneCommand(CLI::App &app) {
  auto o = std::make_shared<FinetuneOptions>();
  CLI::App *command = app.add_subcommand(
      "finetune", "Fine-tune a classifier; with --recipe quantization-aware "
                  "training, with --teacher distillation (docs/training.md)");
  command->add_option("--train", o->trainPath, "Training TSV (text, label)")
      ->required();
  command->add_option("--dev", o->devPath,
                      "Dev TSV: evaluated, the best kept in OUTPUT/best");
  command->add_option("--model", o->model,
                      "Start from this checkpoint (else a fresh encoder of "
                      "the size options, with --vocab)");
  command->add_option("--max-seq-length", o->maxSeqLength)
      ->check(atLeast(2));
  command->add_option("--eval-every", o->evalEvery,
                      "Evaluate every N steps (0: each epoch's end)")
      ->check(nonNegative());
  command->add_option("--patience", o->patience,
                      "Stop after N evaluations in a row without a better "
                      "dev score (0: never; default 3 when the run's length "
                      "is automatic, i.e. without --epochs and --max-steps)")
      ->check(nonNegative());
  command->add_option("--freeze", o->freeze,
                      "PREFIX[,PREFIX...]: parameters whose names start so "
                      "are not trained, e.g. bert.embeddings.word_embeddings");
  auto *qat = "Quantization-aware training";
  command->add_option("--recipe", o->recipe, "q8bert, sensimix or ternary")
      ->group(qat);
  command->add_option("--recipe-config", o->recipeConfig,
                      "Recipe options as JSON (docs/training.md)")
      ->group(qat);
  command->add_option("--keep-layers", o->keepLayers,
                      "Keep the first L encoder layers of --model (also with "
                      "--teacher alone)")
      ->check(positive())
      ->group(qat);
  command->add_option("--mp-layers", o->mpLayers,
                      "sensimix: mixed-precision layers (default half; the "
                      "top N, or with --sensitivity the N FFNs least "
                      "sensitive to binarization)")
      ->check(nonNegative())
      ->group(qat);
  command->add_option("--sensitivity", o->sensitivity,
                      "sensimix: sensitivity.json choosing the MP layers")
      ->group(qat);
  command->add_option("--assign", o->assign,
                      "sensimix: how modules get their precision: layers "
                      "(default: the MP layers' FFNs 1-bit), budget (least "
                      "total --sensitivity within the size budget, any "
                      "attention or FFN), random (within the budget)")
      ->group(qat);
  command->add_option("--bits-per-weight", o->bitsPerWeight,
                      "sensimix --assign budget|random: the size budget as "
                      "average bits per encoder-linear weight (default: the "
                      "size of --mp-layers' fixed policy)")
      ->check(positive() & atMost(32))
      ->group(qat);
  command->add_option("--assign-seed", o->assignSeed,
                      "sensimix --assign random: the draw (default 1)")
      ->group(qat);
  command->add_flag("--no-abwr", o->noAbwr, "sensimix ablation")->group(qat);
  command->add_flag("--no-pt", o->noPt, "sensimix ablation")->group(qat);
  command->add_flag("--no-ilf", o->noIlf, "sensimix ablation")->group(qat);
  auto *gmp = "Gradual magnitude pruning";
  command->add_option("--sparsity", o->sparsity,
                      "Prune the encoder linears to this fraction of zero "
                      "blocks during the run (Zhu & Gupta's cubic schedule; "
                      "best/ from the end of the pruning on)")
      ->check(CLI::Range(0.0, 0.99))
      ->group(gmp);
  command->add_option("--sparsity-block", o->sparsityBlock,
                      "ROWSxCOLS: output channels x inputs per block "
                      "(default 16x4, the runtime's block-sparse int8 "
                      "kernel's; 1x1: unstructured)")
      ->group(gmp);
  command->add_option("--sparsity-window", o->sparsityWindow,
                      "BEGIN:END fractions of the run over which the "
                      "sparsity rises (default 0.1:0.7)")
      ->group(gmp);
  auto *kd = "Knowledge distillation";
  command->add_option("--teacher", o->teacher,
                      "A float fine-tuned checkpoint to distil from (then no "
                      "label loss)")
      ->group(kd);
  command->add_option("--kd", o->kd,
                      "Terms: any of pred,rep,attscore,map,out")
      ->group(kd);
  command->add_option("--kd-temperature", o->kdTemperature)
      ->check(positive())
      ->group(kd);
  command->add_option("--kd-unified-weight", o->kdUnifiedWeight,
                      "c_map = W, c_out = 1 - W (default: both 1)")
      ->group(kd);
  command->add_option("--kd-layer-map", o->kdLayerMap,
                      "full, uniform or first (default full; required when "
                      "the depths differ)")
      ->group(kd);
  o->flags.acceptsAutoLearningRate = true;
  o->flags.learningRateAuto = true;
  o->flags.add(command);
  command->callback([o, command] { runFinetune(*o, *command); });
}

} // namespace quantbert::train::cli
