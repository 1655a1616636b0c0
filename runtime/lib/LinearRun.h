//===- LinearRun.h - Argument checks shared by the int8 linear plans ------===//
//
// The dense (Int8Linear.cpp) and block-sparse (SparseInt8Linear.cpp) int8
// linear plans take the same prepare and run arguments and report the same
// errors; a plan type needs members ctx, k and n.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_RUNTIME_LINEARRUN_H
#define QUANTBERT_RUNTIME_LINEARRUN_H

#include "Context.h"

namespace quantbert {

/// Checks the arguments of a plan's prepare: ctx, out (set to null), n >= 1,
/// 1 <= k <= maxK (so the int32 accumulator cannot overflow), the weights
/// (named weightsName in messages) and n finite scales > 0.
template <typename Plan>
qb_status checkLinearPrepare(qbrt_context *ctx, const char *function,
                             const int8_t *w_q, const float *w_scales,
                             int64_t n, int64_t k, int64_t maxK, Plan **out,
                             const char *weightsName = "w_q") {
  if (qb_status s = checkPointer(nullptr, function, ctx, "ctx"))
    return s;
  if (qb_status s = checkPointer(ctx, function, out, "out"))
    return s;
  *out = nullptr;
  if (qb_status s = checkDim(ctx, function, n, "n", 1))
    return s;
  if (qb_status s = checkDim(ctx, function, k, "k", 1))
    return s;
  if (k > maxK)
    return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: k is %lld, must be <= %lld so int32 "
                       "accumulation cannot overflow",
                       function, static_cast<long long>(k),
                       static_cast<long long>(maxK));
  int64_t size;
  if (qb_status s = checkedProduct(ctx, function, n, k, &size))
    return s;
  if (qb_status s = checkPointer(ctx, function, w_q, weightsName))
    return s;
  if (qb_status s = checkPointer(ctx, function, w_scales, "w_scales"))
    return s;
  return checkScales(ctx, function, w_scales, n, "w_scales");
}

/// Checks the arguments of a run of `plan` on m rows, then calls
/// body() inside guardedCall (not for m = 0). Static quantization passes
/// rowScales = nullptr and perRow = false (x_scale and x_zero_point are
/// checked); per-row quantization perRow = true (row_scales must hold m
/// finite scales > 0).
template <typename Plan, typename Body>
qb_status checkedLinearRun(Plan *plan, const char *function, const int8_t *x_q,
                           int64_t m, float *y, bool perRow, float xScale,
                           int32_t xZeroPoint, const float *rowScales,
                           Body &&body) {
  if (qb_status s = checkPointer(nullptr, function, plan, "plan"))
    return s;
  qbrt_context *ctx = plan->ctx;
  if (qb_status s = checkDim(ctx, function, m, "m"))
    return s;
  int64_t xSize, ySize;
  if (qb_status s = checkedProduct(ctx, function, m, plan->k, &xSize))
    return s;
  if (qb_status s = checkedProduct(ctx, function, m, plan->n, &ySize))
    return s;
  if (qb_status s = checkPointer(ctx, function, x_q, "x_q", xSize))
    return s;
  if (qb_status s = checkPointer(ctx, function, y, "y", ySize))
    return s;
  if (perRow) {
    if (qb_status s = checkPointer(ctx, function, rowScales, "row_scales", m))
      return s;
    if (qb_status s = checkScales(ctx, function, rowScales, m, "row_scales"))
      return s;
  } else if (qb_status s = checkQuantParams(ctx, function, xScale, xZeroPoint)) {
    return s;
  }
  if (m == 0)
    return QB_OK;
  return guardedCall(ctx, function, body);
}

} // namespace quantbert

#endif // QUANTBERT_RUNTIME_LINEARRUN_H
