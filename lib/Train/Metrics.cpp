//===- Metrics.cpp - Classification metrics -------------------------------===//
//
// All scores are computed from the confusion matrix, so they agree with each
// other by construction.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Metrics.h"

#include "quantbert/Support/FileIO.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace quantbert::train {

ClassificationMetrics computeMetrics(const std::vector<int64_t> &gold,
                                     const std::vector<int64_t> &predicted,
                                     int64_t numLabels) {
  assert(gold.size() == predicted.size() && "gold and predicted differ in size");
  ClassificationMetrics m;
  m.confusion.assign(numLabels, std::vector<int64_t>(numLabels, 0));
  for (size_t i = 0; i < gold.size(); ++i)
    ++m.confusion[gold[i]][predicted[i]];
  if (gold.empty())
    return m;

  double n = double(gold.size()), correct = 0;
  std::vector<double> goldCount(numLabels, 0), predCount(numLabels, 0);
  for (int64_t g = 0; g < numLabels; ++g)
    for (int64_t p = 0; p < numLabels; ++p) {
      goldCount[g] += double(m.confusion[g][p]);
      predCount[p] += double(m.confusion[g][p]);
    }
  double f1Sum = 0;
  for (int64_t k = 0; k < numLabels; ++k) {
    double tp = double(m.confusion[k][k]);
    correct += tp;
    double denominator = goldCount[k] + predCount[k];
    f1Sum += denominator > 0 ? 2 * tp / denominator : 0;
  }
  m.accuracy = correct / n;
  m.macroF1 = f1Sum / double(numLabels);

  // Gorodkin (2004), eq. 8 in the covariance form scikit-learn uses:
  // (c*s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)).
  double sumPT = 0, sumP2 = 0, sumT2 = 0;
  for (int64_t k = 0; k < numLabels; ++k) {
    sumPT += predCount[k] * goldCount[k];
    sumP2 += predCount[k] * predCount[k];
    sumT2 += goldCount[k] * goldCount[k];
  }
  double denominator = std::sqrt((n * n - sumP2) * (n * n - sumT2));
  m.mcc = denominator > 0 ? (correct * n - sumPT) / denominator : 0;
  return m;
}

std::string formatMetrics(const ClassificationMetrics &metrics,
                          const std::vector<std::string> &labelNames) {
  char line[160];
  std::snprintf(line, sizeof(line), "accuracy %.4f  macro-F1 %.4f  MCC %.4f\n",
                metrics.accuracy, metrics.macroF1, metrics.mcc);
  std::string out = line;
  size_t width = 6;
  for (const std::string &name : labelNames)
    width = std::max(width, name.size() + 1);
  auto cell = [&](const std::string &text) {
    out += std::string(width - std::min(width - 1, text.size()), ' ') + text;
  };
  out += "confusion (rows gold, columns predicted):\n";
  cell("");
  for (const std::string &name : labelNames)
    cell(name);
  out += "\n";
  for (size_t g = 0; g < metrics.confusion.size(); ++g) {
    cell(labelNames[g]);
    for (int64_t count : metrics.confusion[g])
      cell(std::to_string(count));
    out += "\n";
  }
  return out;
}

PairedComparison compareClassifiers(const std::vector<int64_t> &gold,
                                    const std::vector<int64_t> &predictedA,
                                    const std::vector<int64_t> &predictedB) {
  assert(gold.size() == predictedA.size() && gold.size() == predictedB.size() &&
         "gold and predictions differ in size");
  PairedComparison c;
  for (size_t i = 0; i < gold.size(); ++i) {
    bool a = predictedA[i] == gold[i], b = predictedB[i] == gold[i];
    ++(a ? (b ? c.bothRight : c.onlyA) : (b ? c.onlyB : c.bothWrong));
  }
  int64_t n = c.onlyA + c.onlyB, k = std::min(c.onlyA, c.onlyB);
  // P(X <= k) = sum_i C(n, i) / 2^n, each term in logs (n can be in the
  // thousands, far past where 2^n fits a double).
  double logNFactorialOver2N = std::lgamma(double(n) + 1) - n * std::log(2.0);
  double tail = 0;
  for (int64_t i = 0; i <= k; ++i)
    tail += std::exp(logNFactorialOver2N - std::lgamma(double(i) + 1) -
                     std::lgamma(double(n - i) + 1));
  c.pValue = std::min(1.0, 2 * tail);
  return c;
}

std::string formatPredictionFile(const std::vector<int64_t> &gold,
                                 const std::vector<int64_t> &predicted,
                                 const std::vector<std::string> &labelNames,
                                 const std::vector<float> &logits) {
  std::ostringstream out;
  out.precision(9);
  out << "gold\tpredicted";
  size_t labels = logits.empty() ? 0 : labelNames.size();
  for (size_t l = 0; l < labels; ++l)
    out << "\t" << labelNames[l];
  out << "\n";
  for (size_t i = 0; i < gold.size(); ++i) {
    out << gold[i] << "\t" << predicted[i];
    for (size_t l = 0; l < labels; ++l)
      out << "\t" << logits[i * labels + l];
    out << "\n";
  }
  return out.str();
}

Expected<Predictions> parsePredictionFile(std::string_view text,
                                          const std::string &source) {
  std::vector<std::string_view> lines = splitLines(text);
  if (lines.empty() || lines[0].rfind("gold\tpredicted", 0) != 0)
    return Error::failure(source + ": not a prediction file (the header must "
                                   "start with 'gold<TAB>predicted')");
  Predictions p;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::istringstream row{std::string(lines[i])};
    int64_t gold = -1, predicted = -1;
    char tab = 0;
    // eval --logits rows go on with a tab and the logits.
    if (!(row >> gold) || !row.get(tab) || tab != '\t' ||
        !(row >> predicted) || gold < 0 || predicted < 0 ||
        (row.peek() != '\t' && row.peek() != EOF))
      return Error::failure(source + ":" + std::to_string(i + 1) +
                            ": expected two label ids, gold and predicted, "
                            "separated by a tab");
    p.gold.push_back(gold);
    p.predicted.push_back(predicted);
  }
  if (p.gold.empty())
    return Error::failure(source + ": no predictions");
  return p;
}

} // namespace quantbert::train
