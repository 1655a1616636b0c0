//===- Distillation.h - Knowledge distillation from a BERT teacher -*- C++ -*-===//
//
// Knowledge distillation for fine-tuning and quantization-aware training
// (REFERENCE.md section 4: TinyBERT, TernaryBERT, and Kim et al., EMNLP 2022,
// "Understanding and Improving Knowledge Distillation for QAT of Large
// Transformer Encoders"). The teacher is an FP32 fine-tuned
// BertForSequenceClassification run in eval mode without gradients on the
// student's batch; the student learns from the sum of the chosen terms and
// never sees the ground-truth labels:
//
//   L = L_pred + L_rep + L_attscore + c_map * L_map + c_out * L_out
//
//   L_pred     soft cross-entropy of the logits at temperature T
//   L_rep      MSE of the hidden states (embedding output and every layer)
//   L_attscore MSE of the pre-softmax attention scores, masked entries zeroed
//   L_map      KL(teacher || student) of the attention probabilities
//   L_out      MSE of the attention sub-layer outputs
//
// Per-layer terms are summed over the layer pairs of a LayerMap, so a
// shallower student distils a subset of the teacher's layers.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_DISTILLATION_H
#define QUANTBERT_TRAIN_DISTILLATION_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Data.h"
#include "quantbert/Train/Trainer.h"

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert::train {

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

/// Attention scores at or below this are masked (the -10000 of padded keys).
inline constexpr double kMaskedScoreThreshold = -100.0;
/// Attention probabilities are clamped to at least this before the log.
inline constexpr double kProbabilityFloor = 1e-8;

/// L_pred (TinyBERT eq. 10): -sum_c softmax(z_t / T)_c log_softmax(z_s / T)_c,
/// summed over classes and averaged over the batch. Logits are [batch,
/// classes]. No T^2 factor (the reference codes have none).
torch::Tensor predictionLoss(const torch::Tensor &studentLogits,
                             const torch::Tensor &teacherLogits,
                             double temperature = 1.0);

/// One layer's L_attscore (TernaryBERT): MSE over every element of the
/// [batch, heads, seq, seq] scores after entries <= -100 are set to 0, in the
/// student and the teacher separately, so padded keys contribute nothing.
torch::Tensor attentionScoreLoss(const torch::Tensor &studentScores,
                                 const torch::Tensor &teacherScores);

/// One layer's L_map (Kim et al., attention-map loss): with p_t and p_s the
/// [batch, heads, seq, seq] probabilities clamped to >= 1e-8,
///   mean over b, h of (1/T_b) sum_{i,j valid} p_t log p_t - p_t log p_s,
/// i.e. KL(teacher || student) per query row, averaged over the T_b valid
/// rows of sample b. A (query, key) pair is valid when both tokens are real
/// (`attentionMask` [batch, seq], 1 for real tokens; T_b is its row sum), so
/// padded rows and columns never enter the loss.
torch::Tensor attentionMapKlLoss(const torch::Tensor &studentProbs,
                                 const torch::Tensor &teacherProbs,
                                 const torch::Tensor &attentionMask);

//===----------------------------------------------------------------------===//
// Layer mapping
//===----------------------------------------------------------------------===//

/// Which teacher layer each student layer learns from.
enum class LayerMapKind {
  /// Equal depth: student layer m <- teacher layer m.
  Full,
  /// TinyBERT's uniform map for a shallower student: layer m <- teacher
  /// layer g(m) = floor(m * N / M) (1-based; exact when M divides N).
  Uniform,
  /// SensiMix's truncated student (the teacher's first M layers): layer m <-
  /// teacher layer m.
  KeepFirst,
};

/// "full", "uniform", "first".
std::string_view layerMapKindName(LayerMapKind kind);
std::optional<LayerMapKind> parseLayerMapKind(std::string_view name);

/// A (student, teacher) pair of hidden-state indices: 0 is the embedding
/// output, m >= 1 the output of layer m, whose attention is trace m - 1.
struct LayerPair {
  int64_t student = 0;
  int64_t teacher = 0;
  bool operator==(const LayerPair &other) const {
    return student == other.student && teacher == other.teacher;
  }
};

/// The pairs (0, 0), (1, g(1)), ..., (M, g(M)) of `kind` for a student of M
/// and a teacher of N layers. Errors: M or N not positive, Full with M != N,
/// the others with M > N.
Expected<std::vector<LayerPair>> mapLayers(LayerMapKind kind,
                                           int64_t studentLayers,
                                           int64_t teacherLayers);

//===----------------------------------------------------------------------===//
// The combined objective
//===----------------------------------------------------------------------===//

/// Which terms the objective sums and how.
struct DistillationOptions {
  bool pred = true;
  bool rep = false;
  bool attScore = false;
  bool map = false;
  bool out = false;
  /// Temperature of L_pred.
  double temperature = 1.0;
  /// c_map and c_out. Kim et al.'s unified attention loss is
  /// c_map = w, c_out = 1 - w with one w swept over 0.1 ... 0.9
  /// (setUnifiedWeight); their code's default, and this one, is 1 and 1.
  double mapWeight = 1.0;
  double outWeight = 1.0;

  /// Parses a comma-separated subset of "pred,rep,attscore,map,out"
  /// (at least one) into the five flags.
  Error setTerms(std::string_view list);
  /// c_map = w, c_out = 1 - w; w must lie in [0, 1].
  Error setUnifiedWeight(double w);
  /// The chosen terms, comma-separated in the order above.
  std::string termNames() const;
};

/// The value of each chosen term (undefined tensors for the others) and
/// their weighted sum.
struct DistillationLosses {
  torch::Tensor pred, rep, attScore, map, out;
  torch::Tensor total;
};

/// The terms of `options` between a student's and a teacher's outputs on
/// the same inputs, per-layer terms summed over `layers` (mapLayers;
/// L_rep over every pair, the attention terms over the pairs with m >= 1).
DistillationLosses distillationLoss(const DistillationOptions &options,
                                    const std::vector<LayerPair> &layers,
                                    const torch::Tensor &studentLogits,
                                    const EncoderOutputs &student,
                                    const torch::Tensor &teacherLogits,
                                    const EncoderOutputs &teacher,
                                    const torch::Tensor &attentionMask);

/// A float fine-tuned checkpoint to distil from.
struct Teacher {
  BertConfig config;
  BertForSequenceClassification model{nullptr};
};

/// Loads the teacher checkpoint in `dir` for a student trained on
/// `labelNames` with the vocabulary file `studentVocabPath`: an error if it
/// is a QAT checkpoint (qat.json), if a label both have is named
/// differently, or if its vocab.txt differs from the student's.
Expected<Teacher> loadTeacher(const std::string &dir,
                              const std::vector<std::string> &labelNames,
                              const std::string &studentVocabPath);

//===----------------------------------------------------------------------===//
// The training task
//===----------------------------------------------------------------------===//

/// Fine-tuning by distillation: the loss is distillationLoss between the
/// student (train mode, the model the optimizer updates) and the teacher
/// (eval mode, no gradients) on each batch. The student is any
/// BertForSequenceClassification the caller built (a fresh, truncated or
/// quantization-aware one), so the task composes with whatever the student's
/// forward does. Evaluation and the best checkpoint are ClassificationTask's:
/// dev accuracy of the student, saved as a Hugging Face checkpoint.
class DistillationTask : public TrainingTask {
public:
  /// Checks that teacher and student fit each other and `options`: the same
  /// number of labels; the same hidden size for rep and out; for attscore
  /// and map, the same number of heads in the two layers of every pair (a
  /// pruned layer differs); `layers` within both depths.
  static Expected<std::unique_ptr<DistillationTask>>
  create(BertConfig studentConfig, BertForSequenceClassification student,
         const BertConfig &teacherConfig, BertForSequenceClassification teacher,
         std::vector<LayerPair> layers, DistillationOptions options,
         Tokenizer tokenizer, std::string vocabPath, TextDataset trainSet,
         std::optional<TextDataset> devSet, int64_t maxSeqLength);

  /// Recorded in the training state: a KD run never resumes a plain one.
  std::string name() const override { return "distill"; }
  torch::nn::Module &model() override { return *student_; }
  int64_t numExamples() const override {
    return int64_t(trainSet_.examples.size());
  }
  Expected<torch::Tensor> loss(const std::vector<int64_t> &examples) override;
  Expected<std::optional<double>> evaluate() override;
  Error saveModel(const std::string &dir) override;

  /// The terms of the last loss() call, detached.
  const DistillationLosses &lastLosses() const { return last_; }

private:
  DistillationTask() = default;

  BertConfig config_;
  BertForSequenceClassification student_{nullptr};
  BertForSequenceClassification teacher_{nullptr};
  std::vector<LayerPair> layers_;
  DistillationOptions options_;
  Tokenizer tokenizer_;
  std::string vocabPath_;
  TextDataset trainSet_;
  std::optional<TextDataset> devSet_;
  int64_t maxSeqLength_ = 128;
  DistillationLosses last_;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_DISTILLATION_H
