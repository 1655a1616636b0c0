//===- BitPacking.h - The sign-bit packing convention ------------*- C++ -*-===//
//
// The one definition of how quant-bert binarizes values and packs their signs
// into 64-bit words. Training (export), the compiler (qb.bitpack folding and
// the XNOR-popcount lowering) and the tests all use these functions, so a
// weight packed at export time means the same thing to the generated kernel.
//
// Convention:
//   - binarize(x) = +1 if x > 0, else -1 (0 and NaN give -1, as SensiMix's
//     Binarize does);
//   - element k of a row goes to bit (k % 64), least significant first, of
//     word k / 64; a set bit means -1;
//   - the last word is padded with zero bits (+1) in every operand, so padding
//     never contributes to popcount(a ^ b) and dot(a, b) = K - 2 * popcount.
//
// Dependency-free: C++17 standard library only.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_BITPACKING_H
#define QUANTBERT_SUPPORT_BITPACKING_H

#include <cstdint>

namespace quantbert {

constexpr int64_t kBitsPerPackedWord = 64;

/// Number of 64-bit words that hold `k` packed signs.
constexpr int64_t packedWordCount(int64_t k) {
  return (k + kBitsPerPackedWord - 1) / kBitsPerPackedWord;
}

/// True when `x` binarizes to -1 (its packed bit is set).
inline bool isNegativeSign(float x) { return !(x > 0.0f); }

/// +1.0f or -1.0f: the value `x` binarizes to.
inline float binarize(float x) { return isNegativeSign(x) ? -1.0f : 1.0f; }

/// Packs the signs of `row[0..k)` into `packedWordCount(k)` words at `out`.
inline void packSignBits(const float *row, int64_t k, uint64_t *out) {
  int64_t words = packedWordCount(k);
  for (int64_t w = 0; w < words; ++w)
    out[w] = 0;
  for (int64_t i = 0; i < k; ++i)
    if (isNegativeSign(row[i]))
      out[i / kBitsPerPackedWord] |= uint64_t{1} << (i % kBitsPerPackedWord);
}

/// The sign (+1/-1) of element `i` of a packed row.
inline float unpackSign(const uint64_t *packed, int64_t i) {
  uint64_t bit = (packed[i / kBitsPerPackedWord] >> (i % kBitsPerPackedWord)) & 1;
  return bit ? -1.0f : 1.0f;
}

/// Exact dot product of two packed +-1 rows of length `k`:
/// K - 2 * popcount(a ^ b) (SensiMix's XNOR-count identity).
inline int64_t packedSignDot(const uint64_t *a, const uint64_t *b, int64_t k) {
  int64_t mismatches = 0;
  for (int64_t w = 0, e = packedWordCount(k); w < e; ++w)
    mismatches += __builtin_popcountll(a[w] ^ b[w]);
  return k - 2 * mismatches;
}

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_BITPACKING_H
