//===- Sharing.h - ALBERT-style weight sharing of a BERT encoder -*- C++ -*-===//
//
// quant-bert-train share (docs/training.md) turns a float BERT into the two
// parameter reductions of ALBERT (Lan et al. 2020, section 3.1):
//
//  - Cross-layer sharing: the L layers form G groups (num_hidden_groups),
//    layer i running group floor(i / (L / G)); all layers when G = 1. A
//    group starts from its layers' weights (the element-wise mean of the
//    group's layers, or its first layer) and is stored once.
//  - Factorized embedding: the word, position and token-type tables become
//    E < H wide, followed by a projection to H (embedding_size,
//    embedding_hidden_mapping_in). The start is a truncated SVD of the
//    row-centred tables stacked [words; positions; types] = U S V^T: each
//    table becomes (table - row mean) V_E, and the projection
//    diag(gamma) V_E sqrt(H / E) with the old LayerNorm's bias beta, the new
//    LayerNorm (over E) the identity: LayerNorm_E(x V_E) rescaled by
//    sqrt(H / E) approximates LayerNorm_H(x) on the span of V_E, exactly
//    when E = H up to the mean LayerNorm_E subtracts.
//
// Neither start equals the teacher; distillation from it (the command's
// recovery run) trains the shared model.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_SHARING_H
#define QUANTBERT_TRAIN_SHARING_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"

#include <cstdint>
#include <string>

namespace quantbert::train {

/// How a group's weights start.
enum class GroupInit {
  /// The element-wise mean of the group's layers.
  Mean,
  /// The group's first (lowest) layer.
  First,
};

/// Parses "mean" or "first".
Expected<GroupInit> parseGroupInit(const std::string &name);

struct SharingOptions {
  /// Layer groups, 1 <= groups <= num_hidden_layers; 0 keeps every layer
  /// its own.
  int64_t groups = 0;
  /// Embedding width, 1 <= E < hidden_size; 0 keeps hidden_size.
  int64_t embeddingSize = 0;
  GroupInit init = GroupInit::Mean;
};

/// `config` with the options applied (validated).
Expected<BertConfig> sharedConfig(const BertConfig &config,
                                  const SharingOptions &options);

/// What shareWeights did.
struct SharingReport {
  BertConfig config;
  BertForSequenceClassification model{nullptr};
  /// The fraction of the centred tables' squared singular values the E
  /// kept dimensions hold (1 without a factorized embedding).
  double embeddingEnergy = 1;
};

/// Builds the shared model for `config` (a float, unshared, unpruned and
/// unfactorized BERT) with the options, its weights started from
/// `source`'s as above.
Expected<SharingReport> shareWeights(BertForSequenceClassification &source,
                                     const BertConfig &config,
                                     const SharingOptions &options);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_SHARING_H
