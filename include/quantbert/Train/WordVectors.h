//===- WordVectors.h - Distributional word vectors by PPMI and SVD --*- C++ -*-===//
//
// Count-based word vectors (Levy, Goldberg and Dagan 2015, "Improving
// Distributional Similarity with Lessons Learned from Word Embeddings"):
// windowed co-occurrence counts, positive PMI with context-distribution
// smoothing, and a truncated SVD whose left singular vectors, weighted by
// the square roots of the singular values, are the vectors. They seed a
// fresh BERT's word embeddings (`pretrain --embedding-init ppmi-svd`): a few
// seconds of counting give every frequent token a vector that already
// places it near the tokens it shares contexts with, which a few thousand
// masked-LM steps on a CPU do not learn.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_WORDVECTORS_H
#define QUANTBERT_TRAIN_WORDVECTORS_H

#include "quantbert/Support/Error.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace quantbert::train {

struct PpmiSvdOptions {
  /// Dimension of the vectors (the model's hidden size).
  int64_t dim = 256;
  /// Contexts are the tokens at most `window` positions away, within a line.
  int64_t window = 5;
  /// Tokens seen fewer times get no vector.
  int64_t minCount = 5;
  /// Context columns: the most frequent tokens, at most this many.
  int64_t maxContexts = 8192;
  /// Exponent of the context distribution (0.75 in Levy et al.; 1 is plain
  /// PMI).
  double contextSmoothing = 0.75;
  /// Randomized SVD (Halko, Martinsson and Tropp 2011): extra sampled
  /// directions and power iterations.
  int64_t oversample = 16;
  int64_t powerIterations = 3;
  uint64_t seed = 42;
};

struct WordVectors {
  /// [vocabSize, dim]; rows of tokens without a vector are zero.
  torch::Tensor vectors;
  /// [vocabSize] bool: which rows hold a vector.
  torch::Tensor known;
};

/// Co-occurrence counts of `lines` (token ids below `vocabSize`) as a dense
/// [rows.size(), contexts.size()] matrix: entry (r, c) counts how often
/// token contexts[c] occurs within `window` positions of token rows[r].
torch::Tensor cooccurrenceCounts(const std::vector<std::vector<int32_t>> &lines,
                                 const std::vector<int64_t> &rows,
                                 const std::vector<int64_t> &contexts,
                                 int64_t vocabSize, int64_t window);

/// max(0, log(P(w, c) / (P(w) P_a(c)))) of a count matrix, where P_a(c) is
/// the column sums raised to `contextSmoothing`, normalised; zero counts
/// give zero.
torch::Tensor positivePmi(const torch::Tensor &counts, double contextSmoothing);

/// The leading `rank` singular triplets of `matrix` by randomized SVD:
/// returns {U [m, rank], S [rank]}.
std::pair<torch::Tensor, torch::Tensor>
randomizedSvd(const torch::Tensor &matrix, int64_t rank, int64_t oversample,
              int64_t powerIterations, uint64_t seed);

/// The whole method on tokenized lines.
Expected<WordVectors> ppmiSvdVectors(
    const std::vector<std::vector<int32_t>> &lines, int64_t vocabSize,
    const PpmiSvdOptions &options);

/// pretrain --embedding-init ppmi-svd: the rows of
/// `bert.embeddings.word_embeddings.weight` in `model` for the tokens that
/// get a vector from `lines` (ppmiSvdVectors with `options`; options.dim
/// must be the hidden size) become those vectors, scaled to the standard
/// deviation of BERT's random initialisation (kInitializerRange) so that
/// they sum with the position embeddings as a random row would; the other
/// rows keep their values. Returns how many rows were set.
Expected<int64_t> initWordEmbeddings(torch::nn::Module &model,
                                     const std::vector<std::vector<int32_t>> &lines,
                                     int64_t vocabSize,
                                     const PpmiSvdOptions &options);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_WORDVECTORS_H
