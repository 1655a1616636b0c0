//===- BertConfig.h - Hugging Face BERT config.json --------------*- C++ -*-===//
//
// Reads and writes the `config.json` of a Hugging Face BERT checkpoint: the
// hyperparameters quant-bert needs to build the model (training front end)
// or its IR (importer), validated with errors that name the field, e.g.
//   config.json: field 'hidden_size' must be a positive integer, got -3
//
// Reading follows transformers' BertConfig: fields it defaults are defaulted
// here too (type_vocab_size 2, layer_norm_eps 1e-12, hidden_act "gelu"), and
// the number of labels comes from `num_labels`, else from `id2label`'s size,
// else 2. The six size fields are required: a checkpoint without them is not
// one quant-bert can check its tensors against. Only absolute position
// embeddings and GELU (exact erf, or the tanh approximation for "gelu_new" /
// "gelu_pytorch_tanh") are supported; anything else is an error, not a guess.
//
// toJson() writes a config that transformers' BertConfig and
// BertForSequenceClassification.from_pretrained load unchanged.
//
// Structurally pruned models (quant-bert-train prune) keep the full sizes in
// the six size fields and say what was removed: `pruned_heads` is
// transformers' own field ({"layer": [head, ...]}, original head indices),
// and `intermediate_sizes` (a quant-bert extension, one FFN width per layer)
// is written only when some layer's FFN is narrower than intermediate_size.
// Low-rank factorized linears (quant-bert-train factorize) are listed in
// `low_rank_linears` (quant-bert's, {"module path": rank}): such a linear
// W x + b is stored as two, `<module>.down` (rank x in, no bias) and
// `<module>` itself (out x rank, with the bias).
//
// Weight-shared models (quant-bert-train share) take two of ALBERT's
// fields. `num_hidden_groups` G < num_hidden_layers L: the layers form G
// groups, layer i running group floor(i / (L / G)) (ALBERT's formula), and
// the checkpoint stores one layer per group, `bert.encoder.layer.<g>`.
// `embedding_size` E != hidden_size: the three embedding tables and their
// LayerNorm are E wide and `bert.encoder.embedding_hidden_mapping_in`
// (H x E, with bias) projects the normalized embeddings to H. Both are
// written only when they change something; transformers' BertConfig does
// not know them (export such a model in ALBERT's layout, AlbertExport.h).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_BERTCONFIG_H
#define QUANTBERT_SUPPORT_BERTCONFIG_H

#include "quantbert/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert {

/// The GELU flavour of the encoder's feed-forward network.
enum class HiddenAct {
  /// "gelu": x * Phi(x), with the exact erf.
  Gelu,
  /// "gelu_new" / "gelu_pytorch_tanh": the tanh approximation
  /// 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) (Hendrycks & Gimpel, eq. 2).
  GeluTanh,
};

/// The BERT hyperparameters of a checkpoint. Defaults are bert-base-uncased.
struct BertConfig {
  int64_t hiddenSize = 768;
  int64_t numHiddenLayers = 12;
  int64_t numAttentionHeads = 12;
  int64_t intermediateSize = 3072;
  int64_t vocabSize = 30522;
  int64_t maxPositionEmbeddings = 512;
  int64_t typeVocabSize = 2;
  double layerNormEps = 1e-12;
  HiddenAct hiddenAct = HiddenAct::Gelu;
  int64_t numLabels = 2;
  /// Label names by class index; empty means transformers' defaults
  /// ("LABEL_0", ...). When set, it has exactly `numLabels` entries 0..n-1.
  std::map<int64_t, std::string> id2label;
  /// As read from config.json (empty when absent); written as written.
  std::vector<std::string> architectures;
  /// transformers' pruned_heads: per layer, the removed heads' original
  /// indices (ascending, unique, fewer than numAttentionHeads).
  std::map<int64_t, std::vector<int64_t>> prunedHeads;
  /// One FFN width per layer, or empty when every layer has
  /// intermediateSize. Written as `intermediate_sizes`.
  std::vector<int64_t> intermediateSizes;
  /// Module path of each low-rank factorized encoder linear
  /// ("bert.encoder.layer.N.intermediate.dense", ...) -> its rank.
  std::map<std::string, int64_t> lowRank;
  /// ALBERT's embedding_size; 0 when absent (= hiddenSize).
  int64_t embeddingSize = 0;
  /// ALBERT's num_hidden_groups; 0 when absent (every layer its own).
  int64_t numHiddenGroups = 0;

  /// Parses config.json text. `source` prefixes errors (usually the path).
  static Expected<BertConfig> fromJson(std::string_view text,
                                       const std::string &source = "config.json");

  /// Reads and parses the file at `path`.
  static Expected<BertConfig> load(const std::string &path);

  /// Checks the cross-field rules (positive sizes, hidden_size divisible by
  /// num_attention_heads, eps > 0, id2label consistent with numLabels,
  /// pruned_heads naming existing layers and heads and leaving each layer at
  /// least one, one positive intermediate_sizes entry per layer,
  /// low_rank_linears naming encoder linears of stored layers with
  /// positive ranks, num_hidden_groups between 1 and num_hidden_layers and
  /// not combined with pruning).
  Error validate(const std::string &source = "config.json") const;

  /// hiddenSize / numAttentionHeads.
  int64_t headSize() const { return hiddenSize / numAttentionHeads; }
  /// The attention heads layer `layer` keeps (numAttentionHeads minus its
  /// pruned heads).
  int64_t numHeads(int64_t layer) const;
  /// The original indices of the heads layer `layer` keeps, ascending: the
  /// order of their rows in the query, key and value weights.
  std::vector<int64_t> keptHeads(int64_t layer) const;
  /// The FFN width of layer `layer`.
  int64_t ffnWidth(int64_t layer) const;
  /// Whether any head or FFN neuron has been pruned.
  bool isPruned() const;
  /// The rank of the factorized linear at module path `module`, or 0 when
  /// it is not factorized.
  int64_t rankOf(const std::string &module) const;

  /// The width of the embedding tables (embedding_size, else hidden_size).
  int64_t embeddingWidth() const {
    return embeddingSize > 0 ? embeddingSize : hiddenSize;
  }
  /// Whether embedding_hidden_mapping_in projects the embeddings to H.
  bool hasEmbeddingProjection() const { return embeddingWidth() != hiddenSize; }
  /// The encoder layers the checkpoint stores: the number of groups of a
  /// weight-shared model, else numHiddenLayers.
  int64_t storedLayers() const {
    return numHiddenGroups > 0 ? numHiddenGroups : numHiddenLayers;
  }
  /// Whether some stored layer runs more than once.
  bool isShared() const { return storedLayers() < numHiddenLayers; }
  /// The stored layer (group) that layer `layer` runs: ALBERT's
  /// int(layer / (num_hidden_layers / num_hidden_groups)).
  int64_t groupOf(int64_t layer) const;

  /// The label of class `index`: id2label's entry or "LABEL_<index>".
  std::string labelName(int64_t index) const;
  /// labelName(i) for every class, in order.
  std::vector<std::string> labelNames() const;

  /// A transformers-loadable config.json (pretty-printed, keys sorted).
  std::string toJson() const;

  /// validate(), then write toJson() to `path` atomically.
  Error save(const std::string &path) const;
};

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_BERTCONFIG_H
