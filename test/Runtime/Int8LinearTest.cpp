//===- Int8LinearTest.cpp - int8 linear on oneDNN against its reference ---===//
//
// Two bounds are checked. Against the exact integer reference
// (Int8Problem.h), the only error is f32 rounding after the exact int32
// accumulation. Against the unquantized f32 product, the error is the
// quantization error, bounded per output by
// sum_k (|x| dw/2 + |w| dx/2 + dx dw/4) with dx, dw the scales.
//
//===----------------------------------------------------------------------===//
#include "Int8Problem.h"

#include <cmath>
#include <string>
#include <thread>

using namespace quantbert;
using namespace quantbert::test;

namespace {

struct PlanDeleter {
  void operator()(qbrt_int8_linear_plan *plan) const {
    qbrt_int8_linear_destroy(plan);
  }
};
using PlanPtr = std::unique_ptr<qbrt_int8_linear_plan, PlanDeleter>;

PlanPtr prepare(qbrt_context *ctx, const Problem &p) {
  qbrt_int8_linear_plan *plan = nullptr;
  EXPECT_EQ(qbrt_int8_linear_prepare(ctx, p.w.data(), p.wScales.data(),
                                     p.bias.empty() ? nullptr : p.bias.data(),
                                     p.n, p.k, &plan),
            QB_OK)
      << qbrt_last_error(ctx);
  return PlanPtr(plan);
}

TEST(Int8Linear, MatchesExactReferenceOnEdgeShapes) {
  std::mt19937 rng(7);
  ContextPtr ctx = makeContext(2);
  struct {
    int64_t m, k, n;
  } shapes[] = {{1, 1, 1},    {3, 17, 5},    {16, 64, 16}, {15, 63, 17},
                {17, 65, 63}, {33, 100, 65}, {2, 1000, 3}, {128, 768, 96}};
  int32_t zeroPoints[] = {0, 7, -128, 127};
  int variant = 0;
  for (auto s : shapes)
    for (int32_t zp : zeroPoints) {
      Problem p = randomProblem(rng, s.m, s.k, s.n, /*withBias=*/variant++ % 2);
      PlanPtr plan = prepare(ctx.get(), p);
      ASSERT_TRUE(plan);
      float xScale = 0.02f;
      std::vector<float> y(p.m * p.n);
      ASSERT_EQ(qbrt_int8_linear_run(plan.get(), p.x.data(), p.m, xScale, zp,
                                     y.data()),
                QB_OK)
          << qbrt_last_error(ctx.get());
      expectMatchesExact(p, xScale, zp, y);
    }
}

// A run splits its rows into one part per thread (at least 4 rows each),
// each part its own oneDNN call on all the weights: the result is bit for
// bit the one-thread one, for parts of equal and unequal sizes, 2 and 3
// threads, runs too short to split and runs under the size worth
// splitting (2^20 multiply-accumulates).
TEST(Int8Linear, RowSplitAcrossThreadsIsBitExact) {
  std::mt19937 rng(11);
  ContextPtr one = makeContext(1), two = makeContext(2), three = makeContext(3);
  for (auto [m, n] : {std::pair<int64_t, int64_t>{1, 70}, {2, 200}, {7, 1200},
                      {9, 1200}, {13, 800}, {31, 70}, {32, 96}, {33, 200},
                      {47, 31}, {128, 70}, {129, 200}}) {
    Problem p = randomProblem(rng, m, 200, n, /*withBias=*/m % 2 == 1);
    std::vector<std::vector<float>> results;
    for (qbrt_context *ctx : {one.get(), two.get(), three.get()}) {
      PlanPtr plan = prepare(ctx, p);
      ASSERT_TRUE(plan);
      std::vector<float> y(m * p.n);
      ASSERT_EQ(qbrt_int8_linear_run(plan.get(), p.x.data(), m, 0.02f, -5,
                                     y.data()),
                QB_OK)
          << qbrt_last_error(ctx);
      results.push_back(y);
    }
    expectMatchesExact(p, 0.02f, -5, results[0]);
    EXPECT_EQ(results[1], results[0]) << "m=" << m << " n=" << n << ", 2 threads";
    EXPECT_EQ(results[2], results[0]) << "m=" << m << " n=" << n << ", 3 threads";
  }
}

// Dynamic quantization: each row its own scale, y = (s_w[n] * acc) *
// row_scale + bias[n]; the same for 1, 2 and 3 threads.
TEST(Int8Linear, PerRowScalesMatchTheExactReference) {
  std::mt19937 rng(12);
  ContextPtr one = makeContext(1), two = makeContext(2), three = makeContext(3);
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  for (int64_t m : {1, 5, 33, 128}) {
    Problem p = randomProblem(rng, m, 150, 40, /*withBias=*/m % 2 == 1);
    std::vector<float> rowScales(m);
    for (float &s : rowScales)
      s = scale(rng);
    std::vector<std::vector<float>> results;
    for (qbrt_context *ctx : {one.get(), two.get(), three.get()}) {
      PlanPtr plan = prepare(ctx, p);
      ASSERT_TRUE(plan);
      std::vector<float> y(m * p.n);
      ASSERT_EQ(qbrt_int8_linear_run_rows(plan.get(), p.x.data(), m,
                                          rowScales.data(), y.data()),
                QB_OK)
          << qbrt_last_error(ctx);
      results.push_back(y);
    }
    for (int64_t i = 0; i < m; ++i) {
      // Each row is the static case with x_scale = its scale.
      expectMatchesExact(rowOf(p, i), rowScales[i], 0,
                         std::vector<float>(results[0].begin() + i * p.n,
                                            results[0].begin() + (i + 1) * p.n));
    }
    EXPECT_EQ(results[1], results[0]) << "m=" << m << ", 2 threads";
    EXPECT_EQ(results[2], results[0]) << "m=" << m << ", 3 threads";
  }
}

TEST(Int8Linear, PlanServesManyShapesAndScales) {
  std::mt19937 rng(8);
  ContextPtr ctx = makeContext(2);
  Problem p = randomProblem(rng, 0, 96, 40, /*withBias=*/true);
  PlanPtr plan = prepare(ctx.get(), p);
  // Repeats reuse cached primitives; new (M, scale, zero point) make new ones.
  for (int64_t m : {5, 128, 5, 1, 128})
    for (float xScale : {0.1f, 0.003f, 0.1f}) {
      p.m = m;
      p.x = randomInt8(rng, m * p.k);
      std::vector<float> y(m * p.n);
      ASSERT_EQ(
          qbrt_int8_linear_run(plan.get(), p.x.data(), m, xScale, 3, y.data()),
          QB_OK);
      expectMatchesExact(p, xScale, 3, y);
    }
  EXPECT_EQ(qbrt_int8_linear_run(plan.get(), nullptr, 0, 1.0f, 0, nullptr),
            QB_OK);
}

TEST(Int8Linear, OneShotEqualsPlan) {
  std::mt19937 rng(9);
  ContextPtr ctx = makeContext(1);
  Problem p = randomProblem(rng, 7, 50, 9, /*withBias=*/true);
  PlanPtr plan = prepare(ctx.get(), p);
  std::vector<float> a(p.m * p.n), b(p.m * p.n);
  ASSERT_EQ(
      qbrt_int8_linear_run(plan.get(), p.x.data(), p.m, 0.5f, -3, a.data()),
      QB_OK);
  ASSERT_EQ(qbrt_int8_linear(ctx.get(), p.x.data(), p.m, p.k, 0.5f, -3,
                             p.w.data(), p.wScales.data(), p.bias.data(), p.n,
                             b.data()),
            QB_OK);
  EXPECT_EQ(a, b);
}

TEST(Int8Linear, ConcurrentRunsOfOnePlan) {
  std::mt19937 rng(10);
  ContextPtr ctx = makeContext(2);
  Problem p = randomProblem(rng, 64, 256, 128, /*withBias=*/true);
  PlanPtr plan = prepare(ctx.get(), p);
  std::vector<float> expected(p.m * p.n);
  ASSERT_EQ(qbrt_int8_linear_run(plan.get(), p.x.data(), p.m, 0.01f, 0,
                                 expected.data()),
            QB_OK);
  std::vector<std::vector<float>> results(4, std::vector<float>(p.m * p.n));
  std::vector<std::thread> threads;
  for (auto &result : results)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 5; ++rep)
        EXPECT_EQ(qbrt_int8_linear_run(plan.get(), p.x.data(), p.m, 0.01f, 0,
                                       result.data()),
                  QB_OK);
    });
  for (std::thread &t : threads)
    t.join();
  for (const auto &result : results)
    EXPECT_EQ(result, expected);
}

TEST(Int8Linear, WithinQuantizationErrorOfFloatProduct) {
  std::mt19937 rng(11);
  ContextPtr ctx = makeContext(2);
  const int64_t m = 33, k = 768, n = 70;
  std::vector<float> xf = randomFloats(rng, m * k);
  std::vector<float> wf = randomFloats(rng, n * k, 0.0f, 0.05f);
  std::vector<float> bias = randomFloats(rng, n);

  // Symmetric per-tensor activations, per-channel weights (Q8BERT).
  auto maxAbs = [](const float *v, int64_t count) {
    float result = 0;
    for (int64_t i = 0; i < count; ++i)
      result = std::max(result, std::fabs(v[i]));
    return result;
  };
  float xScale = maxAbs(xf.data(), m * k) / 127;
  std::vector<int8_t> xq(m * k), wq(n * k);
  std::vector<float> wScales(n);
  ASSERT_EQ(
      qbrt_quantize_i8(ctx.get(), xf.data(), m * k, xScale, 0, 0.0f, xq.data()),
      QB_OK);
  for (int64_t j = 0; j < n; ++j) {
    wScales[j] = maxAbs(&wf[j * k], k) / 127;
    ASSERT_EQ(qbrt_quantize_i8(ctx.get(), &wf[j * k], k, wScales[j], 0, 0.0f,
                               &wq[j * k]),
              QB_OK);
  }
  std::vector<float> y(m * n);
  ASSERT_EQ(qbrt_int8_linear(ctx.get(), xq.data(), m, k, xScale, 0, wq.data(),
                             wScales.data(), bias.data(), n, y.data()),
            QB_OK);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double exact = bias[j], bound = 0;
      for (int64_t l = 0; l < k; ++l) {
        double xv = xf[i * k + l], wv = wf[j * k + l];
        exact += xv * wv;
        bound += std::fabs(xv) * wScales[j] / 2 + std::fabs(wv) * xScale / 2 +
                 xScale * wScales[j] / 4;
      }
      ASSERT_NEAR(y[i * n + j], exact, bound * (1 + 1e-5))
          << "at (" << i << ", " << j << ")";
    }
}

TEST(Int8Linear, RejectsInvalidArguments) {
  ContextPtr ctx = makeContext(1);
  int8_t w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 2, 3};
  float scales[2] = {0.1f, 0.2f}, y[2];
  qbrt_int8_linear_plan *plan = nullptr;
  auto expectError = [&](qb_status status, const char *message) {
    EXPECT_EQ(status, QB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find(message),
              std::string::npos)
        << qbrt_last_error(ctx.get());
  };
  expectError(qbrt_int8_linear_prepare(ctx.get(), nullptr, scales, nullptr, 2,
                                       3, &plan),
              "w_q is NULL");
  expectError(
      qbrt_int8_linear_prepare(ctx.get(), w, scales, nullptr, 0, 3, &plan),
      "n is 0, must be >= 1");
  expectError(
      qbrt_int8_linear_prepare(ctx.get(), w, scales, nullptr, 2, 200000, &plan),
      "k is 200000, must be <= 131072");
  float badScales[2] = {0.1f, 0.0f};
  expectError(
      qbrt_int8_linear_prepare(ctx.get(), w, badScales, nullptr, 2, 3, &plan),
      "w_scales[1] is 0");
  EXPECT_EQ(plan, nullptr);

  ASSERT_EQ(
      qbrt_int8_linear_prepare(ctx.get(), w, scales, nullptr, 2, 3, &plan),
      QB_OK);
  PlanPtr owner(plan);
  expectError(qbrt_int8_linear_run(plan, x, 1, 0.0f, 0, y), "scale is 0");
  expectError(qbrt_int8_linear_run(plan, x, 1, 1.0f, -129, y),
              "zero point is -129");
  expectError(qbrt_int8_linear_run(plan, x, -1, 1.0f, 0, y),
              "m is -1, must be >= 0");
  expectError(qbrt_int8_linear_run(plan, nullptr, 1, 1.0f, 0, y),
              "x_q is NULL");
  expectError(qbrt_int8_linear_run(plan, x, 1, 1e-38f, 0, y),
              "is not a normal f32");
  float rowScale = 0.5f, badRowScale = std::nanf("");
  expectError(qbrt_int8_linear_run_rows(plan, x, 1, nullptr, y),
              "row_scales is NULL");
  expectError(qbrt_int8_linear_run_rows(plan, x, 1, &badRowScale, y),
              "row_scales[0] is nan, must be finite and > 0");
  expectError(qbrt_int8_linear_run_rows(plan, nullptr, 1, &rowScale, y),
              "x_q is NULL");
  EXPECT_EQ(qbrt_int8_linear_run(nullptr, x, 1, 1.0f, 0, y),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(nullptr)).find("plan is NULL"),
            std::string::npos);
}

} // namespace
