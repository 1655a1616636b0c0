//===- Quantization.h - The int8 affine quantization formula -----*- C++ -*-===//
//
// The one definition of quant-bert's int8 quantization arithmetic, shared by
// the qb.quantize/qb.dequantize folders, the training front end's export and
// the tests' scalar references:
//
//   q = clamp(round_half_even((x - offset) / scale) + zero_point, -128, 127)
//   x = (q - zero_point) * scale + offset
//
// evaluated in f32. Symmetric quantization (Q8BERT) has zero_point = 0 and
// offset = 0; SensiMix's asymmetric "index" format stores
// q = round((W - min) * 255 / (max - min)) - 128, i.e. scale = (max-min)/255,
// zero_point = -128, offset = min.
//
// Dependency-free: C++17 standard library only.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_QUANTIZATION_H
#define QUANTBERT_SUPPORT_QUANTIZATION_H

#include <cmath>
#include <cstdint>

namespace quantbert {

constexpr int32_t kInt8Min = -128;
constexpr int32_t kInt8Max = 127;

/// Quantizes one value. NaN maps to `zeroPoint`. Rounding is half to even,
/// as std::nearbyint under the default floating-point environment (and
/// torch.round) does.
inline int8_t quantizeToInt8(float x, float scale, int32_t zeroPoint,
                             float offset = 0.0f) {
  float scaled = (x - offset) / scale;
  if (std::isnan(scaled))
    return static_cast<int8_t>(zeroPoint);
  float q = std::nearbyint(scaled) + static_cast<float>(zeroPoint);
  if (q < static_cast<float>(kInt8Min))
    return static_cast<int8_t>(kInt8Min);
  if (q > static_cast<float>(kInt8Max))
    return static_cast<int8_t>(kInt8Max);
  return static_cast<int8_t>(q);
}

/// Maps one int8 code back to its float value.
inline float dequantizeInt8(int8_t q, float scale, int32_t zeroPoint,
                            float offset = 0.0f) {
  return static_cast<float>(static_cast<int32_t>(q) - zeroPoint) * scale +
         offset;
}

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_QUANTIZATION_H
