//===- binary_linear_bench.cpp - Compiled XNOR-popcount GEMM speed --------===//
//
// Times the qb.binary_linear kernel that convert-qb-to-vector generates (JIT-
// compiled for this CPU, weights embedded as constants, as in a compiled
// model) on BERT-base FFN shapes, and oneDNN's f32 matmul on the same shapes
// and thread count. Reports binary MACs per second; bench/kernels/run sets
// them against REFERENCE.md's 2.4 T binary MAC/s per core and against
// popcount-peak-bench's measurement of today's machine. The block-sparse
// kernel (block_mask) runs at 80% and 90% of its 32 x 64 blocks zero.
//
//   OMP_NUM_THREADS=1 build/bench/kernels/binary-linear-bench \
//       --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Support/BitPacking.h"
#include "quantbert/Target/JitModule.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

using namespace quantbert;

namespace {

constexpr int64_t kRows = 128;              // BERT-base, sequence 128, batch 1

using I2 = StridedMemRefType<int64_t, 2>;
using F1 = StridedMemRefType<float, 1>;
using F2 = StridedMemRefType<float, 2>;

/// A block mask with round(density% of the blocks) stored, at random
/// places ("dense<...>" of [ceil(n / 32), words] i1).
std::string randomBlockMask(int64_t n, int64_t words, int64_t densityPercent,
                            std::mt19937 &rng) {
  int64_t panels = binaryBlockRowCount(n), blocks = panels * words;
  std::vector<bool> stored(blocks, false);
  std::fill_n(stored.begin(), (blocks * densityPercent + 50) / 100, true);
  std::shuffle(stored.begin(), stored.end(), rng);
  std::ostringstream mask;
  mask << "dense<[";
  for (int64_t p = 0; p < panels; ++p) {
    mask << (p ? ", [" : "[");
    for (int64_t w = 0; w < words; ++w)
      mask << (w ? ", " : "") << (stored[p * words + w] ? "true" : "false");
    mask << "]";
  }
  mask << "]>";
  return mask.str();
}

/// A JIT-compiled `y = binary_linear(x_packed, W)` with W embedded; below
/// 100% density, block-sparse (block_mask) with that share of the blocks.
struct CompiledBinaryLinear {
  CompiledBinaryLinear(int64_t k, int64_t n, std::mt19937 &rng,
                       int64_t densityPercent = 100, bool packSigns = false)
      : k(k), n(n), packSigns(packSigns) {
    int64_t words = packedWordCount(k);
    std::uniform_int_distribution<uint64_t> bits;
    std::ostringstream weight;
    weight << "dense<[";
    for (int64_t row = 0; row < n; ++row) {
      weight << (row ? ", [" : "[");
      for (int64_t w = 0; w < words; ++w) {
        uint64_t value = bits(rng);
        if (w == words - 1 && k % 64)
          value &= (uint64_t{1} << (k % 64)) - 1; // zero padding bits
        weight << (w ? ", " : "") << static_cast<int64_t>(value);
      }
      weight << "]";
    }
    weight << "]>";
    std::string p = "tensor<?x" + std::to_string(words) + "xi64>";
    std::string wt = "tensor<" + std::to_string(n) + "x" +
                     std::to_string(words) + "xi64>";
    std::string v = "tensor<" + std::to_string(n) + "xf32>";
    std::string y = "tensor<?x" + std::to_string(n) + "xf32>";
    std::string maskDecl, maskUse, maskType;
    if (densityPercent < 100) {
      maskType = "tensor<" + std::to_string(binaryBlockRowCount(n)) + "x" +
                 std::to_string(words) + "xi1>";
      maskDecl = "  %m = arith.constant " +
                 randomBlockMask(n, words, densityPercent, rng) + " : " +
                 maskType + "\n";
      maskUse = " block_mask(%m)";
      maskType = ", " + maskType;
    }
    // With packSigns, the binary FFN's first linear: its signs packed for
    // the next one, fused into one loop (N % 64 == 0), no f32 output.
    std::string packed = "tensor<?x" + std::to_string(packedWordCount(n)) + "xi64>";
    std::string result = packSigns ? packed : y;
    std::string source =
        "func.func @kernel(%x: " + p + ", %s: " + v + ", %b: " + v + ") -> " +
        result + " attributes {llvm.emit_c_interface} {\n  %w = arith.constant " +
        weight.str() + " : " + wt + "\n" + maskDecl +
        "  %y = qb.binary_linear %x, %w scale(%s) bias(%b)" + maskUse +
        " {in_features = " + std::to_string(k) + "} : (" + p + ", " + wt +
        ", " + v + ", " + v + maskType + ") -> " + y + "\n" +
        (packSigns ? "  %yp = qb.bitpack %y : " + y + " -> " + packed +
                         "\n  return %yp : " + packed
                   : "  return %y : " + y) +
        "\n}\n";
    std::string error;
    jit = JitModule::compile(
        source,
        [](mlir::OpPassManager &pm) {
          ConvertQBToVectorOptions options;
          if (const char *tm = std::getenv("QB_TILE_M"))
            options.tileM = std::atoi(tm);
          if (const char *tn = std::getenv("QB_TILE_N"))
            options.tileN = std::atoi(tn);
          pm.addPass(createConvertQBToVector(options));
        },
        error);
    if (!jit)
      throw std::runtime_error("cannot compile the kernel: " + error);
    kernel = reinterpret_cast<Kernel>(jit->lookup("kernel"));
    if (const char *dump = std::getenv("QB_DUMP_OBJECT"))
      jit->dumpObject(dump);

    input.resize(kRows * words);
    for (uint64_t &word : input)
      word = bits(rng);
    scale.assign(n, 0.5f);
    bias.assign(n, 0.25f);
  }

  void run() {
    I2 x = makeMemRef<int64_t, 2>(reinterpret_cast<int64_t *>(input.data()),
                                {kRows, packedWordCount(k)});
    F1 s = makeMemRef<float, 1>(scale.data(), {n});
    F1 b = makeMemRef<float, 1>(bias.data(), {n});
    if (packSigns) {
      I2 y;
      reinterpret_cast<void (*)(I2 *, I2 *, F1 *, F1 *)>(kernel)(&y, &x, &s, &b);
      benchmark::DoNotOptimize(y.data[0]);
      JitModule::freeResult(y.basePtr);
      return;
    }
    F2 y;
    kernel(&y, &x, &s, &b);
    benchmark::DoNotOptimize(y.data[0]);
    JitModule::freeResult(y.basePtr);
  }

  using Kernel = void (*)(F2 *, I2 *, F1 *, F1 *);
  int64_t k, n;
  bool packSigns;
  std::unique_ptr<JitModule> jit;
  Kernel kernel = nullptr;
  std::vector<uint64_t> input;
  std::vector<float> scale, bias;
};

void binaryLinearCompiled(benchmark::State &state) {
  int64_t k = state.range(0), n = state.range(1);
  std::mt19937 rng(42);
  CompiledBinaryLinear linear(k, n, rng);
  for (auto _ : state)
    linear.run();
  double macs = double(kRows) * double(k) * double(n);
  state.counters["bMAC/s"] = benchmark::Counter(
      macs, benchmark::Counter::kIsIterationInvariantRate);
}

/// The block-sparse kernel with `density`% of the 32 x 64 blocks stored
/// (100: the dense kernel), its f32 output or (signs = 1) its packed signs.
/// bMAC/s counts the dense-equivalent work (M * K * N), so it is the dense
/// kernel's rate times the speed-up.
void binaryLinearBlockSparse(benchmark::State &state) {
  int64_t k = state.range(0), n = state.range(1), density = state.range(2);
  std::mt19937 rng(42);
  CompiledBinaryLinear linear(k, n, rng, density, state.range(3) != 0);
  for (auto _ : state)
    linear.run();
  double macs = double(kRows) * double(k) * double(n);
  state.counters["bMAC/s"] = benchmark::Counter(
      macs, benchmark::Counter::kIsIterationInvariantRate);
}

void oneDnnF32Matmul(benchmark::State &state) {
  int64_t k = state.range(0), n = state.range(1);
  omp_set_num_threads(1);
  using namespace dnnl;
  engine cpu(engine::kind::cpu, 0);
  stream strm(cpu);
  memory::desc src({kRows, k}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc weightsAny({k, n}, memory::data_type::f32, memory::format_tag::any);
  memory::desc dst({kRows, n}, memory::data_type::f32, memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(src, weightsAny, dst), cpu);
  memory srcMem(src, cpu), dstMem(dst, cpu);
  memory weightsPlain({{k, n}, memory::data_type::f32, memory::format_tag::ab}, cpu);
  memory weightsMem(pd.weights_desc(), cpu);
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  auto fill = [&](memory &m) {
    float *data = static_cast<float *>(m.get_data_handle());
    for (size_t i = 0; i < m.get_desc().get_size() / sizeof(float); ++i)
      data[i] = normal(rng);
  };
  fill(srcMem);
  fill(weightsPlain);
  reorder(weightsPlain, weightsMem).execute(strm, weightsPlain, weightsMem);
  matmul mm(pd);
  for (auto _ : state) {
    mm.execute(strm, {{DNNL_ARG_SRC, srcMem},
                      {DNNL_ARG_WEIGHTS, weightsMem},
                      {DNNL_ARG_DST, dstMem}});
    strm.wait();
  }
  double macs = double(kRows) * double(k) * double(n);
  state.counters["MAC/s"] = benchmark::Counter(
      macs, benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

BENCHMARK(binaryLinearCompiled)
    ->ArgNames({"K", "N"})
    ->Args({768, 3072})
    ->Args({3072, 768})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(binaryLinearBlockSparse)
    ->ArgNames({"K", "N", "density", "signs"})
    ->ArgsProduct({{768}, {3072}, {100, 20, 10}, {0, 1}})
    ->ArgsProduct({{3072}, {768}, {100, 20, 10}, {0}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(oneDnnF32Matmul)
    ->ArgNames({"K", "N"})
    ->Args({768, 3072})
    ->Args({3072, 768})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
