//===- RowwiseKernelsTest.cpp - layer norm and softmax kernels ------------===//
//
// Both kernels against their double-precision references on shapes around
// the vector widths and on BERT's hidden size; results must not depend on
// the thread count.
//
//===----------------------------------------------------------------------===//
#include "Reference.h"
#include "TestSupport.h"

#include <cmath>
#include <limits>
#include <string>

using namespace quantbert;
using namespace quantbert::test;

namespace {

struct Shape {
  int64_t rows, cols;
};

std::vector<Shape> testShapes() {
  std::vector<Shape> shapes;
  for (int64_t cols : edgeSizes())
    shapes.push_back({3, cols});
  shapes.push_back({130, 768}); // BERT-base hidden size, parallel rows
  shapes.push_back({2, 20000}); // one row per pool chunk
  shapes.push_back({0, 5});
  return shapes;
}

TEST(LayerNorm, MatchesReference) {
  std::mt19937 rng(4);
  ContextPtr ctx = makeContext(2);
  const float eps = 1e-12f; // BERT's layer_norm_eps
  for (Shape s : testShapes()) {
    // Rows with a mean far from zero check the two-pass variance.
    std::vector<float> x = randomFloats(rng, s.rows * s.cols, 10.0f, 2.0f);
    std::vector<float> gamma = randomFloats(rng, s.cols, 1.0f, 0.5f);
    std::vector<float> beta = randomFloats(rng, s.cols);
    std::vector<float> y(x.size());
    ASSERT_EQ(qbrt_layer_norm(ctx.get(), x.data(), gamma.data(), beta.data(),
                              s.rows, s.cols, eps, y.data()),
              QB_OK);
    std::vector<double> ref =
        reference::layerNorm(x, gamma, beta, s.rows, s.cols, eps);
    for (size_t i = 0; i < y.size(); ++i) {
      // x - mean loses up to ulp(10) = 1e-6 of the row's std (2); then a
      // few f32 roundings of the normalized value times gamma.
      double tolerance =
          2e-6 * (1 + std::fabs(gamma[i % s.cols])) + 1e-6 * std::fabs(ref[i]);
      ASSERT_NEAR(y[i], ref[i], tolerance)
          << "rows=" << s.rows << " cols=" << s.cols << " i=" << i;
    }
  }
}

TEST(LayerNorm, ConstantRowGivesBetaAndInPlaceWorks) {
  ContextPtr ctx = makeContext(1);
  std::vector<float> x(17, 3.25f), gamma(17, 2.0f), beta(17);
  for (int i = 0; i < 17; ++i)
    beta[i] = static_cast<float>(i);
  ASSERT_EQ(qbrt_layer_norm(ctx.get(), x.data(), gamma.data(), beta.data(), 1,
                            17, 1e-5f, x.data()),
            QB_OK);
  EXPECT_EQ(x, beta);
}

TEST(LayerNorm, RejectsInvalidArguments) {
  ContextPtr ctx = makeContext(1);
  float x[4] = {}, g[4] = {}, b[4] = {};
  EXPECT_EQ(qbrt_layer_norm(ctx.get(), x, g, b, 1, 0, 1e-5f, x),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find("cols is 0"),
            std::string::npos);
  EXPECT_EQ(qbrt_layer_norm(ctx.get(), x, nullptr, b, 1, 4, 1e-5f, x),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find("gamma is NULL"),
            std::string::npos);
  EXPECT_EQ(qbrt_layer_norm(ctx.get(), x, g, b, 1, 4, -1.0f, x),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qbrt_layer_norm(ctx.get(), x, g, b, -1, 4, 1e-5f, x),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qbrt_layer_norm(ctx.get(), x, g, b, INT64_MAX, 4, 1e-5f, x),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find("overflow"),
            std::string::npos);
}

TEST(Softmax, MatchesReference) {
  std::mt19937 rng(5);
  ContextPtr ctx = makeContext(2);
  for (Shape s : testShapes()) {
    std::vector<float> x = randomFloats(rng, s.rows * s.cols, 0.0f, 4.0f);
    std::vector<float> y(x.size());
    ASSERT_EQ(qbrt_softmax(ctx.get(), x.data(), s.rows, s.cols, y.data()),
              QB_OK);
    std::vector<double> ref = reference::softmax(x, s.rows, s.cols);
    for (size_t i = 0; i < y.size(); ++i)
      // The f32 difference x - max rounds by up to half an ulp of |x - max|
      // (< 32 here), which moves exp by up to 2e-6 relative; exp and the
      // normalization add a few ulps.
      ASSERT_NEAR(y[i], ref[i], 4e-6 * ref[i] + 1e-12)
          << "rows=" << s.rows << " cols=" << s.cols << " i=" << i;
  }
}

TEST(Softmax, LargeValuesAndMaskedEntries) {
  ContextPtr ctx = makeContext(1);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1000.0f, 999.0f, -inf, 1000.0f, -inf};
  std::vector<float> y(x.size());
  ASSERT_EQ(qbrt_softmax(ctx.get(), x.data(), 1, 5, y.data()), QB_OK);
  std::vector<double> ref = reference::softmax(x, 1, 5);
  for (size_t i = 0; i < y.size(); ++i)
    EXPECT_NEAR(y[i], ref[i], 1e-6);
  EXPECT_EQ(y[2], 0.0f);
}

TEST(Softmax, RejectsInvalidArguments) {
  ContextPtr ctx = makeContext(1);
  float x[4] = {};
  EXPECT_EQ(qbrt_softmax(ctx.get(), x, 2, 0, x), QB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qbrt_softmax(ctx.get(), x, 2, 2, nullptr), QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find("y is NULL"),
            std::string::npos);
}

TEST(RowwiseKernels, ResultsDoNotDependOnThreadCount) {
  std::mt19937 rng(6);
  ContextPtr one = makeContext(1), four = makeContext(4);
  const int64_t rows = 257, cols = 768;
  std::vector<float> x = randomFloats(rng, rows * cols);
  std::vector<float> gamma = randomFloats(rng, cols),
                     beta = randomFloats(rng, cols);
  std::vector<float> a(x.size()), b(x.size());
  ASSERT_EQ(qbrt_layer_norm(one.get(), x.data(), gamma.data(), beta.data(),
                            rows, cols, 1e-12f, a.data()),
            QB_OK);
  ASSERT_EQ(qbrt_layer_norm(four.get(), x.data(), gamma.data(), beta.data(),
                            rows, cols, 1e-12f, b.data()),
            QB_OK);
  EXPECT_EQ(a, b);
  ASSERT_EQ(qbrt_softmax(one.get(), x.data(), rows, cols, a.data()), QB_OK);
  ASSERT_EQ(qbrt_softmax(four.get(), x.data(), rows, cols, b.data()), QB_OK);
  EXPECT_EQ(a, b);
}

} // namespace
