//===- MetricsTest.cpp - Accuracy, macro-F1, MCC and confusion ------------===//
//
// computeMetrics against scores worked out by hand (and matching
// scikit-learn's accuracy_score, f1_score(average="macro") and
// matthews_corrcoef on the same labels).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Metrics.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace quantbert::train;

namespace {

TEST(MetricsTest, ThreeClassHandComputed) {
  std::vector<int64_t> gold = {0, 0, 0, 1, 1, 2, 2, 2, 2, 0};
  std::vector<int64_t> predicted = {0, 0, 1, 1, 2, 2, 2, 0, 2, 0};
  ClassificationMetrics m = computeMetrics(gold, predicted, 3);
  std::vector<std::vector<int64_t>> confusion = {
      {3, 1, 0}, {0, 1, 1}, {1, 0, 3}};
  EXPECT_EQ(m.confusion, confusion);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.7);
  // Per-class F1 = 2 tp / (gold + predicted): 6/8, 2/4, 6/8.
  EXPECT_NEAR(m.macroF1, (0.75 + 0.5 + 0.75) / 3, 1e-12);
  // Gorodkin: c = 7, s = 10, t = (4, 2, 4), p = (4, 2, 4):
  // (70 - 36) / sqrt((100 - 36)(100 - 36)) = 34 / 64.
  EXPECT_NEAR(m.mcc, 34.0 / 64.0, 1e-12);
}

TEST(MetricsTest, BinaryMccIsMatthews) {
  // tp 3, tn 2, fp 1, fn 2 with class 1 positive.
  std::vector<int64_t> gold = {1, 1, 1, 1, 1, 0, 0, 0};
  std::vector<int64_t> predicted = {1, 1, 1, 0, 0, 0, 0, 1};
  ClassificationMetrics m = computeMetrics(gold, predicted, 2);
  double matthews = (3.0 * 2 - 1.0 * 2) / std::sqrt(4.0 * 5 * 3 * 4);
  EXPECT_NEAR(m.mcc, matthews, 1e-12);
  EXPECT_DOUBLE_EQ(m.accuracy, 5.0 / 8);
  EXPECT_NEAR(m.macroF1, (4.0 / 7 + 6.0 / 9) / 2, 1e-12);
}

TEST(MetricsTest, DegenerateCases) {
  // A constant prediction leaves MCC undefined: reported as 0. A class
  // never gold nor predicted counts as F1 0 in the macro average.
  ClassificationMetrics constant = computeMetrics({0, 1, 0}, {0, 0, 0}, 3);
  EXPECT_EQ(constant.mcc, 0);
  EXPECT_NEAR(constant.macroF1, (2.0 * 2 / 5) / 3, 1e-12);
  ClassificationMetrics empty = computeMetrics({}, {}, 2);
  EXPECT_EQ(empty.accuracy, 0);
  EXPECT_EQ(empty.confusion.size(), 2u);
}

TEST(MetricsTest, FormatNamesRowsAndColumns) {
  std::string text =
      formatMetrics(computeMetrics({0, 1}, {0, 0}, 2), {"news", "fiction"});
  EXPECT_NE(text.find("accuracy 0.5000"), std::string::npos) << text;
  EXPECT_NE(text.find("    news       1       0\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find(" fiction       1       0\n"), std::string::npos)
      << text;
}

} // namespace
