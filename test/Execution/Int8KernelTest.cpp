//===- Int8KernelTest.cpp - qb.int8_linear through the runtime ----------===//
//
// JIT-compiles qb.quantize + qb.int8_linear (and, dynamic, qb.quantize_rows
// + qb.int8_linear with per-row input_scales) through convert-qb-to-runtime
// (plans prepared by the generated prepare function, oneDNN int8 kernel of
// libquantbert_rt) and convert-qb-to-linalg, and checks the result against
// the scalar reference: q = quantizeToInt8(x), y = s_x * s_w[n] *
// sum_k q * w + b, on random inputs including K and N that are not
// multiples of 16 or 64 and a rank-3 input. Block-sparse cases zero about
// 70% of the weight's 16 x 4 blocks and mark the linear block_sparse: the
// generated prepare then packs the nonzero blocks for the runtime's
// block-sparse kernel, and the results must be the same formula.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Target/JitModule.h"
#include "quantbert/runtime.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <vector>

using namespace quantbert;

namespace {

template <typename T>
std::string denseLiteral(const std::vector<T> &values, int64_t rows,
                         int64_t cols, bool matrix) {
  std::ostringstream text;
  text.precision(9);
  text << "dense<[";
  for (int64_t r = 0; r < rows; ++r) {
    if (matrix)
      text << (r ? ", [" : "[");
    for (int64_t c = 0; c < cols; ++c)
      text << (c ? ", " : "") << +values[r * cols + c];
    if (matrix)
      text << "]";
  }
  text << "]>";
  return text.str();
}

struct Int8Case {
  int64_t batch, rows, k, n;
  /// Dynamic quantization (qb.quantize_rows, per-row input_scales)
  /// instead of a static input scale.
  bool dynamic = false;
  /// Weights pruned in 16 x 4 blocks, the linear marked block_sparse.
  bool sparse = false;
};

class Int8LinearKernel : public ::testing::TestWithParam<Int8Case> {};

TEST_P(Int8LinearKernel, MatchesScalarReference) {
  const Int8Case &c = GetParam();
  std::mt19937 rng(c.rows * 31 + c.k * 7 + c.n);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> code(-127, 127);
  std::vector<int8_t> weight(c.n * c.k);
  for (int8_t &w : weight)
    w = static_cast<int8_t>(code(rng));
  if (c.sparse) {
    std::bernoulli_distribution pruned(0.7);
    for (int64_t n0 = 0; n0 < c.n; n0 += 16)
      for (int64_t k0 = 0; k0 < c.k; k0 += 4)
        if (pruned(rng))
          for (int64_t n = n0; n < std::min(n0 + 16, c.n); ++n)
            for (int64_t k = k0; k < std::min(k0 + 4, c.k); ++k)
              weight[n * c.k + k] = 0;
  }
  std::string sparseAttr =
      c.sparse ? ", block_sparse = array<i64: 16, 4>" : "";
  std::vector<float> scales(c.n), bias(c.n);
  for (int64_t i = 0; i < c.n; ++i) {
    scales[i] = 0.001f + 0.01f * std::fabs(normal(rng));
    bias[i] = normal(rng);
  }
  float inputScale = 0.03f;

  std::string x = "tensor<" + std::to_string(c.batch) + "x?x" +
                  std::to_string(c.k) + "xf32>";
  std::string xq = "tensor<" + std::to_string(c.batch) + "x?x" +
                   std::to_string(c.k) + "xi8>";
  std::string y = "tensor<" + std::to_string(c.batch) + "x?x" +
                  std::to_string(c.n) + "xf32>";
  std::string w = "tensor<" + std::to_string(c.n) + "x" + std::to_string(c.k) +
                  "xi8>";
  std::string v = "tensor<" + std::to_string(c.n) + "xf32>";
  std::ostringstream source;
  source.precision(9);
  source << "func.func @linear(%x: " << x << ") -> " << y
         << " attributes {llvm.emit_c_interface} {\n"
         << "  %w = arith.constant " << denseLiteral(weight, c.n, c.k, true) << " : "
         << w << "\n"
         << "  %s = arith.constant " << denseLiteral(scales, 1, c.n, false) << " : "
         << v << "\n"
         << "  %b = arith.constant " << denseLiteral(bias, 1, c.n, false) << " : " << v
         << "\n";
  if (c.dynamic) {
    std::string rs = "tensor<" + std::to_string(c.batch) + "x?xf32>";
    source << "  %xq, %rs = qb.quantize_rows %x : " << x << " -> " << xq << ", "
           << rs << "\n"
           << "  %y = qb.int8_linear %xq, %w weight_scale(%s) input_scales(%rs) "
              "bias(%b) {"
           << sparseAttr.substr(c.sparse ? 2 : 0) << "} : ("
           << xq << ", " << w << ", " << v << ", " << rs << ", " << v << ") -> "
           << y << "\n";
  } else {
    source << "  %xq = qb.quantize %x {scale = array<f32: " << inputScale
           << ">} : " << x << " -> " << xq << "\n"
           << "  %y = qb.int8_linear %xq, %w weight_scale(%s) bias(%b) "
              "{input_scale = "
           << inputScale << " : f32" << sparseAttr << "} : (" << xq << ", " << w << ", " << v
           << ", " << v << ") -> " << y << "\n";
  }
  source << "  return %y : " << y << "\n}\n";

  std::string error;
  auto jit = JitModule::compile(
      source.str(),
      [](mlir::OpPassManager &pm) {
        pm.addPass(createConvertQBToRuntime());
        pm.addPass(createConvertQBToLinalg());
      },
      error);
  ASSERT_TRUE(jit) << error << "\n" << source.str();
  using F3 = StridedMemRefType<float, 3>;
  auto *prepare = reinterpret_cast<int32_t (*)(qbrt_context *, void **)>(
      jit->lookupSymbol("linear_int8_prepare"));
  auto *destroy =
      reinterpret_cast<void (*)(void **)>(jit->lookupSymbol("linear_int8_destroy"));
  auto *linear =
      reinterpret_cast<void (*)(F3 *, F3 *, void **)>(jit->lookup("linear"));
  ASSERT_TRUE(prepare && destroy && linear);

  qbrt_context *context = nullptr;
  ASSERT_EQ(qbrt_context_create(1, &context), QB_OK);
  // One plan and the status slot after it.
  void *plans[2] = {nullptr, nullptr};
  ASSERT_EQ(prepare(context, plans), 0) << qbrt_last_error(context);

  std::vector<float> input(c.batch * c.rows * c.k);
  for (float &value : input)
    value = 2.0f * normal(rng);
  if (c.dynamic && c.rows > 1)
    std::fill(input.begin(), input.begin() + c.k, 0.0f); // scale 1, codes 0
  F3 inputRef = makeMemRef<float, 3>(input.data(), {c.batch, c.rows, c.k});
  F3 output;
  linear(&output, &inputRef, plans);
  EXPECT_EQ(*reinterpret_cast<int32_t *>(&plans[1]), 0) << "run status";

  for (int64_t m = 0; m < c.batch * c.rows; ++m) {
    // Dynamic: the row's scale, max|x| / 127 (1 for a zero row).
    float rowScale = inputScale;
    if (c.dynamic) {
      float maxAbs = 0.0f;
      for (int64_t k = 0; k < c.k; ++k)
        maxAbs = std::max(maxAbs, std::fabs(input[m * c.k + k]));
      rowScale = maxAbs == 0.0f ? 1.0f : maxAbs / 127.0f;
    }
    for (int64_t n = 0; n < c.n; ++n) {
      int64_t accumulator = 0;
      for (int64_t k = 0; k < c.k; ++k)
        accumulator += int64_t{quantizeToInt8(input[m * c.k + k], rowScale, 0)} *
                       weight[n * c.k + k];
      double expected =
          double(rowScale) * scales[n] * double(accumulator) + bias[n];
      float actual = output.data[m * c.n + n];
      ASSERT_NEAR(actual, expected, 1e-5 + 1e-5 * std::fabs(expected))
          << "y[" << m << ", " << n << "]";
    }
  }
  JitModule::freeResult(output.basePtr);
  destroy(plans);
  qbrt_context_destroy(context);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8LinearKernel,
    ::testing::Values(Int8Case{1, 1, 1, 1}, Int8Case{1, 3, 64, 8},
                      Int8Case{1, 5, 65, 7}, Int8Case{2, 17, 200, 37},
                      Int8Case{1, 128, 768, 768},
                      Int8Case{1, 1, 1, 1, true}, Int8Case{1, 5, 65, 7, true},
                      Int8Case{2, 17, 200, 37, true},
                      Int8Case{1, 128, 768, 768, true},
                      Int8Case{1, 1, 1, 1, false, true},
                      Int8Case{2, 17, 200, 37, false, true},
                      Int8Case{1, 5, 65, 7, true, true},
                      Int8Case{1, 128, 768, 768, true, true}),
    [](const ::testing::TestParamInfo<Int8Case> &info) {
      const Int8Case &c = info.param;
      return "B" + std::to_string(c.batch) + "M" + std::to_string(c.rows) +
             "K" + std::to_string(c.k) + "N" + std::to_string(c.n) +
             (c.dynamic ? "Dynamic" : "") + (c.sparse ? "BlockSparse" : "");
    });

} // namespace
