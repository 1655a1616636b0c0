//===- SensitivityTest.cpp - Quantization sensitivity and Hessian traces --===//
//
// The weight quantize-dequantize of each precision; Hutchinson's estimator
// against the exact trace of quadratic losses; and a sensitivity run on a
// briefly trained tiny encoder that restores every weight, orders the
// precisions sensibly, and writes a file the SensitivityReport reader
// accepts.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/LowRank.h"
#include "quantbert/Train/Sensitivity.h"

#include "quantbert/Train/Trainer.h"

#include "TinyModels.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

TEST(SensitivityTest, QuantizeDequantizeEachPrecision) {
  torch::Tensor w = torch::tensor({0.5f, -1.0f, 0.0f, 0.25f, -0.1f, 2.0f})
                        .view({2, 3});
  // i8: scale max|W| / 127, every value within half a step.
  torch::Tensor i8 = quantizeDequantize(w, Precision::I8);
  EXPECT_EQ(i8.sizes(), w.sizes());
  EXPECT_LE((i8 - w).abs().max().item<float>(), 2.0f / 127 / 2 + 1e-7f);
  EXPECT_FLOAT_EQ(i8[1][2].item<float>(), 2.0f);
  // binary: mean|W| * sign(W), and 0 binarizes to -1 (BitPacking.h).
  float mean = (0.5f + 1.0f + 0.0f + 0.25f + 0.1f + 2.0f) / 6;
  torch::Tensor binary = quantizeDequantize(w, Precision::Binary);
  EXPECT_TRUE(torch::allclose(
      binary,
      torch::tensor({mean, -mean, -mean, mean, -mean, mean}).view({2, 3})));
  // ternary (TWN): threshold 0.7 * mean|W| = 0.449; the kept |W| are 0.5,
  // 1 and 2, whose mean is the scale.
  float a = (0.5f + 1.0f + 2.0f) / 3;
  torch::Tensor ternary = quantizeDequantize(w, Precision::Ternary);
  EXPECT_TRUE(torch::allclose(
      ternary, torch::tensor({a, -a, 0.0f, 0.0f, 0.0f, a}).view({2, 3})));
  EXPECT_TRUE(torch::equal(quantizeDequantize(w, Precision::F32), w));
  EXPECT_TRUE(torch::equal(quantizeDequantize(w, Precision::F16),
                           w.to(torch::kHalf).to(torch::kFloat32)));
}

TEST(HutchinsonTest, DiagonalHessianIsExactForAnySampleCount) {
  // loss = 0.5 w^T diag(1, 2, 3) w + 0.5 * 5 u^2 + b . w: Rademacher
  // vectors give v^T D v = tr(D) exactly.
  torch::Tensor w = torch::tensor({0.3, -0.2, 0.7}).requires_grad_(true);
  torch::Tensor u = torch::tensor({1.5}).requires_grad_(true);
  torch::Tensor d = torch::tensor({1.0, 2.0, 3.0});
  torch::Tensor b = torch::tensor({4.0, -1.0, 2.0});
  torch::Tensor loss =
      0.5 * (d * w * w).sum() + 2.5 * (u * u).sum() + (b * w).sum();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(1);
  std::vector<double> traces = hutchinsonTraces(loss, {{w}, {u}}, 3, generator);
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_NEAR(traces[0], 6.0, 1e-5);
  EXPECT_NEAR(traces[1], 5.0, 1e-5);
}

TEST(HutchinsonTest, FullHessianBlockTracesConverge) {
  // loss = 0.5 [w; u]^T H [w; u] with off-diagonal couplings inside w and
  // between w and u; the block traces are tr(H_ww) = 2 + 3 + 4 = 9 and
  // tr(H_uu) = 1.5 + 2.5 = 4. A third group enters the loss linearly: its
  // Hessian block is 0.
  torch::Tensor h = torch::tensor({{2.0, 0.5, -0.5, 0.3, 0.0},
                                   {0.5, 3.0, 0.4, 0.0, -0.2},
                                   {-0.5, 0.4, 4.0, 0.1, 0.0},
                                   {0.3, 0.0, 0.1, 1.5, 0.6},
                                   {0.0, -0.2, 0.0, 0.6, 2.5}});
  torch::Tensor w = torch::tensor({0.1, 0.2, 0.3}).requires_grad_(true);
  torch::Tensor u = torch::tensor({-0.4, 0.5}).requires_grad_(true);
  torch::Tensor z = torch::tensor({1.0, 1.0}).requires_grad_(true);
  torch::Tensor x = torch::cat({w, u});
  torch::Tensor loss = 0.5 * x.dot(torch::mv(h, x)) + 3.0 * z.sum();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(2);
  std::vector<double> traces =
      hutchinsonTraces(loss, {{w}, {u}, {z}}, 4000, generator);
  ASSERT_EQ(traces.size(), 3u);
  EXPECT_NEAR(traces[0], 9.0, 0.15);
  EXPECT_NEAR(traces[1], 4.0, 0.15);
  EXPECT_EQ(traces[2], 0.0);
}

/// A tiny model whose 2-D weights under `prefix` have std 0.2 rather than
/// 0.02, so the layers, not the residual stream of embeddings alone, carry
/// the prediction.
BertForSequenceClassification largeWeightModel(const BertConfig &config,
                                               uint64_t seed,
                                               const std::string &prefix) {
  torch::set_num_threads(1);
  torch::manual_seed(seed);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  torch::NoGradGuard noGrad;
  for (auto &item : model->named_parameters())
    if (item.key().rfind(prefix, 0) == 0 && item.value().dim() == 2)
      item.value().mul_(10.0);
  return model;
}

TEST(SensitivityTest, TinyModelReportIsReadableAndSane) {
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification model =
      largeWeightModel(config, 11, "bert.encoder.");
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  std::string dir = scratchDir("sensitivity");
  {
    // Train briefly, so the model sits near a minimum that quantization
    // noise moves it away from.
    ClassificationTask task(config, model, *tokenizer, QB_BERT_VOCAB,
                            sentimentData(64), std::nullopt, 16);
    TrainOptions options;
    options.batchSize = 16;
    options.epochs = 5;
    options.learningRate = 5e-3;
    options.checkpointEvery = 0;
    options.outputDir = dir;
    ASSERT_TRUE(runTraining(task, options));
  }
  std::vector<torch::Tensor> before;
  for (const torch::Tensor &p : model->parameters())
    before.push_back(p.detach().clone());

  SensitivityOptions options;
  options.hessianSamples = 2;
  options.batchSize = 8;
  options.maxSeqLength = 16;
  Expected<SensitivityReport> report =
      measureSensitivity(model, *tokenizer, sentimentData(32), options);
  ASSERT_TRUE(report) << report.message();

  // Every weight is back, bit for bit.
  std::vector<torch::Tensor> after = model->parameters();
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(torch::equal(before[i], after[i]));

  ASSERT_EQ(report->modules.size(), 4u);
  std::set<std::pair<int64_t, BertModule>> seen;
  double i8 = 0, binary = 0;
  for (const ModuleSensitivity &module : report->modules) {
    seen.emplace(module.layer, module.module);
    EXPECT_EQ(module.params,
              module.module == BertModule::Attention ? 4 * 32 * 32 : 2 * 32 * 64);
    ASSERT_EQ(module.sensitivity.size(), 3u);
    i8 += module.sensitivity.at(Precision::I8);
    binary += module.sensitivity.at(Precision::Binary);
    EXPECT_TRUE(module.sensitivity.count(Precision::Ternary));
    ASSERT_TRUE(module.hessianTrace);
    EXPECT_TRUE(std::isfinite(*module.hessianTrace));
  }
  EXPECT_EQ(seen.size(), 4u);
  // One bit a weight costs more than eight; eight cost next to nothing.
  EXPECT_GE(binary / 4, i8 / 4);
  EXPECT_GT(binary / 4, 1e-3);
  EXPECT_LT(std::fabs(i8 / 4), 1e-3);
  EXPECT_GT(report->baselineLoss, 0.0);
  int64_t total = 0;
  for (const torch::Tensor &p : model->parameters())
    total += p.numel();
  EXPECT_EQ(report->parameterCounts.total, total);
  EXPECT_EQ(report->parameterCounts.head, 32 * 32 + 32 + 32 * 2 + 2);

  std::string path = dir + "/sensitivity.json";
  ASSERT_FALSE(report->save(path));
  Expected<SensitivityReport> loaded = SensitivityReport::load(path);
  ASSERT_TRUE(loaded) << loaded.message();
  EXPECT_EQ(loaded->modules.size(), 4u);
  EXPECT_EQ(loaded->modules[0].layer, 0);
  EXPECT_EQ(loaded->modules[0].module, BertModule::Attention);
  EXPECT_EQ(loaded->modules[1].module, BertModule::Ffn);
  EXPECT_DOUBLE_EQ(loaded->baselineLoss, report->baselineLoss);
  EXPECT_EQ(loaded->parameterCounts.total, report->parameterCounts.total);
  std::filesystem::remove_all(dir);
}

TEST(SensitivityTest, FactorizedModulesCountBothFactors) {
  torch::set_num_threads(1);
  BertConfig config = tinyConfig(2);
  torch::manual_seed(12);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  RankPolicy policy;
  policy.rank = 8;
  ASSERT_TRUE(factorizeModel(model->bert, config, LowRankScope::Ffn, policy));
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer);
  SensitivityOptions options;
  options.precisions = {Precision::Binary};
  options.hessianSamples = 0;
  options.batchSize = 8;
  options.maxSeqLength = 16;
  Expected<SensitivityReport> report =
      measureSensitivity(model, *tokenizer, sentimentData(8), options);
  ASSERT_TRUE(report) << report.message();
  for (const ModuleSensitivity &module : report->modules)
    if (module.module == BertModule::Ffn)
      // intermediate: [8, 32] + [64, 8]; output: [8, 64] + [32, 8].
      EXPECT_EQ(module.params, 8 * 32 + 64 * 8 + 8 * 64 + 32 * 8);
}

/// The mean dev cross-entropy of `model` on `data`, in one batch.
double meanLoss(BertForSequenceClassification &model, const Tokenizer &tokenizer,
                const TextDataset &data) {
  std::vector<const TextExample *> examples;
  std::vector<int64_t> labels;
  for (const TextExample &example : data.examples) {
    examples.push_back(&example);
    labels.push_back(example.label);
  }
  Expected<EncoderInputs> inputs = tokenizer.encode(examples, 16);
  EXPECT_TRUE(inputs) << inputs.message();
  torch::NoGradGuard noGrad;
  model->eval();
  return torch::nn::functional::cross_entropy(model->forward(*inputs),
                                              torch::tensor(labels))
      .item<double>();
}

TEST(SensitivityTest, BinaryMeasuresTheDeployedModuleWithItsInputs) {
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification model = largeWeightModel(config, 13, "bert.");
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer);
  TextDataset dev = sentimentData(16);
  double baseline = meanLoss(model, *tokenizer, dev);

  SensitivityOptions options;
  options.precisions = {Precision::Binary};
  options.batchSize = 8;
  options.maxSeqLength = 16;
  Expected<SensitivityReport> deployed =
      measureSensitivity(model, *tokenizer, dev, options);
  ASSERT_TRUE(deployed) << deployed.message();
  options.binaryInputs = false;
  Expected<SensitivityReport> weightsOnly =
      measureSensitivity(model, *tokenizer, dev, options);
  ASSERT_TRUE(weightsOnly) << weightsOnly.message();

  // Nothing is left quantized, and the model computes what it did.
  for (const auto &item : model->named_modules())
    if (auto *linear = item.value()->as<QuantLinearImpl>())
      EXPECT_FALSE(linear->spec()) << item.key();
  EXPECT_DOUBLE_EQ(meanLoss(model, *tokenizer, dev), baseline);

  // Layer 1's attention, by hand: the deployed 1-bit spec on its four
  // linears (sign inputs), and the weights alone binarized.
  const char *linears[] = {"query", "key", "value"};
  std::vector<QuantLinearImpl *> attention;
  auto modules = model->named_modules();
  for (const char *name : linears)
    attention.push_back(
        modules[std::string("bert.encoder.layer.1.attention.self.") + name]
            ->as<QuantLinearImpl>());
  attention.push_back(modules["bert.encoder.layer.1.attention.output.dense"]
                          ->as<QuantLinearImpl>());
  for (QuantLinearImpl *linear : attention)
    linear->setSpec(LinearQuantSpec{Quantizer::BinaryMeanScale,
                                    Granularity::PerTensor, InputQuant::Sign});
  double withInputs = meanLoss(model, *tokenizer, dev) - baseline;
  for (QuantLinearImpl *linear : attention)
    linear->setSpec(std::nullopt);
  std::vector<torch::Tensor> saved;
  {
    torch::NoGradGuard noGrad;
    for (QuantLinearImpl *linear : attention) {
      saved.push_back(linear->weight.detach().clone());
      linear->weight.copy_(quantizeDequantize(saved.back(), Precision::Binary));
    }
  }
  double weightsAlone = meanLoss(model, *tokenizer, dev) - baseline;
  {
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < attention.size(); ++i)
      attention[i]->weight.copy_(saved[i]);
  }
  ASSERT_EQ(deployed->modules[2].layer, 1);
  ASSERT_EQ(deployed->modules[2].module, BertModule::Attention);
  EXPECT_NEAR(deployed->modules[2].sensitivity.at(Precision::Binary),
              withInputs, 1e-5);
  EXPECT_NEAR(weightsOnly->modules[2].sensitivity.at(Precision::Binary),
              weightsAlone, 1e-5);
  // Binarizing the inputs too is a different, larger perturbation.
  EXPECT_GT(std::fabs(withInputs - weightsAlone), 1e-4);
}

TEST(SensitivityTest, EmptyDevSetIsAnError) {
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification model(config);
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer);
  TextDataset empty;
  Expected<SensitivityReport> report =
      measureSensitivity(model, *tokenizer, empty, SensitivityOptions());
  ASSERT_FALSE(report);
  EXPECT_NE(report.message().find("dev set is empty"), std::string::npos);
}

} // namespace
