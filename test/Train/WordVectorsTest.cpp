//===- WordVectorsTest.cpp - PPMI-SVD word vectors against references -----===//

#include "quantbert/Train/WordVectors.h"
#include "quantbert/Train/BertModel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace quantbert;
using namespace quantbert::train;

namespace {

TEST(WordVectorsTest, CooccurrenceCountsMatchHandCount) {
  // Line 0: 1 2 3; line 1: 2 1. Rows 1, 2, 3; contexts 1, 2; token 4 never
  // occurs and windows stop at line ends.
  std::vector<std::vector<int32_t>> lines = {{1, 2, 3}, {2, 1}};
  torch::Tensor w1 = cooccurrenceCounts(lines, {1, 2, 3}, {1, 2}, 5, 1);
  EXPECT_TRUE(torch::equal(w1, torch::tensor({{0.f, 2.f},
                                              {2.f, 0.f},
                                              {0.f, 1.f}})))
      << w1;
  torch::Tensor w2 = cooccurrenceCounts(lines, {1, 2, 3}, {1, 2}, 5, 2);
  EXPECT_TRUE(torch::equal(w2, torch::tensor({{0.f, 2.f},
                                              {2.f, 0.f},
                                              {1.f, 1.f}})))
      << w2;
}

TEST(WordVectorsTest, PositivePmiMatchesScalarReference) {
  torch::manual_seed(3);
  torch::Tensor counts = torch::randint(0, 4, {7, 5}).to(torch::kFloat);
  counts[2] = 0; // a row without contexts stays zero
  double alpha = 0.75;
  torch::Tensor ppmi = positivePmi(counts, alpha);
  auto c = counts.accessor<float, 2>();
  double total = 0, smoothedTotal = 0;
  std::vector<double> rowSum(7, 0), colSum(5, 0);
  for (int r = 0; r < 7; ++r)
    for (int k = 0; k < 5; ++k) {
      total += c[r][k];
      rowSum[r] += c[r][k];
      colSum[k] += c[r][k];
    }
  for (int k = 0; k < 5; ++k)
    smoothedTotal += std::pow(colSum[k], alpha);
  for (int r = 0; r < 7; ++r)
    for (int k = 0; k < 5; ++k) {
      double expected = 0;
      if (c[r][k] > 0) {
        double pmi = std::log((c[r][k] / total) /
                              ((rowSum[r] / total) *
                               (std::pow(colSum[k], alpha) / smoothedTotal)));
        expected = std::max(0.0, pmi);
      }
      EXPECT_NEAR(ppmi[r][k].item<double>(), expected, 1e-6)
          << "row " << r << " column " << k;
    }
}

TEST(WordVectorsTest, RandomizedSvdMatchesExactSvd) {
  // A 60 x 40 matrix with singular values 2^-i: the leading 5 triplets.
  torch::manual_seed(5);
  auto orthonormal = [](int64_t m, int64_t n) {
    return std::get<0>(torch::linalg_qr(torch::randn({m, n}), "reduced"));
  };
  torch::Tensor u = orthonormal(60, 40), v = orthonormal(40, 40);
  torch::Tensor s = torch::pow(2.0, -torch::arange(40).to(torch::kFloat));
  torch::Tensor matrix = u.mm(torch::diag(s)).mm(v.t());
  auto [approxU, approxS] = randomizedSvd(matrix, 5, 8, 2, 42);
  ASSERT_EQ(approxU.sizes(), (std::vector<int64_t>{60, 5}));
  ASSERT_EQ(approxS.sizes(), (std::vector<int64_t>{5}));
  EXPECT_TRUE(torch::allclose(approxS, s.narrow(0, 0, 5), 1e-4, 1e-6))
      << approxS;
  // Each vector equals the exact one up to sign.
  torch::Tensor overlap = approxU.t().mm(u.narrow(1, 0, 5)).abs();
  EXPECT_TRUE(torch::allclose(overlap, torch::eye(5), 0, 1e-3)) << overlap;
}

TEST(WordVectorsTest, TokensSharingContextsGetCloseVectors) {
  // Two topics: lines draw tokens 10-19 or tokens 20-29 only. Tokens 30 and
  // 31 occur fewer than minCount times and get no vector.
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> lines;
  for (int i = 0; i < 400; ++i) {
    int32_t base = (i % 2) ? 20 : 10;
    std::vector<int32_t> line;
    for (int j = 0; j < 12; ++j)
      line.push_back(base + int32_t(rng() % 10));
    lines.push_back(line);
  }
  lines.push_back({30, 31, 30});
  PpmiSvdOptions options;
  options.dim = 4;
  options.window = 3;
  options.minCount = 5;
  Expected<WordVectors> vectors = ppmiSvdVectors(lines, 40, options);
  ASSERT_TRUE(vectors) << vectors.message();
  ASSERT_EQ(vectors->vectors.sizes(), (std::vector<int64_t>{40, 4}));
  for (int id = 0; id < 40; ++id) {
    bool expected = id >= 10 && id < 30;
    EXPECT_EQ(vectors->known[id].item<bool>(), expected) << "token " << id;
    if (!expected) {
      EXPECT_EQ(vectors->vectors[id].abs().sum().item<float>(), 0.f);
    }
  }
  torch::Tensor unit = torch::nn::functional::normalize(
      vectors->vectors.narrow(0, 10, 20),
      torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor cosine = unit.mm(unit.t());
  double within = 0, across = 0;
  for (int a = 0; a < 20; ++a)
    for (int b = 0; b < 20; ++b) {
      if (a == b)
        continue;
      ((a < 10) == (b < 10) ? within : across) += cosine[a][b].item<double>();
    }
  within /= 20 * 9;
  across /= 20 * 10;
  EXPECT_GT(within, 0.8);
  EXPECT_LT(across, 0.2);
}

TEST(WordVectorsTest, InitWordEmbeddingsSetsKnownRowsAtBertScale) {
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> lines;
  for (int i = 0; i < 300; ++i) {
    std::vector<int32_t> line;
    for (int j = 0; j < 10; ++j)
      line.push_back(10 + int32_t(rng() % 20));
    lines.push_back(line);
  }
  // A model whose only parameter is the table, under the checkpoint name.
  torch::nn::Module root;
  auto words = torch::nn::Embedding(40, 4);
  {
    torch::NoGradGuard noGrad;
    words->weight.fill_(7.0f);
  }
  auto bertModule = std::make_shared<torch::nn::Module>();
  auto embeddingsModule = std::make_shared<torch::nn::Module>();
  embeddingsModule->register_module("word_embeddings", words);
  bertModule->register_module("embeddings", embeddingsModule);
  root.register_module("bert", bertModule);
  PpmiSvdOptions options;
  options.dim = 4;
  options.window = 3;
  options.minCount = 5;
  Expected<int64_t> rows = initWordEmbeddings(root, lines, 40, options);
  ASSERT_TRUE(rows) << rows.message();
  EXPECT_EQ(*rows, 20);
  torch::Tensor weight = words->weight.detach();
  // Tokens 10-29 got vectors scaled to kInitializerRange; the rest kept 7.
  EXPECT_NEAR(weight.narrow(0, 10, 20).std().item<double>(), kInitializerRange,
              1e-6);
  EXPECT_TRUE(weight.narrow(0, 0, 10).eq(7.0f).all().item<bool>());
  EXPECT_TRUE(weight.narrow(0, 30, 10).eq(7.0f).all().item<bool>());
  options.dim = 8;
  Expected<int64_t> wrong = initWordEmbeddings(root, lines, 40, options);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.message(),
            "the word embeddings are [40, 4], the vectors [40, 8]");
}

TEST(WordVectorsTest, RejectsOutOfVocabularyIdsAndTinyCorpora) {
  PpmiSvdOptions options;
  options.dim = 4;
  options.minCount = 1;
  Expected<WordVectors> outside = ppmiSvdVectors({{1, 2, 9}}, 5, options);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.message().find("token id 9 outside the vocabulary of 5"),
            std::string::npos)
      << outside.message();
  Expected<WordVectors> tiny = ppmiSvdVectors({{1, 2, 3}}, 5, options);
  ASSERT_FALSE(tiny);
  EXPECT_NE(tiny.message().find("fewer than the 4 dimensions"),
            std::string::npos)
      << tiny.message();
}

} // namespace
