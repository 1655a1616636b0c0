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
#include <vector>

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

/// Block-sparse binary weights (qb.binary_linear's `block_mask`): a block is
/// kBinaryBlockRows consecutive output rows by one packed word (64 inputs),
/// the granule of the XNOR-popcount kernel, which keeps 32 outputs of a row
/// in four 8-lane accumulators and loops over the input words. A block
/// whose mask bit is clear holds zeros: its words add nothing to the dot
/// product. The mask is [ceil(N / 32), ceil(K / 64)], row-major.
constexpr int64_t kBinaryBlockRows = 32;

/// Number of block rows of an N-row weight.
constexpr int64_t binaryBlockRowCount(int64_t n) {
  return (n + kBinaryBlockRows - 1) / kBinaryBlockRows;
}

/// The number of inputs word `w` of a K-input packed row holds: 64, or
/// fewer in the last word.
constexpr int64_t packedWordBits(int64_t k, int64_t w) {
  int64_t rest = k - w * kBitsPerPackedWord;
  return rest < kBitsPerPackedWord ? rest : kBitsPerPackedWord;
}

/// Which blocks of a [rows, cols] weight hold a nonzero value, row-major
/// [binaryBlockRowCount(rows), packedWordCount(cols)]: a pruned 1-bit
/// weight's block_mask. `T` is float (values) or int8_t (codes).
template <typename T>
std::vector<bool> storedBinaryBlocks(const T *values, int64_t rows,
                                     int64_t cols) {
  int64_t words = packedWordCount(cols);
  std::vector<bool> stored(binaryBlockRowCount(rows) * words, false);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k)
      if (values[n * cols + k] != T(0))
        stored[(n / kBinaryBlockRows) * words + k / kBitsPerPackedWord] = true;
  return stored;
}

/// The bytes a compiled block-sparse binary weight takes: each stored block's
/// 32 words and its 8-byte input-word index, and the panels' 8-byte starts.
constexpr int64_t binaryBlockSparseBytes(int64_t storedBlocks,
                                         int64_t blockRows) {
  return storedBlocks * (kBinaryBlockRows + 1) * 8 + (blockRows + 1) * 8;
}

/// The dot product of two packed +-1 rows of length `k` over the words whose
/// flag in `stored` (one per word) is set, the other words being zeros in
/// `b`: sum over those words of bits(w) - 2 * popcount(a[w] ^ b[w]). The
/// scalar reference of the block-sparse XNOR-popcount kernel.
inline int64_t maskedPackedSignDot(const uint64_t *a, const uint64_t *b,
                                   int64_t k, const bool *stored) {
  int64_t dot = 0;
  for (int64_t w = 0, e = packedWordCount(k); w < e; ++w)
    if (stored[w])
      dot += packedWordBits(k, w) - 2 * __builtin_popcountll(a[w] ^ b[w]);
  return dot;
}

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_BITPACKING_H
