//===- Reference.h - Scalar references for the runtime kernels ------------===//
//
// One plain, obviously correct implementation per kernel, written from the
// formulas in quantbert/runtime.h and used by every kernel test. Float
// kernels are referenced in double; quantization in f32, since its rounding
// is part of the specification.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_TEST_RUNTIME_REFERENCE_H
#define QUANTBERT_TEST_RUNTIME_REFERENCE_H

#include <cstdint>
#include <vector>

namespace quantbert::reference {

int8_t quantize(float x, float scale, int32_t zeroPoint, float offset);
float dequantize(int8_t q, float scale, int32_t zeroPoint, float offset);

double gelu(float x);

/// x, y: [rows, cols].
std::vector<double> layerNorm(const std::vector<float> &x,
                              const std::vector<float> &gamma,
                              const std::vector<float> &beta, int64_t rows,
                              int64_t cols, float eps);
std::vector<double> softmax(const std::vector<float> &x, int64_t rows,
                            int64_t cols);

/// The qb.int8_linear formula with exact integer accumulation: x [m, k],
/// w [n, k], bias [n] or empty; returns y [m, n].
std::vector<double> int8Linear(const std::vector<int8_t> &x, int64_t m,
                               int64_t k, float xScale, int32_t xZeroPoint,
                               const std::vector<int8_t> &w,
                               const std::vector<float> &wScales,
                               const std::vector<float> &bias, int64_t n);

} // namespace quantbert::reference

#endif // QUANTBERT_TEST_RUNTIME_REFERENCE_H
