//===- Baseline.h - Majority-class and bag-of-words baselines ---*- C++ -*-===//
//
// The two reference points a fine-tuned BERT is judged against on a text
// classification task: always predicting the training set's most frequent
// label, and L2-regularised multinomial logistic regression on bag-of-words
// features. Features are whitespace-separated, lowercased unigrams of the
// training set (GLUE-style TSV files, such as the Brown splits, are already
// tokenized with spaces), each document's counts scaled to unit L2 norm as
// scikit-learn's TfidfVectorizer(use_idf=False) does; out-of-vocabulary
// words of dev and test documents are dropped.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_BASELINE_H
#define QUANTBERT_TRAIN_BASELINE_H

#include "quantbert/Support/Error.h"
#include "quantbert/Train/Data.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace quantbert::train {

/// The most frequent label of `dataset` (the lowest id on a tie).
int64_t majorityLabel(const TextDataset &dataset);

struct BowOptions {
  /// Weight of (1/2) ||W||^2 added to the mean cross-entropy; the bias is
  /// not regularised.
  double l2 = 1e-4;
  /// L-BFGS iterations over the full training set (the objective is convex,
  /// so a full-batch quasi-Newton method converges without a schedule).
  int64_t maxIterations = 100;
};

/// Multinomial logistic regression on bag-of-words features.
class BowClassifier {
public:
  /// Builds the vocabulary of `trainSet` (both texts of a pair) and fits
  /// the weights. Deterministic: the weights start at zero.
  static Expected<BowClassifier> train(const TextDataset &trainSet,
                                       const BowOptions &options);

  /// Predicted label ids of `dataset`.
  std::vector<int64_t> predict(const TextDataset &dataset) const;

  int64_t vocabularySize() const { return int64_t(vocabulary_.size()); }
  /// The training objective (regularised loss) at the end of the fit.
  double finalLoss() const { return finalLoss_; }

private:
  /// EmbeddingBag inputs: feature ids, bag offsets and per-id weights.
  struct Features {
    torch::Tensor ids, offsets, weights;
  };
  Features featurize(const TextDataset &dataset) const;
  torch::Tensor logits(const Features &features) const;

  std::unordered_map<std::string, int64_t> vocabulary_;
  /// [vocabulary, labels] and [labels].
  torch::Tensor weight_, bias_;
  double finalLoss_ = 0;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_BASELINE_H
