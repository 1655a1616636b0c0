//===- ElementwiseTest.cpp - quantize, dequantize and GELU kernels --------===//
//
// Quantization must equal its reference bit for bit (it is specified in f32
// with round-half-to-even); GELU must be within the bound its erf
// approximation allows. Sizes cover the vector-width edges and a tensor big
// enough to be split over the thread pool.
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

struct QuantParams {
  float scale;
  int32_t zeroPoint;
  float offset;
};

/// Symmetric (Q8BERT), asymmetric with a zero point, and SensiMix's index
/// format (zero point -128 plus an offset).
const QuantParams kQuantParams[] = {
    {0.05f, 0, 0.0f}, {0.013f, 17, 0.0f}, {0.0117f, -128, -1.5f}};

std::vector<int64_t> testSizes() {
  std::vector<int64_t> sizes = edgeSizes();
  sizes.push_back(0);
  sizes.push_back(70001); // several pool chunks, with a ragged tail
  return sizes;
}

TEST(Quantize, MatchesReferenceExactly) {
  std::mt19937 rng(1);
  ContextPtr ctx = makeContext(2);
  for (const QuantParams &p : kQuantParams)
    for (int64_t n : testSizes()) {
      // Wide enough to hit both clamps.
      std::vector<float> x = randomFloats(rng, n, p.offset, 200 * p.scale);
      std::vector<int8_t> q(n);
      ASSERT_EQ(qbrt_quantize_i8(ctx.get(), x.data(), n, p.scale, p.zeroPoint,
                                 p.offset, q.data()),
                QB_OK);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(q[i],
                  reference::quantize(x[i], p.scale, p.zeroPoint, p.offset))
            << "n=" << n << " i=" << i << " x=" << x[i];
    }
}

TEST(Quantize, RoundsHalfToEvenAndClampsSpecialValues) {
  ContextPtr ctx = makeContext(1);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.5f,  1.5f,   2.5f,         -0.5f, -1.5f,
                          -2.5f, 126.5f, 127.5f,       1e9f,  -1e9f,
                          inf,   -inf,   std::nanf("")};
  // NaN maps to the zero point (0 here).
  std::vector<int8_t> expected = {0,   2,   2,    0,   -2,   -2,  126,
                                  127, 127, -128, 127, -128, 0};
  std::vector<int8_t> q(x.size());
  ASSERT_EQ(
      qbrt_quantize_i8(ctx.get(), x.data(), x.size(), 1.0f, 0, 0.0f, q.data()),
      QB_OK);
  EXPECT_EQ(q, expected);
}

TEST(Dequantize, MatchesReferenceExactly) {
  std::mt19937 rng(2);
  ContextPtr ctx = makeContext(2);
  for (const QuantParams &p : kQuantParams)
    for (int64_t n : testSizes()) {
      std::vector<int8_t> q = randomInt8(rng, n);
      std::vector<float> x(n);
      ASSERT_EQ(qbrt_dequantize_i8(ctx.get(), q.data(), n, p.scale, p.zeroPoint,
                                   p.offset, x.data()),
                QB_OK);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(x[i],
                  reference::dequantize(q[i], p.scale, p.zeroPoint, p.offset))
            << "n=" << n << " i=" << i;
    }
}

TEST(Quantize, RejectsInvalidArguments) {
  ContextPtr ctx = makeContext(1);
  float x[4] = {};
  int8_t q[4];
  auto expectError = [&](qb_status status, const char *message) {
    EXPECT_EQ(status, QB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find(message),
              std::string::npos)
        << qbrt_last_error(ctx.get());
  };
  expectError(qbrt_quantize_i8(ctx.get(), x, 4, 0.0f, 0, 0.0f, q),
              "scale is 0, must be finite and > 0");
  expectError(qbrt_quantize_i8(ctx.get(), x, 4, -1.0f, 0, 0.0f, q), "scale");
  expectError(qbrt_quantize_i8(ctx.get(), x, 4, std::nanf(""), 0, 0.0f, q),
              "scale");
  expectError(qbrt_quantize_i8(ctx.get(), x, 4,
                               std::numeric_limits<float>::infinity(), 0, 0.0f,
                               q),
              "scale");
  expectError(qbrt_quantize_i8(ctx.get(), x, 4, 1.0f, 128, 0.0f, q),
              "zero point is 128, must be in [-128, 127]");
  expectError(qbrt_quantize_i8(ctx.get(), x, -1, 1.0f, 0, 0.0f, q),
              "n is -1, must be >= 0");
  expectError(qbrt_quantize_i8(ctx.get(), nullptr, 4, 1.0f, 0, 0.0f, q),
              "input is NULL");
  expectError(qbrt_dequantize_i8(ctx.get(), q, 4, 1.0f, 0, 0.0f, nullptr),
              "output is NULL");
  // Empty tensors may be NULL.
  EXPECT_EQ(qbrt_quantize_i8(ctx.get(), nullptr, 0, 1.0f, 0, 0.0f, nullptr),
            QB_OK);
}

/// |gelu - reference| bound: the erf approximation is within 4.3e-7 of erf,
/// which moves 0.5 x (1 + erf) by at most 2.2e-7 |x|; f32 rounding of the
/// few operations adds a few ulps of |x| (6e-8 |x| each).
double geluTolerance(float x) { return 6e-7 * std::fabs(x) + 1e-30; }

TEST(Gelu, MatchesReferenceWithinBound) {
  std::mt19937 rng(3);
  ContextPtr ctx = makeContext(2);
  for (int64_t n : testSizes()) {
    std::vector<float> x = randomFloats(rng, n, 0.0f, 3.0f);
    std::vector<float> y(n);
    ASSERT_EQ(qbrt_gelu(ctx.get(), x.data(), n, y.data()), QB_OK);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(y[i], reference::gelu(x[i]), geluTolerance(x[i]))
          << "x=" << x[i];
  }
}

TEST(Gelu, SweepAndSpecialValuesInPlace) {
  ContextPtr ctx = makeContext(1);
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 1.0f / 1024)
    x.push_back(v);
  x.push_back(1e-30f);
  std::vector<float> y = x;
  ASSERT_EQ(qbrt_gelu(ctx.get(), y.data(), y.size(), y.data()), QB_OK);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_NEAR(y[i], reference::gelu(x[i]), geluTolerance(x[i]))
        << "x=" << x[i];

  const float inf = std::numeric_limits<float>::infinity();
  float special[3] = {inf, -inf, std::nanf("")};
  ASSERT_EQ(qbrt_gelu(ctx.get(), special, 3, special), QB_OK);
  EXPECT_EQ(special[0], inf);
  EXPECT_TRUE(std::isnan(special[1])); // -inf * 0, as in PyTorch
  EXPECT_TRUE(std::isnan(special[2]));
}

} // namespace
