//===- BaselineTest.cpp - Majority-class and bag-of-words baselines -------===//
//
// On a synthetic task whose label is carried by one keyword among shared
// filler words, logistic regression on bag-of-words features must beat the
// majority class by far.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Baseline.h"
#include "quantbert/Train/Metrics.h"

#include <gtest/gtest.h>

using namespace quantbert;
using namespace quantbert::train;

namespace {

/// `n` rows; every other row is "sports", the rest split between "music"
/// and "food", so the majority class scores about 0.5.
std::string syntheticTsv(int64_t n, int64_t offset) {
  const char *fillers[] = {"the", "a", "today", "we", "saw", "some", "new"};
  const char *sports[] = {"Goal", "match", "referee", "Team"};
  const char *music[] = {"guitar", "Concert", "melody", "band"};
  const char *food[] = {"recipe", "bread", "Dinner", "spicy"};
  std::string tsv = "text\tlabel\n";
  for (int64_t row = offset; row < offset + n; ++row) {
    int64_t kind = row % 2 == 0 ? 0 : (row / 2) % 2 + 1;
    const char **keywords = kind == 0 ? sports : kind == 1 ? music : food;
    const char *label = kind == 0 ? "sports" : kind == 1 ? "music" : "food";
    tsv += std::string(fillers[row % 7]) + " " + fillers[(row / 7) % 7] +
           " " + keywords[(row / 4) % 4] + "  " + fillers[(row + 3) % 7] +
           "\t" + label + "\n";
  }
  return tsv;
}

TEST(BaselineTest, BagOfWordsBeatsMajorityClass) {
  torch::set_num_threads(1);
  Expected<TextDataset> train = parseTsv(syntheticTsv(120, 0), "train");
  ASSERT_TRUE(train) << train.message();
  Expected<TextDataset> test =
      parseTsv(syntheticTsv(40, 1000), "test", &train->labelNames);
  ASSERT_TRUE(test) << test.message();
  std::vector<int64_t> gold;
  for (const TextExample &example : test->examples)
    gold.push_back(example.label);

  int64_t majority = majorityLabel(*train);
  EXPECT_EQ(train->labelNames[majority], "sports");
  double majorityAccuracy =
      computeMetrics(gold, std::vector<int64_t>(gold.size(), majority), 3)
          .accuracy;
  EXPECT_NEAR(majorityAccuracy, 0.5, 1e-12);

  Expected<BowClassifier> bow = BowClassifier::train(*train, BowOptions());
  ASSERT_TRUE(bow) << bow.message();
  // Lowercasing merges "Goal" and "goal": 7 fillers and 12 keywords.
  EXPECT_EQ(bow->vocabularySize(), 19);
  ClassificationMetrics m = computeMetrics(gold, bow->predict(*test), 3);
  EXPECT_GT(m.accuracy, majorityAccuracy + 0.3);
  EXPECT_GT(m.macroF1, 0.9);
}

TEST(BaselineTest, UnknownWordsAndEmptyTextsFallBackToTheBias) {
  Expected<TextDataset> train =
      parseTsv("text\tlabel\nx\tb\ny\ta\n\tb\n\tb\n", "train");
  ASSERT_TRUE(train) << train.message();
  Expected<BowClassifier> bow = BowClassifier::train(*train, BowOptions());
  ASSERT_TRUE(bow) << bow.message();
  Expected<TextDataset> unseen =
      parseTsv("text\tlabel\nzzz\ta\n\ta\n", "unseen", &train->labelNames);
  ASSERT_TRUE(unseen) << unseen.message();
  // Neither row has a known word: the bias alone decides, and it learnt "b"
  // from the training rows without words.
  EXPECT_EQ(bow->predict(*unseen), (std::vector<int64_t>{1, 1}));
  BowOptions bad;
  bad.l2 = -1;
  EXPECT_FALSE(BowClassifier::train(*train, bad));
}

} // namespace
