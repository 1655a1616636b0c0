//===- Elementwise.cpp - int8 quantize/dequantize and GELU kernels --------===//
//
// One loop per kernel over a contiguous range, vectorized by the compiler;
// the C entry points check arguments and split big tensors over the pool.
// Quantization is computed in f32 exactly as the qb.quantize and
// qb.dequantize ops define it, so compiled and runtime paths agree bit for
// bit.
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "Kernels.h"

#include <cmath>

using namespace quantbert;

namespace {

QB_VECTOR_CLONES
void quantizeRange(const float *x, int64_t n, float scale, float zeroPoint,
                   float offset, int8_t *q) {
  for (int64_t i = 0; i < n; ++i) {
    // nearbyint rounds half to even under the default rounding mode, like
    // torch.round. NaN maps to the zero point (quantbert/Support/
    // Quantization.h, the compiler's qb.quantize); the select keeps it out
    // of an undefined conversion and vectorizes.
    float v = std::nearbyint((x[i] - offset) / scale) + zeroPoint;
    v = v == v ? v : zeroPoint;
    v = v >= -128.0f ? v : -128.0f;
    v = v <= 127.0f ? v : 127.0f;
    q[i] = static_cast<int8_t>(v);
  }
}

QB_VECTOR_CLONES
void dequantizeRange(const int8_t *q, int64_t n, float scale, float zeroPoint,
                     float offset, float *x) {
  for (int64_t i = 0; i < n; ++i)
    x[i] = (static_cast<float>(q[i]) - zeroPoint) * scale + offset;
}

/// erf as an odd rational function of x on [-4, 4] (beyond, erf is +-1 in
/// f32); the coefficients are Eigen's generic_fast_erf_float. Maximum
/// absolute error 4.3e-7, and unlike std::erf it vectorizes.
QB_ALWAYS_INLINE float erfApprox(float a) {
  float x = a < -4.0f ? -4.0f : (a > 4.0f ? 4.0f : a);
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  return x * p / q;
}

QB_VECTOR_CLONES
void geluRange(const float *x, int64_t n, float *y) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i)
    y[i] = 0.5f * x[i] * (1.0f + erfApprox(x[i] * kInvSqrt2));
}

qb_status checkElementwise(qbrt_context *ctx, const char *function,
                           const void *x, int64_t n, const void *y) {
  if (qb_status s = checkPointer(nullptr, function, ctx, "ctx"))
    return s;
  if (qb_status s = checkDim(ctx, function, n, "n"))
    return s;
  if (qb_status s = checkPointer(ctx, function, x, "input", n))
    return s;
  return checkPointer(ctx, function, y, "output", n);
}

} // namespace

extern "C" {

qb_status qbrt_quantize_i8(qbrt_context *ctx, const float *x, int64_t n,
                           float scale, int32_t zero_point, float offset,
                           int8_t *q) {
  const char *function = "qbrt_quantize_i8";
  if (qb_status s = checkElementwise(ctx, function, x, n, q))
    return s;
  if (qb_status s = checkQuantParams(ctx, function, scale, zero_point))
    return s;
  ctx->pool.parallelFor(n, kParallelGrain, [&](int64_t begin, int64_t end) {
    quantizeRange(x + begin, end - begin, scale, static_cast<float>(zero_point),
                  offset, q + begin);
  });
  return QB_OK;
}

qb_status qbrt_dequantize_i8(qbrt_context *ctx, const int8_t *q, int64_t n,
                             float scale, int32_t zero_point, float offset,
                             float *x) {
  const char *function = "qbrt_dequantize_i8";
  if (qb_status s = checkElementwise(ctx, function, q, n, x))
    return s;
  if (qb_status s = checkQuantParams(ctx, function, scale, zero_point))
    return s;
  ctx->pool.parallelFor(n, kParallelGrain, [&](int64_t begin, int64_t end) {
    dequantizeRange(q + begin, end - begin, scale,
                    static_cast<float>(zero_point), offset, x + begin);
  });
  return QB_OK;
}

qb_status qbrt_gelu(qbrt_context *ctx, const float *x, int64_t n, float *y) {
  if (qb_status s = checkElementwise(ctx, "qbrt_gelu", x, n, y))
    return s;
  ctx->pool.parallelFor(n, kParallelGrain, [&](int64_t begin, int64_t end) {
    geluRange(x + begin, end - begin, y + begin);
  });
  return QB_OK;
}

} // extern "C"
