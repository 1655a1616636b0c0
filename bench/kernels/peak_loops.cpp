//===- peak_loops.cpp - This machine's XNOR-popcount and FMA peaks --------===//
//
// Measures what one core of this machine sustains for the binary-MAC inner
// step (vpxorq + vpopcntq + vpaddq on 512-bit registers, 12 independent
// accumulators, no memory traffic), so binary-linear-bench's figure can be
// read against today's machine: REFERENCE.md gives 2.2 T binary MAC/s for
// this loop on a quiet core and about half on a contended one. Reports
// binary MACs per second (512 per step). fmaPeak does the same for 512-bit
// f32 FMAs (12 independent chains, 32 FLOP each), about 224 GFLOP/s per
// quiet core. vnniPeak: 512-bit vpdpbusd (u8 x s8 -> int32, 64 MACs each)
// on 12 chains, the int8 MAC peak the block-sparse int8 linear is quoted
// against. All register with Google Benchmark: popcount-peak-bench runs
// them alone, and binary-linear-bench links them too, so that bench/kernels/
// run interleaves the peak and the kernels' repetitions in one process
// (--benchmark_enable_random_interleaving) and quotes the kernel as a
// fraction of the peak of the same run.
//
//   build/bench/kernels/popcount-peak-bench --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
//
//===----------------------------------------------------------------------===//

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>

namespace {

constexpr int kAccumulators = 12;

__attribute__((target("avx512f,avx512vpopcntdq"), noinline)) uint64_t
xorPopcountSteps(int64_t iterations, uint64_t seed) {
  __m512i acc[kAccumulators];
  __m512i in[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) {
    acc[i] = _mm512_setzero_si512();
    in[i] = _mm512_set1_epi64(static_cast<long long>(seed * (i + 1)));
  }
  __m512i w = _mm512_set1_epi64(static_cast<long long>(seed ^ 0x0123456789ABCDEFull));
  const __m512i step = _mm512_set1_epi64(1);
  for (int64_t it = 0; it < iterations; ++it) {
    // One extra add per 12 steps keeps the compiler from hoisting the xors.
    w = _mm512_add_epi64(w, step);
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i)
      acc[i] = _mm512_add_epi64(
          acc[i], _mm512_popcnt_epi64(_mm512_xor_si512(in[i], w)));
  }
  __m512i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i)
    sum = _mm512_add_epi64(sum, acc[i]);
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(sum));
}

void xorPopcountPeak(benchmark::State &state) {
  constexpr int64_t kIterations = 1 << 20;
  // Opaque inputs: nothing can be computed at compile time.
  volatile uint64_t seed = 0x9E3779B97F4A7C15ull;
  for (auto _ : state)
    benchmark::DoNotOptimize(xorPopcountSteps(kIterations, seed));
  state.counters["bMAC/s"] = benchmark::Counter(
      double(kIterations) * kAccumulators * 512.0,
      benchmark::Counter::kIsIterationInvariantRate);
}

__attribute__((target("avx512f"), noinline)) float fmaSteps(int64_t iterations,
                                                            float seed) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i)
    acc[i] = _mm512_set1_ps(seed * static_cast<float>(i + 1));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

void fmaPeak(benchmark::State &state) {
  constexpr int64_t kIterations = 1 << 20;
  volatile float seed = 0.1f;
  for (auto _ : state)
    benchmark::DoNotOptimize(fmaSteps(kIterations, seed));
  state.counters["FLOP/s"] = benchmark::Counter(
      double(kIterations) * kAccumulators * 32.0,
      benchmark::Counter::kIsIterationInvariantRate);
}

__attribute__((target("avx512f,avx512vnni"), noinline)) int32_t
vnniSteps(int64_t iterations, int32_t seed) {
  __m512i acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i)
    acc[i] = _mm512_set1_epi32(seed * (i + 1));
  const __m512i a = _mm512_set1_epi32(seed | 0x01010101);
  __m512i b = _mm512_set1_epi32(seed ^ 0x02030405);
  const __m512i step = _mm512_set1_epi32(1);
  for (int64_t it = 0; it < iterations; ++it) {
    // As in xorPopcountSteps: one add per 12 steps keeps b opaque.
    b = _mm512_add_epi32(b, step);
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i)
      acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  }
  __m512i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i)
    sum = _mm512_add_epi32(sum, acc[i]);
  return _mm512_reduce_add_epi32(sum);
}

void vnniPeak(benchmark::State &state) {
  constexpr int64_t kIterations = 1 << 20;
  volatile int32_t seed = 0x1234567;
  for (auto _ : state)
    benchmark::DoNotOptimize(vnniSteps(kIterations, seed));
  state.counters["MAC/s"] = benchmark::Counter(
      double(kIterations) * kAccumulators * 64.0,
      benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

BENCHMARK(fmaPeak)->Unit(benchmark::kMicrosecond);
BENCHMARK(xorPopcountPeak)->Unit(benchmark::kMicrosecond);
BENCHMARK(vnniPeak)->Unit(benchmark::kMicrosecond);
