//===- FinetuneDefaults.cpp - What finetune does when not told -----------===//

#include "quantbert/Train/FinetuneDefaults.h"

#include <algorithm>

namespace quantbert::train {

AutoSchedule autoFinetuneSchedule(int64_t numExamples, int64_t batchSize) {
  int64_t stepsPerEpoch = (numExamples + batchSize - 1) / batchSize;
  AutoSchedule schedule;
  schedule.epochs =
      std::clamp((kAutoMinSteps + stepsPerEpoch - 1) / stepsPerEpoch,
                 kAutoMinEpochs, kAutoMaxEpochs);
  int64_t totalSteps = schedule.epochs * stepsPerEpoch;
  schedule.evalEvery = std::min(
      stepsPerEpoch, (totalSteps + kAutoEvaluations - 1) / kAutoEvaluations);
  schedule.patience = kAutoPatience;
  return schedule;
}

std::vector<double> autoLearningRates(int64_t hiddenSize) {
  if (hiddenSize < 512)
    return {1e-4, 3e-4, 1e-3};
  return {2e-5, 5e-5, 1e-4};
}

int64_t autoLearningRateTrialSteps(int64_t totalSteps) {
  return std::min<int64_t>(std::max<int64_t>(totalSteps / 5,
                                             std::min<int64_t>(totalSteps, 50)),
                           500);
}

size_t pickLearningRate(const std::vector<double> &scores) {
  size_t best = 0;
  for (size_t i = 1; i < scores.size(); ++i)
    if (scores[i] > scores[best])
      best = i;
  return best;
}

} // namespace quantbert::train
