//===- attention_bench.cpp - Fused vs unfused self-attention --------------===//
//
// Times BERT-base self-attention (hidden 768, 12 heads, batch 1) at sequence
// 128 and 512, JIT-compiled for this CPU in two forms: qb.attention lowered
// by convert-qb-to-vector (online softmax, f16 storage of Q/K/V, f32
// accumulation), and the unfused f32 chain split_heads -> Q K^T -> scale ->
// mask -> softmax -> P V -> merge_heads lowered by convert-qb-to-linalg.
// Also reports the peak heap the generated code holds during one call (the
// unfused form materialises batch x heads x seq x seq scores).
//
//   build/bench/kernels/attention-bench --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Target/JitModule.h"

#include "mlir/Dialect/Linalg/Passes.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace quantbert;

namespace {

constexpr int64_t kHidden = 768;
constexpr int64_t kHeads = 12;

using F3 = StridedMemRefType<float, 3>;
using I2 = StridedMemRefType<int32_t, 2>;

std::string fusedSource() {
  std::string t = "tensor<?x?x768xf32>";
  return "func.func @attention(%q: " + t + ", %k: " + t + ", %v: " + t +
         ", %m: tensor<?x?xi32>) -> " + t +
         " attributes {llvm.emit_c_interface} {\n"
         "  %a = qb.attention %q, %k, %v mask(%m) {num_heads = 12 : i64, "
         "scale = 0.125 : f32, storage_type = f16} : (" +
         t + ", " + t + ", " + t + ", tensor<?x?xi32>) -> " + t +
         "\n  return %a : " + t + "\n}\n";
}

std::string unfusedSource() {
  std::string t = "tensor<?x?x768xf32>";
  std::string h = "tensor<?x12x?x64xf32>";
  std::string s = "tensor<?x12x?x?xf32>";
  return "func.func @attention(%q: " + t + ", %k: " + t + ", %v: " + t +
         ", %m: tensor<?x?xi32>) -> " + t +
         " attributes {llvm.emit_c_interface} {\n"
         "  %qh = qb.split_heads %q {num_heads = 12} : " + t + " -> " + h + "\n"
         "  %kh = qb.split_heads %k {num_heads = 12} : " + t + " -> " + h + "\n"
         "  %vh = qb.split_heads %v {num_heads = 12} : " + t + " -> " + h + "\n"
         "  %s = qb.batch_matmul %qh, %kh transpose_rhs : (" + h + ", " + h +
         ") -> " + s + "\n"
         "  %sc = qb.scale %s by 0.125 : " + s + "\n"
         "  %sm = qb.attention_mask %sc, %m : (" + s + ", tensor<?x?xi32>) -> " +
         s + "\n"
         "  %p = qb.softmax %sm : " + s + "\n"
         "  %c = qb.batch_matmul %p, %vh : (" + s + ", " + h + ") -> " + h + "\n"
         "  %ctx = qb.merge_heads %c : " + h + " -> " + t + "\n"
         "  return %ctx : " + t + "\n}\n";
}

void runAttention(benchmark::State &state, bool fused) {
  int64_t seq = state.range(0);
  std::string error;
  auto jit = JitModule::compile(
      fused ? fusedSource() : unfusedSource(),
      [fused](mlir::OpPassManager &pm) {
        // As qb-lower-to-llvm lowers a model: the qb conversion, then the
        // linalg ops (re-layouts, or the unfused chain) fused and
        // vectorized by rows.
        if (fused)
          pm.addPass(createConvertQBToVector());
        else
          pm.addPass(createConvertQBToLinalg());
        pm.addNestedPass<mlir::func::FuncOp>(
            mlir::createLinalgElementwiseOpFusionPass());
        pm.addNestedPass<mlir::func::FuncOp>(createVectorizeLinalg());
      },
      error);
  if (!jit)
    throw std::runtime_error("cannot compile attention: " + error);
  auto *kernel = reinterpret_cast<void (*)(F3 *, F3 *, F3 *, F3 *, I2 *)>(
      jit->lookup("attention"));
  if (const char *dump = std::getenv("QB_DUMP_OBJECT"))
    jit->dumpObject(dump);

  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> q(seq * kHidden), k(seq * kHidden), v(seq * kHidden);
  for (std::vector<float> *tensor : {&q, &k, &v})
    for (float &x : *tensor)
      x = normal(rng);
  std::vector<int32_t> mask(seq, 1);
  F3 qRef = makeMemRef<float, 3>(q.data(), {1, seq, kHidden});
  F3 kRef = makeMemRef<float, 3>(k.data(), {1, seq, kHidden});
  F3 vRef = makeMemRef<float, 3>(v.data(), {1, seq, kHidden});
  I2 maskRef = makeMemRef<int32_t, 2>(mask.data(), {1, seq});

  JitModule::resetAllocationCounters();
  size_t peak = 0;
  for (auto _ : state) {
    F3 out;
    kernel(&out, &qRef, &kRef, &vRef, &maskRef);
    benchmark::DoNotOptimize(out.data[0]);
    peak = std::max(peak, JitModule::peakAllocatedBytes());
    JitModule::freeResult(out.basePtr);
    JitModule::resetAllocationCounters();
  }
  state.counters["peak_heap_MiB"] = double(peak) / (1024.0 * 1024.0);
  state.counters["flop/s"] = benchmark::Counter(
      4.0 * double(seq) * double(seq) * double(kHidden),
      benchmark::Counter::kIsIterationInvariantRate);
}

void fusedAttentionF16(benchmark::State &state) { runAttention(state, true); }
void unfusedAttentionF32(benchmark::State &state) {
  runAttention(state, false);
}

} // namespace

BENCHMARK(fusedAttentionF16)->ArgName("seq")->Arg(128)->Arg(512)->Unit(
    benchmark::kMillisecond);
BENCHMARK(unfusedAttentionF32)->ArgName("seq")->Arg(128)->Arg(512)->Unit(
    benchmark::kMillisecond);

BENCHMARK_MAIN();
