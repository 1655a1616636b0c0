//===- BaselineBowCommand.cpp - quant-bert-train baseline-bow -------------===//
//
// The majority-class and bag-of-words logistic-regression baselines
// (Baseline.h), the L2 weight chosen on dev.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Baseline.h"
#include "quantbert/Train/Metrics.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct BaselineBowOptions {
  std::string train, dev, test, predictions;
  double l2 = 0;
  int64_t maxIterations = 100;
  ThreadsFlag threads;
};

/// Prints `name`'s metrics on `data` for `predicted`.
void printScores(const std::string &name, const TextDataset &data,
                 const std::vector<int64_t> &predicted) {
  std::vector<int64_t> gold = labelIds(data);
  std::cout << name << " (" << data.examples.size() << " examples)\n"
            << formatMetrics(computeMetrics(gold, predicted,
                                            int64_t(data.labelNames.size())),
                             data.labelNames);
}

void runBaselineBow(const BaselineBowOptions &o, const CLI::App &command) {
  o.threads.apply();
  TextDataset trainSet = orFail(readTsv(o.train));
  TextDataset devSet = orFail(readTsv(o.dev, &trainSet.labelNames));
  TextDataset testSet = orFail(readTsv(o.test, &trainSet.labelNames));

  int64_t majority = majorityLabel(trainSet);
  std::cout << "majority class: " << trainSet.labelNames[majority] << "\n";
  printScores("majority dev", devSet,
              std::vector<int64_t>(devSet.examples.size(), majority));
  printScores("majority test", testSet,
              std::vector<int64_t>(testSet.examples.size(), majority));

  BowOptions options;
  options.maxIterations = o.maxIterations;
  std::vector<double> grid = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2};
  if (given(command, "--l2"))
    grid = {o.l2};
  std::vector<int64_t> devGold = labelIds(devSet);
  std::optional<BowClassifier> best;
  double bestL2 = 0, bestAccuracy = -1;
  for (double l2 : grid) {
    options.l2 = l2;
    BowClassifier model = orFail(BowClassifier::train(trainSet, options));
    double accuracy = computeMetrics(devGold, model.predict(devSet),
                                     int64_t(trainSet.labelNames.size()))
                          .accuracy;
    std::cerr << "baseline-bow: l2 " << l2 << ": " << model.vocabularySize()
              << " words, objective " << model.finalLoss()
              << ", dev accuracy " << accuracy << "\n";
    // On a tie the weaker l2, tried first, stays.
    if (accuracy > bestAccuracy) {
      bestAccuracy = accuracy;
      bestL2 = l2;
      best = std::move(model);
    }
  }
  std::cout << "bag-of-words logistic regression: l2 " << bestL2 << ", "
            << best->vocabularySize() << " words\n";
  printScores("bow dev", devSet, best->predict(devSet));
  std::vector<int64_t> testPredicted = best->predict(testSet);
  printScores("bow test", testSet, testPredicted);
  if (!o.predictions.empty())
    orFail(writeFileAtomically(
        o.predictions, formatPredictionFile(labelIds(testSet), testPredicted)));
}

} // namespace

void addBaselineBowCommand(CLI::App &app) {
  auto o = std::make_shared<BaselineBowOptions>();
  CLI::App *command = app.add_subcommand(
      "baseline-bow", "Majority-class and bag-of-words logistic-regression "
                      "baselines");
  command->add_option("--train", o->train, "Training TSV")->required();
  command->add_option("--dev", o->dev, "Dev TSV (chooses the L2 weight)")
      ->required();
  command->add_option("--test", o->test, "Test TSV")->required();
  command->add_option("--l2", o->l2,
                      "L2 weight (default: the best on dev of 1e-6 ... 1e-2, "
                      "by decades)")
      ->check(nonNegative());
  command->add_option("--max-iterations", o->maxIterations)
      ->check(positive());
  command->add_option("--predictions", o->predictions,
                      "Write the test split's prediction file (gold, "
                      "predicted)");
  o->threads.add(command);
  command->callback([o, command] { runBaselineBow(*o, *command); });
}

} // namespace quantbert::train::cli
