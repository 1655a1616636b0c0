//===- QatTest.cpp - Quantization-aware linears, recipes and export -------===//
//
// The eval forward of QuantLinear against the scalar references of the
// compiler's kernels (test/Runtime/Reference.h for qb.int8_linear,
// BitPacking.h for qb.binary_linear); SensiMix's schedule for 3 and 6 MP
// layers and its ABWR term; the recipes on a tiny model, exported and
// re-imported with identical predictions and logits; a QAT run killed and
// resumed; and the errors of malformed qat.json, bundles and recipes.
//
//===----------------------------------------------------------------------===//

#include "Reference.h"
#include "TinyModels.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/WeightQuantizers.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Export.h"
#include "quantbert/Train/MagnitudePruning.h"
#include "quantbert/Train/Recipes.h"

#include <gtest/gtest.h>

#include <set>

#include <filesystem>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

std::vector<float> floatsOf(const torch::Tensor &t) {
  torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(),
                            c.data_ptr<float>() + c.numel());
}

/// Codes and scales of `w` [rows, cols] with the shared scalar quantizer,
/// per tensor or row by row.
void referenceCodes(const std::vector<float> &w, int64_t rows, int64_t cols,
                    Quantizer quantizer, Granularity granularity,
                    std::vector<int8_t> &codes, std::vector<float> &scales) {
  codes.clear();
  scales.clear();
  int64_t groups = granularity == Granularity::PerRow ? rows : 1;
  int64_t size = rows * cols / groups;
  for (int64_t g = 0; g < groups; ++g) {
    QuantizedWeight q = quantizer == Quantizer::Twn
                            ? quantizeTernaryTwn(w.data() + g * size, size)
                            : quantizeSymmetricInt8(w.data() + g * size, size);
    codes.insert(codes.end(), q.codes.begin(), q.codes.end());
    scales.insert(scales.end(), size / cols, q.scale);
  }
}

TEST(QuantizedLinearTest, Int8EvalForwardIsTheInt8LinearReference) {
  torch::set_num_threads(1);
  const int64_t n = 5, m = 6;
  // 1100 > 512: the eval forward sums float32 GEMMs over 512-column blocks.
  for (int64_t k : {70, 1100})
    for (Quantizer quantizer : {Quantizer::SymmetricEma, Quantizer::Twn})
      for (Granularity granularity :
           {Granularity::PerTensor, Granularity::PerRow}) {
        torch::manual_seed(7);
        QuantLinear linear(k, n);
        torch::nn::init::normal_(linear->bias, 0.0, 0.5);
        linear->setSpec(
            LinearQuantSpec{quantizer, granularity, InputQuant::Int8});
        linear->setInputRange(2.5f);
        linear->eval();
        // Beyond the range, too: those codes clamp to [-128, 127].
        torch::Tensor x = torch::randn({2, 3, k}) * 1.5;
        torch::Tensor y = linear->forward(x);
        ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, n}));

        float inputScale = 2.5f / 127.0f;
        EXPECT_EQ(linear->inputScale(), inputScale);
        std::vector<float> xs = floatsOf(x);
        std::vector<int8_t> xq;
        for (float v : xs)
          xq.push_back(quantizeToInt8(v, inputScale, 0));
        std::vector<int8_t> wq;
        std::vector<float> wScales;
        referenceCodes(floatsOf(linear->weight), n, k, quantizer, granularity,
                       wq, wScales);
        std::vector<double> expected = reference::int8Linear(
            xq, m, k, inputScale, 0, wq, wScales, floatsOf(linear->bias), n);
        std::vector<float> actual = floatsOf(y);
        for (int64_t i = 0; i < m * n; ++i)
          ASSERT_EQ(actual[i], float(expected[i]))
              << quantizerName(quantizer) << " k " << k << " element " << i;
      }
}

TEST(QuantizedLinearTest, BinaryEvalForwardIsThePackedSignReference) {
  torch::set_num_threads(1);
  const int64_t k = 70, n = 5, m = 6;
  for (Quantizer quantizer :
       {Quantizer::BinarySign, Quantizer::BinaryMeanScale})
    for (Granularity granularity :
         {Granularity::PerTensor, Granularity::PerRow}) {
      torch::manual_seed(8);
      QuantLinear linear(k, n);
      torch::nn::init::normal_(linear->bias, 0.0, 0.5);
      linear->setSpec(
          LinearQuantSpec{quantizer, granularity, InputQuant::Sign});
      linear->eval();
      torch::Tensor x = torch::randn({m, k});
      x[0][0] = 0.0f; // binarizes to -1
      std::vector<float> actual = floatsOf(linear->forward(x));

      std::vector<float> xs = floatsOf(x), w = floatsOf(linear->weight),
                         bias = floatsOf(linear->bias);
      int64_t words = packedWordCount(k);
      std::vector<uint64_t> xp(m * words), wp(n * words);
      for (int64_t i = 0; i < m; ++i)
        packSignBits(xs.data() + i * k, k, xp.data() + i * words);
      for (int64_t j = 0; j < n; ++j)
        packSignBits(w.data() + j * k, k, wp.data() + j * words);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float scale = 1.0f;
          if (quantizer == Quantizer::BinaryMeanScale)
            scale = granularity == Granularity::PerRow
                        ? binaryMeanScale(w.data() + j * k, k)
                        : binaryMeanScale(w.data(), n * k);
          int64_t dot =
              packedSignDot(xp.data() + i * words, wp.data() + j * words, k);
          // qb.binary_linear's output transform, in f32.
          float expected = float(dot) * scale + bias[j];
          ASSERT_EQ(actual[i * n + j], expected)
              << quantizerName(quantizer) << " at " << i << ", " << j;
        }
    }
}

TEST(QuantizedLinearTest, IndexStorageIsAFloatLinearOnDequantizedWeights) {
  torch::manual_seed(9);
  QuantLinear linear(8, 3);
  linear->setSpec(LinearQuantSpec{Quantizer::AsymmetricIndex,
                                  Granularity::PerTensor, InputQuant::Float});
  linear->eval();
  std::vector<float> w = floatsOf(linear->weight);
  QuantizedWeight q = quantizeAsymmetricIndex(w.data(), int64_t(w.size()));
  std::vector<float> dequantized;
  for (int8_t code : q.codes)
    dequantized.push_back(dequantizeInt8(code, q.scale, q.zeroPoint, q.offset));
  torch::Tensor x = torch::randn({4, 8});
  torch::Tensor expected = torch::nn::functional::linear(
      x, torch::tensor(dequantized).view({3, 8}), linear->bias);
  EXPECT_TRUE(torch::equal(linear->forward(x), expected));
}

TEST(QuantizedLinearTest, TrainingForwardFakeQuantizesAndCalibrates) {
  torch::manual_seed(10);
  QuantLinear linear(6, 2);
  linear->setSpec(LinearQuantSpec{});
  EXPECT_FALSE(linear->inputCalibrated());
  linear->train();
  torch::Tensor x = torch::randn({3, 6});
  torch::Tensor y = linear->forward(x);
  EXPECT_EQ(linear->inputRange(), x.abs().max().item<float>());
  torch::Tensor expected = torch::nn::functional::linear(
      fakeQuantSymmetric(
          x, torch::scalar_tensor(inputScaleOfRange(linear->inputRange())), 8),
      fakeQuantSymmetricWeight(linear->weight, 8, Granularity::PerTensor),
      linear->bias);
  EXPECT_TRUE(torch::equal(y, expected));
  // The STE passes the task gradient to the latent weight.
  y.sum().backward();
  EXPECT_GT(linear->weight.grad().abs().sum().item<float>(), 0.0f);
  // The deployed form follows weight updates.
  linear->eval();
  torch::Tensor before = linear->deployedWeight().dequantized().clone();
  {
    torch::NoGradGuard noGrad;
    linear->weight.mul_(2.0);
  }
  EXPECT_TRUE(
      torch::allclose(linear->deployedWeight().dequantized(), before * 2));
}

TEST(QuantizedLinearTest, SpecsOutsideTheCompilersCombinationsAreRejected) {
  Error err = validateLinearSpec(
      {Quantizer::SymmetricEma, Granularity::PerTensor, InputQuant::Sign},
      "where: ");
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "where: quantizer 'symmetric-ema' runs on i8 "
                           "inputs: field 'input' must be \"i8\", got "
                           "\"binary\"");
  err = validateLinearSpec(
      {Quantizer::AsymmetricIndex, Granularity::PerRow, InputQuant::Float}, "");
  ASSERT_TRUE(err);
  EXPECT_NE(err.message().find("per tensor only"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// SensiMix's schedule and ABWR
//===----------------------------------------------------------------------===//

/// The MP layers (from the bottom) whose weights the schedule binarizes.
std::vector<int64_t> binarizedWeights(const std::vector<FfnPhase> &phases) {
  std::vector<int64_t> layers;
  for (size_t i = 0; i < phases.size(); ++i)
    if (phases[i].binaryWeights)
      layers.push_back(int64_t(i));
  return layers;
}

TEST(RecipeTest, InverseLayerwiseScheduleForThreeMpLayers) {
  using V = std::vector<int64_t>;
  // Epoch 0 is Prioritized Training: inputs 1-bit, weights FP.
  std::vector<FfnPhase> first = mpLayerSchedule(0, 3, true, true);
  for (const FfnPhase &phase : first) {
    EXPECT_TRUE(phase.binaryInputs);
    EXPECT_FALSE(phase.binaryWeights);
  }
  // Then one layer per epoch, from the top down; binarized layers stay so.
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(1, 3, true, true)), V({2}));
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(2, 3, true, true)), V({1, 2}));
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(3, 3, true, true)), V({0, 1, 2}));
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(7, 3, true, true)), V({0, 1, 2}));
}

TEST(RecipeTest, InverseLayerwiseScheduleForSixMpLayers) {
  // The reference code hard-codes 3 MP layers; here every one of the 6 gets
  // its epoch.
  for (int64_t epoch = 0; epoch <= 8; ++epoch) {
    std::vector<int64_t> expected;
    for (int64_t layer = 6 - std::min<int64_t>(epoch, 6); layer < 6; ++layer)
      expected.push_back(layer);
    std::vector<FfnPhase> phases = mpLayerSchedule(epoch, 6, true, true);
    EXPECT_EQ(binarizedWeights(phases), expected) << "epoch " << epoch;
    for (const FfnPhase &phase : phases)
      EXPECT_TRUE(phase.binaryInputs);
  }
}

TEST(RecipeTest, AblationsOfTheSchedule) {
  using V = std::vector<int64_t>;
  // No PT: binarization starts at epoch 0; waiting layers are fully FP.
  std::vector<FfnPhase> noPt = mpLayerSchedule(0, 3, false, true);
  EXPECT_EQ(binarizedWeights(noPt), V({2}));
  EXPECT_EQ(noPt[0], (FfnPhase{false, false}));
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(2, 3, false, true)), V({0, 1, 2}));
  // No ILF: everything at once after the PT epoch.
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(0, 3, true, false)), V({}));
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(1, 3, true, false)), V({0, 1, 2}));
  // Neither: binarized from the first step.
  EXPECT_EQ(binarizedWeights(mpLayerSchedule(0, 3, false, false)),
            V({0, 1, 2}));
}

TEST(RecipeTest, AbwrIsTheSumOfMeanSquaredDistancesFromOne) {
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification model(config);
  torch::NoGradGuard noGrad;
  auto layer = [&](int64_t i) {
    return model->bert->encoder->layer->ptr<BertLayerImpl>(i);
  };
  layer(0)->intermediate->dense->weight.fill_(1.0f); // 0 per element
  layer(0)->output->dense->weight.fill_(0.0f);       // 1
  layer(1)->intermediate->dense->weight.fill_(0.5f); // 0.25
  layer(1)->output->dense->weight.fill_(-2.0f);      // 1
  EncoderModule ffn0{0, BertModule::Ffn}, ffn1{1, BertModule::Ffn};
  EXPECT_FLOAT_EQ(abwrLoss(model->bert, {ffn1}).item<float>(), 1.25f);
  EXPECT_FLOAT_EQ(abwrLoss(model->bert, {ffn0, ffn1}).item<float>(), 2.25f);
  EXPECT_FLOAT_EQ(abwrLoss(model->bert, {}).item<float>(), 0.0f);
  // A 1-bit attention adds its four linears' terms.
  for (QuantLinear linear :
       {layer(1)->attention->self->query, layer(1)->attention->self->key,
        layer(1)->attention->self->value, layer(1)->attention->output->dense})
    linear->weight.fill_(3.0f); // 4 each
  EXPECT_FLOAT_EQ(
      abwrLoss(model->bert, {ffn1, {1, BertModule::Attention}}).item<float>(),
      17.25f);
}

TEST(RecipeTest, MpLayersFromSensitivity) {
  SensitivityReport report;
  double binary[] = {0.5, 0.1, 0.3, 0.1};
  for (int64_t layer = 0; layer < 4; ++layer)
    report.modules.push_back({layer,
                              BertModule::Ffn,
                              100,
                              {{Precision::Binary, binary[layer]}},
                              {}});
  using V = std::vector<int64_t>;
  // Ties go to the upper layer.
  EXPECT_EQ(*chooseMpLayers(4, 1, &report), V({3}));
  EXPECT_EQ(*chooseMpLayers(4, 2, &report), V({1, 3}));
  EXPECT_EQ(*chooseMpLayers(4, 3, &report), V({1, 2, 3}));
  EXPECT_EQ(*chooseMpLayers(4, 2, nullptr), V({2, 3}));
  report.modules[2].sensitivity = {{Precision::I8, 0.0}};
  Expected<std::vector<int64_t>> missing = chooseMpLayers(4, 2, &report);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.message(), "sensitivity.json has no 'binary' sensitivity "
                               "for the ffn of layer 2");
}

TEST(RecipeTest, KeepLayersDropsTheUpperLayers) {
  BertConfig config = tinyConfig(2, 4);
  LoadPolicy policy;
  Expected<BertConfig> kept = keepFirstLayers(config, 2, policy);
  ASSERT_TRUE(kept) << kept.message();
  EXPECT_EQ(kept->numHiddenLayers, 2);
  EXPECT_EQ(policy.ignoredPrefixes,
            (std::vector<std::string>{"bert.encoder.layer.2.",
                                      "bert.encoder.layer.3."}));
  EXPECT_FALSE(keepFirstLayers(config, 5, policy));

  // The dropped layers' pruning and factorization go with them.
  config.prunedHeads = {{1, {0}}, {3, {1}}};
  config.intermediateSizes = {64, 32, 64, 16};
  config.lowRank = {{"bert.encoder.layer.0.output.dense", 8},
                    {"bert.encoder.layer.2.output.dense", 8}};
  kept = keepFirstLayers(config, 2, policy);
  ASSERT_TRUE(kept) << kept.message();
  EXPECT_FALSE(kept->validate()) << kept->validate().message();
  EXPECT_EQ(kept->prunedHeads.size(), 1u);
  EXPECT_EQ(kept->intermediateSizes, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(kept->lowRank.size(), 1u);
}

//===----------------------------------------------------------------------===//
// Module precisions: budget, random and explicit assignments
//===----------------------------------------------------------------------===//

RecipeOptions sensimixOptions() {
  RecipeOptions options;
  options.kind = RecipeKind::SensiMix;
  return options;
}

/// 4 layers whose FFN has twice an attention's weights (as BERT's).
BertConfig fourLayerConfig() {
  BertConfig config = tinyConfig(2, 4);
  config.intermediateSize = 128;
  return config;
}

/// Binary sensitivities shaped like the main job's teacher: attentions of
/// layers 1 and 3 and the FFN of layer 3 are the cheapest to binarize.
SensitivityReport fourLayerReport() {
  double attention[] = {0.19, 0.006, 0.0062, 0.0014};
  double ffn[] = {0.039, 0.032, 0.0092, 0.0023};
  SensitivityReport report;
  for (int64_t layer = 0; layer < 4; ++layer) {
    report.modules.push_back({layer, BertModule::Attention, 4096,
                              {{Precision::I8, 1e-5},
                               {Precision::Ternary, attention[layer] / 3},
                               {Precision::Binary, attention[layer]}},
                              {}});
    report.modules.push_back({layer, BertModule::Ffn, 8192,
                              {{Precision::I8, -1e-6},
                               {Precision::Ternary, ffn[layer] / 3},
                               {Precision::Binary, ffn[layer]}},
                              {}});
  }
  return report;
}

TEST(ModulePrecisionTest, ModuleNamesAndSizes) {
  Expected<EncoderModule> module = parseEncoderModule("layer.12.attention");
  ASSERT_TRUE(module) << module.message();
  EXPECT_EQ(module->layer, 12);
  EXPECT_EQ(module->module, BertModule::Attention);
  EXPECT_EQ(encoderModuleName({3, BertModule::Ffn}), "layer.3.ffn");
  for (const char *bad : {"layer..ffn", "layer.1", "layer.x.ffn", "1.ffn",
                          "layer.1.ffn.", "layer.-1.ffn"})
    EXPECT_FALSE(parseEncoderModule(bad)) << bad;
  EXPECT_EQ(encoderModuleLinears({1, BertModule::Ffn}),
            (std::vector<std::string>{"bert.encoder.layer.1.intermediate.dense",
                                      "bert.encoder.layer.1.output.dense"}));

  BertConfig config = fourLayerConfig();
  EXPECT_EQ(encoderModuleParams(config, {0, BertModule::Attention}),
            4 * 32 * 32);
  EXPECT_EQ(encoderModuleParams(config, {0, BertModule::Ffn}), 2 * 32 * 128);
  // Pruned heads and FFN neurons, and a low-rank factor, as stored.
  config.prunedHeads = {{1, {0}}};
  config.intermediateSizes = {128, 64, 128, 128};
  config.lowRank = {{"bert.encoder.layer.2.output.dense", 8}};
  ASSERT_FALSE(config.validate()) << config.validate().message();
  EXPECT_EQ(encoderModuleParams(config, {1, BertModule::Attention}),
            4 * 32 * 16);
  EXPECT_EQ(encoderModuleParams(config, {1, BertModule::Ffn}), 2 * 32 * 64);
  EXPECT_EQ(encoderModuleParams(config, {2, BertModule::Ffn}),
            32 * 128 + 8 * (128 + 32));
}

TEST(ModulePrecisionTest, BudgetPicksTheLeastSensitiveModulesAtEqualBytes) {
  BertConfig config = fourLayerConfig();
  SensitivityReport report = fourLayerReport();
  RecipeOptions options = sensimixOptions();
  options.mpLayers = 2;
  Expected<ResolvedRecipe> fixed = resolveRecipe(options, config, nullptr);
  ASSERT_TRUE(fixed) << fixed.message();
  options.assign = Assignment::Budget;
  Expected<ResolvedRecipe> budget = resolveRecipe(options, config, &report);
  ASSERT_TRUE(budget) << budget.message();

  // The fixed policy binarizes the FFNs of layers 2 and 3 (summed
  // sensitivity 0.0115); at the same bytes, the attentions of layers 1 and
  // 3 and the FFN of layer 3 cost 0.0097.
  using Modules = std::vector<EncoderModule>;
  EXPECT_EQ(fixed->binaryModules,
            (Modules{{2, BertModule::Ffn}, {3, BertModule::Ffn}}));
  EXPECT_EQ(budget->binaryModules,
            (Modules{{1, BertModule::Attention},
                     {3, BertModule::Attention},
                     {3, BertModule::Ffn}}));
  EXPECT_EQ(budget->mpLayers, (std::vector<int64_t>{1, 3}));
  EXPECT_DOUBLE_EQ(budget->bitsPerWeight, fixed->bitsPerWeight);
  // 4 attentions and 2 FFNs int8, 2 FFNs 1-bit; an FFN is 2 attentions.
  EXPECT_DOUBLE_EQ(fixed->bitsPerWeight, (8.0 * 8 + 1.0 * 4) / 12);
  ASSERT_TRUE(budget->totalSensitivity);
  // (and the int8 modules' own: 2 attentions, 3 FFNs)
  EXPECT_NEAR(*budget->totalSensitivity,
              0.006 + 0.0014 + 0.0023 + 2 * 1e-5 - 3 * 1e-6, 1e-12);
  // The spec follows: a 1-bit attention's four linears on sign inputs.
  const LinearQuantSpec &query =
      budget->spec.linears.at("bert.encoder.layer.1.attention.self.query");
  EXPECT_EQ(query.weight, Quantizer::BinarySign);
  EXPECT_EQ(query.input, InputQuant::Sign);
  EXPECT_EQ(budget->spec.linears.at("bert.encoder.layer.2.output.dense").input,
            InputQuant::Int8);

  // A tighter budget with ternary available: nothing exceeds it.
  options.bitsPerWeight = 3.0;
  options.precisions = {Precision::I8, Precision::Ternary, Precision::Binary};
  Expected<ResolvedRecipe> tight = resolveRecipe(options, config, &report);
  ASSERT_TRUE(tight) << tight.message();
  EXPECT_LE(tight->bitsPerWeight, 3.0);
  EXPECT_LT(tight->bitsPerWeight, budget->bitsPerWeight);

  // Errors: no report; a precision it did not measure; an impossible size.
  Expected<ResolvedRecipe> noReport = resolveRecipe(options, config, nullptr);
  ASSERT_FALSE(noReport);
  EXPECT_EQ(noReport.message(), "assign budget needs sensitivity.json "
                                "(--sensitivity or 'sensitivity')");
  report.modules[5].sensitivity.erase(Precision::Ternary);
  Expected<ResolvedRecipe> unmeasured = resolveRecipe(options, config, &report);
  ASSERT_FALSE(unmeasured);
  EXPECT_EQ(unmeasured.message(),
            "assign budget: sensitivity.json has no 'ternary' sensitivity "
            "for the ffn of layer 2 (measure it with --precisions, or drop it "
            "from 'precisions')");
  options.precisions = {Precision::I8, Precision::Binary};
  options.bitsPerWeight = 0.5;
  Expected<ResolvedRecipe> tooSmall = resolveRecipe(options, config, &report);
  ASSERT_FALSE(tooSmall);
  EXPECT_EQ(tooSmall.message(),
            "assign budget: no assignment fits the budget: the smallest needs "
            "6144 bytes of encoder-linear weights, the budget allows 3072");
}

TEST(ModulePrecisionTest, RandomAssignmentsFitTheBudgetAndCannotGrow) {
  BertConfig config = fourLayerConfig();
  RecipeOptions options = sensimixOptions();
  options.mpLayers = 2;
  options.assign = Assignment::Random;
  std::set<std::vector<EncoderModule>> draws;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    options.assignSeed = seed;
    Expected<ResolvedRecipe> random = resolveRecipe(options, config, nullptr);
    ASSERT_TRUE(random) << random.message();
    // The fixed policy's 68/12 bits per weight, met exactly here (any two
    // FFNs, one FFN and two attentions, or four attentions).
    EXPECT_DOUBLE_EQ(random->bitsPerWeight, 68.0 / 12) << "seed " << seed;
    // So it is maximal: raising any 1-bit module to int8 would exceed it.
    EXPECT_FALSE(random->binaryModules.empty());
    draws.insert(random->binaryModules);
    // The same seed draws the same assignment.
    Expected<ResolvedRecipe> again = resolveRecipe(options, config, nullptr);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->binaryModules, random->binaryModules);
  }
  EXPECT_GE(draws.size(), 5u);
}

TEST(ModulePrecisionTest, AnExplicitMapAndItsErrors) {
  BertConfig config = fourLayerConfig();
  RecipeOptions options = sensimixOptions();
  options.modulePrecisions = {{{0, BertModule::Attention}, Precision::Binary},
                              {{2, BertModule::Ffn}, Precision::Ternary}};
  Expected<ResolvedRecipe> map = resolveRecipe(options, config, nullptr);
  ASSERT_TRUE(map) << map.message();
  EXPECT_EQ(map->binaryModules,
            (std::vector<EncoderModule>{{0, BertModule::Attention}}));
  EXPECT_EQ(map->mpLayers, (std::vector<int64_t>{0}));
  EXPECT_EQ(map->precisions.at({1, BertModule::Ffn}), Precision::I8);
  const LinearQuantSpec &ternary =
      map->spec.linears.at("bert.encoder.layer.2.intermediate.dense");
  EXPECT_EQ(ternary.weight, Quantizer::Twn);
  EXPECT_EQ(ternary.input, InputQuant::Int8);
  options.modulePrecisions = {{{4, BertModule::Ffn}, Precision::Binary}};
  Expected<ResolvedRecipe> outside = resolveRecipe(options, config, nullptr);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.message(),
            "module_precisions names layer.4.ffn, but the model has 4 layers");
}

TEST(ModulePrecisionTest, ARecipeThatTrainsDifferentlyHasAnotherIdentity) {
  BertConfig config = fourLayerConfig();
  auto identity = [&](const RecipeOptions &options) {
    Expected<ResolvedRecipe> recipe = resolveRecipe(options, config, nullptr);
    EXPECT_TRUE(recipe) << recipe.message();
    return recipe ? recipeIdentity(*recipe) : std::string();
  };
  RecipeOptions base = sensimixOptions();
  base.mpLayers = 2;
  std::string fixed = identity(base);
  EXPECT_EQ(fixed.rfind("sensimix-", 0), 0u) << fixed;
  EXPECT_EQ(fixed.size(), std::string("sensimix-").size() + 16);
  EXPECT_EQ(identity(base), fixed);
  RecipeOptions other = base;
  other.binaryQuantizer = Quantizer::BinaryMeanScale;
  EXPECT_NE(identity(other), fixed);
  other = base;
  other.abwr = false;
  EXPECT_NE(identity(other), fixed);
  other = base;
  other.modulePrecisions = {{{2, BertModule::Ffn}, Precision::Binary},
                            {{3, BertModule::Attention}, Precision::Binary},
                            {{1, BertModule::Attention}, Precision::Binary}};
  EXPECT_NE(identity(other), fixed);
  // The same modules by another route train the same way.
  other.modulePrecisions = {{{2, BertModule::Ffn}, Precision::Binary},
                            {{3, BertModule::Ffn}, Precision::Binary}};
  EXPECT_EQ(identity(other), fixed);
}

TEST(ModulePrecisionTest, TheScheduleReachesOneBitAttentions) {
  BertConfig config = fourLayerConfig();
  torch::manual_seed(3);
  BertForSequenceClassification model(config);
  RecipeOptions options = sensimixOptions();
  options.modulePrecisions = {{{1, BertModule::Attention}, Precision::Binary},
                              {{3, BertModule::Ffn}, Precision::Binary}};
  Expected<ResolvedRecipe> recipe = resolveRecipe(options, config, nullptr);
  ASSERT_TRUE(recipe) << recipe.message();
  ASSERT_FALSE(applyQatSpec(*model, recipe->spec));
  auto layer = [&](int64_t i) {
    return model->bert->encoder->layer->ptr<BertLayerImpl>(i);
  };
  // Epoch 1 of PT + ILF: the top MP layer (3) binarized, layer 1's inputs.
  applyMpSchedule(model->bert, recipe->binaryModules, recipe->mpLayers,
                  mpLayerSchedule(1, 2, true, true));
  EXPECT_TRUE(layer(1)->attention->self->key->binarizeInputsInTraining);
  EXPECT_FALSE(layer(1)->attention->self->key->binarizeWeightsInTraining);
  EXPECT_TRUE(layer(3)->output->dense->binarizeWeightsInTraining);
  applyMpSchedule(model->bert, recipe->binaryModules, recipe->mpLayers,
                  mpLayerSchedule(2, 2, true, true));
  EXPECT_TRUE(layer(1)->attention->output->dense->binarizeWeightsInTraining);
}

//===----------------------------------------------------------------------===//
// Recipes end to end: train, export, re-import
//===----------------------------------------------------------------------===//

RecipeOptions recipeNamed(const std::string &name) {
  RecipeOptions options;
  options.kind = *parseRecipeName(name);
  if (name == "sensimix")
    options.mpLayers = 1;
  return options;
}

struct QatRun {
  BertConfig config;
  BertForSequenceClassification model{nullptr};
  std::unique_ptr<QatTask> task;
};

QatRun makeQatRun(const std::string &recipe, uint64_t seed,
                  BertConfig config = tinyConfig(2)) {
  QatRun run;
  run.config = config;
  torch::manual_seed(seed);
  run.model = BertForSequenceClassification(run.config);
  initBertWeights(*run.model);
  Expected<ResolvedRecipe> resolved =
      resolveRecipe(recipeNamed(recipe), run.config, nullptr);
  EXPECT_TRUE(resolved) << resolved.message();
  Error err = applyQatSpec(*run.model, resolved->spec);
  EXPECT_FALSE(err) << err.message();
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  EXPECT_TRUE(tokenizer) << tokenizer.message();
  auto inner = std::make_unique<ClassificationTask>(
      run.config, run.model, *tokenizer, QB_BERT_VOCAB, sentimentData(32),
      sentimentData(16), 16);
  run.task = std::make_unique<QatTask>(std::move(inner), run.model,
                                       std::move(*resolved));
  return run;
}

TrainOptions qatOptions(const std::string &dir) {
  TrainOptions options;
  options.batchSize = 16;
  options.epochs = 3;
  options.learningRate = 5e-3;
  options.seed = 5;
  options.logEvery = 0;
  options.checkpointEvery = 2;
  options.outputDir = dir;
  return options;
}

class RecipeExportTest : public ::testing::TestWithParam<const char *> {};

TEST_P(RecipeExportTest, BundleReimportsWithIdenticalPredictions) {
  torch::set_num_threads(1);
  std::string recipe = GetParam();
  std::string dir = scratchDir("export-" + recipe);
  QatRun run = makeQatRun(recipe, 3);
  Expected<TrainResult> trained = runTraining(*run.task, qatOptions(dir));
  ASSERT_TRUE(trained) << trained.message();
  std::string checkpoint = dir + "/final", bundle = dir + "/bundle";
  ASSERT_TRUE(std::filesystem::exists(checkpoint + "/qat.json"));

  Error err = exportBundle(checkpoint, bundle);
  ASSERT_FALSE(err) << err.message();
  // The bundle passes the importer's checks.
  Expected<QuantConfig> quant = QuantConfig::load(bundle + "/quant.json");
  ASSERT_TRUE(quant) << quant.message();
  Expected<SafetensorsFile> weights =
      SafetensorsFile::open(bundle + "/model.safetensors");
  ASSERT_TRUE(weights) << weights.message();
  err = quant->checkTensors(*weights);
  EXPECT_FALSE(err) << err.message();
  EXPECT_EQ(quant->recipe, recipe);
  EXPECT_EQ(quant->linears.size(), 12u);

  Expected<LoadedModel> qat = loadQatCheckpoint(checkpoint);
  ASSERT_TRUE(qat) << qat.message();
  Expected<LoadedModel> reimported = loadModelForEval(bundle);
  ASSERT_TRUE(reimported) << reimported.message();
  EXPECT_EQ(reimported->kind, "bundle");

  TextDataset test = sentimentData(40);
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  Expected<std::vector<int64_t>> expected =
      predict(qat->model, *tokenizer, test, 16, 8);
  Expected<std::vector<int64_t>> actual =
      predict(reimported->model, *tokenizer, test, 16, 8);
  ASSERT_TRUE(expected && actual);
  EXPECT_EQ(*actual, *expected);
  // Bit for bit, and the same as the model that was trained.
  torch::Tensor logits = logitsOf(qat->model, test);
  EXPECT_TRUE(torch::equal(logitsOf(reimported->model, test), logits));
  EXPECT_TRUE(torch::equal(logitsOf(run.model, test), logits));

  // The dequantized checkpoint is a plain Hugging Face one.
  err = exportDequantized(checkpoint, dir + "/dequantized");
  ASSERT_FALSE(err) << err.message();
  BertForSequenceClassification plain(run.config);
  err = loadCheckpointWeights(dir + "/dequantized", *plain);
  ASSERT_FALSE(err) << err.message();
  auto query = [](BertForSequenceClassification &m) {
    return m->bert->encoder->layer->ptr<BertLayerImpl>(0)
        ->attention->self->query;
  };
  EXPECT_TRUE(
      torch::equal(query(plain)->weight,
                   query(reimported->model)->deployedWeight().dequantized()));
  // It lacks the activation quantization, so its logits differ: the
  // comparisons above did run the integer numerics.
  EXPECT_FALSE(torch::equal(logitsOf(plain, test), logits));
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RecipeExportTest,
                         ::testing::Values("q8bert", "sensimix", "ternary"));

// Q8BERT QAT with gradual magnitude pruning to 75% zero 16x4 blocks: the
// exported bundle stores every encoder linear block-sparse (the nonzero
// blocks and a mask, smaller than the dense codes), the pooler and
// classifier dense, and reimports to the trained model's logits bit for
// bit (readStoredWeight decodes the blocks).
/// QAT of `run` with gradual magnitude pruning to `sparsity` (steps 1-4;
/// no encoder linear left dense), then export of its final model to
/// `bundle`.
void pruneTrainAndExport(QatRun &run, const std::string &dir, double sparsity,
                         const std::string &bundle) {
  MagnitudePruningOptions pruning;
  pruning.finalSparsity = sparsity;
  pruning.beginStep = 1;
  pruning.endStep = 4;
  pruning.updateEvery = 1;
  Expected<MagnitudePruner> pruner =
      MagnitudePruner::create(*run.model, pruning);
  ASSERT_TRUE(pruner) << pruner.message();
  EXPECT_TRUE(pruner->skippedNames().empty());
  TrainOptions options = qatOptions(dir);
  options.onStep = [&](const StepReport &report) {
    pruner->afterStep(report.step);
  };
  ASSERT_TRUE(runTraining(*run.task, options));
  ASSERT_FALSE(exportBundle(dir + "/final", bundle));
}

TEST(RecipeTest, PrunedBundleIsBlockSparseAndReimportsExactly) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("pruned-bundle");
  QatRun run = makeQatRun("q8bert", 6);
  std::string bundle = dir + "/bundle";
  ASSERT_NO_FATAL_FAILURE(pruneTrainAndExport(run, dir, 0.75, bundle));

  Expected<QuantConfig> quant = QuantConfig::load(bundle + "/quant.json");
  ASSERT_TRUE(quant) << quant.message();
  Expected<SafetensorsFile> weights =
      SafetensorsFile::open(bundle + "/model.safetensors");
  ASSERT_TRUE(weights) << weights.message();
  Error err = quant->checkTensors(*weights);
  EXPECT_FALSE(err) << err.message();
  int64_t sparse = 0;
  for (const auto &[name, linear] : quant->linears) {
    bool encoder = name.rfind("bert.encoder.", 0) == 0;
    EXPECT_EQ(linear.sparsity.has_value(), encoder) << name;
    if (!linear.sparsity)
      continue;
    ++sparse;
    EXPECT_EQ(linear.sparsity->blockRows, 16);
    EXPECT_EQ(linear.sparsity->blockCols, 4);
    // 75% of the blocks pruned: a quarter of them stored.
    const TensorInfo *codes = weights->find(linear.weight);
    ASSERT_TRUE(codes);
    int64_t blocks = ((linear.outFeatures + 15) / 16) *
                     ((linear.inFeatures + 3) / 4);
    EXPECT_EQ(codes->shape,
              (std::vector<int64_t>{blocks - std::llround(0.75 * blocks), 16, 4}))
        << name;
  }
  EXPECT_EQ(sparse, 12);

  Expected<LoadedModel> reimported = loadModelForEval(bundle);
  ASSERT_TRUE(reimported) << reimported.message();
  TextDataset test = sentimentData(40);
  EXPECT_TRUE(torch::equal(logitsOf(reimported->model, test),
                           logitsOf(run.model, test)));
  std::filesystem::remove_all(dir);
}

// SensiMix pruned: the 1-bit FFN linears in the binary kernel's 32 x 64
// blocks (their pruned blocks binarize to zeros), the 8-bit ones in 16 x 4;
// the bundle keeps both block-sparse and reimports to the same logits.
TEST(RecipeTest, PrunedSensimixBundleKeepsBinaryBlocks) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("pruned-sensimix");
  BertConfig config = tinyConfig(2);
  config.hiddenSize = 64;
  config.intermediateSize = 128;
  QatRun run = makeQatRun("sensimix", 8, config);
  std::string bundle = dir + "/bundle";
  ASSERT_NO_FATAL_FAILURE(pruneTrainAndExport(run, dir, 0.5, bundle));

  Expected<QuantConfig> quant = QuantConfig::load(bundle + "/quant.json");
  ASSERT_TRUE(quant) << quant.message();
  Expected<SafetensorsFile> weights =
      SafetensorsFile::open(bundle + "/model.safetensors");
  ASSERT_TRUE(weights) << weights.message();
  Error err = quant->checkTensors(*weights);
  EXPECT_FALSE(err) << err.message();
  int64_t binary = 0;
  for (const auto &[name, linear] : quant->linears) {
    if (name.rfind("bert.encoder.", 0) != 0)
      continue;
    ASSERT_TRUE(linear.sparsity) << name;
    const TensorInfo *stored = weights->find(linear.weight);
    ASSERT_TRUE(stored);
    if (linear.precision != Precision::Binary) {
      EXPECT_EQ(linear.sparsity->blockRows, 16) << name;
      continue;
    }
    ++binary;
    EXPECT_EQ(linear.sparsity->blockRows, 32) << name;
    EXPECT_EQ(linear.sparsity->blockCols, 64) << name;
    // Half of the 32 x 64 blocks pruned: the other half stored, one word
    // per block row.
    int64_t blocks =
        ((linear.outFeatures + 31) / 32) * ((linear.inFeatures + 63) / 64);
    EXPECT_EQ(stored->shape,
              (std::vector<int64_t>{blocks - std::llround(0.5 * blocks), 32}))
        << name;
  }
  EXPECT_EQ(binary, 2); // layer 1's FFN: the top layer is SensiMix's MP one

  Expected<LoadedModel> reimported = loadModelForEval(bundle);
  ASSERT_TRUE(reimported) << reimported.message();
  TextDataset test = sentimentData(40);
  EXPECT_TRUE(torch::equal(logitsOf(reimported->model, test),
                           logitsOf(run.model, test)));
  std::filesystem::remove_all(dir);
}

TEST(RecipeTest, SensimixBundleIsMixedPrecision) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("sensimix-layout");
  QatRun run = makeQatRun("sensimix", 4);
  TrainOptions options = qatOptions(dir);
  options.epochs = 1;
  ASSERT_TRUE(runTraining(*run.task, options));
  ASSERT_FALSE(exportBundle(dir + "/final", dir + "/bundle"));
  Expected<QuantConfig> quant = QuantConfig::load(dir + "/bundle/quant.json");
  ASSERT_TRUE(quant) << quant.message();
  const LinearQuant &ffn =
      quant->linears.at("bert.encoder.layer.1.intermediate.dense");
  EXPECT_EQ(ffn.precision, Precision::Binary);
  EXPECT_TRUE(ffn.quantizer == Quantizer::BinarySign);
  EXPECT_FALSE(ffn.inputScale);
  const LinearQuant &lower =
      quant->linears.at("bert.encoder.layer.0.intermediate.dense");
  EXPECT_EQ(lower.precision, Precision::I8);
  EXPECT_TRUE(lower.quantizer == Quantizer::SymmetricEma);
  EXPECT_TRUE(lower.inputScale);
  EXPECT_TRUE(
      quant->embeddings.at("bert.embeddings.word_embeddings").quantizer ==
      Quantizer::AsymmetricIndex);
  // Epoch 0 of PT binarizes no weights, so no ABWR term yet.
  EXPECT_TRUE(run.task->binarizedLayers().empty());
  std::filesystem::remove_all(dir);
}

struct Killed {};

TEST(RecipeTest, KilledQatRunResumesExactly) {
  torch::set_num_threads(1);
  std::string full = scratchDir("qat-full"), killed = scratchDir("qat-killed");
  QatRun reference = makeQatRun("sensimix", 21);
  ASSERT_TRUE(runTraining(*reference.task, qatOptions(full)));

  // 2 steps per epoch: killed in epoch 2 (step 5), the state on disk is
  // step 4's, the end of epoch 1.
  QatRun interrupted = makeQatRun("sensimix", 21);
  TrainOptions options = qatOptions(killed);
  options.onStep = [](const StepReport &r) {
    if (r.step == 5)
      throw Killed();
  };
  EXPECT_THROW(runTraining(*interrupted.task, options), Killed);

  QatRun resumed = makeQatRun("sensimix", 99);
  options = qatOptions(killed);
  options.resumeFrom = killed + "/training-state.safetensors";
  Expected<TrainResult> result = runTraining(*resumed.task, options);
  ASSERT_TRUE(result) << result.message();
  auto a = reference.model->named_parameters();
  auto b = resumed.model->named_parameters();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::equal(a[i].value(), b[i].value())) << a[i].key();
  // The activation ranges are restored too.
  auto x = reference.model->named_buffers();
  auto y = resumed.model->named_buffers();
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_TRUE(torch::equal(x[i].value(), y[i].value())) << x[i].key();
  EXPECT_EQ(resumed.task->binarizedLayers(), std::vector<int64_t>{1});
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(killed);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

std::string qatJson(const std::string &entry) {
  return R"({"format_version": 1, "recipe": "q8bert", "linears": {
      "bert.encoder.layer.0.attention.self.query": )" +
         entry + "}}";
}

std::string qatError(const std::string &entry) {
  Expected<QatSpec> spec = QatSpec::fromJson(qatJson(entry), "ckpt/qat.json");
  EXPECT_FALSE(spec);
  return spec ? "" : spec.message();
}

TEST(QatErrorTest, MalformedQatJsonNamesTheField) {
  const std::string at =
      "ckpt/qat.json: linears['bert.encoder.layer.0.attention.self.query']: ";
  EXPECT_EQ(qatError(R"({"quantizer": "int4", "granularity": "tensor",
                        "input": "i8"})"),
            at + "field 'quantizer' must be one of \"symmetric-ema\", "
                 "\"asymmetric-index\", \"twn\", \"binary-sign\", "
                 "\"binary-mean-scale\", got \"int4\"");
  EXPECT_EQ(qatError(R"({"quantizer": "twn", "granularity": "tensor"})"),
            at + "missing field 'input'");
  EXPECT_EQ(qatError(R"({"quantizer": "twn", "granularity": "column",
                        "input": "i8"})"),
            at + "field 'granularity' must be \"tensor\" or \"row\", got "
                 "\"column\"");
  EXPECT_EQ(qatError(R"({"quantizer": "twn", "granularity": "tensor",
                        "input": "i8", "bits": 2})"),
            at + "unknown field 'bits'");
  EXPECT_EQ(qatError(R"({"quantizer": "twn", "granularity": "tensor",
                        "input": "i8", "input_range": -1})"),
            at + "field 'input_range' must be a non-negative number, got -1");
  EXPECT_EQ(qatError(R"({"quantizer": "binary-sign", "granularity": "tensor",
                        "input": "i8"})"),
            at + "quantizer 'binary-sign' runs on binary inputs: field "
                 "'input' must be \"binary\", got \"i8\"");
  Expected<QatSpec> version =
      QatSpec::fromJson(R"({"format_version": 2, "recipe": "x",
                            "linears": {}})",
                        "ckpt/qat.json");
  ASSERT_FALSE(version);
  EXPECT_EQ(version.message(),
            "ckpt/qat.json: field 'format_version' must be 1, got 2");
}

TEST(QatErrorTest, CheckpointsAndBundlesWithMissingPieces) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("qat-errors");
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification model(config);
  ASSERT_FALSE(saveCheckpoint(dir, config, *model, QB_BERT_VOCAB));
  Expected<LoadedModel> plain = loadQatCheckpoint(dir);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.message(), dir + ": no qat.json: not a quantization-aware "
                                   "checkpoint (train one with finetune "
                                   "--recipe)");

  // A module the model does not have.
  ASSERT_FALSE(writeFileAtomically(
      dir + "/qat.json",
      R"({"format_version": 1, "recipe": "q8bert", "linears": {
          "bert.encoder.layer.7.attention.self.query": {
            "quantizer": "symmetric-ema", "granularity": "tensor",
            "input": "i8", "input_range": 1.0}}})"));
  Expected<LoadedModel> unknown = loadQatCheckpoint(dir);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.message(),
            dir + "/qat.json: qat spec: linears: no module "
                  "'bert.encoder.layer.7.attention.self.query' in the model");

  // Uncalibrated int8 inputs cannot be exported.
  ASSERT_FALSE(writeFileAtomically(
      dir + "/qat.json",
      R"({"format_version": 1, "recipe": "q8bert", "linears": {
          "bert.encoder.layer.1.output.dense": {
            "quantizer": "symmetric-ema", "granularity": "tensor",
            "input": "i8"}}})"));
  Error uncalibrated = exportBundle(dir, dir + "-bundle");
  ASSERT_TRUE(uncalibrated);
  EXPECT_EQ(uncalibrated.message(),
            dir + ": linear 'bert.encoder.layer.1.output.dense' quantizes its "
                  "inputs to int8 but its activation range was never "
                  "calibrated (no quantized training step ran)");

  // A bundle whose int8 linear has no input_scale quantizes its inputs
  // dynamically, one scale per row.
  ASSERT_FALSE(writeFileAtomically(
      dir + "/qat.json",
      R"({"format_version": 1, "recipe": "q8bert", "linears": {
          "bert.encoder.layer.1.output.dense": {
            "quantizer": "symmetric-ema", "granularity": "tensor",
            "input": "i8", "input_range": 2.0}}})"));
  ASSERT_FALSE(exportBundle(dir, dir + "-bundle"));
  Expected<QuantConfig> quant = QuantConfig::load(dir + "-bundle/quant.json");
  ASSERT_TRUE(quant);
  quant->linears.at("bert.encoder.layer.1.output.dense").inputScale.reset();
  ASSERT_FALSE(quant->save(dir + "-bundle/quant.json"));
  Expected<LoadedModel> noScale = loadBundle(dir + "-bundle");
  ASSERT_TRUE(noScale) << noScale.message();
  auto *dense = noScale->model->named_modules()["bert.encoder.layer.1.output.dense"]
                    ->as<QuantLinearImpl>();
  ASSERT_TRUE(dense && dense->spec());
  EXPECT_EQ(dense->spec()->input, InputQuant::DynamicInt8);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir + "-bundle");
}

TEST(QatErrorTest, UnknownRecipeAndBadRecipeConfig) {
  Expected<RecipeKind> unknown = parseRecipeName("q4bert");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.message(),
            "unknown recipe 'q4bert' (expected q8bert, sensimix or ternary)");

  std::string dir = scratchDir("recipe-config");
  std::filesystem::create_directories(dir);
  std::string path = dir + "/recipe.json";
  auto configError = [&](const std::string &text) {
    EXPECT_FALSE(writeFileAtomically(path, text));
    RecipeOptions options;
    Error err = readRecipeConfig(path, options);
    EXPECT_TRUE(err);
    return err.message();
  };
  EXPECT_EQ(configError(R"({"recipe": "sensimix", "mp_layer": 3})"),
            path + ": unknown field 'mp_layer'");
  EXPECT_EQ(configError(R"({"abwr": "yes"})"),
            path + ": field 'abwr' must be true or false, got \"yes\"");
  EXPECT_EQ(configError(R"({"recipe": "binarybert"})"),
            path + ": field 'recipe': unknown recipe 'binarybert' (expected "
                   "q8bert, sensimix or ternary)");

  EXPECT_FALSE(writeFileAtomically(
      path, R"({"recipe": "sensimix", "mp_layers": 1, "abwr": false,
                "binary_quantizer": "binary-mean-scale"})"));
  RecipeOptions options;
  ASSERT_FALSE(readRecipeConfig(path, options));
  EXPECT_TRUE(options.kind == RecipeKind::SensiMix);
  EXPECT_EQ(options.mpLayers, 1);
  EXPECT_FALSE(options.abwr);
  EXPECT_EQ(options.binaryQuantizer, Quantizer::BinaryMeanScale);

  // The MP layers belong to sensimix.
  options.kind = RecipeKind::Q8Bert;
  Expected<ResolvedRecipe> wrong =
      resolveRecipe(options, tinyConfig(2), nullptr);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.message(),
            "the MP layers and module precisions (mp_layers, sensitivity, "
            "assign, module_precisions) apply to the sensimix recipe only, "
            "not q8bert");

  // The assignment keys.
  EXPECT_FALSE(writeFileAtomically(
      path, R"({"recipe": "sensimix", "assign": "random", "assign_seed": 4,
                "bits_per_weight": 4.5, "precisions": ["binary", "ternary"],
                "module_precisions": {"layer.1.attention": "binary",
                                      "layer.0.ffn": "ternary"}})"));
  RecipeOptions assigned;
  ASSERT_FALSE(readRecipeConfig(path, assigned));
  EXPECT_EQ(assigned.assign, Assignment::Random);
  EXPECT_EQ(assigned.assignSeed, 4u);
  EXPECT_EQ(assigned.bitsPerWeight, 4.5);
  EXPECT_EQ(assigned.precisions,
            (std::vector<Precision>{Precision::Binary, Precision::Ternary}));
  EXPECT_EQ(assigned.modulePrecisions,
            (std::map<EncoderModule, Precision>{
                {{1, BertModule::Attention}, Precision::Binary},
                {{0, BertModule::Ffn}, Precision::Ternary}}));
  EXPECT_EQ(configError(R"({"assign": "greedy"})"),
            path + ": field 'assign' must be \"layers\", \"budget\" or "
                   "\"random\", got \"greedy\"");
  EXPECT_EQ(configError(R"({"bits_per_weight": 0})"),
            path + ": field 'bits_per_weight' must be a number in (0, 32], "
                   "got 0");
  EXPECT_EQ(configError(R"({"precisions": ["i8", "f32"]})"),
            path + ": field 'precisions' must list \"i8\", \"ternary\" or "
                   "\"binary\", got [\"i8\",\"f32\"]");
  EXPECT_EQ(configError(R"({"module_precisions": {"layer.1.ffm": "binary"}})"),
            path + ": field 'module_precisions': 'layer.1.ffm' is not a "
                   "module name (expected layer.N.attention or layer.N.ffn)");
  EXPECT_EQ(configError(R"({"module_precisions": {"layer.1.ffn": "f16"}})"),
            path + ": field 'module_precisions': 'layer.1.ffn' must be "
                   "\"i8\", \"ternary\" or \"binary\", got \"f16\"");
  std::filesystem::remove_all(dir);
}

} // namespace
