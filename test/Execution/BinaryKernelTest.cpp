//===- BinaryKernelTest.cpp - Lowered bitpack and binary linear ---------===//
//
// JIT-compiles qb.bitpack and qb.binary_linear through convert-qb-to-vector's
// patterns and checks them against the scalar reference (packSignBits and
// packedSignDot from quantbert/Support/BitPacking.h) on random inputs,
// including K not a multiple of 64, odd M and N, N not a multiple of the
// vector width, zeros, negative zeros and NaNs. The output transform is the
// op's exact formula, so results must match bit for bit, also when the
// parallel loops run on three threads. The binary FFN's first linear,
// packed by the next bitpack, lowers with it into one loop (N a multiple of
// 64): its packed signs must be those of the reference outputs. A
// block-sparse weight (block_mask, random masks from none to all blocks
// stored, N not a multiple of the 32-row block) must match
// maskedPackedSignDot the same way, fused with its bitpack or not.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"
#include "quantbert/Target/JitModule.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Support/BitPacking.h"
#include "RuntimeThreads.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <vector>

using namespace quantbert;

namespace {

/// Random activations with the awkward values mixed in.
std::vector<float> randomActivations(int64_t count, std::mt19937 &rng) {
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> pick(0, 19);
  std::vector<float> values(count);
  for (float &value : values) {
    switch (pick(rng)) {
    case 0:
      value = 0.0f;
      break;
    case 1:
      value = -0.0f;
      break;
    case 2:
      value = std::numeric_limits<float>::quiet_NaN();
      break;
    case 3:
      value = std::numeric_limits<float>::denorm_min();
      break;
    default:
      value = normal(rng);
    }
  }
  return values;
}

std::vector<uint64_t> packRows(const std::vector<float> &values, int64_t rows,
                               int64_t k) {
  int64_t words = packedWordCount(k);
  std::vector<uint64_t> packed(rows * words);
  for (int64_t row = 0; row < rows; ++row)
    packSignBits(values.data() + row * k, k, packed.data() + row * words);
  return packed;
}

std::string tensorLiteral(const std::vector<uint64_t> &values, int64_t rows,
                          int64_t cols) {
  std::ostringstream text;
  text << "dense<[";
  for (int64_t r = 0; r < rows; ++r) {
    text << (r ? ", [" : "[");
    for (int64_t c = 0; c < cols; ++c)
      text << (c ? ", " : "") << static_cast<int64_t>(values[r * cols + c]);
    text << "]";
  }
  text << "]>";
  return text.str();
}

/// The op's outputs from the scalar reference: packedSignDot(x, w) *
/// scale[n] (+ bias[n]), row-major [m, n].
std::vector<float> referenceOutputs(const std::vector<float> &x,
                                    const std::vector<uint64_t> &weight,
                                    const std::vector<float> &scale,
                                    const std::vector<float> *bias, int64_t m,
                                    int64_t k, int64_t n) {
  int64_t words = packedWordCount(k);
  std::vector<uint64_t> packedX = packRows(x, m, k);
  std::vector<float> y(m * n);
  for (int64_t row = 0; row < m; ++row)
    for (int64_t col = 0; col < n; ++col) {
      int64_t dot = packedSignDot(packedX.data() + row * words,
                                  weight.data() + col * words, k);
      float value = static_cast<float>(dot) * scale[col];
      if (bias)
        value += (*bias)[col];
      y[row * n + col] = value;
    }
  return y;
}

/// The outputs of `output` [rows, cols] that differ from `expected`
/// (row-major), the first five reported.
int64_t countWrongFloats(const StridedMemRefType<float, 2> &output,
                         const std::vector<float> &expected, int64_t rows,
                         int64_t cols) {
  int64_t wrong = 0;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t col = 0; col < cols; ++col) {
      float want = expected[row * cols + col];
      float actual = output.data[row * output.strides[0] + col];
      if (actual != want && ++wrong <= 5)
        ADD_FAILURE() << "y[" << row << ", " << col << "] = " << actual
                      << ", expected " << want;
    }
  return wrong;
}

/// The packed words of `output` [rows, words] that differ from `expected`.
int64_t countWrongWords(const StridedMemRefType<int64_t, 2> &output,
                        const std::vector<uint64_t> &expected, int64_t rows,
                        int64_t words) {
  int64_t wrong = 0;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t w = 0; w < words; ++w) {
      auto actual = static_cast<uint64_t>(output.data[row * output.strides[0] + w]);
      if (actual != expected[row * words + w] && ++wrong <= 5)
        ADD_FAILURE() << "row " << row << ", word " << w << ": " << std::hex
                      << actual << ", expected " << expected[row * words + w];
    }
  return wrong;
}

std::unique_ptr<JitModule> compileOrFail(const std::string &source) {
  std::string error;
  auto jit = JitModule::compile(
      source,
      [](mlir::OpPassManager &pm) { pm.addPass(createConvertQBToVector()); },
      error);
  EXPECT_TRUE(jit) << error << "\n" << source;
  return jit;
}

TEST(BitpackKernel, MatchesPackSignBits) {
  std::mt19937 rng(1);
  for (int64_t k : {1, 5, 63, 64, 65, 130, 768, 3072}) {
    int64_t words = packedWordCount(k);
    std::ostringstream source;
    source << "func.func @pack(%x: tensor<?x" << k << "xf32>) -> tensor<?x"
           << words << "xi64> attributes {llvm.emit_c_interface} {\n"
           << "  %p = qb.bitpack %x : tensor<?x" << k << "xf32> -> tensor<?x"
           << words << "xi64>\n"
           << "  return %p : tensor<?x" << words << "xi64>\n}\n";
    auto jit = compileOrFail(source.str());
    ASSERT_TRUE(jit);
    auto *pack = reinterpret_cast<void (*)(StridedMemRefType<int64_t, 2> *,
                                           StridedMemRefType<float, 2> *)>(
        jit->lookup("pack"));
    ASSERT_TRUE(pack);
    test::ScopedThreads threads(3);
    for (int64_t rows : {1, 3, 17, 700}) {
      std::vector<float> x = randomActivations(rows * k, rng);
      auto input = makeMemRef<float, 2>(x.data(), {rows, k});
      StridedMemRefType<int64_t, 2> output;
      pack(&output, &input);
      std::vector<uint64_t> expected = packRows(x, rows, k);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t w = 0; w < words; ++w)
          EXPECT_EQ(static_cast<uint64_t>(output.data[r * output.strides[0] + w]),
                    expected[r * words + w])
              << "K = " << k << ", row " << r << ", word " << w;
      JitModule::freeResult(output.basePtr);
    }
  }
}

struct BinaryLinearCase {
  int64_t m, k, n;
  bool constantWeight;
  bool withBias;
};

/// The tensor types of a case's input, packed input, weight, per-output
/// vectors and output.
struct CaseTypes {
  std::string x, p, w, v, y;
  explicit CaseTypes(const BinaryLinearCase &c) {
    std::string words = std::to_string(packedWordCount(c.k));
    x = "tensor<?x" + std::to_string(c.k) + "xf32>";
    p = "tensor<?x" + words + "xi64>";
    w = "tensor<" + std::to_string(c.n) + "x" + words + "xi64>";
    v = "tensor<" + std::to_string(c.n) + "xf32>";
    y = "tensor<?x" + std::to_string(c.n) + "xf32>";
  }
};

/// %xp = qb.bitpack %x, then %y = qb.binary_linear %xp, %w scale(%s)
/// [bias(%b)].
std::string packAndLinear(const BinaryLinearCase &c, const CaseTypes &t) {
  std::ostringstream text;
  text << "  %xp = qb.bitpack %x : " << t.x << " -> " << t.p << "\n"
       << "  %y = qb.binary_linear %xp, %w scale(%s)"
       << (c.withBias ? " bias(%b)" : "") << " {in_features = " << c.k
       << "} : (" << t.p << ", " << t.w << ", " << t.v
       << (c.withBias ? ", " + t.v : "") << ") -> " << t.y << "\n";
  return text.str();
}

std::string caseName(const ::testing::TestParamInfo<BinaryLinearCase> &info) {
  const BinaryLinearCase &c = info.param;
  return "M" + std::to_string(c.m) + "K" + std::to_string(c.k) + "N" +
         std::to_string(c.n) + (c.constantWeight ? "Const" : "Arg") +
         (c.withBias ? "Bias" : "");
}

class BinaryLinearKernel : public ::testing::TestWithParam<BinaryLinearCase> {};

TEST_P(BinaryLinearKernel, MatchesScalarReference) {
  const BinaryLinearCase &c = GetParam();
  int64_t words = packedWordCount(c.k);
  std::mt19937 rng(c.m * 1000003 + c.k * 1009 + c.n);
  std::normal_distribution<float> normal;

  std::vector<float> weightFloats = randomActivations(c.n * c.k, rng);
  std::vector<uint64_t> weight = packRows(weightFloats, c.n, c.k);
  std::vector<float> scale(c.n), bias(c.n);
  for (int64_t i = 0; i < c.n; ++i) {
    scale[i] = std::fabs(normal(rng)) + 0.01f;
    bias[i] = normal(rng);
  }
  std::vector<float> x = randomActivations(c.m * c.k, rng);

  std::ostringstream source;
  CaseTypes t(c);
  source << "func.func @kernel(%x: " << t.x;
  if (!c.constantWeight)
    source << ", %w: " << t.w;
  source << ", %s: " << t.v;
  if (c.withBias)
    source << ", %b: " << t.v;
  source << ") -> " << t.y << " attributes {llvm.emit_c_interface} {\n";
  if (c.constantWeight)
    source << "  %w = arith.constant " << tensorLiteral(weight, c.n, words)
           << " : " << t.w << "\n";
  source << packAndLinear(c, t)
         << "  return %y : " << t.y << "\n}\n";
  auto jit = compileOrFail(source.str());
  ASSERT_TRUE(jit);
  void *kernel = jit->lookup("kernel");
  ASSERT_TRUE(kernel);

  using F2 = StridedMemRefType<float, 2>;
  using F1 = StridedMemRefType<float, 1>;
  using I2 = StridedMemRefType<int64_t, 2>;
  F2 input = makeMemRef<float, 2>(x.data(), {c.m, c.k});
  std::vector<int64_t> weightSigned(weight.begin(), weight.end());
  I2 weightRef = makeMemRef<int64_t, 2>(weightSigned.data(), {c.n, words});
  F1 scaleRef = makeMemRef<float, 1>(scale.data(), {c.n});
  F1 biasRef = makeMemRef<float, 1>(bias.data(), {c.n});
  F2 output;
  // Column panels are the iterations of a parallel loop: on three threads
  // the result must still match the reference bit for bit.
  test::ScopedThreads threads(3);
  if (c.constantWeight && c.withBias)
    reinterpret_cast<void (*)(F2 *, F2 *, F1 *, F1 *)>(kernel)(
        &output, &input, &scaleRef, &biasRef);
  else if (c.constantWeight)
    reinterpret_cast<void (*)(F2 *, F2 *, F1 *)>(kernel)(&output, &input,
                                                         &scaleRef);
  else if (c.withBias)
    reinterpret_cast<void (*)(F2 *, F2 *, I2 *, F1 *, F1 *)>(kernel)(
        &output, &input, &weightRef, &scaleRef, &biasRef);
  else
    reinterpret_cast<void (*)(F2 *, F2 *, I2 *, F1 *)>(kernel)(
        &output, &input, &weightRef, &scaleRef);
  ASSERT_EQ(output.sizes[0], c.m);
  ASSERT_EQ(output.sizes[1], c.n);

  std::vector<float> y = referenceOutputs(x, weight, scale,
                                          c.withBias ? &bias : nullptr, c.m,
                                          c.k, c.n);
  EXPECT_EQ(countWrongFloats(output, y, c.m, c.n), 0);
  JitModule::freeResult(output.basePtr);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BinaryLinearKernel,
    ::testing::Values(
        BinaryLinearCase{1, 1, 1, true, true},
        BinaryLinearCase{3, 64, 8, true, true},
        BinaryLinearCase{5, 65, 7, true, false},
        BinaryLinearCase{17, 200, 37, true, true},
        BinaryLinearCase{4, 130, 24, false, true},
        BinaryLinearCase{9, 768, 100, false, true},
        BinaryLinearCase{7, 3072, 48, false, false},
        BinaryLinearCase{13, 1000, 25, true, true},
        BinaryLinearCase{33, 256, 244, true, true}),
    caseName);


/// The signs of a binary linear's outputs, packed: one fused loop when N is
/// a multiple of 64, the two ops' own loops otherwise.
class BinaryLinearSigns : public ::testing::TestWithParam<BinaryLinearCase> {};

TEST_P(BinaryLinearSigns, MatchPackedReferenceOutputs) {
  const BinaryLinearCase &c = GetParam();
  int64_t words = packedWordCount(c.k), outWords = packedWordCount(c.n);
  std::mt19937 rng(c.m * 7919 + c.k * 31 + c.n);
  std::normal_distribution<float> normal;
  std::vector<uint64_t> weight =
      packRows(randomActivations(c.n * c.k, rng), c.n, c.k);
  std::vector<float> scale(c.n), bias(c.n);
  for (int64_t i = 0; i < c.n; ++i) {
    scale[i] = std::fabs(normal(rng)) + 0.01f;
    // Some outputs exactly 0 (bit set), others a hair off it.
    bias[i] = i % 5 == 0 ? 0.0f : normal(rng);
  }
  std::vector<float> x = randomActivations(c.m * c.k, rng);

  CaseTypes t(c);
  std::string sType = "tensor<?x" + std::to_string(outWords) + "xi64>";
  std::ostringstream source;
  source << "func.func @kernel(%x: " << t.x << ", %s: " << t.v
         << ", %b: " << t.v << ") -> " << sType
         << " attributes {llvm.emit_c_interface} {\n"
         << "  %w = arith.constant " << tensorLiteral(weight, c.n, words)
         << " : " << t.w << "\n"
         << packAndLinear(c, t)
         << "  %yp = qb.bitpack %y : " << t.y << " -> " << sType << "\n"
         << "  return %yp : " << sType << "\n}\n";
  auto jit = compileOrFail(source.str());
  ASSERT_TRUE(jit);
  auto *kernel = reinterpret_cast<void (*)(
      StridedMemRefType<int64_t, 2> *, StridedMemRefType<float, 2> *,
      StridedMemRefType<float, 1> *, StridedMemRefType<float, 1> *)>(
      jit->lookup("kernel"));
  ASSERT_TRUE(kernel);

  auto input = makeMemRef<float, 2>(x.data(), {c.m, c.k});
  auto scaleRef = makeMemRef<float, 1>(scale.data(), {c.n});
  auto biasRef = makeMemRef<float, 1>(bias.data(), {c.n});
  StridedMemRefType<int64_t, 2> output;
  test::ScopedThreads threads(3);
  kernel(&output, &input, &scaleRef, &biasRef);
  ASSERT_EQ(output.sizes[0], c.m);
  ASSERT_EQ(output.sizes[1], outWords);

  std::vector<uint64_t> expected = packRows(
      referenceOutputs(x, weight, scale, c.withBias ? &bias : nullptr, c.m,
                       c.k, c.n),
      c.m, c.n);
  EXPECT_EQ(countWrongWords(output, expected, c.m, outWords), 0);
  JitModule::freeResult(output.basePtr);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BinaryLinearSigns,
    ::testing::Values(BinaryLinearCase{1, 64, 64, true, true},
                      BinaryLinearCase{5, 65, 128, true, false},
                      BinaryLinearCase{7, 768, 192, true, true},
                      BinaryLinearCase{130, 200, 64, true, true},
                      BinaryLinearCase{6, 130, 100, true, true}),
    caseName);

/// A block-sparse binary linear (block_mask): `keep` is the fraction of
/// blocks stored (0 and 1 included), the rest zeros that the kernel skips.
struct SparseBinaryCase {
  int64_t m, k, n;
  double keep;
  bool withBias;
  bool packSigns; // followed by qb.bitpack (fused when N % 64 == 0)
};

std::string sparseCaseName(
    const ::testing::TestParamInfo<SparseBinaryCase> &info) {
  const SparseBinaryCase &c = info.param;
  return "M" + std::to_string(c.m) + "K" + std::to_string(c.k) + "N" +
         std::to_string(c.n) + "Keep" +
         std::to_string(static_cast<int>(c.keep * 100)) +
         (c.withBias ? "Bias" : "") + (c.packSigns ? "Signs" : "");
}

std::string maskLiteral(const std::vector<bool> &mask, int64_t rows,
                        int64_t cols) {
  std::ostringstream text;
  text << "dense<[";
  for (int64_t r = 0; r < rows; ++r) {
    text << (r ? ", [" : "[");
    for (int64_t c = 0; c < cols; ++c)
      text << (c ? ", " : "") << (mask[r * cols + c] ? "true" : "false");
    text << "]";
  }
  text << "]>";
  return text.str();
}

/// The block-sparse reference: maskedPackedSignDot over each output row's
/// block row, times scale (+ bias).
std::vector<float> referenceSparseOutputs(
    const std::vector<float> &x, const std::vector<uint64_t> &weight,
    const std::vector<bool> &mask, const std::vector<float> &scale,
    const std::vector<float> *bias, int64_t m, int64_t k, int64_t n) {
  int64_t words = packedWordCount(k);
  std::vector<uint64_t> packedX = packRows(x, m, k);
  std::vector<float> y(m * n);
  std::unique_ptr<bool[]> stored(new bool[words]);
  for (int64_t col = 0; col < n; ++col) {
    for (int64_t w = 0; w < words; ++w)
      stored[w] = mask[(col / kBinaryBlockRows) * words + w];
    for (int64_t row = 0; row < m; ++row) {
      int64_t dot = maskedPackedSignDot(packedX.data() + row * words,
                                        weight.data() + col * words, k,
                                        stored.get());
      float value = static_cast<float>(dot) * scale[col];
      if (bias)
        value += (*bias)[col];
      y[row * n + col] = value;
    }
  }
  return y;
}

class SparseBinaryLinear : public ::testing::TestWithParam<SparseBinaryCase> {};

TEST_P(SparseBinaryLinear, MatchesMaskedScalarReference) {
  const SparseBinaryCase &c = GetParam();
  int64_t words = packedWordCount(c.k), panels = binaryBlockRowCount(c.n);
  std::mt19937 rng(c.m * 131 + c.k * 17 + c.n * 3 +
                   static_cast<int>(c.keep * 100));
  std::normal_distribution<float> normal;
  std::bernoulli_distribution keep(c.keep);
  std::vector<uint64_t> weight =
      packRows(randomActivations(c.n * c.k, rng), c.n, c.k);
  std::vector<bool> mask(panels * words);
  for (size_t i = 0; i < mask.size(); ++i)
    mask[i] = keep(rng);
  std::vector<float> scale(c.n), bias(c.n);
  for (int64_t i = 0; i < c.n; ++i) {
    scale[i] = std::fabs(normal(rng)) + 0.01f;
    bias[i] = i % 5 == 0 ? 0.0f : normal(rng);
  }
  std::vector<float> x = randomActivations(c.m * c.k, rng);

  std::string ws = std::to_string(words), ns = std::to_string(c.n);
  std::string tx = "tensor<?x" + std::to_string(c.k) + "xf32>",
              tp = "tensor<?x" + ws + "xi64>",
              tw = "tensor<" + ns + "x" + ws + "xi64>",
              tm = "tensor<" + std::to_string(panels) + "x" + ws + "xi1>",
              tv = "tensor<" + ns + "xf32>", ty = "tensor<?x" + ns + "xf32>",
              ts = "tensor<?x" + std::to_string(packedWordCount(c.n)) + "xi64>";
  std::ostringstream source;
  source << "func.func @kernel(%x: " << tx << ", %s: " << tv
         << ", %b: " << tv << ") -> " << (c.packSigns ? ts : ty)
         << " attributes {llvm.emit_c_interface} {\n"
         << "  %w = arith.constant " << tensorLiteral(weight, c.n, words)
         << " : " << tw << "\n"
         << "  %m = arith.constant " << maskLiteral(mask, panels, words)
         << " : " << tm << "\n"
         << "  %xp = qb.bitpack %x : " << tx << " -> " << tp << "\n"
         << "  %y = qb.binary_linear %xp, %w scale(%s)"
         << (c.withBias ? " bias(%b)" : "") << " block_mask(%m) {in_features = "
         << c.k << "} : (" << tp << ", " << tw << ", " << tv
         << (c.withBias ? ", " + tv : "") << ", " << tm << ") -> " << ty
         << "\n";
  if (c.packSigns)
    source << "  %yp = qb.bitpack %y : " << ty << " -> " << ts << "\n"
           << "  return %yp : " << ts << "\n}\n";
  else
    source << "  return %y : " << ty << "\n}\n";
  auto jit = compileOrFail(source.str());
  ASSERT_TRUE(jit);
  void *kernel = jit->lookup("kernel");
  ASSERT_TRUE(kernel);

  auto input = makeMemRef<float, 2>(x.data(), {c.m, c.k});
  auto scaleRef = makeMemRef<float, 1>(scale.data(), {c.n});
  auto biasRef = makeMemRef<float, 1>(bias.data(), {c.n});
  std::vector<float> y = referenceSparseOutputs(
      x, weight, mask, scale, c.withBias ? &bias : nullptr, c.m, c.k, c.n);
  // Panels are the iterations of a parallel loop: three threads.
  test::ScopedThreads threads(3);
  if (c.packSigns) {
    int64_t outWords = packedWordCount(c.n);
    StridedMemRefType<int64_t, 2> output;
    reinterpret_cast<void (*)(StridedMemRefType<int64_t, 2> *,
                              StridedMemRefType<float, 2> *,
                              StridedMemRefType<float, 1> *,
                              StridedMemRefType<float, 1> *)>(kernel)(
        &output, &input, &scaleRef, &biasRef);
    ASSERT_EQ(output.sizes[0], c.m);
    ASSERT_EQ(output.sizes[1], outWords);
    EXPECT_EQ(countWrongWords(output, packRows(y, c.m, c.n), c.m, outWords), 0);
    JitModule::freeResult(output.basePtr);
  } else {
    StridedMemRefType<float, 2> output;
    reinterpret_cast<void (*)(StridedMemRefType<float, 2> *,
                              StridedMemRefType<float, 2> *,
                              StridedMemRefType<float, 1> *,
                              StridedMemRefType<float, 1> *)>(kernel)(
        &output, &input, &scaleRef, &biasRef);
    ASSERT_EQ(output.sizes[0], c.m);
    ASSERT_EQ(output.sizes[1], c.n);
    EXPECT_EQ(countWrongFloats(output, y, c.m, c.n), 0);
    JitModule::freeResult(output.basePtr);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SparseBinaryLinear,
    ::testing::Values(
        // Edge sizes: one output, a partial panel, N just past a panel, K
        // of one bit and of a partial last word.
        SparseBinaryCase{1, 1, 1, 1.0, true, false},
        SparseBinaryCase{3, 65, 31, 0.5, true, false},
        SparseBinaryCase{5, 200, 33, 0.5, false, false},
        SparseBinaryCase{17, 130, 100, 0.3, true, false},
        SparseBinaryCase{9, 768, 96, 0.2, true, false},
        // No block stored: the output is the bias; every block: dense.
        SparseBinaryCase{4, 256, 64, 0.0, true, false},
        SparseBinaryCase{6, 256, 64, 1.0, true, false},
        // The binary FFN's first linear, its signs packed in the same loop
        // (N % 64 == 0) or by a separate bitpack (N = 100).
        SparseBinaryCase{7, 768, 192, 0.2, true, true},
        SparseBinaryCase{130, 200, 64, 0.5, true, true},
        SparseBinaryCase{5, 130, 100, 0.4, true, true}),
    sparseCaseName);

} // namespace
