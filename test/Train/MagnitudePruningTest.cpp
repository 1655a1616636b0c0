//===- MagnitudePruningTest.cpp - Gradual magnitude pruning tests ---------===//
//
// The cubic schedule against its formula (update points, the ends, an
// initial sparsity); masks against hand-made weights (unstructured and
// block, edge blocks, ties); the pruner on the tiny encoder (only encoder
// linears, exact block counts, pruned weights stay zero through a training
// run, the same masks recomputed after a resume); and the errors.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/MagnitudePruning.h"
#include "quantbert/Train/Trainer.h"
#include "TinyModels.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

MagnitudePruningOptions schedule(double final, int64_t begin, int64_t end,
                                 int64_t every, SparsityBlock block = {}) {
  MagnitudePruningOptions o;
  o.finalSparsity = final;
  o.beginStep = begin;
  o.endStep = end;
  o.updateEvery = every;
  o.block = block;
  return o;
}

TEST(MagnitudePruningTest, CubicScheduleHoldsBetweenUpdatePoints) {
  MagnitudePruningOptions o = schedule(0.8, 10, 50, 10);
  auto cubic = [&](int64_t t) {
    double r = 1 - double(t - 10) / 40.0;
    return 0.8 - 0.8 * r * r * r;
  };
  EXPECT_EQ(scheduledSparsity(o, 0), 0);
  EXPECT_EQ(scheduledSparsity(o, 9), 0);
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 10), 0); // s_i at t_0
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 19), 0);
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 20), cubic(20));
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 29), cubic(20));
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 30), cubic(30));
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 49), cubic(40));
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 50), 0.8);
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 1000), 0.8);
  // Most of the pruning happens early: after a quarter of the window,
  // 1 - 0.75^3 = 58% of the way.
  EXPECT_NEAR(cubic(20) / 0.8, 1 - 0.75 * 0.75 * 0.75, 1e-12);

  o.initialSparsity = 0.3;
  EXPECT_EQ(scheduledSparsity(o, 9), 0);
  EXPECT_DOUBLE_EQ(scheduledSparsity(o, 10), 0.3);
  double previous = 0;
  for (int64_t t = 0; t <= 60; ++t) {
    double s = scheduledSparsity(o, t);
    EXPECT_GE(s, previous) << "step " << t;
    previous = s;
  }
  // An update interval that does not divide the window: t_end still counts.
  MagnitudePruningOptions odd = schedule(0.5, 0, 10, 4);
  EXPECT_DOUBLE_EQ(scheduledSparsity(odd, 9), 0.5 - 0.5 * std::pow(0.2, 3));
  EXPECT_DOUBLE_EQ(scheduledSparsity(odd, 10), 0.5);
}

TEST(MagnitudePruningTest, UnstructuredMaskDropsTheSmallestWeights) {
  torch::Tensor w = torch::tensor({{0.5f, -0.1f, 3.0f}, {-2.0f, 0.05f, 0.2f}});
  torch::Tensor mask = magnitudeMask(w, 0.5, {1, 1});
  EXPECT_TRUE(mask.equal(torch::tensor({{1.0f, 0.0f, 1.0f}, {1.0f, 0.0f, 0.0f}})))
      << mask;
  EXPECT_TRUE(magnitudeMask(w, 0.0, {1, 1}).equal(torch::ones_like(w)));
  // round(0.9 * 6) = 5 of 6.
  EXPECT_EQ(magnitudeMask(w, 0.9, {1, 1}).sum().item<float>(), 1.0f);
}

TEST(MagnitudePruningTest, BlockMaskRanksBlocksByNormWithEdgeBlocks) {
  // 5 x 7 weight in 2 x 3 blocks: 3 x 3 blocks, the last row and column of
  // blocks smaller. Block (i, j) holds the value i * 3 + j + 1, except block
  // (2, 2) (one element) which holds 100.
  torch::Tensor w = torch::zeros({5, 7});
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 7; ++c)
      w[r][c] = float((r / 2) * 3 + (c / 3) + 1);
  w[4][6] = 100.0f;
  torch::Tensor mask = magnitudeMask(w, 4.0 / 9.0, {2, 3});
  // Norms: value * sqrt(elements). Edge blocks have fewer elements: block
  // (2, 0) = 7 * sqrt(3) = 12.1, (0, 2) = 3 * sqrt(2) = 4.2, (1, 2) = 6 *
  // sqrt(2) = 8.5; full blocks k * sqrt(6): 1 -> 2.4, 2 -> 4.9, 4 -> 9.8,
  // 5 -> 12.2. The 4 smallest: (0, 0), (0, 2), (0, 1), (1, 2).
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 7; ++c) {
      int64_t br = r / 2, bc = c / 3;
      bool pruned = br == 0 || (br == 1 && bc == 2);
      EXPECT_EQ(mask[r][c].item<float>(), pruned ? 0.0f : 1.0f)
          << "(" << r << ", " << c << ")";
    }
  EXPECT_DOUBLE_EQ(blockSparsity(w * mask, {2, 3}), 4.0 / 9.0);
  // Ties go to the first blocks in row-major order.
  torch::Tensor flat = torch::ones({4, 4});
  torch::Tensor tied = magnitudeMask(flat, 0.5, {2, 2});
  EXPECT_TRUE(tied.slice(0, 0, 2).eq(0).all().item<bool>()) << tied;
  EXPECT_TRUE(tied.slice(0, 2, 4).eq(1).all().item<bool>()) << tied;
}

BertForSequenceClassification tinyModel(uint64_t seed) {
  torch::manual_seed(seed);
  BertForSequenceClassification model(tinyConfig(2));
  initBertWeights(*model);
  return model;
}

TEST(MagnitudePruningTest, PrunesOnlyEncoderLinearsToExactBlockCounts) {
  BertForSequenceClassification model = tinyModel(1);
  Expected<MagnitudePruner> pruner =
      MagnitudePruner::create(*model, schedule(0.75, 0, 0, 1, {16, 4}));
  ASSERT_TRUE(pruner) << pruner.message();
  std::vector<std::string> names = pruner->linearNames();
  ASSERT_EQ(names.size(), 12u); // 6 per layer
  EXPECT_EQ(names[0], "bert.encoder.layer.0.attention.self.query");
  torch::Tensor pooler = model->bert->pooler->dense->weight.clone();
  pruner->afterStep(1);
  EXPECT_DOUBLE_EQ(pruner->sparsity(), 0.75);
  for (const auto &item : model->named_modules()) {
    auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get());
    if (!linear || item.key().rfind("bert.encoder.", 0) != 0)
      continue;
    const torch::Tensor &w = linear->weight;
    int64_t blocks = (w.size(0) + 15) / 16 * ((w.size(1) + 3) / 4);
    EXPECT_DOUBLE_EQ(blockSparsity(w, {16, 4}),
                     double(std::llround(0.75 * blocks)) / double(blocks))
        << item.key();
  }
  EXPECT_TRUE(model->bert->pooler->dense->weight.equal(pooler));
  EXPECT_EQ(model->classifier->weight.eq(0).sum().item<int64_t>(), 0);
}

// A training run with the pruner after every step: the schedule reaches its
// final sparsity, the pruned weights are exactly zero at the end (the
// optimizer moved them after every step; the pruner zeroed them again),
// and a new pruner on the trained model (a resume) finds the same masks.
TEST(MagnitudePruningTest, PrunedWeightsStayZeroThroughTraining) {
  torch::set_num_threads(1);
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  BertForSequenceClassification model = tinyModel(2);
  ClassificationTask task(tinyConfig(2), model, *tokenizer, QB_BERT_VOCAB,
                          sentimentData(64), std::nullopt, 16);
  Expected<MagnitudePruner> pruner =
      MagnitudePruner::create(*model, schedule(0.5, 2, 14, 3, {1, 4}));
  ASSERT_TRUE(pruner) << pruner.message();
  TrainOptions options;
  options.batchSize = 16;
  options.maxSteps = 20;
  options.learningRate = 2e-3;
  options.outputDir = scratchDir("gmp");
  std::vector<double> seen;
  options.onStep = [&](const StepReport &report) {
    pruner->afterStep(report.step);
    seen.push_back(pruner->sparsity());
  };
  Expected<TrainResult> result = runTraining(task, options);
  ASSERT_TRUE(result) << result.message();
  ASSERT_EQ(seen.size(), 20u);
  EXPECT_EQ(seen[0], 0);                   // step 1 < begin
  EXPECT_EQ(seen[1], 0);                   // step 2: s_i = 0
  EXPECT_GT(seen[4], 0);                   // step 5: first update
  EXPECT_EQ(seen[4], seen[6]);             // held until step 8
  EXPECT_DOUBLE_EQ(seen[13], 0.5);         // step 14 = end
  EXPECT_DOUBLE_EQ(seen[19], 0.5);
  std::vector<torch::Tensor> trained;
  for (const std::string &name : pruner->linearNames()) {
    auto *linear = dynamic_cast<QuantLinearImpl *>(
        model->named_modules()[name].get());
    ASSERT_NE(linear, nullptr);
    torch::Tensor w = linear->weight.detach().clone();
    int64_t blocks = w.size(0) * (w.size(1) / 4);
    EXPECT_DOUBLE_EQ(blockSparsity(w, {1, 4}),
                     double(std::llround(0.5 * blocks)) / double(blocks))
        << name;
    trained.push_back(w);
  }
  Expected<MagnitudePruner> resumed =
      MagnitudePruner::create(*model, schedule(0.5, 2, 14, 3, {1, 4}));
  ASSERT_TRUE(resumed) << resumed.message();
  resumed->afterStep(20);
  std::vector<std::string> names = resumed->linearNames();
  for (size_t i = 0; i < names.size(); ++i) {
    auto *linear = dynamic_cast<QuantLinearImpl *>(
        model->named_modules()[names[i]].get());
    EXPECT_TRUE(linear->weight.equal(trained[i])) << names[i];
  }
  std::filesystem::remove_all(options.outputDir);
}

TEST(MagnitudePruningTest, RejectsWhatCannotBePruned) {
  EXPECT_EQ(validate(schedule(1.0, 0, 1, 1)).message(),
            "final sparsity 1.000000 is not in [0, 1)");
  MagnitudePruningOptions o = schedule(0.5, 5, 3, 1);
  EXPECT_NE(validate(o).message().find("need 0 <= begin step <= end step"),
            std::string::npos);
  o = schedule(0.5, 0, 3, 0);
  EXPECT_NE(validate(o).message().find("update interval 0"), std::string::npos);
  o = schedule(0.5, 0, 3, 1);
  o.initialSparsity = 0.6;
  EXPECT_NE(validate(o).message().find("initial sparsity"), std::string::npos);

  Expected<SparsityBlock> block = parseSparsityBlock("16x4");
  ASSERT_TRUE(block);
  EXPECT_EQ(block->rows, 16);
  EXPECT_EQ(block->cols, 4);
  for (const char *bad : {"16", "0x4", "16x", "x4", "a x b", "16x4x2"})
    EXPECT_FALSE(parseSparsityBlock(bad)) << bad;

  BertForSequenceClassification binary = tinyModel(3);
  binary->bert->encoder->layer[1]->as<BertLayer>()->intermediate->dense->setSpec(
      LinearQuantSpec{Quantizer::BinaryMeanScale, Granularity::PerRow,
                      InputQuant::Sign});
  // A BWN linear is left dense (its mean scale would count the zeros); the
  // rest prune.
  Expected<MagnitudePruner> mixed =
      MagnitudePruner::create(*binary, schedule(0.5, 0, 1, 1));
  ASSERT_TRUE(mixed) << mixed.message();
  EXPECT_EQ(mixed->skippedNames(), (std::vector<std::string>{
                                       "bert.encoder.layer.1.intermediate.dense"}));
  EXPECT_EQ(mixed->linearNames().size(), 11u);
  mixed->afterStep(1);
  auto &ffn = binary->bert->encoder->layer[1]->as<BertLayer>()->intermediate->dense;
  EXPECT_EQ(blockSparsity(ffn->weight, {1, 1}), 0.0);
  EXPECT_EQ(blockSparsity(binary->bert->encoder->layer[1]
                              ->as<BertLayer>()->output->dense->weight,
                          {1, 1}),
            0.5);

  // A 1-bit sign linear prunes in the binary kernel's 32 x 64 blocks,
  // whatever the block option, and its pruned blocks binarize to zeros.
  BertForSequenceClassification signs = tinyModel(3);
  auto &signFfn =
      signs->bert->encoder->layer[1]->as<BertLayer>()->intermediate->dense;
  signFfn->setSpec(LinearQuantSpec{Quantizer::BinarySign, Granularity::PerTensor,
                                   InputQuant::Sign});
  ASSERT_EQ(signFfn->weight.size(0), 64);
  Expected<MagnitudePruner> signPruner =
      MagnitudePruner::create(*signs, schedule(0.5, 0, 1, 1));
  ASSERT_TRUE(signPruner) << signPruner.message();
  EXPECT_TRUE(signPruner->skippedNames().empty());
  EXPECT_EQ(signPruner->binaryBlockNames(),
            (std::vector<std::string>{"bert.encoder.layer.1.intermediate.dense"}));
  signPruner->afterStep(1);
  EXPECT_EQ(blockSparsity(signFfn->weight, {32, 64}), 0.5);
  torch::Tensor keep = binaryBlockKeep(signFfn->weight);
  ASSERT_TRUE(keep.defined());
  EXPECT_EQ(keep.sum().item<double>(), 32.0 * signFfn->weight.size(1));
  QuantizedMatrix codes = quantizeMatrix(signFfn->weight, Quantizer::BinarySign,
                                         Granularity::PerTensor);
  EXPECT_TRUE(torch::equal(codes.codes.ne(0).to(torch::kFloat32),
                           keep.to(torch::kFloat32)));
  EXPECT_FALSE(binaryBlockKeep(torch::ones({64, 32})).defined());

  BertForSequenceClassification asymmetric = tinyModel(3);
  asymmetric->bert->encoder->layer[0]->as<BertLayer>()->output->dense->setSpec(
      LinearQuantSpec{Quantizer::AsymmetricIndex, Granularity::PerTensor,
                      InputQuant::Float});
  Expected<MagnitudePruner> refused =
      MagnitudePruner::create(*asymmetric, schedule(0.5, 0, 1, 1));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.message().find("cannot prune "
                                   "bert.encoder.layer.0.output.dense"),
            std::string::npos)
      << refused.message();

  BertForSequenceClassification factorized = tinyModel(4);
  factorized->bert->encoder->layer[0]->as<BertLayer>()->output->dense->setRank(8);
  refused = MagnitudePruner::create(*factorized, schedule(0.5, 0, 1, 1));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.message().find("low-rank factorized"), std::string::npos)
      << refused.message();
}

} // namespace
