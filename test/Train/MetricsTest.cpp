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

// Labels for a paired comparison: `onlyA` examples A gets right and B wrong,
// `onlyB` the reverse, then `bothRight` and `bothWrong`; gold is all 0.
struct PairedCase {
  std::vector<int64_t> gold, a, b;
};
PairedCase pairedCase(int onlyA, int onlyB, int bothRight, int bothWrong) {
  PairedCase c;
  auto add = [&](int count, int64_t a, int64_t b) {
    for (int i = 0; i < count; ++i) {
      c.gold.push_back(0);
      c.a.push_back(a);
      c.b.push_back(b);
    }
  };
  add(onlyA, 0, 1);
  add(onlyB, 2, 0);
  add(bothRight, 0, 0);
  add(bothWrong, 1, 2);
  return c;
}

TEST(MetricsTest, McNemarExactSmall) {
  // 10 vs 2 discordant: p = 2 (C(12,0) + C(12,1) + C(12,2)) / 2^12.
  PairedCase c = pairedCase(10, 2, 5, 3);
  PairedComparison r = compareClassifiers(c.gold, c.a, c.b);
  EXPECT_EQ(r.onlyA, 10);
  EXPECT_EQ(r.onlyB, 2);
  EXPECT_EQ(r.bothRight, 5);
  EXPECT_EQ(r.bothWrong, 3);
  EXPECT_NEAR(r.pValue, 2.0 * (1 + 12 + 66) / 4096, 1e-12);
  // The test is symmetric in A and B.
  EXPECT_NEAR(compareClassifiers(c.gold, c.b, c.a).pValue, r.pValue, 1e-12);
}

TEST(MetricsTest, McNemarLargeMatchesChiSquare) {
  // 600 vs 500 of 1,100 discordant: the continuity-corrected chi-square
  // (|600 - 500| - 1)^2 / 1100 = 8.91 with one degree of freedom gives
  // p = erfc(sqrt(8.91 / 2)) = 0.00283; the exact test is close to it.
  PairedCase c = pairedCase(600, 500, 3000, 900);
  double chi2 = 99.0 * 99.0 / 1100;
  double approx = std::erfc(std::sqrt(chi2 / 2));
  double p = compareClassifiers(c.gold, c.a, c.b).pValue;
  EXPECT_GT(p, 0);
  EXPECT_NEAR(p / approx, 1.0, 0.05) << p << " vs " << approx;
}

TEST(MetricsTest, McNemarNoDifference) {
  PairedCase tied = pairedCase(7, 7, 3, 1);
  EXPECT_DOUBLE_EQ(compareClassifiers(tied.gold, tied.a, tied.b).pValue, 1.0);
  PairedCase same = pairedCase(0, 0, 4, 2);
  EXPECT_DOUBLE_EQ(compareClassifiers(same.gold, same.a, same.b).pValue, 1.0);
}

TEST(MetricsTest, PredictionFileRoundTrip) {
  std::string text = formatPredictionFile({0, 2, 1}, {0, 1, 1}, {"a", "b", "c"},
                                          {0.5f, -1.25f, 3.0f, 0.25f, 2.0f,
                                           0.1f, 0.0f, 1.0f, -0.5f});
  EXPECT_EQ(text.substr(0, text.find('\n')), "gold\tpredicted\ta\tb\tc");
  EXPECT_NE(text.find("\n2\t1\t0.25\t2\t0.100000001\n"), std::string::npos)
      << text;
  quantbert::Expected<Predictions> parsed = parsePredictionFile(text, "p.tsv");
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->gold, (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(parsed->predicted, (std::vector<int64_t>{0, 1, 1}));
  // Without logits: two columns.
  EXPECT_EQ(formatPredictionFile({1}, {0}), "gold\tpredicted\n1\t0\n");
}

TEST(MetricsTest, PredictionFileErrors) {
  EXPECT_EQ(parsePredictionFile("x\n", "p.tsv").message(),
            "p.tsv: not a prediction file (the header must start with "
            "'gold<TAB>predicted')");
  EXPECT_EQ(parsePredictionFile("gold\tpredicted\n1\t2\n1 2\n", "p.tsv")
                .message(),
            "p.tsv:3: expected two label ids, gold and predicted, separated "
            "by a tab");
  EXPECT_EQ(parsePredictionFile("gold\tpredicted\n", "p.tsv").message(),
            "p.tsv: no predictions");
}

} // namespace

