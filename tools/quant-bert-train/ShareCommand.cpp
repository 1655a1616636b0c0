//===- ShareCommand.cpp - quant-bert-train share --------------------------===//
//
// ALBERT-style weight sharing (Sharing.h): a float checkpoint's layers
// become --groups groups of shared layers and/or its embeddings
// --embedding-size wide with a projection, then distillation from the
// unshared model trains the result. OUTPUT/{best,final} are checkpoints
// whose config.json has num_hidden_groups / embedding_size and whose
// model.safetensors holds each group's layer once; finetune --recipe,
// quantize, export (also --albert, transformers' ALBERT layout) and the
// compiler take them.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/Sharing.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct ShareOptions {
  TrainFlags flags;
  RecoveryFlags recovery;
  int64_t groups = 0, embeddingSize = 0;
  std::string init = "mean";
};

int64_t parameterCount(torch::nn::Module &module) {
  int64_t count = 0;
  for (const torch::Tensor &tensor : module.parameters())
    count += tensor.numel();
  return count;
}

void runShare(const ShareOptions &o, const CLI::App &command) {
  o.flags.threads.apply();
  SharingOptions sharing;
  sharing.groups = o.groups;
  sharing.embeddingSize = o.embeddingSize;
  sharing.init = orFail(parseGroupInit(o.init));
  TrainOptions options = o.flags.options();
  options.evalEvery = o.recovery.evalEvery;
  RecoveryRun run =
      startRecovery(o.recovery, command, "share", "shared", options.seed);
  int64_t before = parameterCount(*run.model->bert);
  SharingReport shared =
      orFail(shareWeights(run.model, run.config, sharing));
  run.config = shared.config;
  run.model = shared.model;
  std::cerr << "share: " << run.config.numHiddenLayers << " layers in "
            << run.config.storedLayers() << " group(s), embeddings "
            << run.config.embeddingWidth() << " wide";
  if (run.config.hasEmbeddingProjection())
    std::cerr << " (SVD start keeps " << 100.0 * shared.embeddingEnergy
              << "% of the tables' energy)";
  std::cerr << "; parameters of bert (embeddings, encoder, pooler) "
            << before << " -> "
            << parameterCount(*run.model->bert) << "\n";
  recoverByDistillation(run, options);
}

} // namespace

void addShareCommand(CLI::App &app) {
  auto o = std::make_shared<ShareOptions>();
  CLI::App *command = app.add_subcommand(
      "share", "ALBERT-style cross-layer weight sharing and factorized "
               "embeddings, then distillation from the unshared model "
               "(docs/training.md)");
  o->recovery.add(command);
  command->add_option("--groups", o->groups,
                      "Layer groups sharing one set of weights (1: all "
                      "layers share; layer i runs group i / (L / G))")
      ->check(positive());
  command->add_option("--embedding-size", o->embeddingSize,
                      "Width E < hidden_size of the embedding tables, "
                      "projected to hidden_size")
      ->check(positive());
  command->add_option("--group-init", o->init,
                      "A group's start: mean (of its layers' weights) or "
                      "first (its lowest layer)");
  o->flags.train.epochs = 1;
  o->flags.add(command);
  command->callback([o, command] { runShare(*o, *command); });
}

} // namespace quantbert::train::cli
