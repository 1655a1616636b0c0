//===- Metrics.h - Classification metrics -----------------------*- C++ -*-===//
//
// The scores GLUE reports for classification tasks, from gold and predicted
// label ids: accuracy, macro-averaged F1, the (multi-class) Matthews
// correlation coefficient and the confusion matrix; and McNemar's test of
// whether two classifiers' accuracies on the same examples differ. Plain
// C++, no LibTorch.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_METRICS_H
#define QUANTBERT_TRAIN_METRICS_H

#include "quantbert/Support/Error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert::train {

struct ClassificationMetrics {
  double accuracy = 0;
  /// Unweighted mean over classes of per-class F1 (a class never gold and
  /// never predicted contributes 0, as scikit-learn's zero_division=0).
  double macroF1 = 0;
  /// Gorodkin's R_K, which is Matthews' coefficient for two classes; 0 when
  /// undefined.
  double mcc = 0;
  /// confusion[gold][predicted].
  std::vector<std::vector<int64_t>> confusion;
};

/// `gold` and `predicted` hold ids in [0, numLabels) and have equal sizes.
ClassificationMetrics computeMetrics(const std::vector<int64_t> &gold,
                                     const std::vector<int64_t> &predicted,
                                     int64_t numLabels);

/// A human-readable report: the scores, then the confusion matrix with the
/// label names as row (gold) and column (predicted) headers.
std::string formatMetrics(const ClassificationMetrics &metrics,
                          const std::vector<std::string> &labelNames);

/// Two classifiers, A and B, scored on the same examples: how often each is
/// right where the other is wrong, and the exact McNemar test of "A and B
/// are equally accurate" on those discordant examples.
struct PairedComparison {
  int64_t bothRight = 0, onlyA = 0, onlyB = 0, bothWrong = 0;
  /// Two-sided exact p-value: under the null hypothesis each of the n =
  /// onlyA + onlyB discordant examples favours A with probability 1/2, so
  /// p = min(1, 2 P(X <= min(onlyA, onlyB))) for X ~ Binomial(n, 1/2)
  /// (McNemar 1947; exact form as Dietterich 1998 recommends for comparing
  /// classifiers on one test set). 1 when there are no discordant examples.
  double pValue = 1;
};

/// `gold`, `predictedA` and `predictedB` have equal sizes.
PairedComparison compareClassifiers(const std::vector<int64_t> &gold,
                                    const std::vector<int64_t> &predictedA,
                                    const std::vector<int64_t> &predictedB);

/// A prediction file, what eval --logits and baseline-bow --predictions
/// write and compare reads: a header `gold<TAB>predicted`, then a row of
/// label ids per example; with `logits` (row-major [examples, labels]), a
/// column per label name after those two holds its logit at full float
/// precision (9 significant digits round-trip a float).
std::string formatPredictionFile(const std::vector<int64_t> &gold,
                                 const std::vector<int64_t> &predicted,
                                 const std::vector<std::string> &labelNames = {},
                                 const std::vector<float> &logits = {});

/// Gold and predicted label ids, the first two columns of a prediction file.
struct Predictions {
  std::vector<int64_t> gold, predicted;
};

/// Parses a prediction file's text; errors start with `source` (and the
/// line number of a bad row).
Expected<Predictions> parsePredictionFile(std::string_view text,
                                          const std::string &source);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_METRICS_H
