//===- FinetuneDefaultsTest.cpp - finetune's automatic schedule and rates -===//

#include "quantbert/Train/FinetuneDefaults.h"

#include <gtest/gtest.h>

using namespace quantbert::train;

namespace {

TEST(FinetuneDefaultsTest, SmallSetsGetMoreEpochsLargeSetsTheMinimum) {
  // 2,000 examples in batches of 32: 63 steps an epoch, 16 epochs reach
  // 1,000 steps; evaluations once an epoch (63 < 1008 / 10).
  AutoSchedule small = autoFinetuneSchedule(2000, 32);
  EXPECT_EQ(small.epochs, 16);
  EXPECT_EQ(small.evalEvery, 63);
  EXPECT_EQ(small.patience, kAutoPatience);
  // 45,000 examples: 1,407 steps an epoch; the minimum of 3 epochs, and 10
  // evaluations over the 4,221 steps.
  AutoSchedule large = autoFinetuneSchedule(45000, 32);
  EXPECT_EQ(large.epochs, kAutoMinEpochs);
  EXPECT_EQ(large.evalEvery, 423);
  // 100 examples: 4 steps an epoch, capped at 30 epochs.
  AutoSchedule tiny = autoFinetuneSchedule(100, 32);
  EXPECT_EQ(tiny.epochs, kAutoMaxEpochs);
  EXPECT_EQ(tiny.evalEvery, 4);
  // Exactly the minimum: 1,000 examples in batches of 1.
  EXPECT_EQ(autoFinetuneSchedule(1000, 1).epochs, kAutoMinEpochs);
  EXPECT_EQ(autoFinetuneSchedule(250, 1).epochs, 4);
}

TEST(FinetuneDefaultsTest, RatesByWidth) {
  EXPECT_EQ(autoLearningRates(256), (std::vector<double>{1e-4, 3e-4, 1e-3}));
  EXPECT_EQ(autoLearningRates(511), (std::vector<double>{1e-4, 3e-4, 1e-3}));
  EXPECT_EQ(autoLearningRates(768), (std::vector<double>{2e-5, 5e-5, 1e-4}));
}

TEST(FinetuneDefaultsTest, TrialSteps) {
  EXPECT_EQ(autoLearningRateTrialSteps(1000), 200);
  EXPECT_EQ(autoLearningRateTrialSteps(100000), 500);
  EXPECT_EQ(autoLearningRateTrialSteps(120), 50);
  EXPECT_EQ(autoLearningRateTrialSteps(20), 20);
}

TEST(FinetuneDefaultsTest, PickTheBestScoreTheLowerRateOnATie) {
  EXPECT_EQ(pickLearningRate({0.5, 0.7, 0.6}), 1u);
  EXPECT_EQ(pickLearningRate({0.7, 0.7, 0.6}), 0u);
  EXPECT_EQ(pickLearningRate({0.5, 0.6, 0.6}), 1u);
  EXPECT_EQ(pickLearningRate({0.4}), 0u);
}

} // namespace
