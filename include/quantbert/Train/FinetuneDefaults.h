//===- FinetuneDefaults.h - What finetune does when not told ---*- C++ -*-===//
//
// The fine-tuning schedule and learning rates quant-bert-train's finetune
// uses when its command line leaves them open (docs/training.md, "Default
// fine-tuning"). The rules are measured on the transfer benchmark
// (bench/transfer/run, docs/results/transfer.md).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_FINETUNEDEFAULTS_H
#define QUANTBERT_TRAIN_FINETUNEDEFAULTS_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace quantbert::train {

/// The run length, evaluation interval and early-stopping patience of a
/// fine-tuning run without --epochs or --max-steps.
struct AutoSchedule {
  int64_t epochs = 0;
  int64_t evalEvery = 0;
  int64_t patience = 0;
};

/// At least kAutoMinSteps optimizer steps and at least kAutoMinEpochs
/// epochs, at most kAutoMaxEpochs: small training sets get more passes. The
/// dev set is scored kAutoEvaluations times over the run (at least once per
/// epoch), and the run stops after kAutoPatience evaluations in a row
/// without a better score. `numExamples` and `batchSize` must be positive.
inline constexpr int64_t kAutoMinSteps = 1000;
inline constexpr int64_t kAutoMinEpochs = 3;
inline constexpr int64_t kAutoMaxEpochs = 30;
inline constexpr int64_t kAutoEvaluations = 10;
inline constexpr int64_t kAutoPatience = 3;
AutoSchedule autoFinetuneSchedule(int64_t numExamples, int64_t batchSize);

/// The peak learning rates `--lr auto` tries, low to high: 1e-4, 3e-4 and
/// 1e-3 for encoders narrower than 512 (the range small BERTs fine-tune
/// in), 2e-5, 5e-5 and 1e-4 for wider ones (BERT-base and -large: Devlin et
/// al.'s grid).
std::vector<double> autoLearningRates(int64_t hiddenSize);

/// The length of each trial run of `--lr auto` for a run of `totalSteps`:
/// a fifth of it, at least 50 steps (or the whole run when shorter), at
/// most 500.
int64_t autoLearningRateTrialSteps(int64_t totalSteps);

/// The index of the learning rate to keep given each trial's dev score
/// (same order as the rates): the highest score, the lower rate on a tie.
/// `scores` must not be empty.
size_t pickLearningRate(const std::vector<double> &scores);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_FINETUNEDEFAULTS_H
