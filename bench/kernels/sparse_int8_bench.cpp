//===- sparse_int8_bench.cpp - Block-sparse int8 linear vs dense int8 -----===//
//
// The runtime's block-sparse int8 linear (16 x 4 blocks, VNNI) against its
// dense int8 linear (oneDNN brgemm, VNNI) on the three linear shapes of a
// BERT-base encoder at sequence 128, batch 1 (M = 128; K x N = 768 x 768,
// 768 x 3072, 3072 x 768), 1 and 2 threads. The sparse weights are random
// int8 with a random 1 - density of their blocks zeroed (the pattern block
// pruning leaves). Both sides prepare outside the timed loop.
//
// Counters: GOP/s is the dense operation count 2 M K N per second (so the
// sparse rows read as an effective speed), MAC/s the multiply-accumulates
// actually done (M x 64 per nonzero block) per second. peak_loops.cpp is
// linked in: its vpdpbusd loop (vnniPeak) is the same core's int8 MAC peak
// in the same run, its FMA loop says how quiet the core was.
//
//   build/bench/kernels/sparse-int8-bench --benchmark_repetitions=10 \
//       --benchmark_report_aggregates_only=true \
//       --benchmark_enable_random_interleaving=true
//
//===----------------------------------------------------------------------===//
#include "quantbert/runtime.h"

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

namespace {

constexpr int64_t kM = 128;

/// Random operands; a 1 - density share of the 16 x 4 blocks of w zero.
struct Operands {
  Operands(int64_t k, int64_t n, double density) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> byte(-128, 127);
    std::bernoulli_distribution keep(density);
    x.resize(kM * k);
    for (int8_t &v : x)
      v = static_cast<int8_t>(byte(rng));
    w.resize(n * k);
    for (int64_t j0 = 0; j0 < n; j0 += 16)
      for (int64_t i0 = 0; i0 < k; i0 += 4) {
        bool kept = keep(rng);
        for (int64_t j = j0; j < j0 + 16 && j < n; ++j)
          for (int64_t i = i0; i < i0 + 4 && i < k; ++i)
            w[j * k + i] = kept ? static_cast<int8_t>(byte(rng)) : 0;
      }
    scales.assign(n, 0.01f);
    bias.assign(n, 0.5f);
    y.resize(kM * n);
  }
  std::vector<int8_t> x, w;
  std::vector<float> scales, bias, y;
};

void setCounters(benchmark::State &state, int64_t k, int64_t n,
                 int64_t macs) {
  state.counters["GOP/s"] = benchmark::Counter(
      2e-9 * kM * k * n, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MAC/s"] = benchmark::Counter(
      double(macs), benchmark::Counter::kIsIterationInvariantRate);
}

/// Args: K, N, threads.
void denseInt8(benchmark::State &state) {
  const int64_t k = state.range(0), n = state.range(1);
  Operands op(k, n, 1.0);
  qbrt_context *ctx = nullptr;
  qbrt_int8_linear_plan *plan = nullptr;
  if (qbrt_context_create(static_cast<int>(state.range(2)), &ctx) != QB_OK ||
      qbrt_int8_linear_prepare(ctx, op.w.data(), op.scales.data(),
                               op.bias.data(), n, k, &plan) != QB_OK ||
      qbrt_int8_linear_run(plan, op.x.data(), kM, 0.02f, 0, op.y.data()) !=
          QB_OK) {
    state.SkipWithError(qbrt_last_error(ctx));
  } else {
    for (auto _ : state) {
      qbrt_int8_linear_run(plan, op.x.data(), kM, 0.02f, 0, op.y.data());
      benchmark::DoNotOptimize(op.y.data());
    }
    setCounters(state, k, n, kM * k * n);
  }
  qbrt_int8_linear_destroy(plan);
  qbrt_context_destroy(ctx);
}

/// Args: K, N, threads, density in percent.
void sparseInt8(benchmark::State &state) {
  const int64_t k = state.range(0), n = state.range(1);
  Operands op(k, n, state.range(3) / 100.0);
  qbrt_context *ctx = nullptr;
  qbrt_sparse_int8_linear_plan *plan = nullptr;
  int64_t nonzero = 0;
  if (qbrt_context_create(static_cast<int>(state.range(2)), &ctx) != QB_OK ||
      qbrt_sparse_int8_linear_prepare(ctx, op.w.data(), op.scales.data(),
                                      op.bias.data(), n, k, &plan) != QB_OK ||
      qbrt_sparse_int8_linear_blocks(plan, &nonzero, nullptr) != QB_OK) {
    state.SkipWithError(qbrt_last_error(ctx));
  } else {
    for (auto _ : state) {
      qbrt_sparse_int8_linear_run(plan, op.x.data(), kM, 0.02f, 0,
                                  op.y.data());
      benchmark::DoNotOptimize(op.y.data());
    }
    setCounters(state, k, n, kM * nonzero * 64);
  }
  qbrt_sparse_int8_linear_destroy(plan);
  qbrt_context_destroy(ctx);
}

void shapes(benchmark::internal::Benchmark *b, bool sparse) {
  for (int threads : {1, 2})
    for (auto [k, n] : {std::pair<int64_t, int64_t>{768, 768},
                        {768, 3072},
                        {3072, 768}}) {
      if (!sparse) {
        b->Args({k, n, threads});
        continue;
      }
      for (int64_t density : {50, 20, 10})
        b->Args({k, n, threads, density});
    }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

} // namespace

BENCHMARK(denseInt8)->Apply([](auto *b) { shapes(b, false); });
BENCHMARK(sparseInt8)->Apply([](auto *b) { shapes(b, true); });
