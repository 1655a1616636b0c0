//===- CompareCommand.cpp - quant-bert-train compare ----------------------===//
//
// Whether two classifiers' accuracies on the same examples differ:
// McNemar's exact test (Metrics.h) on two prediction files.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Metrics.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct CompareOptions {
  std::string a, b;
};

Predictions readPredictions(const std::string &path) {
  return orFail(parsePredictionFile(orFail(readFile(path)), path));
}

void runCompare(const CompareOptions &o) {
  Predictions a = readPredictions(o.a), b = readPredictions(o.b);
  if (a.gold.size() != b.gold.size())
    fail(o.a + " has " + std::to_string(a.gold.size()) + " predictions, " +
         o.b + " " + std::to_string(b.gold.size()) +
         ": not the same examples");
  for (size_t i = 0; i < a.gold.size(); ++i)
    if (a.gold[i] != b.gold[i])
      fail("line " + std::to_string(i + 2) + ": gold label " +
           std::to_string(a.gold[i]) + " in " + o.a + " but " +
           std::to_string(b.gold[i]) + " in " + o.b +
           ": not the same examples in the same order and label numbering");
  PairedComparison c = compareClassifiers(a.gold, a.predicted, b.predicted);
  double n = double(a.gold.size());
  std::cout << a.gold.size() << " examples\n";
  std::cout.setf(std::ios::fixed);
  std::cout.precision(4);
  std::cout << "A " << o.a << ": accuracy " << (c.bothRight + c.onlyA) / n
            << "\nB " << o.b << ": accuracy " << (c.bothRight + c.onlyB) / n
            << "\nboth right " << c.bothRight << ", only A " << c.onlyA
            << ", only B " << c.onlyB << ", both wrong " << c.bothWrong
            << "\n";
  std::cout.unsetf(std::ios::fixed);
  std::cout.precision(3);
  std::cout << "McNemar exact test, two-sided: p = " << c.pValue << "\n";
}

} // namespace

void addCompareCommand(CLI::App &app) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App *command = app.add_subcommand(
      "compare", "McNemar's exact test of two prediction files of the same "
                 "examples (eval --logits, baseline-bow --predictions)");
  command->add_option("--a", o->a, "First prediction file")->required();
  command->add_option("--b", o->b, "Second prediction file")->required();
  command->callback([o] { runCompare(*o); });
}

} // namespace quantbert::train::cli
