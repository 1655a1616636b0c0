//===- LowRankTest.cpp - Low-rank factorization tests ---------------------===//
//
// The truncated SVD's error against the discarded singular values, the
// three rank policies on known spectra, a full-rank factorization that
// keeps the logits, a factorized checkpoint's round trip, pruning through a
// factorized linear, and recipes quantizing both factors.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/LowRank.h"
#include "quantbert/Train/Pruning.h"
#include "quantbert/Train/Recipes.h"
#include "TinyModels.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

TEST(LowRankTest, SvdErrorIsTheDiscardedSingularValues) {
  torch::manual_seed(1);
  torch::Tensor weight = torch::randn({48, 32}, torch::kFloat64);
  for (int64_t rank : {1, 10, 31, 32}) {
    SvdFactors f = truncatedSvd(weight, rank);
    EXPECT_EQ(f.up.sizes(), torch::IntArrayRef({48, rank}));
    EXPECT_EQ(f.down.sizes(), torch::IntArrayRef({rank, 32}));
    double error = (weight - f.up.mm(f.down)).pow(2).sum().item<double>();
    double discarded =
        f.singularValues.narrow(0, rank, 32 - rank).pow(2).sum().item<double>();
    EXPECT_NEAR(error, discarded, 1e-9 * weight.pow(2).sum().item<double>())
        << "rank " << rank;
    // The singular values are split evenly: both factors have the same
    // Frobenius norm.
    EXPECT_NEAR(f.up.norm().item<double>(), f.down.norm().item<double>(),
                1e-9);
  }
  // A float32 weight gets float32 factors.
  SvdFactors single = truncatedSvd(weight.to(torch::kFloat), 4);
  EXPECT_EQ(single.up.scalar_type(), torch::kFloat);
}

TEST(LowRankTest, PoliciesOnKnownSpectra) {
  // 100 x 60 (largest useful rank 37) and 60 x 60 (29).
  std::map<std::string, Spectrum> spectra;
  spectra["a"] = {100, 60, {}};
  spectra["b"] = {60, 60, {}};
  for (int64_t i = 0; i < 60; ++i) {
    spectra["a"].values.push_back(std::pow(0.5, double(i))); // steep
    spectra["b"].values.push_back(1.0 / double(i + 1));      // flat
  }
  EXPECT_EQ(largestUsefulRank(100, 60), 37);
  EXPECT_EQ(largestUsefulRank(60, 60), 29);

  RankPolicy energy;
  energy.energy = 0.9;
  auto ranks = chooseRanks(spectra, energy);
  ASSERT_TRUE(ranks) << ranks.message();
  // a: 1 - 0.25^r >= 0.9 at r = 2; b: sum_{i<=r} 1/i^2 >= 0.9 * pi^2/6 at
  // r = 6 (1.4914 vs 1.4804).
  EXPECT_EQ(ranks->at("a"), 2);
  EXPECT_EQ(ranks->at("b"), 6);
  energy.energy = 0.9999;
  ranks = chooseRanks(spectra, energy);
  EXPECT_EQ(ranks->at("b"), 0) << "the rank saves nothing: kept whole";

  RankPolicy fixed;
  fixed.rank = 30;
  ranks = chooseRanks(spectra, fixed);
  EXPECT_EQ(ranks->at("a"), 30);
  EXPECT_EQ(ranks->at("b"), 0);

  // Budget 0.2 of 9600 weights = 1920: rank 1 each costs 160 + 120; the
  // rest goes to the largest s^2 / (in + out); b's flat spectrum wins over
  // a's steep one after a's first few values.
  RankPolicy budget;
  budget.budget = 0.2;
  ranks = chooseRanks(spectra, budget);
  ASSERT_TRUE(ranks) << ranks.message();
  int64_t used = ranks->at("a") * 160 + ranks->at("b") * 120;
  EXPECT_LE(used, 1920);
  EXPECT_GT(used, 1920 - 160) << "the budget is spent";
  EXPECT_GT(ranks->at("b"), ranks->at("a"));
  // Greedy optimality: the next value of either would cost more per weight
  // than the smallest taken value of the other.
  double nextA = std::pow(0.25, double(ranks->at("a"))) / 160;
  double lastB = 1.0 / std::pow(double(ranks->at("b")), 2) / 120;
  EXPECT_LE(nextA, lastB);

  RankPolicy none;
  EXPECT_EQ(chooseRanks(spectra, none).message(),
            "low-rank: choose ranks by exactly one of energy, rank and budget");
  budget.budget = 0.01;
  EXPECT_EQ(chooseRanks(spectra, budget).message(),
            "low-rank: a budget of 0.010000 is below rank 1 for every linear");
}

TEST(LowRankTest, FactorizedModelKeepsLogitsAndRoundTrips) {
  torch::set_num_threads(1);
  BertConfig config = tinyConfig(2);
  torch::manual_seed(2);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  TextDataset data = sentimentData(10);
  torch::Tensor before = logitsOf(model, data);

  // Rank 16 saves nothing on the 32 x 32 attention linears (largest useful
  // rank 15): they stay whole, while the FFN's 64 x 32 and 32 x 64 (21)
  // take it.
  RankPolicy policy;
  policy.rank = 16;
  auto report = factorizeModel(model->bert, config, LowRankScope::All, policy);
  ASSERT_TRUE(report) << report.message();
  EXPECT_EQ(report->size(), 12u);
  EXPECT_EQ(config.lowRank.size(), 4u);
  EXPECT_FALSE(config.rankOf("bert.encoder.layer.0.attention.self.query"));
  for (const FactorizedLinear &linear : *report)
    if (linear.rank) {
      EXPECT_GT(linear.relativeError, 0.1) << linear.module;
      EXPECT_LT(linear.relativeError, 1.0) << linear.module;
    }
  auto &layer0 = *model->bert->encoder->layer[0]->as<BertLayer>();
  EXPECT_EQ(layer0.intermediate->dense->rank(), 16);
  EXPECT_EQ(layer0.intermediate->dense->weight.sizes(),
            torch::IntArrayRef({64, 16}));
  EXPECT_EQ(layer0.intermediate->dense->down->weight.sizes(),
            torch::IntArrayRef({16, 32}));
  torch::Tensor factorized = logitsOf(model, data);
  EXPECT_FALSE(torch::allclose(factorized, before, 1e-6, 1e-7))
      << "rank 16 of random matrices changes the logits";

  std::string dir = scratchDir("low-rank");
  ASSERT_FALSE(saveCheckpoint(dir, config, *model, QB_BERT_VOCAB));
  Expected<BertConfig> loadedConfig = loadCheckpointConfig(dir);
  ASSERT_TRUE(loadedConfig) << loadedConfig.message();
  EXPECT_EQ(loadedConfig->lowRank, config.lowRank);
  EXPECT_EQ(loadedConfig->rankOf("bert.encoder.layer.1.output.dense"), 16);
  BertForSequenceClassification loaded(*loadedConfig);
  ASSERT_FALSE(loadCheckpointWeights(dir, *loaded, LoadPolicy{}));
  EXPECT_TRUE(torch::equal(logitsOf(loaded, data), factorized));
  std::filesystem::remove_all(dir);

  EXPECT_EQ(factorizeModel(model->bert, config, LowRankScope::Ffn, policy)
                .message(),
            "low-rank: bert.encoder.layer.0.intermediate.dense is already "
            "factorized");
}

TEST(LowRankTest, FullRankFactorsComputeTheSameModel) {
  torch::set_num_threads(1);
  BertConfig config = tinyConfig(2);
  torch::manual_seed(3);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  TextDataset data = sentimentData(10);
  torch::Tensor before = logitsOf(model, data);
  // Factor by hand at full rank 32 (more weights, but exact).
  auto &dense = *model->bert->encoder->layer[1]->as<BertLayer>()->output->dense;
  torch::Tensor weight = dense.weight.detach().clone();
  SvdFactors f = truncatedSvd(weight, 32);
  dense.setRank(32);
  {
    torch::NoGradGuard noGrad;
    dense.weight.set_data(f.up);
    dense.down->weight.set_data(f.down);
  }
  EXPECT_TRUE(torch::allclose(logitsOf(model, data), before, 1e-5, 1e-6));
}

TEST(LowRankTest, PruningSlicesTheDownFactorsInputs) {
  torch::set_num_threads(1);
  BertConfig config = tinyConfig(2);
  torch::manual_seed(4);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  RankPolicy policy;
  policy.rank = 8;
  ASSERT_TRUE(factorizeModel(model->bert, config, LowRankScope::Ffn, policy));
  TextDataset data = sentimentData(10);
  auto &layer = *model->bert->encoder->layer[0]->as<BertLayer>();
  torch::Tensor gate = torch::ones({64});
  gate[3] = 0;
  gate[40] = 0;
  layer.intermediate->neuronGate = gate;
  torch::Tensor gated = logitsOf(model, data);
  layer.intermediate->neuronGate = torch::Tensor();
  ASSERT_FALSE(pruneNeurons(model->bert, config, 0, {3, 40}));
  EXPECT_EQ(layer.intermediate->dense->weight.sizes(),
            torch::IntArrayRef({62, 8})) << "the up factor loses rows";
  EXPECT_EQ(layer.output->dense->down->weight.sizes(),
            torch::IntArrayRef({8, 62})) << "the down factor loses columns";
  EXPECT_EQ(layer.output->dense->inFeatures(), 62);
  EXPECT_TRUE(torch::allclose(logitsOf(model, data), gated, 1e-5, 1e-6));
}

TEST(LowRankTest, RecipesQuantizeBothFactors) {
  BertConfig config = tinyConfig(2);
  config.lowRank["bert.encoder.layer.1.intermediate.dense"] = 8;
  RecipeOptions options;
  options.kind = RecipeKind::SensiMix;
  options.mpLayers = 1;
  Expected<ResolvedRecipe> recipe = resolveRecipe(options, config, nullptr);
  ASSERT_TRUE(recipe) << recipe.message();
  const auto &linears = recipe->spec.linears;
  ASSERT_TRUE(linears.count("bert.encoder.layer.1.intermediate.dense.down"));
  EXPECT_EQ(linears.at("bert.encoder.layer.1.intermediate.dense.down").weight,
            linears.at("bert.encoder.layer.1.intermediate.dense").weight);
  EXPECT_FALSE(linears.count("bert.encoder.layer.0.intermediate.dense.down"));
  BertForSequenceClassification model(config);
  EXPECT_FALSE(applyQatSpec(*model, recipe->spec));
}

TEST(LowRankTest, ConfigNamesBadEntries) {
  BertConfig config = tinyConfig(2);
  config.lowRank["bert.encoder.layer.2.output.dense"] = 4;
  EXPECT_EQ(config.validate().message(),
            "config.json: field 'low_rank_linears' names "
            "'bert.encoder.layer.2.output.dense', not an encoder linear "
            "(bert.encoder.layer.N.attention.self.query, ..., output.dense) "
            "of a stored layer below 2");
  config.lowRank.clear();
  config.lowRank["bert.pooler.dense"] = 4;
  EXPECT_FALSE(config.validate().message().empty());
  config.lowRank.clear();
  config.lowRank["bert.encoder.layer.01.output.dense"] = 4;
  EXPECT_FALSE(config.validate().message().empty())
      << "a layer number other than rankOf's spelling would be ignored";
  config.lowRank.clear();
  config.lowRank["bert.encoder.layer.1.attention.self.query"] = 33;
  EXPECT_EQ(config.validate().message(),
            "config.json: field "
            "'low_rank_linears[\"bert.encoder.layer.1.attention.self.query\"]' "
            "must be at most the linear's smaller side (32), got 33");
  config.lowRank.clear();
  config.lowRank["bert.encoder.layer.0.output.dense"] = 0;
  EXPECT_EQ(config.validate().message(),
            "config.json: field "
            "'low_rank_linears[\"bert.encoder.layer.0.output.dense\"]' must "
            "be a positive integer, got 0");
}

} // namespace
