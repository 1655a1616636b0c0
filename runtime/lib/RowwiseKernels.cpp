//===- RowwiseKernels.cpp - Layer norm and softmax over the last dimension ===//
//
// Both kernels reduce each row of a [rows, cols] tensor in f32. Sums and
// maxima go through kLanes independent accumulators, which the compiler keeps
// in one vector register (a single running sum would have to stay scalar,
// since f32 addition is not associative) and which also round less than
// one long chain.
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "Kernels.h"

#include <cmath>
#include <limits>

using namespace quantbert;

namespace {

constexpr int64_t kLanes = 16;

/// Pairwise sum of the lane accumulators.
QB_ALWAYS_INLINE float sumLanes(float (&lanes)[kLanes]) {
  for (int64_t width = kLanes / 2; width > 0; width /= 2)
    for (int64_t l = 0; l < width; ++l)
      lanes[l] += lanes[l + width];
  return lanes[0];
}

QB_ALWAYS_INLINE float rowSum(const float *x, int64_t cols) {
  float lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= cols; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l)
      lanes[l] += x[j + l];
  for (; j < cols; ++j)
    lanes[j % kLanes] += x[j];
  return sumLanes(lanes);
}

QB_ALWAYS_INLINE float rowSquaredDeviation(const float *x, int64_t cols,
                                           float mean) {
  float lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= cols; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      float d = x[j + l] - mean;
      lanes[l] += d * d;
    }
  for (; j < cols; ++j) {
    float d = x[j] - mean;
    lanes[j % kLanes] += d * d;
  }
  return sumLanes(lanes);
}

QB_ALWAYS_INLINE float rowMax(const float *x, int64_t cols) {
  float lanes[kLanes];
  for (float &lane : lanes)
    lane = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= cols; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l)
      lanes[l] = x[j + l] > lanes[l] ? x[j + l] : lanes[l];
  for (; j < cols; ++j)
    lanes[j % kLanes] = x[j] > lanes[j % kLanes] ? x[j] : lanes[j % kLanes];
  float result = lanes[0];
  for (float lane : lanes)
    result = lane > result ? lane : result;
  return result;
}

QB_VECTOR_CLONES
void layerNormRows(const float *x, const float *gamma, const float *beta,
                   int64_t rows, int64_t cols, float eps, float *y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    // Two passes (mean, then the mean squared deviation) as PyTorch's
    // LayerNorm: no cancellation for rows with a large mean.
    float mean = rowSum(xr, cols) / static_cast<float>(cols);
    float var = rowSquaredDeviation(xr, cols, mean) / static_cast<float>(cols);
    float rstd = 1.0f / std::sqrt(var + eps);
    for (int64_t j = 0; j < cols; ++j)
      yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

QB_VECTOR_CLONES
void softmaxRows(const float *x, int64_t rows, int64_t cols, float *y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float max = rowMax(xr, cols);
    for (int64_t j = 0; j < cols; ++j)
      yr[j] = std::exp(xr[j] - max);
    float inv = 1.0f / rowSum(yr, cols);
    for (int64_t j = 0; j < cols; ++j)
      yr[j] *= inv;
  }
}

/// Checks ctx, the shape and the row tensors x and y of a row kernel.
qb_status checkRows(qbrt_context *ctx, const char *function, const float *x,
                    int64_t rows, int64_t cols, const float *y) {
  if (qb_status s = checkPointer(nullptr, function, ctx, "ctx"))
    return s;
  if (qb_status s = checkDim(ctx, function, rows, "rows"))
    return s;
  if (qb_status s = checkDim(ctx, function, cols, "cols", 1))
    return s;
  int64_t size;
  if (qb_status s = checkedProduct(ctx, function, rows, cols, &size))
    return s;
  if (qb_status s = checkPointer(ctx, function, x, "x", size))
    return s;
  return checkPointer(ctx, function, y, "y", size);
}

} // namespace

extern "C" {

qb_status qbrt_layer_norm(qbrt_context *ctx, const float *x, const float *gamma,
                          const float *beta, int64_t rows, int64_t cols,
                          float eps, float *y) {
  const char *function = "qbrt_layer_norm";
  if (qb_status s = checkRows(ctx, function, x, rows, cols, y))
    return s;
  if (qb_status s = checkPointer(ctx, function, gamma, "gamma"))
    return s;
  if (qb_status s = checkPointer(ctx, function, beta, "beta"))
    return s;
  if (!(eps >= 0.0f) || !std::isfinite(eps))
    return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: eps is %g, must be finite and >= 0", function,
                       static_cast<double>(eps));
  ctx->pool.parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    layerNormRows(x + begin * cols, gamma, beta, end - begin, cols, eps,
                  y + begin * cols);
  });
  return QB_OK;
}

qb_status qbrt_softmax(qbrt_context *ctx, const float *x, int64_t rows,
                       int64_t cols, float *y) {
  if (qb_status s = checkRows(ctx, "qbrt_softmax", x, rows, cols, y))
    return s;
  ctx->pool.parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    softmaxRows(x + begin * cols, end - begin, cols, y + begin * cols);
  });
  return QB_OK;
}

} // extern "C"
