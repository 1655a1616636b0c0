//===- Pruning.h - Structured pruning of heads and FFN neurons ---*- C++ -*-===//
//
// Structured pruning of quant-bert-train prune (docs/training.md): attention
// heads and FFN intermediate neurons are removed outright, so the pruned
// model is a smaller BERT (narrower Q/K/V and FFN matrices) that every later
// stage (QAT, export, the compiler) handles as ordinary shapes.
//
// Importance (Michel et al. 2019, "Are Sixteen Heads Really Better than
// One?", eq. 2): each head's context is multiplied by a gate xi_h = 1, and
// head h's importance is I_h = sum over batches |dL/dxi_h|, the loss's
// expected sensitivity to masking the head, to first order. FFN neurons get
// the same first-order score through a gate on their GELU output, which is
// the Taylor criterion |sum_tokens a_j dL/da_j| of Molchanov et al. 2019.
// Like transformers' bertology script, the absolute value is taken per
// batch. Scores are normalized per layer by their L2 norm before the global
// ranking (Michel et al., section 4.2), so layers with larger gradients do
// not lose all their heads first.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_PRUNING_H
#define QUANTBERT_TRAIN_PRUNING_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Trainer.h"

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <vector>

namespace quantbert::train {

/// Per layer, one score per current head and per current FFN neuron
/// (float64, higher = more important).
struct Importance {
  std::vector<torch::Tensor> heads;
  std::vector<torch::Tensor> neurons;
};

struct ImportanceOptions {
  int64_t batchSize = 32;
  /// Examples scored (0: all): the first N of a permutation seeded by `seed`.
  int64_t maxExamples = 0;
  uint64_t seed = 0;
};

/// The importance of every head and FFN neuron of `bert` (the encoder of
/// the model `task` trains) under `task`'s loss: cross-entropy for
/// fine-tuning, the distillation loss for a DistillationTask. The model runs
/// in eval mode (no dropout); its parameters get no gradients, its mode and
/// gates are restored afterwards.
Expected<Importance> measureImportance(TrainingTask &task, BertModel &bert,
                                       const ImportanceOptions &options);

/// Removes heads `heads` of layer `layer` (indices among the layer's
/// current heads): the rows of the query, key and value weights and biases
/// and the columns of attention.output.dense, recording their original
/// indices in config.prunedHeads. The other heads compute exactly what they
/// did. Errors: a linear with a QAT spec (prune before quantizing), an index
/// out of range or repeated, or no head left.
Error pruneHeads(BertModel &bert, BertConfig &config, int64_t layer,
                 std::vector<int64_t> heads);

/// Removes FFN neurons `neurons` of layer `layer` (current indices): rows of
/// intermediate.dense, columns of output.dense; config.intermediateSizes
/// records the new width. Errors as pruneHeads.
Error pruneNeurons(BertModel &bert, BertConfig &config, int64_t layer,
                   std::vector<int64_t> neurons);

/// What to remove, per layer, as current indices.
struct PruningPlan {
  std::map<int64_t, std::vector<int64_t>> heads;
  std::map<int64_t, std::vector<int64_t>> neurons;
};

struct PruningTarget {
  /// Fractions of the unpruned model's heads (numAttentionHeads per layer)
  /// and FFN neurons (intermediateSize per layer) that the pruned model
  /// lacks, in [0, 1).
  double headFraction = 0;
  double neuronFraction = 0;
  /// Each layer's FFN width stays a multiple of this (kernel-friendly
  /// widths: the binary FFN packs 64 neurons per word): a layer's share of
  /// the globally ranked neurons is rounded to the nearest multiple.
  int64_t neuronMultiple = 1;
};

/// The heads and neurons to remove from the model `config` describes so
/// that it reaches `target`: the lowest-scored after per-layer L2
/// normalization, ranked over all layers, every layer keeping at least one
/// head and `neuronMultiple` neurons. Errors: fractions outside [0, 1), a
/// multiple that does not divide intermediateSize, scores not matching the
/// config's shapes.
Expected<PruningPlan> planPruning(const Importance &importance,
                                  const BertConfig &config,
                                  const PruningTarget &target);

/// Applies `plan` with pruneHeads and pruneNeurons.
Error applyPruning(BertModel &bert, BertConfig &config, const PruningPlan &plan);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_PRUNING_H
