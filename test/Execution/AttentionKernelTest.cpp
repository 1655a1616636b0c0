//===- AttentionKernelTest.cpp - Lowered fused attention ------------------===//
//
// JIT-compiles qb.attention through convert-qb-to-vector's online-softmax
// lowering and checks it against a double-precision scalar reference of
// softmax(Q K^T * scale + mask) V computed on Q, K and V rounded to the
// storage type (which is exactly what the kernel loads), on random inputs
// with sequence lengths that are not multiples of the key block, padded
// batches and several head counts.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Target/JitModule.h"
#include "RuntimeThreads.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

using namespace quantbert;

namespace {

/// `x` rounded to the storage type, as the kernel stores it.
float roundToStorage(float x, const std::string &storage) {
  if (storage == "f16")
    return static_cast<float>(static_cast<_Float16>(x));
  if (storage == "bf16") {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits += 0x7FFF + ((bits >> 16) & 1); // round to nearest even
    bits &= 0xFFFF0000u;
    std::memcpy(&x, &bits, sizeof bits);
  }
  return x;
}

struct AttentionCase {
  int64_t batch, seq, hidden, heads;
  std::string storage;
  bool withMask;
};

class AttentionKernel : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionKernel, MatchesScalarReference) {
  const AttentionCase &c = GetParam();
  int64_t headDim = c.hidden / c.heads;
  float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  std::string t = "tensor<?x?x" + std::to_string(c.hidden) + "xf32>";
  std::ostringstream source;
  source << "func.func @attention(%q: " << t << ", %k: " << t << ", %v: " << t
         << (c.withMask ? ", %m: tensor<?x?xi32>" : "") << ") -> " << t
         << " attributes {llvm.emit_c_interface} {\n"
         << "  %a = qb.attention %q, %k, %v"
         << (c.withMask ? " mask(%m)" : "") << " {num_heads = " << c.heads
         << " : i64, scale = " << scale << " : f32, storage_type = "
         << c.storage << "} : (" << t << ", " << t << ", " << t
         << (c.withMask ? ", tensor<?x?xi32>" : "") << ") -> " << t << "\n"
         << "  return %a : " << t << "\n}\n";
  std::string error;
  auto jit = JitModule::compile(
      source.str(),
      [](mlir::OpPassManager &pm) { pm.addPass(createConvertQBToVector()); },
      error);
  ASSERT_TRUE(jit) << error << "\n" << source.str();
  void *kernel = jit->lookup("attention");
  ASSERT_TRUE(kernel);

  std::mt19937 rng(c.batch * 7919 + c.seq * 131 + c.hidden);
  std::normal_distribution<float> normal;
  int64_t elements = c.batch * c.seq * c.hidden;
  std::vector<float> q(elements), k(elements), v(elements);
  for (std::vector<float> *tensor : {&q, &k, &v})
    for (float &x : *tensor)
      x = normal(rng);
  // Batch b keeps its first seq - 3 * b keys (at least one).
  std::vector<int32_t> mask(c.batch * c.seq);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < c.seq; ++j)
      mask[b * c.seq + j] =
          !c.withMask || j < std::max<int64_t>(1, c.seq - 3 * b) ? 1 : 0;

  using F3 = StridedMemRefType<float, 3>;
  using I2 = StridedMemRefType<int32_t, 2>;
  std::array<int64_t, 3> shape = {c.batch, c.seq, c.hidden};
  F3 qRef = makeMemRef<float, 3>(q.data(), shape);
  F3 kRef = makeMemRef<float, 3>(k.data(), shape);
  F3 vRef = makeMemRef<float, 3>(v.data(), shape);
  I2 maskRef = makeMemRef<int32_t, 2>(mask.data(), {c.batch, c.seq});
  auto run = [&](F3 &output) {
    if (c.withMask)
      reinterpret_cast<void (*)(F3 *, F3 *, F3 *, F3 *, I2 *)>(kernel)(
          &output, &qRef, &kRef, &vRef, &maskRef);
    else
      reinterpret_cast<void (*)(F3 *, F3 *, F3 *, F3 *)>(kernel)(
          &output, &qRef, &kRef, &vRef);
  };
  F3 output, threaded;
  run(output);
  {
    // Batch, heads and query chunks are the iterations of a parallel loop;
    // each output element is computed by one of them either way.
    test::ScopedThreads threads(3);
    run(threaded);
  }
  ASSERT_EQ(std::memcmp(output.data, threaded.data, elements * sizeof(float)), 0)
      << "3 threads differ from 1";
  JitModule::freeResult(threaded.basePtr);

  auto at = [&](const std::vector<float> &x, int64_t b, int64_t s,
                int64_t h, int64_t d) {
    return static_cast<double>(
        roundToStorage(x[(b * c.seq + s) * c.hidden + h * headDim + d], c.storage));
  };
  double worst = 0.0;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.seq; ++i) {
        std::vector<double> scores(c.seq);
        double max = -INFINITY;
        for (int64_t j = 0; j < c.seq; ++j) {
          double dot = 0.0;
          for (int64_t d = 0; d < headDim; ++d)
            dot += at(q, b, i, h, d) * at(k, b, j, h, d);
          scores[j] = dot * scale + (mask[b * c.seq + j] ? 0.0 : -10000.0);
          max = std::max(max, scores[j]);
        }
        double sum = 0.0;
        for (double &s : scores)
          sum += (s = std::exp(s - max));
        for (int64_t d = 0; d < headDim; ++d) {
          double expected = 0.0;
          for (int64_t j = 0; j < c.seq; ++j)
            expected += scores[j] / sum * at(v, b, j, h, d);
          float actual = output.data[(b * c.seq + i) * c.hidden + h * headDim + d];
          double error = std::fabs(actual - expected);
          worst = std::max(worst, error);
          ASSERT_LE(error, 2e-5 + 2e-5 * std::fabs(expected))
              << "out[" << b << ", " << i << ", " << h * headDim + d << "]";
        }
      }
  RecordProperty("max_abs_error", std::to_string(worst));
  JitModule::freeResult(output.basePtr);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionKernel,
    ::testing::Values(AttentionCase{1, 1, 8, 2, "f32", false},
                      AttentionCase{2, 5, 16, 2, "f16", true},
                      AttentionCase{1, 17, 64, 1, "f16", false},
                      AttentionCase{2, 33, 128, 2, "bf16", true},
                      AttentionCase{3, 16, 32, 4, "f32", true},
                      AttentionCase{1, 128, 768, 12, "f16", true},
                      AttentionCase{2, 130, 96, 3, "f16", true}),
    [](const ::testing::TestParamInfo<AttentionCase> &info) {
      const AttentionCase &c = info.param;
      return "B" + std::to_string(c.batch) + "S" + std::to_string(c.seq) + "H" +
             std::to_string(c.hidden) + "Heads" + std::to_string(c.heads) +
             c.storage + (c.withMask ? "Masked" : "");
    });

} // namespace
