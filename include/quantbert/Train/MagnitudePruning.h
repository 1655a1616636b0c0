//===- MagnitudePruning.h - Gradual magnitude pruning -----------*- C++ -*-===//
//
// Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune"):
// during training, every `updateEvery` steps from `beginStep` to `endStep`,
// each encoder linear's weight is pruned to the sparsity
//
//   s_t = s_f + (s_i - s_f) (1 - (t - t_0) / (t_end - t_0))^3
//
// by zeroing its smallest-magnitude blocks (the L2 norm of each block of
// `block.rows` output channels x `block.cols` inputs; 1 x 1 is unstructured
// pruning), and the pruned weights are zeroed again after every optimizer
// step, so they stay zero while the others train. The cubic prunes fast
// while the network is redundant and slowly near the end. After endStep the
// masks are fixed at s_f and training fine-tunes the remaining weights.
//
// The default block, 16 output channels x 4 inputs, is the block the
// runtime's block-sparse int8 linear skips (qbrt_sparse_int8_linear_*).
// Quantization keeps the zeros: the int8 and ternary quantizers map 0 to 0.
// A sign has no zero, so 1-bit sign linears (SensiMix) are pruned in the
// binary kernel's blocks, 32 output channels x 64 inputs, whatever the
// block option: a whole block of zeros binarizes to zeros (Quantizers.h,
// qb.binary_linear's block_mask). BWN's binary-mean-scale linears stay
// dense (their scale would count the zeros).
//
// Stateless across resumes: the masks are not saved, the pruner recomputes
// them from the weights at the scheduled sparsity, and a pruned weight is
// exactly 0, so the lowest-norm blocks are the pruned ones again.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_MAGNITUDEPRUNING_H
#define QUANTBERT_TRAIN_MAGNITUDEPRUNING_H

#include "quantbert/Support/Error.h"
#include "quantbert/Train/QuantizedLinear.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quantbert::train {

/// A pruning block: `rows` output channels x `cols` inputs of a weight
/// [out, in]; blocks at the edges of a weight whose sizes are not multiples
/// are smaller.
struct SparsityBlock {
  int64_t rows = 16;
  int64_t cols = 4;
};

/// Parses "ROWSxCOLS" (e.g. "16x4", "1x1").
Expected<SparsityBlock> parseSparsityBlock(const std::string &text);

struct MagnitudePruningOptions {
  /// s_f, in [0, 1).
  double finalSparsity = 0;
  /// s_i, in [0, finalSparsity].
  double initialSparsity = 0;
  /// t_0 and t_end: the first and the last pruning step (after that many
  /// optimizer steps); 0 <= beginStep <= endStep.
  int64_t beginStep = 0;
  int64_t endStep = 0;
  /// Steps between two mask updates, >= 1.
  int64_t updateEvery = 1;
  SparsityBlock block;
};

/// Checks the options' ranges (the message names the field).
Error validate(const MagnitudePruningOptions &options);

/// The sparsity the masks have after `step` optimizer steps: 0 before
/// beginStep, then s_t at the last update point t_0 + j * updateEvery <=
/// step (t_end counts as one), s_f from endStep on.
double scheduledSparsity(const MagnitudePruningOptions &options, int64_t step);

/// The mask (1 kept, 0 pruned; the weight's dtype and shape) that prunes
/// round(sparsity * number of blocks) of `weight`'s blocks, those of the
/// smallest L2 norm (ties: the first in row-major block order).
torch::Tensor magnitudeMask(const torch::Tensor &weight, double sparsity,
                            SparsityBlock block);

/// The fraction of `weight`'s blocks that are all zero.
double blockSparsity(const torch::Tensor &weight, SparsityBlock block);

/// Applies the schedule to the encoder linears of a model (every
/// QuantLinear under "bert.encoder." except ALBERT's embedding projection;
/// pooler, classifier and embeddings stay dense).
class MagnitudePruner {
public:
  /// Encoder linears with a binary-mean-scale spec are left dense
  /// (skippedNames()); binary-sign ones are pruned in 32 x 64 blocks.
  /// Errors: invalid options, no encoder linear to prune, a factorized
  /// linear or one with an asymmetric-index spec.
  static Expected<MagnitudePruner> create(torch::nn::Module &model,
                                          MagnitudePruningOptions options);

  /// After optimizer step `step` (1 after the first): updates the masks at
  /// update points (and on the first call, e.g. after a resume), then zeroes
  /// the pruned weights.
  void afterStep(int64_t step);

  /// The names of the pruned linears, in model order.
  std::vector<std::string> linearNames() const;
  /// Those pruned in the binary kernel's 32 x 64 blocks (1-bit sign
  /// weights) rather than the options' block.
  std::vector<std::string> binaryBlockNames() const;
  /// The encoder linears left dense because their weights are BWN's
  /// binary-mean-scale.
  const std::vector<std::string> &skippedNames() const { return skipped_; }
  /// The masks' current target sparsity.
  double sparsity() const { return sparsity_; }
  const MagnitudePruningOptions &options() const { return options_; }

private:
  struct Target {
    std::string name;
    torch::Tensor weight;
    torch::Tensor mask;
    SparsityBlock block;
  };
  MagnitudePruner(MagnitudePruningOptions options, std::vector<Target> targets)
      : options_(options), targets_(std::move(targets)) {}

  MagnitudePruningOptions options_;
  std::vector<Target> targets_;
  std::vector<std::string> skipped_;
  double sparsity_ = -1;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_MAGNITUDEPRUNING_H
