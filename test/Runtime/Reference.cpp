//===- Reference.cpp - Scalar references for the runtime kernels ----------===//
//
// Straight transcriptions of the formulas, one element at a time. The int8
// formula is the project's single definition, quantbert/Support/Quantization.h.
//
//===----------------------------------------------------------------------===//
#include "Reference.h"

#include "quantbert/Support/Quantization.h"

#include <algorithm>
#include <cmath>

using namespace quantbert;

int8_t reference::quantize(float x, float scale, int32_t zeroPoint,
                           float offset) {
  return quantizeToInt8(x, scale, zeroPoint, offset);
}

float reference::dequantize(int8_t q, float scale, int32_t zeroPoint,
                            float offset) {
  return dequantizeInt8(q, scale, zeroPoint, offset);
}

double reference::gelu(float x) {
  double v = x;
  return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
}

std::vector<double> reference::layerNorm(const std::vector<float> &x,
                                         const std::vector<float> &gamma,
                                         const std::vector<float> &beta,
                                         int64_t rows, int64_t cols,
                                         float eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < cols; ++j)
      mean += x[r * cols + j];
    mean /= cols;
    for (int64_t j = 0; j < cols; ++j)
      var += (x[r * cols + j] - mean) * (x[r * cols + j] - mean);
    var /= cols;
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] =
          (x[r * cols + j] - mean) / std::sqrt(var + eps) * gamma[j] + beta[j];
  }
  return y;
}

std::vector<double> reference::softmax(const std::vector<float> &x,
                                       int64_t rows, int64_t cols) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double max = x[r * cols];
    for (int64_t j = 1; j < cols; ++j)
      max = std::max<double>(max, x[r * cols + j]);
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j)
      sum += y[r * cols + j] = std::exp(x[r * cols + j] - max);
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] /= sum;
  }
  return y;
}

std::vector<double> reference::int8Linear(const std::vector<int8_t> &x,
                                          int64_t m, int64_t k, float xScale,
                                          int32_t xZeroPoint,
                                          const std::vector<int8_t> &w,
                                          const std::vector<float> &wScales,
                                          const std::vector<float> &bias,
                                          int64_t n) {
  std::vector<double> y(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int64_t l = 0; l < k; ++l)
        acc += (int64_t{x[i * k + l]} - xZeroPoint) * w[j * k + l];
      y[i * n + j] = static_cast<double>(xScale) * wScales[j] * acc +
                     (bias.empty() ? 0.0 : bias[j]);
    }
  return y;
}
