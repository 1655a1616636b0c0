//===- SparseInt8LinearTest.cpp - Block-sparse int8 linear vs reference ---===//
//
// Weights pruned in random 16 x 4 blocks (plus scattered single zeros, which
// the kernel must treat as ordinary weights) against the exact integer
// reference of the dense formula, on shapes around the block and tile sizes;
// the VNNI kernel against the scalar walk (bit for bit), and 1 against 2 and
// 3 threads (bit for bit: each output is computed by one part).
//
//===----------------------------------------------------------------------===//
#include "Int8Problem.h"

#include <cstdlib>
#include <string>
#include <thread>
#include <tuple>

using namespace quantbert;
using namespace quantbert::test;

namespace {

struct SparsePlanDeleter {
  void operator()(qbrt_sparse_int8_linear_plan *plan) const {
    qbrt_sparse_int8_linear_destroy(plan);
  }
};
using SparsePlanPtr =
    std::unique_ptr<qbrt_sparse_int8_linear_plan, SparsePlanDeleter>;

SparsePlanPtr prepareSparse(qbrt_context *ctx, const Problem &p) {
  qbrt_sparse_int8_linear_plan *plan = nullptr;
  EXPECT_EQ(qbrt_sparse_int8_linear_prepare(
                ctx, p.w.data(), p.wScales.data(),
                p.bias.empty() ? nullptr : p.bias.data(), p.n, p.k, &plan),
            QB_OK)
      << qbrt_last_error(ctx);
  return SparsePlanPtr(plan);
}

/// The same plan with the scalar kernel (what a CPU without AVX512-VNNI
/// runs).
SparsePlanPtr prepareScalar(qbrt_context *ctx, const Problem &p) {
  setenv("QBRT_SPARSE_INT8_KERNEL", "scalar", 1);
  SparsePlanPtr plan = prepareSparse(ctx, p);
  unsetenv("QBRT_SPARSE_INT8_KERNEL");
  return plan;
}

/// Zeroes each aligned 16 x 4 block of p.w with probability 1 - density,
/// and one in 8 of the remaining weights; returns the nonzero block count.
int64_t pruneBlocks(std::mt19937 &rng, Problem &p, double density) {
  std::bernoulli_distribution keep(density), single(0.125);
  int64_t nonzero = 0;
  for (int64_t j0 = 0; j0 < p.n; j0 += 16)
    for (int64_t i0 = 0; i0 < p.k; i0 += 4) {
      bool kept = keep(rng), any = false;
      for (int64_t j = j0; j < std::min(j0 + 16, p.n); ++j)
        for (int64_t i = i0; i < std::min(i0 + 4, p.k); ++i) {
          int8_t &w = p.w[j * p.k + i];
          if (!kept || single(rng))
            w = 0;
          any |= w != 0;
        }
      nonzero += any;
    }
  return nonzero;
}

std::vector<float> runStatic(qbrt_sparse_int8_linear_plan *plan,
                             const Problem &p, float xScale, int32_t zp) {
  std::vector<float> y(p.m * p.n, -1.0f);
  EXPECT_EQ(qbrt_sparse_int8_linear_run(plan, p.x.data(), p.m, xScale, zp,
                                        y.data()),
            QB_OK);
  return y;
}

TEST(SparseInt8Linear, MatchesExactReferenceOnEdgeShapes) {
  std::mt19937 rng(21);
  ContextPtr ctx = makeContext(2);
  struct {
    int64_t m, k, n;
  } shapes[] = {{1, 1, 1},     {3, 17, 5},     {16, 64, 16},  {15, 63, 17},
                {17, 65, 63},  {33, 100, 65},  {2, 1000, 3},  {31, 7, 40},
                {128, 768, 96}, {20, 256, 256}};
  int32_t zeroPoints[] = {0, 7, -128, 127};
  int variant = 0;
  for (auto s : shapes)
    for (double density : {0.0, 0.1, 0.5, 1.0})
      for (int32_t zp : zeroPoints) {
        Problem p =
            randomProblem(rng, s.m, s.k, s.n, /*withBias=*/variant++ % 2);
        int64_t nonzero = pruneBlocks(rng, p, density);
        SparsePlanPtr plan = prepareSparse(ctx.get(), p);
        ASSERT_TRUE(plan);
        int64_t counted = -1, total = -1;
        ASSERT_EQ(qbrt_sparse_int8_linear_blocks(plan.get(), &counted, &total),
                  QB_OK);
        EXPECT_EQ(counted, nonzero);
        EXPECT_EQ(total, (s.n + 15) / 16 * ((s.k + 3) / 4));
        std::vector<float> y = runStatic(plan.get(), p, 0.02f, zp);
        expectMatchesExact(p, 0.02f, zp, y);
        SparsePlanPtr scalar = prepareScalar(ctx.get(), p);
        EXPECT_EQ(runStatic(scalar.get(), p, 0.02f, zp), y)
            << "m=" << s.m << " k=" << s.k << " n=" << s.n
            << " density=" << density << ": VNNI and scalar kernels differ";
      }
}

TEST(SparseInt8Linear, AllZeroWeightsGiveTheBias) {
  std::mt19937 rng(22);
  ContextPtr ctx = makeContext(1);
  Problem p = randomProblem(rng, 5, 40, 20, /*withBias=*/true);
  std::fill(p.w.begin(), p.w.end(), int8_t(0));
  SparsePlanPtr plan = prepareSparse(ctx.get(), p);
  int64_t nonzero = -1;
  ASSERT_EQ(qbrt_sparse_int8_linear_blocks(plan.get(), &nonzero, nullptr),
            QB_OK);
  EXPECT_EQ(nonzero, 0);
  std::vector<float> y = runStatic(plan.get(), p, 0.1f, -3);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j)
      EXPECT_EQ(y[i * p.n + j], p.bias[j]);
}

// Parts of whole strips, cut where the nonzero blocks balance: for 1, 2 and
// 3 threads every output is the one-thread value, with strips of very
// different densities (the first half dense, the rest 5%).
TEST(SparseInt8Linear, SplitAcrossThreadsIsBitExact) {
  std::mt19937 rng(23);
  ContextPtr one = makeContext(1), two = makeContext(2), three = makeContext(3);
  for (auto [m, n] : {std::pair<int64_t, int64_t>{1, 3072}, {7, 1200},
                      {33, 200}, {128, 768}, {129, 70}}) {
    Problem p = randomProblem(rng, m, 768, n, /*withBias=*/m % 2 == 1);
    Problem half = p;
    pruneBlocks(rng, p, 0.05);
    for (int64_t j = 0; j < n / 2; ++j)
      std::copy(half.w.begin() + j * p.k, half.w.begin() + (j + 1) * p.k,
                p.w.begin() + j * p.k);
    std::vector<std::vector<float>> results;
    for (qbrt_context *ctx : {one.get(), two.get(), three.get()}) {
      SparsePlanPtr plan = prepareSparse(ctx, p);
      ASSERT_TRUE(plan);
      results.push_back(runStatic(plan.get(), p, 0.02f, -5));
    }
    expectMatchesExact(p, 0.02f, -5, results[0]);
    EXPECT_EQ(results[1], results[0]) << "m=" << m << " n=" << n << ", 2 threads";
    EXPECT_EQ(results[2], results[0]) << "m=" << m << " n=" << n << ", 3 threads";
  }
}

// Dynamic quantization: y = (s_w[n] * acc) * row_scale + bias[n], as the
// dense plan's run_rows; VNNI, scalar and 1-3 threads alike.
TEST(SparseInt8Linear, PerRowScalesMatchTheExactReference) {
  std::mt19937 rng(24);
  ContextPtr one = makeContext(1), three = makeContext(3);
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  for (int64_t m : {1, 5, 33, 128}) {
    Problem p = randomProblem(rng, m, 150, 40, /*withBias=*/m % 2 == 1);
    pruneBlocks(rng, p, 0.3);
    std::vector<float> rowScales(m);
    for (float &s : rowScales)
      s = scale(rng);
    std::vector<std::vector<float>> results;
    auto runRows = [&](qbrt_sparse_int8_linear_plan *plan) {
      std::vector<float> y(m * p.n);
      EXPECT_EQ(qbrt_sparse_int8_linear_run_rows(plan, p.x.data(), m,
                                                 rowScales.data(), y.data()),
                QB_OK);
      results.push_back(y);
    };
    runRows(prepareSparse(one.get(), p).get());
    runRows(prepareSparse(three.get(), p).get());
    runRows(prepareScalar(one.get(), p).get());
    for (int64_t i = 0; i < m; ++i)
      expectMatchesExact(rowOf(p, i), rowScales[i], 0,
                         std::vector<float>(results[0].begin() + i * p.n,
                                            results[0].begin() + (i + 1) * p.n));
    EXPECT_EQ(results[1], results[0]) << "m=" << m << ", 3 threads";
    EXPECT_EQ(results[2], results[0]) << "m=" << m << ", scalar kernel";
  }
}

// Dense weights through the sparse plan: the dense plan's result within the
// f32 roundings both may make.
TEST(SparseInt8Linear, DenseWeightsAgreeWithTheDensePlan) {
  std::mt19937 rng(25);
  ContextPtr ctx = makeContext(2);
  Problem p = randomProblem(rng, 64, 768, 128, /*withBias=*/true);
  SparsePlanPtr sparse = prepareSparse(ctx.get(), p);
  qbrt_int8_linear_plan *dense = nullptr;
  ASSERT_EQ(qbrt_int8_linear_prepare(ctx.get(), p.w.data(), p.wScales.data(),
                                     p.bias.data(), p.n, p.k, &dense),
            QB_OK);
  std::vector<float> a = runStatic(sparse.get(), p, 0.01f, 4), b(p.m * p.n);
  ASSERT_EQ(qbrt_int8_linear_run(dense, p.x.data(), p.m, 0.01f, 4, b.data()),
            QB_OK);
  qbrt_int8_linear_destroy(dense);
  expectMatchesExact(p, 0.01f, 4, a);
  expectMatchesExact(p, 0.01f, 4, b);
}

TEST(SparseInt8Linear, ConcurrentRunsOfOnePlan) {
  std::mt19937 rng(26);
  ContextPtr ctx = makeContext(2);
  Problem p = randomProblem(rng, 64, 256, 128, /*withBias=*/true);
  pruneBlocks(rng, p, 0.2);
  SparsePlanPtr plan = prepareSparse(ctx.get(), p);
  std::vector<float> expected = runStatic(plan.get(), p, 0.01f, 0);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (auto &result : results)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 5; ++rep)
        result = runStatic(plan.get(), p, 0.01f, 0);
    });
  for (std::thread &t : threads)
    t.join();
  for (const auto &result : results)
    EXPECT_EQ(result, expected);
}

/// The packed form of p.w (runtime.h): every block with a nonzero weight,
/// plus the first all-zero block when keepZeroBlock (a stored zero block is
/// legal); its stored block count.
int64_t packBlocks(const Problem &p, bool keepZeroBlock,
                   std::vector<uint8_t> &mask, std::vector<int8_t> &blocks) {
  int64_t strips = (p.n + 15) / 16, kBlocks = (p.k + 3) / 4;
  int64_t row = (kBlocks + 7) / 8, stored = 0;
  mask.assign(strips * row, 0);
  blocks.clear();
  for (int64_t s = 0; s < strips; ++s)
    for (int64_t b = 0; b < kBlocks; ++b) {
      int8_t block[64] = {};
      bool any = false;
      for (int64_t c = 0; c < 16; ++c)
        for (int64_t i = 0; i < 4; ++i)
          if (s * 16 + c < p.n && b * 4 + i < p.k) {
            block[c * 4 + i] = p.w[(s * 16 + c) * p.k + b * 4 + i];
            any |= block[c * 4 + i] != 0;
          }
      if (!any && !keepZeroBlock)
        continue;
      keepZeroBlock &= any;
      mask[s * row + b / 8] |= uint8_t(1u << (b % 8));
      blocks.insert(blocks.end(), block, block + 64);
      ++stored;
    }
  return stored;
}

TEST(SparseInt8Linear, PackedFormGivesTheSamePlan) {
  std::mt19937 rng(27);
  ContextPtr ctx = makeContext(2);
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{5, 50, 37},
                         {33, 768, 256}, {1, 3, 1}}) {
    Problem p = randomProblem(rng, m, k, n, /*withBias=*/true);
    pruneBlocks(rng, p, 0.3);
    std::vector<uint8_t> mask;
    std::vector<int8_t> blocks;
    int64_t stored = packBlocks(p, /*keepZeroBlock=*/true, mask, blocks);
    qbrt_sparse_int8_linear_plan *raw = nullptr;
    ASSERT_EQ(qbrt_sparse_int8_linear_prepare_packed(
                  ctx.get(), mask.data(), blocks.data(), stored,
                  p.wScales.data(), p.bias.data(), n, k, &raw),
              QB_OK)
        << qbrt_last_error(ctx.get());
    SparsePlanPtr packed(raw), dense = prepareSparse(ctx.get(), p);
    int64_t packedBlocks = -1, denseBlocks = -2, total = -1;
    ASSERT_EQ(qbrt_sparse_int8_linear_blocks(packed.get(), &packedBlocks,
                                             &total),
              QB_OK);
    ASSERT_EQ(qbrt_sparse_int8_linear_blocks(dense.get(), &denseBlocks,
                                             nullptr),
              QB_OK);
    EXPECT_EQ(packedBlocks, denseBlocks) << "the stored zero block is dropped";
    EXPECT_EQ(total, ((n + 15) / 16) * ((k + 3) / 4));
    std::vector<float> y = runStatic(packed.get(), p, 0.02f, -3);
    EXPECT_EQ(y, runStatic(dense.get(), p, 0.02f, -3)) << m << "x" << k << "x"
                                                        << n;
    expectMatchesExact(p, 0.02f, -3, y);
  }
}

TEST(SparseInt8Linear, PackedFormRejectsInconsistentMasks) {
  ContextPtr ctx = makeContext(1);
  std::mt19937 rng(28);
  Problem p = randomProblem(rng, 1, 10, 20, /*withBias=*/false);
  std::vector<uint8_t> mask;
  std::vector<int8_t> blocks;
  int64_t stored = packBlocks(p, false, mask, blocks);
  ASSERT_EQ(stored, 2 * 3); // 2 strips x 3 input blocks, all nonzero
  qbrt_sparse_int8_linear_plan *plan = nullptr;
  auto prepare = [&](int64_t count) {
    return qbrt_sparse_int8_linear_prepare_packed(
        ctx.get(), mask.data(), blocks.data(), count, p.wScales.data(),
        nullptr, p.n, p.k, &plan);
  };
  auto expectError = [&](qb_status status, const char *message) {
    EXPECT_EQ(status, QB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find(message),
              std::string::npos)
        << qbrt_last_error(ctx.get());
    EXPECT_EQ(plan, nullptr);
  };
  expectError(prepare(5), "stored_blocks is 5 but the mask sets 6");
  mask[0] |= 0x08; // block 3 of strip 0: past K = 10 (3 blocks)
  expectError(prepare(7), "mask row 0 sets bits past block 2");
  mask[0] &= 0x07;
  blocks[2 * 64 + 2] = 1; // strip 0, block 2, channel 0, input 10
  expectError(prepare(6), "block 2 (channels 0.., inputs 8..) has a nonzero "
                          "weight outside the 20 x 10 matrix");
  blocks[2 * 64 + 2] = 0;
  blocks[5 * 64 + 4 * 4] = 1; // strip 1, block 2, channel 20
  expectError(prepare(6), "block 5 (channels 16.., inputs 8..)");
  blocks[5 * 64 + 4 * 4] = 0;
  expectError(qbrt_sparse_int8_linear_prepare_packed(
                  ctx.get(), nullptr, blocks.data(), 6, p.wScales.data(),
                  nullptr, p.n, p.k, &plan),
              "mask is NULL");
  EXPECT_EQ(prepare(6), QB_OK) << qbrt_last_error(ctx.get());
  qbrt_sparse_int8_linear_destroy(plan);
}

TEST(SparseInt8Linear, RejectsInvalidArguments) {
  ContextPtr ctx = makeContext(1);
  int8_t w[6] = {1, 0, 3, 0, 5, 6}, x[3] = {1, 2, 3};
  float scales[2] = {0.1f, 0.2f}, y[2];
  qbrt_sparse_int8_linear_plan *plan = nullptr;
  auto expectError = [&](qb_status status, const char *message) {
    EXPECT_EQ(status, QB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(qbrt_last_error(ctx.get())).find(message),
              std::string::npos)
        << qbrt_last_error(ctx.get());
  };
  expectError(qbrt_sparse_int8_linear_prepare(ctx.get(), nullptr, scales,
                                              nullptr, 2, 3, &plan),
              "w_q is NULL");
  expectError(qbrt_sparse_int8_linear_prepare(ctx.get(), w, scales, nullptr, 0,
                                              3, &plan),
              "n is 0, must be >= 1");
  expectError(qbrt_sparse_int8_linear_prepare(ctx.get(), w, scales, nullptr, 2,
                                              70000, &plan),
              "k is 70000, must be <= 65536");
  float badScales[2] = {0.1f, -1.0f};
  expectError(qbrt_sparse_int8_linear_prepare(ctx.get(), w, badScales, nullptr,
                                              2, 3, &plan),
              "w_scales[1] is -1");
  EXPECT_EQ(plan, nullptr);

  ASSERT_EQ(qbrt_sparse_int8_linear_prepare(ctx.get(), w, scales, nullptr, 2, 3,
                                            &plan),
            QB_OK);
  SparsePlanPtr owner(plan);
  expectError(qbrt_sparse_int8_linear_run(plan, x, 1, 0.0f, 0, y),
              "scale is 0");
  expectError(qbrt_sparse_int8_linear_run(plan, x, 1, 1.0f, 128, y),
              "zero point is 128");
  expectError(qbrt_sparse_int8_linear_run(plan, x, -1, 1.0f, 0, y),
              "m is -1, must be >= 0");
  expectError(qbrt_sparse_int8_linear_run(plan, x, 1, 1.0f, 0, nullptr),
              "y is NULL");
  expectError(qbrt_sparse_int8_linear_run(plan, x, 1, 1e-38f, 0, y),
              "is not a normal f32");
  float badRowScale = std::nanf("");
  expectError(qbrt_sparse_int8_linear_run_rows(plan, x, 1, nullptr, y),
              "row_scales is NULL");
  expectError(qbrt_sparse_int8_linear_run_rows(plan, x, 1, &badRowScale, y),
              "row_scales[0] is nan, must be finite and > 0");
  EXPECT_EQ(qbrt_sparse_int8_linear_run(plan, nullptr, 0, 1.0f, 0, nullptr),
            QB_OK);
  EXPECT_EQ(qbrt_sparse_int8_linear_run(nullptr, x, 1, 1.0f, 0, y),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(nullptr)).find("plan is NULL"),
            std::string::npos);
  EXPECT_EQ(qbrt_sparse_int8_linear_blocks(nullptr, nullptr, nullptr),
            QB_ERR_INVALID_ARGUMENT);
}

} // namespace
