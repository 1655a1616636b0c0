//===- StoredWeight.h - A bundle's quantized weight, decoded ------*- C++ -*-===//
//
// The one reader of a quantized weight in a bundle (docs/formats.md,
// quant.json): the codes of `<module>.weight` (int8 codes as stored, packed
// sign bits unpacked to +-1) and the scale, zero point and offset that
// quant.json names, as flat vectors. Both consumers go through it: the
// compiler's importer (lib/Import) and the training front end's bundle
// evaluation (lib/Train/Export.cpp), so they agree on every rule:
//
//   - scale: per tensor (one value) or per row; absent for binary-sign
//     (then 1);
//   - zero point: per tensor or per row (asymmetric-index only; else 0);
//   - offset: per tensor (asymmetric-index only; else 0), which
//     QuantConfig::checkTensors enforces;
//   - value(r, c) = dequantizeInt8(code, scale, zero point, offset)
//     (Quantization.h), which for the binary quantizers is sign * scale.
//
// Dependency-free: C++17 and QBSupport.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_STOREDWEIGHT_H
#define QUANTBERT_SUPPORT_STOREDWEIGHT_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/QuantConfig.h"

#include <cstdint>
#include <string>
#include <vector>

namespace quantbert {

class SafetensorsFile;

struct StoredWeight {
  Quantizer quantizer = Quantizer::SymmetricEma;
  int64_t rows = 0, cols = 0;
  /// [rows, cols] row-major; +-1 for the binary quantizers.
  std::vector<int8_t> codes;
  /// 1 (per tensor) or `rows` values.
  std::vector<float> scales;
  /// Empty (all zero), 1 (per tensor) or `rows` values.
  std::vector<int32_t> zeroPoints;
  float offset = 0.0f;

  bool perRowScales() const { return scales.size() > 1; }
  float scale(int64_t row) const { return scales[perRowScales() ? row : 0]; }
  int32_t zeroPoint(int64_t row) const {
    return zeroPoints.empty() ? 0
                              : zeroPoints[zeroPoints.size() > 1 ? row : 0];
  }
  /// The float value code (row, col) stands for.
  float value(int64_t row, int64_t col) const;
};

/// Decodes the quantized weight `quant` ([rows, cols]; `quant.quantizer`
/// set) from `file`. The tensors must have passed
/// QuantConfig::checkTensors; what that does not cover is an error that
/// starts with `where`.
Expected<StoredWeight> readStoredWeight(const SafetensorsFile &file,
                                        const WeightQuant &quant, int64_t rows,
                                        int64_t cols, const std::string &where);

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_STOREDWEIGHT_H
