//===- WeightQuantizers.h - Weight quantizers' scalar definitions -*- C++ -*-===//
//
// The weight quantizers quant-bert supports, as plain functions over a row-
// major float buffer: the one definition the compiler uses when it quantizes
// latent weights at compile time and the training front end uses when it
// exports them, so both produce the same codes and scales. Formulas follow
// the reference codes (see each function). Per-tensor, as those codes do.
//
// Dependency-free: C++17 standard library only.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_WEIGHTQUANTIZERS_H
#define QUANTBERT_SUPPORT_WEIGHTQUANTIZERS_H

#include "quantbert/Support/Quantization.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace quantbert {

/// Codes and the affine parameters that map them back to floats.
struct QuantizedWeight {
  std::vector<int8_t> codes;
  float scale = 1.0f;
  int32_t zeroPoint = 0;
  float offset = 0.0f;
};

/// Q8BERT symmetric 8-bit: scale = max|W| / 127, q = round(W / scale).
/// An all-zero tensor gets scale 1 (every code is 0 anyway).
inline QuantizedWeight quantizeSymmetricInt8(const float *w, int64_t n) {
  float maxAbs = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    maxAbs = std::max(maxAbs, std::fabs(w[i]));
  QuantizedWeight result;
  result.scale = maxAbs > 0.0f ? maxAbs / 127.0f : 1.0f;
  result.codes.resize(n);
  for (int64_t i = 0; i < n; ++i)
    result.codes[i] = quantizeToInt8(w[i], result.scale, 0);
  return result;
}

/// SensiMix's asymmetric 8-bit "index" format:
/// q = round((W - min) * 255 / (max - min)) - 128, i.e. scale = (max-min)/255,
/// zero point -128, offset min. A constant tensor gets scale 1.
inline QuantizedWeight quantizeAsymmetricIndex(const float *w, int64_t n) {
  float lo = n ? w[0] : 0.0f, hi = lo;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  QuantizedWeight result;
  result.scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
  result.zeroPoint = -128;
  result.offset = lo;
  result.codes.resize(n);
  for (int64_t i = 0; i < n; ++i)
    result.codes[i] = quantizeToInt8(w[i], result.scale, -128, lo);
  return result;
}

/// TWN ternary (TernaryBERT): clip W to [-2.5, 2.5]; D = 0.7 * mean|W|;
/// a = mean of |W| over |W| > D; codes sign(W) * [|W| > D] in {-1, 0, 1}
/// with scale a. No element above D gives a = 0 and scale 1 (all codes 0).
inline QuantizedWeight quantizeTernaryTwn(const float *w, int64_t n) {
  constexpr float kClip = 2.5f;
  auto clipped = [&](int64_t i) { return std::clamp(w[i], -kClip, kClip); };
  double sumAbs = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sumAbs += std::fabs(clipped(i));
  float threshold = n ? 0.7f * static_cast<float>(sumAbs / double(n)) : 0.0f;
  double sumKept = 0.0;
  int64_t kept = 0;
  QuantizedWeight result;
  result.codes.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    float v = clipped(i);
    if (std::fabs(v) > threshold) {
      sumKept += std::fabs(v);
      ++kept;
      result.codes[i] = v > 0.0f ? 1 : -1;
    }
  }
  result.scale = kept ? static_cast<float>(sumKept / double(kept)) : 1.0f;
  return result;
}

/// BWN's binary scale: mean |W| over the tensor (the weights become
/// scale * sign(W)). An all-zero tensor gets scale 1.
inline float binaryMeanScale(const float *w, int64_t n) {
  double sumAbs = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sumAbs += std::fabs(w[i]);
  float scale = n ? static_cast<float>(sumAbs / double(n)) : 0.0f;
  return scale > 0.0f ? scale : 1.0f;
}

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_WEIGHTQUANTIZERS_H
