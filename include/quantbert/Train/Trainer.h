//===- Trainer.h - Training loop, checkpoints and the two tasks --*- C++ -*-===//
//
// One training loop for every objective of quant-bert-train: AdamW
// (Loshchilov & Hutter) without weight decay on biases and LayerNorm
// weights, a linear warmup then linear decay of the learning rate (as
// transformers' get_linear_schedule_with_warmup), gradient-norm clipping,
// progress events with the running loss and timing (ProgressEvent: the
// caller draws them; quant-bert-train's ProgressPrinter draws a bar on a
// terminal, a line every N steps in a log), evaluation with a kept best
// checkpoint, an optional moving average of the parameters, and resumable
// training state.
//
// Reproducibility: a run is a function of its options and seed. The data order
// of epoch e is a permutation seeded by (seed, e); dropout and masking draw
// from LibTorch's default CPU generator, seeded once. The training state
// (`OUTPUT/training-state.safetensors`, one file written atomically) holds the
// parameters, the model's buffers (e.g. quantization-aware training's
// activation ranges), the parameters' moving average when there is one, the
// optimizer state, the generator state and the step, so a killed run resumed
// from it loses only the steps since the last save and then continues exactly
// as the uninterrupted run would have (on the same thread count: parallel
// reductions may round differently).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_TRAINER_H
#define QUANTBERT_TRAIN_TRAINER_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Data.h"
#include "quantbert/Train/Metrics.h"

#include <torch/torch.h>

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace quantbert::train {

class DataParallel;

/// The state after one optimizer step.
struct StepReport {
  /// Steps done so far (1 after the first).
  int64_t step = 0;
  int64_t totalSteps = 0;
  /// This step's loss.
  double loss = 0;
  /// The learning rate this step used.
  double learningRate = 0;
};

/// What a run reports for its progress display (TrainOptions::onProgress);
/// the tool draws it (a bar on a terminal, lines in a log).
struct ProgressEvent {
  enum class Kind {
    /// Training continues from a saved state at `step`.
    Resumed,
    /// An optimizer step finished.
    Step,
    /// The dev set was scored after `step`.
    Evaluated,
  };
  Kind kind = Kind::Step;
  int64_t step = 0;
  int64_t totalSteps = 0;
  /// 1-based epoch of `step`.
  int64_t epoch = 0;
  /// Mean loss of the current logging window (`logEvery` steps).
  double runningLoss = 0;
  double learningRate = 0;
  /// Mean wall time per step since this run (or resume) started.
  double secondsPerStep = 0;
  /// Step: the step closes a logging window (a log line is due).
  bool windowEnds = false;
  /// Evaluated: the score and the best so far.
  double score = 0, bestScore = 0;
  /// Evaluated: false when the score does not compete for best/ (before
  /// TrainOptions::bestFromStep); bestScore is then meaningless.
  bool competes = true;
};

struct TrainOptions {
  int64_t batchSize = 32;
  int64_t epochs = 3;
  /// When positive, the run's length in steps instead of `epochs` (as
  /// transformers' max_steps); the data order still changes every epoch.
  int64_t maxSteps = 0;
  double learningRate = 2e-5;
  /// Fraction of the steps spent warming up.
  double warmupRatio = 0.1;
  double weightDecay = 0.01;
  /// 0 disables clipping.
  double maxGradNorm = 1.0;
  uint64_t seed = 42;
  /// Progress line every this many steps (0: none).
  int64_t logEvery = 50;
  /// Training state saved every this many steps and at the end (0: only at
  /// the end).
  int64_t checkpointEvery = 500;
  /// Evaluation every this many steps (0: at the end of each epoch).
  int64_t evalEvery = 0;
  /// Early stopping: the run ends after this many evaluations in a row
  /// without a better dev score (0: it runs every step). `best/` holds the
  /// best model either way.
  int64_t patience = 0;
  /// Evaluations after fewer steps than this are reported but neither
  /// replace `best/` nor count for early stopping (a model still being
  /// pruned is not the one wanted); 0: every evaluation counts.
  int64_t bestFromStep = 0;
  /// When positive (below 1), evaluation, `best/` and `final/` use an
  /// exponential moving average of the parameters with this decay instead
  /// of the last step's (ParameterAverage.h); 0: off.
  double emaDecay = 0;
  /// Where `best/`, `final/` and training-state.safetensors go.
  std::string outputDir;
  /// A training-state file to resume from (empty: start afresh).
  std::string resumeFrom;
  /// When in [0, 1], the rate of every dropout of the model (0: off);
  /// negative: the model's own (BERT's 0.1).
  double dropout = -1;
  /// Data-parallel training (DataParallel.h) when set: `batchSize` is the
  /// global batch, each rank computes the loss of its slice of it, the
  /// gradients are summed across ranks, rank 0 alone evaluates and writes
  /// checkpoints (with every rank's generator state), and every rank
  /// resumes from the same training-state file. Not owned.
  DataParallel *parallel = nullptr;
  /// Called after every optimizer step.
  std::function<void(const StepReport &)> onStep;
  /// Progress for display (null: quiet).
  std::function<void(const ProgressEvent &)> onProgress;
};

/// The progress bar's text (no carriage return), e.g.
/// `[######------------]  33%  step 234/710  loss 0.8236  lr 0.000194
/// 0.37 s/step  ETA 2m56s`, with `width` cells in the bar.
std::string formatProgressBar(int64_t done, int64_t total, double loss,
                              double learningRate, double secondsPerStep,
                              int width = 24);

/// The progress line of a log file, e.g. `step 234/710  epoch 1  loss
/// 0.8236  lr 0.000194  0.37 s/step  ETA 2m56s` (no line end).
std::string formatProgressLine(const ProgressEvent &event);

/// An objective over a fixed set of training examples.
class TrainingTask {
public:
  virtual ~TrainingTask() = default;
  /// "finetune" or "pretrain": recorded in the state to refuse resuming
  /// the wrong run.
  virtual std::string name() const = 0;
  virtual torch::nn::Module &model() = 0;
  virtual int64_t numExamples() const = 0;
  /// The mean training loss over `examples` (indices), model in train mode.
  virtual Expected<torch::Tensor> loss(const std::vector<int64_t> &examples) = 0;
  /// Called before the first step of each epoch (from 0; also for the epoch
  /// a resumed run continues in), for schedules that change per epoch such
  /// as SensiMix's layer-wise binarization.
  virtual void beginEpoch(int64_t epoch) { (void)epoch; }
  /// Data-parallel training: the global batch whose slice the next loss()
  /// calls get (empty: the slice is the batch). A task that pads its inputs
  /// pads them as for the whole batch, so per-token means (distillation's
  /// hidden-state MSE) weigh every example as one process would.
  virtual void setGlobalBatch(std::vector<int64_t> batch) {
    globalBatch_ = std::move(batch);
  }
  /// A dev score, higher is better, or nullopt when the task has no dev set.
  virtual Expected<std::optional<double>> evaluate() {
    return std::optional<double>();
  }
  /// Writes a Hugging Face checkpoint of the model to `dir`.
  virtual Error saveModel(const std::string &dir) = 0;

protected:
  std::vector<int64_t> globalBatch_;
};

/// The encoder inputs of `examples` (indices into `dataset`), padded to the
/// longest of `globalBatch` when that is given (and holds them all), else
/// to their own longest.
Expected<EncoderInputs> encodeExamples(const Tokenizer &tokenizer,
                                       const TextDataset &dataset,
                                       const std::vector<int64_t> &examples,
                                       const std::vector<int64_t> &globalBatch,
                                       int64_t maxSeqLength);

struct TrainResult {
  int64_t steps = 0;
  /// Mean loss over the last logging window (or the run, if shorter).
  double runningLoss = 0;
  std::optional<double> bestScore;
  /// Evaluations since the best one (the last `patience` counts).
  int64_t evaluationsSinceBest = 0;
  /// The run ended before its last step (TrainOptions::patience).
  bool stoppedEarly = false;
};

/// Trains `task` as `options` says. Writes OUTPUT/final/ at the end and
/// OUTPUT/best/ whenever the dev score improves.
Expected<TrainResult> runTraining(TrainingTask &task,
                                  const TrainOptions &options);

/// Fine-tuning for sequence classification with a cross-entropy loss; the
/// dev score is accuracy.
class ClassificationTask : public TrainingTask {
public:
  ClassificationTask(BertConfig config, BertForSequenceClassification model,
                     Tokenizer tokenizer, std::string vocabPath,
                     TextDataset trainSet, std::optional<TextDataset> devSet,
                     int64_t maxSeqLength);

  std::string name() const override { return "finetune"; }
  torch::nn::Module &model() override { return *model_; }
  int64_t numExamples() const override {
    return int64_t(trainSet_.examples.size());
  }
  Expected<torch::Tensor> loss(const std::vector<int64_t> &examples) override;
  Expected<std::optional<double>> evaluate() override;
  Error saveModel(const std::string &dir) override;

private:
  BertConfig config_;
  BertForSequenceClassification model_;
  Tokenizer tokenizer_;
  std::string vocabPath_;
  TextDataset trainSet_;
  std::optional<TextDataset> devSet_;
  int64_t maxSeqLength_;
};

/// Masked-LM pretraining on fixed-length blocks (buildMlmBlocks), masked
/// afresh for every batch (maskTokens). With `devBlocks`, the dev score is
/// the masked-LM accuracy on them: the share of masked positions whose
/// token is the top prediction, over one masking drawn once (seed
/// kDevMaskSeed), so evaluations compare.
class MaskedLmTask : public TrainingTask {
public:
  static constexpr uint64_t kDevMaskSeed = 20261207;

  MaskedLmTask(BertConfig config, BertForMaskedLM model, std::string vocabPath,
               torch::Tensor blocks, SpecialTokens special,
               std::optional<torch::Tensor> devBlocks = std::nullopt);

  std::string name() const override { return "pretrain"; }
  torch::nn::Module &model() override { return *model_; }
  int64_t numExamples() const override { return blocks_.size(0); }
  Expected<torch::Tensor> loss(const std::vector<int64_t> &examples) override;
  Expected<std::optional<double>> evaluate() override;
  Error saveModel(const std::string &dir) override;

private:
  BertConfig config_;
  BertForMaskedLM model_;
  std::string vocabPath_;
  torch::Tensor blocks_;
  SpecialTokens special_;
  std::optional<MaskedBatch> devBatch_;
};

/// The message of `e` without the C++ backtrace LibTorch's c10::Error
/// appends.
std::string exceptionText(const std::exception &e);

/// Sets the rate of every torch::nn::Dropout in `model` to `p`.
void setDropout(torch::nn::Module &model, double p);

/// Rank `rank`'s share of a global batch over `worldSize` ranks: a
/// contiguous slice, sizes differing by at most one.
std::vector<int64_t> rankSlice(const std::vector<int64_t> &batch, int rank,
                               int worldSize);

/// Stops training the parameters of `model` whose names start with
/// `prefix` (e.g. bert.embeddings.word_embeddings) and returns how many
/// values that froze; a prefix that names no parameter is an error.
Expected<int64_t> freezeParameters(torch::nn::Module &model,
                                   const std::string &prefix);

/// Logits [examples, labels] of `dataset` (eval mode, no gradients), in
/// batches of `batchSize` padded to their longest sentence. `batchSeconds`,
/// when given, receives each batch's forward wall time (tokenization
/// excluded).
Expected<torch::Tensor>
predictLogits(BertForSequenceClassification &model, const Tokenizer &tokenizer,
              const TextDataset &dataset, int64_t maxSeqLength,
              int64_t batchSize, std::vector<double> *batchSeconds = nullptr);

/// Predicted label ids of `dataset`: the argmax of predictLogits.
Expected<std::vector<int64_t>> predict(BertForSequenceClassification &model,
                                       const Tokenizer &tokenizer,
                                       const TextDataset &dataset,
                                       int64_t maxSeqLength, int64_t batchSize);

/// Accuracy of `model` on `devSet` (absent without a dev set): the
/// evaluate() of the classification tasks.
Expected<std::optional<double>>
devAccuracy(BertForSequenceClassification &model, const Tokenizer &tokenizer,
            const std::optional<TextDataset> &devSet, int64_t maxSeqLength,
            int64_t numLabels);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_TRAINER_H
