//===- int8_linear_bench.cpp - Runtime int8 linear vs oneDNN f32 matmul ---===//
//
// The three linear shapes of a BERT-base encoder at sequence length 128
// (M = 128; K x N = 768 x 768 for Q/K/V/output, 768 x 3072 and 3072 x 768 for
// the FFN), at 1 and 2 threads. Both sides prepare outside the timed loop:
// weights reordered to oneDNN's blocked layout and the primitive created (for
// the runtime, the first run creates and caches it). The GOP/s counter is
// 2*M*K*N operations per second of wall time.
//
// ffnIntermediate times the int8 linear 768 -> 3072 followed by GELU on its
// output, as a BERT FFN runs them; against int8Linear plus gelu alone it
// shows whether oneDNN's OpenMP team and the runtime's own pool get in each
// other's way when they alternate.
//
//   build-rt/bench/int8-linear-bench --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true \
//       --benchmark_enable_random_interleaving=true
//
//===----------------------------------------------------------------------===//
#include "quantbert/runtime.h"

#include <benchmark/benchmark.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <random>
#include <vector>

namespace {

constexpr int64_t kM = 128;

void setOpsCounter(benchmark::State &state, int64_t k, int64_t n) {
  state.counters["GOP/s"] = benchmark::Counter(
      2e-9 * kM * k * n, benchmark::Counter::kIsIterationInvariantRate);
}

/// A prepared int8 linear with random operands, for the benchmarks.
class Int8LinearFixture {
public:
  Int8LinearFixture(int threads, int64_t k, int64_t n) : n(n) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> byte(-128, 127);
    x.resize(kM * k);
    std::vector<int8_t> w(n * k);
    for (int8_t &v : x)
      v = static_cast<int8_t>(byte(rng));
    for (int8_t &v : w)
      v = static_cast<int8_t>(byte(rng));
    std::vector<float> scales(n, 0.01f), bias(n, 0.5f);
    y.resize(kM * n);
    ok = qbrt_context_create(threads, &ctx) == QB_OK &&
         qbrt_int8_linear_prepare(ctx, w.data(), scales.data(), bias.data(), n,
                                  k, &plan) == QB_OK &&
         run() == QB_OK; // creates and caches the primitive
  }
  ~Int8LinearFixture() {
    qbrt_int8_linear_destroy(plan);
    qbrt_context_destroy(ctx);
  }
  qb_status run() {
    return qbrt_int8_linear_run(plan, x.data(), kM, 0.02f, 0, y.data());
  }

  bool ok = false;
  int64_t n;
  qbrt_context *ctx = nullptr;
  qbrt_int8_linear_plan *plan = nullptr;
  std::vector<int8_t> x;
  std::vector<float> y;
};

void int8Linear(benchmark::State &state) {
  const int64_t k = state.range(0), n = state.range(1);
  Int8LinearFixture linear(static_cast<int>(state.range(2)), k, n);
  if (!linear.ok) {
    state.SkipWithError(qbrt_last_error(linear.ctx));
    return;
  }
  for (auto _ : state) {
    linear.run();
    benchmark::DoNotOptimize(linear.y.data());
  }
  setOpsCounter(state, k, n);
}

void ffnIntermediate(benchmark::State &state) {
  Int8LinearFixture linear(static_cast<int>(state.range(0)), 768, 3072);
  if (!linear.ok) {
    state.SkipWithError(qbrt_last_error(linear.ctx));
    return;
  }
  std::vector<float> activations(linear.y.size());
  for (auto _ : state) {
    linear.run();
    qbrt_gelu(linear.ctx, linear.y.data(), linear.y.size(), activations.data());
    benchmark::DoNotOptimize(activations.data());
  }
}

/// GELU over the FFN intermediate activations (128 x 3072).
void gelu(benchmark::State &state) {
  qbrt_context *ctx = nullptr;
  if (qbrt_context_create(static_cast<int>(state.range(0)), &ctx) != QB_OK) {
    state.SkipWithError(qbrt_last_error(nullptr));
    return;
  }
  std::vector<float> x(kM * 3072, 0.5f), y(x.size());
  for (auto _ : state) {
    qbrt_gelu(ctx, x.data(), x.size(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  qbrt_context_destroy(ctx);
}

void f32Matmul(benchmark::State &state) {
  using dnnl::memory;
  const int64_t k = state.range(0), n = state.range(1);
  omp_set_num_threads(static_cast<int>(state.range(2)));
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  auto f32 = memory::data_type::f32;
  dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(memory::desc({kM, k}, f32, memory::format_tag::ab),
                         memory::desc({k, n}, f32, memory::format_tag::any),
                         memory::desc({1, n}, f32, memory::format_tag::ab),
                         memory::desc({kM, n}, f32, memory::format_tag::ab)),
      engine);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> x(kM * k), w(n * k), bias(n, 0.5f), y(kM * n);
  for (float &v : x)
    v = normal(rng);
  for (float &v : w)
    v = normal(rng);
  // Same [N, K] weight layout as the int8 side, reordered once.
  memory plain(memory::desc({k, n}, f32, memory::format_tag::ba), engine,
               w.data());
  memory weights(pd.weights_desc(), engine);
  dnnl::reorder(plain, weights).execute(stream, plain, weights);
  dnnl::matmul matmul(pd);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, memory(pd.src_desc(), engine, x.data())},
      {DNNL_ARG_WEIGHTS, weights},
      {DNNL_ARG_BIAS, memory(pd.bias_desc(), engine, bias.data())},
      {DNNL_ARG_DST, memory(pd.dst_desc(), engine, y.data())}};
  for (auto _ : state) {
    matmul.execute(stream, args);
    stream.wait();
    benchmark::DoNotOptimize(y.data());
  }
  setOpsCounter(state, k, n);
}

void bertShapes(benchmark::internal::Benchmark *b) {
  b->ArgNames({"K", "N", "threads"});
  for (int threads : {1, 2})
    for (auto shape : {std::pair<int, int>{768, 768}, {768, 3072}, {3072, 768}})
      b->Args({shape.first, shape.second, threads});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(int8Linear)->Apply(bertShapes);
BENCHMARK(f32Matmul)->Apply(bertShapes);
BENCHMARK(gelu)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(
    benchmark::kMicrosecond);
BENCHMARK(ffnIntermediate)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
