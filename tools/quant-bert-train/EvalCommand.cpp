//===- EvalCommand.cpp - quant-bert-train eval ----------------------------===//
//
// Accuracy, macro-F1, MCC and the confusion matrix of a float checkpoint, a
// QAT checkpoint or an exported bundle on a TSV (the latter two with the
// deployed integer numerics), and optionally each example's logits.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Export.h"
#include "quantbert/Train/Metrics.h"

#include <algorithm>
#include <iostream>

namespace quantbert::train::cli {

namespace {

struct EvalOptions {
  std::string model, data, logits, attentionStorage = "f32";
  int64_t maxSeqLength = 128, batchSize = 64;
  ThreadsFlag threads;
};

void runEval(const EvalOptions &o) {
  o.threads.apply();
  torch::ScalarType storage = o.attentionStorage == "f16"    ? torch::kHalf
                              : o.attentionStorage == "bf16" ? torch::kBFloat16
                                                             : torch::kFloat;
  // A bundle or a QAT checkpoint runs the deployed integer numerics.
  LoadedModel loaded = orFail(loadModelForEval(o.model));
  const BertConfig &config = loaded.config;
  std::vector<std::string> labelNames = config.labelNames();
  TextDataset data = orFail(readTsv(o.data, &labelNames));
  Tokenizer tokenizer = orFail(Tokenizer::open(o.model + "/vocab.txt"));
  if (Error err = checkCalibrated(*loaded.model))
    fail(o.model + ": " + err.message());
  setAttentionStorage(*loaded.model, storage);
  std::vector<double> seconds;
  torch::Tensor logits = orFail(predictLogits(
      loaded.model, tokenizer, data, o.maxSeqLength, o.batchSize, &seconds));
  torch::Tensor best = logits.argmax(-1).contiguous();
  std::vector<int64_t> predicted(best.data_ptr<int64_t>(),
                                 best.data_ptr<int64_t>() + best.numel());
  std::vector<int64_t> gold = labelIds(data);
  if (!o.logits.empty()) {
    torch::Tensor rows = logits.contiguous();
    std::vector<float> values(rows.data_ptr<float>(),
                              rows.data_ptr<float>() + rows.numel());
    orFail(writeFileAtomically(
        o.logits, formatPredictionFile(gold, predicted, labelNames, values)));
  }
  std::cout << data.examples.size() << " examples";
  if (loaded.kind != "float")
    std::cout << " (" << loaded.kind << ", recipe " << loaded.recipe << ")";
  std::cout << "\n"
            << formatMetrics(computeMetrics(gold, predicted, config.numLabels),
                             labelNames);
  if (!seconds.empty()) {
    std::sort(seconds.begin(), seconds.end());
    double total = 0;
    for (double s : seconds)
      total += s;
    std::cout << "forward time: " << seconds.size() << " batches of up to "
              << o.batchSize << ", median " << seconds[seconds.size() / 2] * 1e3
              << " ms per batch, " << total * 1e3 / double(gold.size())
              << " ms per example\n";
  }
}

} // namespace

void addEvalCommand(CLI::App &app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App *command = app.add_subcommand(
      "eval", "Score a checkpoint, QAT checkpoint or bundle on a TSV");
  command->add_option("--model", o->model,
                      "A checkpoint, a QAT checkpoint or an exported bundle")
      ->required();
  command->add_option("--data", o->data, "TSV to score")->required();
  command->add_option("--max-seq-length", o->maxSeqLength)
      ->check(atLeast(2));
  command->add_option("--batch-size", o->batchSize)->check(positive());
  command->add_option("--logits", o->logits,
                      "Write a prediction file: gold, predicted, then each "
                      "label's logit, a row per example");
  command->add_option("--attention-storage", o->attentionStorage,
                      "Round Q, K and V as the compiled model stores them")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  o->threads.add(command);
  command->callback([o] { runEval(*o); });
}

} // namespace quantbert::train::cli
