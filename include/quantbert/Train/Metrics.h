//===- Metrics.h - Classification metrics -----------------------*- C++ -*-===//
//
// The scores GLUE reports for classification tasks, from gold and predicted
// label ids: accuracy, macro-averaged F1, the (multi-class) Matthews
// correlation coefficient and the confusion matrix. Plain C++, no LibTorch.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_METRICS_H
#define QUANTBERT_TRAIN_METRICS_H

#include <cstdint>
#include <string>
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

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_METRICS_H
