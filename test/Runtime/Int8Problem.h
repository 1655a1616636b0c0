//===- Int8Problem.h - Random int8 linear problems and their exact check --===//
//
// Shared by the dense and the block-sparse int8 linear tests: random
// operands, and the check against the exact integer reference, where the
// only error is f32 rounding after the exact int32 accumulation.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_TEST_RUNTIME_INT8PROBLEM_H
#define QUANTBERT_TEST_RUNTIME_INT8PROBLEM_H

#include "Reference.h"
#include "TestSupport.h"

#include <cmath>
#include <cstdlib>

namespace quantbert::test {

struct Problem {
  int64_t m, k, n;
  std::vector<int8_t> x, w;
  std::vector<float> wScales, bias;
};

inline Problem randomProblem(std::mt19937 &rng, int64_t m, int64_t k,
                             int64_t n, bool withBias) {
  Problem p{m, k, n, randomInt8(rng, m * k), randomInt8(rng, n * k), {}, {}};
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (int64_t j = 0; j < n; ++j)
    p.wScales.push_back(scale(rng));
  if (withBias)
    p.bias = randomFloats(rng, n, 0.0f, 3.0f);
  return p;
}

/// Accepted distance from the exact result: a few f32 roundings (of the
/// accumulator, the folded bias, their sum and the scaling) of the largest
/// magnitude involved, B = s_x s_w[n] sum_k (|x_q| + |z_x|) |w_q| + |bias|.
inline void expectMatchesExact(const Problem &p, float xScale,
                               int32_t xZeroPoint, const std::vector<float> &y) {
  std::vector<double> ref = reference::int8Linear(
      p.x, p.m, p.k, xScale, xZeroPoint, p.w, p.wScales, p.bias, p.n);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double magnitude = 0;
      for (int64_t l = 0; l < p.k; ++l)
        magnitude += (std::abs(p.x[i * p.k + l]) + std::abs(xZeroPoint)) *
                     std::abs(p.w[j * p.k + l]);
      magnitude = magnitude * xScale * p.wScales[j] +
                  (p.bias.empty() ? 0.0 : std::fabs(p.bias[j]));
      double tolerance = 8 * std::ldexp(magnitude, -24);
      ASSERT_NEAR(y[i * p.n + j], ref[i * p.n + j], tolerance)
          << "m=" << p.m << " k=" << p.k << " n=" << p.n << " at (" << i << ", "
          << j << ")";
    }
}

/// Row i of p as a one-row problem (per-row scales are the static case
/// with x_scale = the row's scale and no zero point).
inline Problem rowOf(const Problem &p, int64_t i) {
  return Problem{1,
                 p.k,
                 p.n,
                 std::vector<int8_t>(p.x.begin() + i * p.k,
                                     p.x.begin() + (i + 1) * p.k),
                 p.w,
                 p.wScales,
                 p.bias};
}

} // namespace quantbert::test

#endif // QUANTBERT_TEST_RUNTIME_INT8PROBLEM_H
