//===- PruningTest.cpp - Structured pruning tests -------------------------===//
//
// Importance scores against central finite differences of the loss in each
// gate; pruning heads and neurons against the unpruned model with those
// units gated to zero (the others compute exactly what they did); the
// pruned checkpoint's round trip; the global plan's ranking, normalization,
// minimums and rounding; and the errors.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Pruning.h"
#include "quantbert/Train/Trainer.h"
#include "TinyModels.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

/// The tiny encoder with 4 heads of 8 and weights large enough that every
/// head and neuron matters.
BertConfig fourHeadConfig() {
  BertConfig config = tinyConfig(2);
  config.numAttentionHeads = 4;
  return config;
}

BertForSequenceClassification makeModel(const BertConfig &config,
                                        uint64_t seed) {
  torch::manual_seed(seed);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  torch::NoGradGuard noGrad;
  for (auto &item : model->named_parameters())
    if (item.key().rfind("bert.encoder.", 0) == 0 && item.value().dim() == 2)
      item.value().mul_(10.0);
  return model;
}

/// Every sentence of `data` as one batch of at most 16 tokens.
Expected<EncoderInputs> encodeAll(const TextDataset &data) {
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  if (!tokenizer)
    return tokenizer.error();
  std::vector<const TextExample *> batch;
  for (const TextExample &example : data.examples)
    batch.push_back(&example);
  return tokenizer->encode(batch, 16);
}

BertLayerImpl &layerOf(BertForSequenceClassification &model, int64_t layer) {
  return *model->bert->encoder->layer[size_t(layer)]->as<BertLayer>();
}

TEST(PruningTest, ImportanceMatchesFiniteDifferences) {
  torch::set_num_threads(1);
  BertConfig config = fourHeadConfig();
  BertForSequenceClassification model = makeModel(config, 3);
  // In float64, so that central differences resolve the gradients to
  // ~1e-8 and the comparison below is tight.
  model->to(torch::kFloat64);
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  ClassificationTask task(config, model, *tokenizer, QB_BERT_VOCAB,
                          sentimentData(16), std::nullopt, 16);
  ImportanceOptions options;
  options.batchSize = 16; // one batch: the score is |dL/dgate| itself
  model->train();
  Expected<Importance> importance =
      measureImportance(task, model->bert, options);
  ASSERT_TRUE(importance) << importance.message();
  EXPECT_TRUE(model->is_training()) << "the mode is restored";
  for (const torch::Tensor &p : model->parameters())
    EXPECT_FALSE(p.grad().defined()) << "parameters get no gradient";

  // The loss with one gate entry moved by +-eps, the others 1 (eval mode,
  // as the scores were measured).
  std::vector<int64_t> all(16);
  std::iota(all.begin(), all.end(), 0);
  model->eval();
  auto lossWith = [&](int64_t layer, bool head, int64_t index, double value) {
    BertLayerImpl &l = layerOf(model, layer);
    torch::Tensor gate =
        torch::ones({head ? l.attention->self->numHeads
                          : l.intermediate->dense->weight.size(0)},
                    torch::kFloat64);
    gate[index] = value;
    (head ? l.attention->self->headGate : l.intermediate->neuronGate) = gate;
    torch::NoGradGuard noGrad;
    double loss = task.loss(all)->item<double>();
    l.attention->self->headGate = torch::Tensor();
    l.intermediate->neuronGate = torch::Tensor();
    return loss;
  };
  const double eps = 1e-4;
  int64_t checked = 0;
  double largest = 0;
  for (int64_t layer = 0; layer < 2; ++layer) {
    ASSERT_EQ(importance->heads[size_t(layer)].numel(), 4);
    ASSERT_EQ(importance->neurons[size_t(layer)].numel(), 64);
    for (bool head : {true, false}) {
      const torch::Tensor &scores =
          head ? importance->heads[size_t(layer)]
               : importance->neurons[size_t(layer)];
      for (int64_t i = 0; i < (head ? 4 : 64); i += head ? 1 : 7) {
        double fd = (lossWith(layer, head, i, 1 + eps) -
                     lossWith(layer, head, i, 1 - eps)) /
                    (2 * eps);
        double score = scores[i].item<double>();
        largest = std::max(largest, score);
        EXPECT_NEAR(score, std::abs(fd), 1e-4 * std::abs(fd) + 1e-8)
            << (head ? "head " : "neuron ") << i << " of layer " << layer;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2 * (4 + 10));
  EXPECT_GT(largest, 1e-4) << "the scores are not all ~0";
}

TEST(PruningTest, ImportanceSumsOverBatches) {
  torch::set_num_threads(1);
  BertConfig config = fourHeadConfig();
  BertForSequenceClassification model = makeModel(config, 4);
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ClassificationTask task(config, model, *tokenizer, QB_BERT_VOCAB,
                          sentimentData(24), std::nullopt, 16);
  ImportanceOptions options;
  options.batchSize = 8;
  options.maxExamples = 16;
  Expected<Importance> twoBatches =
      measureImportance(task, model->bert, options);
  ASSERT_TRUE(twoBatches) << twoBatches.message();
  // The same 16 examples in batches of 16 give a different (smaller or
  // equal) sum: |a + b| <= |a| + |b|, per head.
  options.batchSize = 16;
  Expected<Importance> oneBatch = measureImportance(task, model->bert, options);
  ASSERT_TRUE(oneBatch) << oneBatch.message();
  for (int64_t layer = 0; layer < 2; ++layer)
    EXPECT_TRUE((oneBatch->heads[size_t(layer)] * 2 <=
                 twoBatches->heads[size_t(layer)] + 1e-6)
                    .all()
                    .item<bool>())
        << "one batch of 16 is the mean of the two batches' gradients, "
           "whose absolute values the two-batch score sums";
}

TEST(PruningTest, PrunedHeadsLeaveTheOthersUnchanged) {
  torch::set_num_threads(1);
  BertConfig config = fourHeadConfig();
  BertForSequenceClassification model = makeModel(config, 5);
  TextDataset data = sentimentData(12);

  // Reference: heads 1 and 3 of layer 0 gated to zero.
  BertLayerImpl &layer0 = layerOf(model, 0);
  layer0.attention->self->headGate = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f});
  Expected<EncoderInputs> inputs = encodeAll(data);
  ASSERT_TRUE(inputs) << inputs.message();
  model->eval();
  EncoderOutputs gatedTrace, prunedTrace;
  torch::Tensor gated;
  {
    torch::NoGradGuard noGrad;
    gated = model->forward(*inputs, &gatedTrace);
  }
  layer0.attention->self->headGate = torch::Tensor();

  ASSERT_FALSE(pruneHeads(model->bert, config, 0, {3, 1}));
  EXPECT_EQ(layer0.attention->self->numHeads, 2);
  EXPECT_EQ(layer0.attention->self->query->weight.sizes(),
            torch::IntArrayRef({16, 32}));
  EXPECT_EQ(layer0.attention->output->dense->weight.sizes(),
            torch::IntArrayRef({32, 16}));
  EXPECT_EQ(config.prunedHeads.at(0), (std::vector<int64_t>{1, 3}));
  torch::Tensor pruned;
  {
    torch::NoGradGuard noGrad;
    pruned = model->forward(*inputs, &prunedTrace);
  }
  EXPECT_TRUE(torch::allclose(pruned, gated, 1e-5, 1e-6))
      << (pruned - gated).abs().max().item<float>();
  // The kept heads' attention maps are the same maps.
  torch::Tensor kept = torch::tensor({0, 2}, torch::kInt64);
  EXPECT_TRUE(torch::allclose(
      prunedTrace.layers[0].attentionProbs,
      gatedTrace.layers[0].attentionProbs.index_select(1, kept), 1e-6, 1e-7));
  EXPECT_EQ(prunedTrace.layers[1].attentionProbs.size(1), 4);

  // Pruning again speaks current indices and records original ones: the
  // layer's head 1 now is original head 2.
  ASSERT_FALSE(pruneHeads(model->bert, config, 0, {1}));
  EXPECT_EQ(config.prunedHeads.at(0), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(config.keptHeads(0), (std::vector<int64_t>{0}));
  EXPECT_EQ(pruneHeads(model->bert, config, 0, {0}).message(),
            "prune heads of layer 0: removing 1 of 1 leaves fewer than 1");
  EXPECT_EQ(pruneHeads(model->bert, config, 1, {4}).message(),
            "prune heads of layer 1: index 4 is outside [0, 4)");
  EXPECT_EQ(pruneHeads(model->bert, config, 1, {2, 2}).message(),
            "prune heads of layer 1: an index is repeated");
}

TEST(PruningTest, PrunedNeuronsEqualGatedNeurons) {
  torch::set_num_threads(1);
  BertConfig config = fourHeadConfig();
  BertForSequenceClassification model = makeModel(config, 6);
  TextDataset data = sentimentData(12);
  // A model in training has gradients of the old shapes: pruning drops
  // them, so the next backward pass does not meet them.
  Expected<EncoderInputs> inputs = encodeAll(data);
  ASSERT_TRUE(inputs) << inputs.message();
  model->forward(*inputs).sum().backward();
  std::vector<int64_t> removed = {0, 5, 6, 33, 63};
  torch::Tensor gate = torch::ones({64});
  for (int64_t j : removed)
    gate[j] = 0;
  layerOf(model, 1).intermediate->neuronGate = gate;
  torch::Tensor gated = logitsOf(model, data);
  layerOf(model, 1).intermediate->neuronGate = torch::Tensor();
  ASSERT_FALSE(pruneNeurons(model->bert, config, 1, removed));
  EXPECT_EQ(config.intermediateSizes, (std::vector<int64_t>{64, 59}));
  EXPECT_EQ(layerOf(model, 1).output->dense->weight.sizes(),
            torch::IntArrayRef({32, 59}));
  torch::Tensor pruned = logitsOf(model, data);
  EXPECT_TRUE(torch::allclose(pruned, gated, 1e-5, 1e-6))
      << (pruned - gated).abs().max().item<float>();
  EXPECT_FALSE(layerOf(model, 1).output->dense->weight.grad().defined());
  model->train();
  EXPECT_NO_THROW(model->forward(*inputs).sum().backward());
}

TEST(PruningTest, PrunedCheckpointLoadsWithItsShapes) {
  torch::set_num_threads(1);
  BertConfig config = fourHeadConfig();
  BertForSequenceClassification model = makeModel(config, 7);
  ASSERT_FALSE(pruneHeads(model->bert, config, 1, {0, 2, 3}));
  ASSERT_FALSE(pruneNeurons(model->bert, config, 0, {1, 2, 3, 4}));
  TextDataset data = sentimentData(8);
  torch::Tensor before = logitsOf(model, data);
  std::string dir = scratchDir("pruned-checkpoint");
  ASSERT_FALSE(saveCheckpoint(dir, config, *model, QB_BERT_VOCAB));

  Expected<BertConfig> loadedConfig = loadCheckpointConfig(dir);
  ASSERT_TRUE(loadedConfig) << loadedConfig.message();
  EXPECT_EQ(loadedConfig->prunedHeads, config.prunedHeads);
  EXPECT_EQ(loadedConfig->intermediateSizes,
            (std::vector<int64_t>{60, 64}));
  BertForSequenceClassification loaded(*loadedConfig);
  ASSERT_FALSE(loadCheckpointWeights(dir, *loaded, LoadPolicy{}));
  EXPECT_TRUE(torch::equal(logitsOf(loaded, data), before));

  // The unpruned shape does not load a pruned file: the error names the
  // tensor.
  BertForSequenceClassification unpruned(fourHeadConfig());
  Error err = loadCheckpointWeights(dir, *unpruned, LoadPolicy{});
  ASSERT_TRUE(err);
  EXPECT_NE(err.message().find("bert.encoder.layer.0.intermediate.dense"),
            std::string::npos)
      << err.message();
  std::filesystem::remove_all(dir);
}

TEST(PruningTest, PlanRanksNormalizedScoresGlobally) {
  BertConfig config = fourHeadConfig();
  Importance importance;
  // Layer 0's raw scores are 100x layer 1's: without normalization layer 1
  // would lose all its heads first.
  importance.heads = {torch::tensor({400.0, 100.0, 300.0, 200.0}),
                      torch::tensor({1.0, 4.0, 2.0, 3.0})};
  std::vector<double> n0(64), n1(64);
  for (int64_t j = 0; j < 64; ++j) {
    n0[size_t(j)] = double(j + 1);       // neuron 0 least important
    n1[size_t(j)] = double(64 - j) * 10; // neuron 63 least important
  }
  importance.neurons = {torch::tensor(n0), torch::tensor(n1)};

  PruningTarget target;
  target.headFraction = 0.5;
  target.neuronFraction = 0.25;
  target.neuronMultiple = 16;
  Expected<PruningPlan> plan = planPruning(importance, config, target);
  ASSERT_TRUE(plan) << plan.message();
  EXPECT_EQ(plan->heads.at(0), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(plan->heads.at(1), (std::vector<int64_t>{0, 2}));
  // 32 of 128 neurons, 16 from each layer (equal normalized scores),
  // widths multiples of 16.
  std::vector<int64_t> first16(16), last16(16);
  std::iota(first16.begin(), first16.end(), 0);
  std::iota(last16.begin(), last16.end(), 48);
  EXPECT_EQ(plan->neurons.at(0), first16);
  EXPECT_EQ(plan->neurons.at(1), last16);

  // Every layer keeps a head, and a multiple of neurons.
  target.headFraction = 0.9;
  target.neuronFraction = 0.99;
  plan = planPruning(importance, config, target);
  ASSERT_TRUE(plan) << plan.message();
  EXPECT_EQ(plan->heads.at(0).size(), 3u);
  EXPECT_EQ(plan->heads.at(1).size(), 3u);
  EXPECT_EQ(plan->neurons.at(0).size(), 48u);
  EXPECT_EQ(plan->neurons.at(1).size(), 48u);

  target.neuronMultiple = 24;
  EXPECT_EQ(planPruning(importance, config, target).message(),
            "prune: the FFN width multiple 24 must divide intermediate_size "
            "(64)");
  target.neuronMultiple = 16;
  target.headFraction = 1.0;
  EXPECT_EQ(planPruning(importance, config, target).message(),
            "prune: the head fraction must lie in [0, 1), got 1.000000");
}

TEST(PruningTest, RefusesQuantizedLinears) {
  BertConfig config = fourHeadConfig();
  BertForSequenceClassification model = makeModel(config, 8);
  LinearQuantSpec spec;
  layerOf(model, 0).attention->self->key->setSpec(spec);
  EXPECT_EQ(pruneHeads(model->bert, config, 0, {1}).message(),
            "prune heads of layer 0: key has a quantization spec: prune the "
            "float model, then quantize it");
  EXPECT_TRUE(config.prunedHeads.empty()) << "nothing changed";
  EXPECT_EQ(layerOf(model, 0).attention->self->query->weight.size(0), 32);
}

} // namespace
