//===- TinyModels.h - Tiny encoders and data for the Train tests -*- C++ -*-===//
//
// A 2-layer, hidden-32 encoder and a toy sentiment dataset, small enough
// that a few dozen training steps take a second, and the logits of a model
// on such data.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TEST_TRAIN_TINYMODELS_H
#define QUANTBERT_TEST_TRAIN_TINYMODELS_H

#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Data.h"

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace quantbert::train::testing {

inline BertConfig tinyConfig(int64_t numLabels, int64_t layers = 2) {
  BertConfig config;
  config.hiddenSize = 32;
  config.numHiddenLayers = layers;
  config.numAttentionHeads = 2;
  config.intermediateSize = 64;
  config.maxPositionEmbeddings = 64;
  config.numLabels = numLabels;
  return config;
}

/// Sentences whose label is the sentiment word they contain.
inline TextDataset sentimentData(int64_t n) {
  const char *subjects[] = {"the film", "this book", "the meal", "our trip"};
  const char *positive[] = {"wonderful", "great", "excellent", "lovely"};
  const char *negative[] = {"terrible", "awful", "boring", "dreadful"};
  TextDataset data;
  data.labelNames = {"neg", "pos"};
  for (int64_t i = 0; i < n; ++i) {
    int64_t label = i % 2;
    std::string word = label ? positive[(i / 2) % 4] : negative[(i / 2) % 4];
    // Varying lengths, so batches have padding.
    std::string text = std::string(subjects[(i / 8) % 4]) + " was " +
                       (i % 3 == 0 ? "really " : "") + word;
    data.examples.push_back({text, "", label});
  }
  return data;
}

/// Every sentence of `data` as one batch of at most 16 tokens, tokenized
/// with the bert-base-uncased vocabulary (QB_BERT_VOCAB).
inline EncoderInputs encodeAll(const TextDataset &data) {
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  std::vector<const TextExample *> batch;
  for (const TextExample &example : data.examples)
    batch.push_back(&example);
  Expected<EncoderInputs> inputs = tokenizer->encode(batch, 16);
  TORCH_CHECK(inputs, inputs.message());
  return *inputs;
}

/// `model`'s logits (eval mode, no gradients) on every sentence of `data`,
/// one batch of at most 16 tokens, tokenized with the bert-base-uncased
/// vocabulary (QB_BERT_VOCAB).
inline torch::Tensor logitsOf(BertForSequenceClassification &model,
                              const TextDataset &data) {
  EncoderInputs inputs = encodeAll(data);
  torch::NoGradGuard noGrad;
  model->eval();
  return model->forward(inputs);
}

/// A fresh, empty directory name under the system's temporary directory.
inline std::string scratchDir(const std::string &name) {
  std::string dir = std::filesystem::temp_directory_path().string() +
                    "/qb-train-test-" + std::to_string(getpid()) + "-" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

} // namespace quantbert::train::testing

#endif // QUANTBERT_TEST_TRAIN_TINYMODELS_H
