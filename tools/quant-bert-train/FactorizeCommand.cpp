//===- FactorizeCommand.cpp - quant-bert-train factorize ------------------===//
//
// Low-rank factorization (LowRank.h): the chosen encoder linears of a float
// checkpoint become two factors each by truncated SVD, with ranks from
// --energy, --fixed-rank or --budget, then distillation from the unfactorized
// model recovers what the truncation lost. OUTPUT/{best,final} are
// checkpoints whose config.json lists low_rank_linears; finetune --recipe,
// quantize, export and the compiler quantize and run each factor.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/LowRank.h"

#include <cstdio>
#include <iostream>

namespace quantbert::train::cli {

namespace {

struct FactorizeOptions {
  TrainFlags flags;
  RecoveryFlags recovery;
  std::string linears = "ffn";
  int64_t rank = 0;
  double energy = 0, budget = 0;
};

int64_t encoderWeights(BertModel &bert) {
  int64_t count = 0;
  for (const auto &item : bert->encoder->named_parameters())
    if (item.value().dim() == 2)
      count += item.value().numel();
  return count;
}

void runFactorize(const FactorizeOptions &o, const CLI::App &command) {
  o.flags.threads.apply();
  RankPolicy policy;
  if (given(command, "--energy"))
    policy.energy = o.energy;
  if (given(command, "--fixed-rank"))
    policy.rank = o.rank;
  if (given(command, "--budget"))
    policy.budget = o.budget;
  if (int(given(command, "--energy")) + int(given(command, "--fixed-rank")) +
          int(given(command, "--budget")) !=
      1)
    fail("factorize needs exactly one of --energy, --fixed-rank and --budget");
  LowRankScope scope = orFail(parseLowRankScope(o.linears));
  TrainOptions options = o.flags.options();
  options.evalEvery = o.recovery.evalEvery;
  RecoveryRun run = startRecovery(o.recovery, command, "factorize",
                                  "factorized", options.seed);
  BertForSequenceClassification &model = run.model;
  int64_t before = encoderWeights(model->bert);
  std::vector<FactorizedLinear> report =
      orFail(factorizeModel(model->bert, run.config, scope, policy));
  for (const FactorizedLinear &linear : report) {
    char error[32];
    std::snprintf(error, sizeof error, "%.4f", linear.relativeError);
    std::cerr << "factorize: " << linear.module << " " << linear.out << "x"
              << linear.in << ": "
              << (linear.rank ? "rank " + std::to_string(linear.rank) +
                                    ", relative error " + error
                              : std::string("kept whole (no rank saves "
                                            "weights)"))
              << "\n";
  }
  int64_t after = encoderWeights(model->bert);
  std::cerr << "factorize: encoder weights " << before << " -> " << after
            << " (" << (100.0 * double(after) / double(before)) << "%)\n";
  recoverByDistillation(run, options);
}

} // namespace

void addFactorizeCommand(CLI::App &app) {
  auto o = std::make_shared<FactorizeOptions>();
  CLI::App *command = app.add_subcommand(
      "factorize", "Low-rank factorization of encoder linears by truncated "
                   "SVD, then distillation from the unfactorized model "
                   "(docs/training.md)");
  o->recovery.add(command);
  command->add_option("--linears", o->linears,
                      "Which encoder linears: ffn, attention or all");
  command->add_option("--energy", o->energy,
                      "Rank: the smallest keeping this fraction of the "
                      "squared singular values, in (0, 1]")
      ->check(positive())
      ->check(atMost(1));
  command->add_option("--fixed-rank", o->rank, "Rank: the same for every linear")
      ->check(positive());
  command->add_option("--budget", o->budget,
                      "Rank: the factors hold at most this fraction of the "
                      "chosen linears' weights, in (0, 1)")
      ->check(positive());
  o->flags.train.epochs = 1;
  o->flags.add(command);
  command->callback([o, command] { runFactorize(*o, *command); });
}

} // namespace quantbert::train::cli
