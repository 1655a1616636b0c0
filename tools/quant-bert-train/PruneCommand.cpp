//===- PruneCommand.cpp - quant-bert-train prune --------------------------===//
//
// Iterative structured pruning (Pruning.h): in each of --iterations steps,
// score the heads and FFN neurons of the current model on the training set
// (task loss), remove the least important until the model lacks
// (step / iterations) of --head-fraction and --ffn-fraction, then recover by
// distillation from the unpruned teacher (--kd terms, pred,rep by default:
// attention maps cannot be compared head for head once heads are gone).
// Step k < N writes OUTPUT/iteration-k/{best,final}; the last step writes
// OUTPUT/{best,final}. Each is a Hugging Face checkpoint whose config.json
// records pruned_heads (and intermediate_sizes), which finetune --recipe,
// quantize, export and the compiler read as ordinary smaller shapes.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/Distillation.h"
#include "quantbert/Train/Pruning.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct PruneOptions {
  TrainFlags flags;
  RecoveryFlags recovery;
  int64_t iterations = 4, ffnMultiple = 64, importanceExamples = 1024,
          importanceBatch = 32;
  double heads = 0, ffn = 0;
};

/// "6/12 heads, 1536/3072 FFN neurons, 4.2M encoder parameters".
std::string describe(const BertConfig &config, BertModel &bert) {
  int64_t heads = 0, neurons = 0, parameters = 0;
  for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer) {
    heads += config.numHeads(layer);
    neurons += config.ffnWidth(layer);
  }
  for (const auto &item : bert->encoder->named_parameters())
    parameters += item.value().numel();
  return std::to_string(heads) + "/" +
         std::to_string(config.numHiddenLayers * config.numAttentionHeads) +
         " heads, " + std::to_string(neurons) + "/" +
         std::to_string(config.numHiddenLayers * config.intermediateSize) +
         " FFN neurons, " + std::to_string(parameters) +
         " encoder parameters";
}

void runPrune(const PruneOptions &o, const CLI::App &command) {
  o.flags.threads.apply();
  if (!given(command, "--head-fraction") && !given(command, "--ffn-fraction"))
    fail("prune needs --head-fraction F, --ffn-fraction F or both");
  if (!o.flags.train.resumeFrom.empty())
    fail("prune does not resume a training state: restart from "
         "OUTPUT/iteration-k/final with --teacher (docs/training.md)");
  TrainOptions options = o.flags.options();
  if (options.parallel)
    fail("prune runs in one process (each step changes the model's shapes)");
  options.evalEvery = o.recovery.evalEvery;
  RecoveryRun run =
      startRecovery(o.recovery, command, "prune", "pruned", options.seed);
  BertConfig &config = run.config;
  BertForSequenceClassification &model = run.model;
  if (config.isShared())
    fail("prune does not apply to a weight-shared model (num_hidden_groups " +
         std::to_string(config.numHiddenGroups) +
         "): prune the unshared model, then share");
  std::cerr << "prune: start " << describe(config, model->bert) << "\n";

  PruningTarget target;
  target.neuronMultiple = o.ffnMultiple;
  ImportanceOptions importanceOptions;
  importanceOptions.batchSize = o.importanceBatch;
  importanceOptions.maxExamples = o.importanceExamples;
  std::string outputDir = options.outputDir;
  for (int64_t step = 1; step <= o.iterations; ++step) {
    target.headFraction = o.heads * double(step) / double(o.iterations);
    target.neuronFraction = o.ffn * double(step) / double(o.iterations);
    importanceOptions.seed = options.seed + uint64_t(step);
    // Importance under the task loss: the distillation loss of a student
    // equal to its teacher (the first step) has zero gradient.
    ClassificationTask scoring(config, model, run.tokenizer, run.vocabPath,
                               run.trainSet, std::nullopt, run.maxSeqLength);
    Importance importance =
        orFail(measureImportance(scoring, model->bert, importanceOptions));
    PruningPlan plan = orFail(planPruning(importance, config, target));
    orFail(applyPruning(model->bert, config, plan));
    std::cerr << "prune: step " << step << "/" << o.iterations << ": "
              << describe(config, model->bert) << "\n";

    TrainOptions stepOptions = options;
    stepOptions.outputDir =
        step == o.iterations
            ? outputDir
            : outputDir + "/iteration-" + std::to_string(step);
    recoverByDistillation(run, stepOptions);
  }
}

} // namespace

void addPruneCommand(CLI::App &app) {
  auto o = std::make_shared<PruneOptions>();
  CLI::Validator fraction(
      [](std::string &text) -> std::string {
        char *end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !(value >= 0 && value < 1))
          return "must be in [0, 1), got " + text;
        return "";
      },
      "in [0, 1)");
  CLI::App *command = app.add_subcommand(
      "prune", "Structured pruning of attention heads and FFN neurons, "
               "iterated with distillation from the unpruned model "
               "(docs/training.md)");
  o->recovery.add(command);
  command->add_option("--head-fraction", o->heads,
                      "Fraction of all attention heads to remove, in [0, 1)")
      ->check(fraction);
  command->add_option("--ffn-fraction", o->ffn,
                      "Fraction of all FFN neurons to remove, in [0, 1)")
      ->check(fraction);
  command->add_option("--iterations", o->iterations,
                      "Prune-then-distil steps towards the fractions")
      ->check(positive());
  command->add_option("--ffn-multiple", o->ffnMultiple,
                      "Each layer's FFN width stays a multiple of this")
      ->check(positive());
  command->add_option("--importance-examples", o->importanceExamples,
                      "Training examples scored per step (0: all)")
      ->check(nonNegative());
  command->add_option("--importance-batch", o->importanceBatch)
      ->check(positive());
  o->flags.train.epochs = 1;
  o->flags.add(command);
  command->callback([o, command] { runPrune(*o, *command); });
}

} // namespace quantbert::train::cli
