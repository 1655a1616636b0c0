//===- Baseline.cpp - Majority-class and bag-of-words baselines -----------===//
//
// The bag-of-words model is an EmbeddingBag in sum mode: row w of the weight
// holds word w's logit contributions, and the per-id weights carry the
// normalised counts, so the sparse features never become a dense
// [documents, vocabulary] matrix.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Baseline.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

namespace quantbert::train {

namespace {

/// Lowercased whitespace-separated words of both texts of `example`.
std::vector<std::string> words(const TextExample &example) {
  std::vector<std::string> out;
  for (const std::string *text : {&example.textA, &example.textB}) {
    std::string word;
    for (char c : *text + " ") {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!word.empty())
          out.push_back(std::move(word));
        word.clear();
        continue;
      }
      word += char(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

torch::Tensor labelTensor(const TextDataset &dataset) {
  return torch::tensor(labelIds(dataset), torch::kInt64);
}

} // namespace

int64_t majorityLabel(const TextDataset &dataset) {
  std::vector<int64_t> counts(dataset.labelNames.size(), 0);
  for (const TextExample &example : dataset.examples)
    ++counts[example.label];
  return int64_t(std::max_element(counts.begin(), counts.end()) -
                 counts.begin());
}

Expected<BowClassifier> BowClassifier::train(const TextDataset &trainSet,
                                             const BowOptions &options) {
  if (trainSet.examples.empty())
    return Error::failure("bag-of-words baseline: no training examples");
  if (options.l2 < 0 || options.maxIterations <= 0)
    return Error::failure("bag-of-words baseline: l2 must be non-negative "
                          "and iterations positive");
  BowClassifier model;
  for (const TextExample &example : trainSet.examples)
    for (std::string &word : words(example))
      model.vocabulary_.emplace(std::move(word), int64_t(model.vocabulary_.size()));

  int64_t numLabels = int64_t(trainSet.labelNames.size());
  model.weight_ = torch::zeros({model.vocabularySize(), numLabels},
                               torch::requires_grad());
  model.bias_ = torch::zeros({numLabels}, torch::requires_grad());
  Features features = model.featurize(trainSet);
  torch::Tensor labels = labelTensor(trainSet);

  torch::optim::LBFGS optimizer(
      {model.weight_, model.bias_},
      torch::optim::LBFGSOptions(1.0)
          .max_iter(options.maxIterations)
          .line_search_fn("strong_wolfe"));
  auto objective = [&] {
    return torch::nn::functional::cross_entropy(model.logits(features),
                                                labels) +
           0.5 * options.l2 * model.weight_.pow(2).sum();
  };
  optimizer.step([&] {
    optimizer.zero_grad();
    torch::Tensor loss = objective();
    loss.backward();
    return loss;
  });
  torch::NoGradGuard noGrad;
  model.finalLoss_ = objective().item<double>();
  return model;
}

BowClassifier::Features
BowClassifier::featurize(const TextDataset &dataset) const {
  std::vector<int64_t> ids, offsets;
  std::vector<float> weights;
  for (const TextExample &example : dataset.examples) {
    offsets.push_back(int64_t(ids.size()));
    // Ordered, so that the features (and the sums over them) do not depend
    // on hash order.
    std::map<int64_t, double> counts;
    for (const std::string &word : words(example)) {
      auto it = vocabulary_.find(word);
      if (it != vocabulary_.end())
        counts[it->second] += 1;
    }
    double norm = 0;
    for (const auto &[id, count] : counts)
      norm += count * count;
    for (const auto &[id, count] : counts) {
      ids.push_back(id);
      weights.push_back(float(count / std::sqrt(norm)));
    }
  }
  return {torch::tensor(ids, torch::kInt64),
          torch::tensor(offsets, torch::kInt64),
          torch::tensor(weights, torch::kFloat32)};
}

torch::Tensor BowClassifier::logits(const Features &features) const {
  namespace F = torch::nn::functional;
  return F::embedding_bag(features.ids, weight_,
                          F::EmbeddingBagFuncOptions()
                              .offsets(features.offsets)
                              .mode(torch::kSum)
                              .per_sample_weights(features.weights)) +
         bias_;
}

std::vector<int64_t> BowClassifier::predict(const TextDataset &dataset) const {
  if (dataset.examples.empty())
    return {};
  torch::NoGradGuard noGrad;
  torch::Tensor best = logits(featurize(dataset)).argmax(-1).contiguous();
  return std::vector<int64_t>(best.data_ptr<int64_t>(),
                              best.data_ptr<int64_t>() + best.numel());
}

} // namespace quantbert::train
