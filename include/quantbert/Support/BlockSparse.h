//===- BlockSparse.h - The block-sparse weight encoding ----------*- C++ -*-===//
//
// The one definition of how quant-bert stores a weight matrix pruned in
// blocks: the bundle's block-sparse encoding (docs/formats.md), the packed
// constants quant-bert-compile embeds and the runtime's
// qbrt_sparse_int8_linear_prepare_packed all use it.
//
// A rows x cols matrix is cut into aligned blocks of blockRows x blockCols
// (rows r0..r0+blockRows-1, columns c0..c0+blockCols-1); the last block row
// and column may reach past the matrix. Encoded:
//   - mask: ceil(rows / blockRows) mask rows of ceil(blockColumns / 8)
//     bytes, blockColumns = ceil(cols / blockCols); bit b % 8 of byte b / 8
//     of mask row s is set when block (s, b) is stored;
//   - blocks: the stored blocks in mask order (mask row by mask row, columns
//     ascending within), each blockRows x blockCols values row-major, the
//     positions past the matrix zero.
// The blocks not stored are all zero. pack() stores exactly the blocks with
// a nonzero value; unpack() also accepts stored zero blocks.
//
// Dependency-free: C++17 standard library only.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_BLOCKSPARSE_H
#define QUANTBERT_SUPPORT_BLOCKSPARSE_H

#include "quantbert/Support/BitPacking.h"

#include <cstdint>
#include <string>
#include <vector>

namespace quantbert {

/// The block of the runtime's block-sparse int8 linear: 16 output channels
/// (rows of the weight) x 4 inputs (columns).
constexpr int64_t kSparseInt8BlockRows = 16;
constexpr int64_t kSparseInt8BlockCols = 4;

/// The block grid of a rows x cols matrix.
struct BlockGrid {
  int64_t rows, cols, blockRows, blockCols;

  int64_t blockRowCount() const { return (rows + blockRows - 1) / blockRows; }
  int64_t blockColumnCount() const {
    return (cols + blockCols - 1) / blockCols;
  }
  int64_t blockCount() const { return blockRowCount() * blockColumnCount(); }
  int64_t blockSize() const { return blockRows * blockCols; }
  int64_t maskRowBytes() const { return (blockColumnCount() + 7) / 8; }
  int64_t maskBytes() const { return blockRowCount() * maskRowBytes(); }

  bool isStored(const uint8_t *mask, int64_t s, int64_t b) const {
    return mask[s * maskRowBytes() + b / 8] >> (b % 8) & 1;
  }

  /// Block (s, b) of `dense` (row-major rows x cols), zero-padded, into
  /// `out[blockSize()]`; whether any value is nonzero.
  template <typename T>
  bool readBlock(const T *dense, int64_t s, int64_t b, T *out) const {
    bool any = false;
    for (int64_t r = 0; r < blockRows; ++r)
      for (int64_t c = 0; c < blockCols; ++c) {
        int64_t i = s * blockRows + r, j = b * blockCols + c;
        T v = i < rows && j < cols ? dense[i * cols + j] : T(0);
        out[r * blockCols + c] = v;
        any |= v != T(0);
      }
    return any;
  }
};

/// A matrix in the block-sparse encoding.
template <typename T> struct PackedBlocks {
  std::vector<uint8_t> mask;
  std::vector<T> blocks;
  int64_t storedBlocks = 0;
};

/// The stored blocks a mask of `bytes` bytes names: its set bits.
inline int64_t countStoredBlocks(const uint8_t *mask, int64_t bytes) {
  int64_t set = 0;
  for (int64_t i = 0; i < bytes; ++i)
    set += __builtin_popcount(unsigned(mask[i]));
  return set;
}

/// Encodes `dense` (row-major grid.rows x grid.cols), storing the blocks
/// with a nonzero value.
template <typename T>
PackedBlocks<T> packBlocks(const T *dense, const BlockGrid &grid) {
  PackedBlocks<T> packed;
  packed.mask.assign(grid.maskBytes(), 0);
  std::vector<T> block(grid.blockSize());
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b) {
      if (!grid.readBlock(dense, s, b, block.data()))
        continue;
      packed.mask[s * grid.maskRowBytes() + b / 8] |= uint8_t(1u << (b % 8));
      packed.blocks.insert(packed.blocks.end(), block.begin(), block.end());
      ++packed.storedBlocks;
    }
  return packed;
}

/// The number of all-zero blocks of `dense`.
template <typename T>
int64_t countZeroBlocks(const T *dense, const BlockGrid &grid) {
  std::vector<T> block(grid.blockSize());
  int64_t zero = 0;
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b)
      zero += !grid.readBlock(dense, s, b, block.data());
  return zero;
}

/// Checks an encoding against `grid` (mask size, no bits past the last
/// block column, `blockValues` = set bits x block size, zero padding);
/// an empty string when it is consistent, else what is wrong.
template <typename T>
std::string checkPacked(const uint8_t *mask, int64_t maskBytes,
                        const T *blocks, int64_t blockValues,
                        const BlockGrid &grid) {
  if (maskBytes != grid.maskBytes())
    return "mask has " + std::to_string(maskBytes) + " bytes, expected " +
           std::to_string(grid.maskBytes());
  int64_t columns = grid.blockColumnCount(), set = 0;
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t byte = 0; byte < grid.maskRowBytes(); ++byte) {
      unsigned bits = mask[s * grid.maskRowBytes() + byte];
      int64_t valid = columns - byte * 8;
      if (valid < 8 && (bits >> valid) != 0)
        return "mask row " + std::to_string(s) +
               " sets bits past block column " + std::to_string(columns - 1);
      set += __builtin_popcount(bits);
    }
  if (blockValues != set * grid.blockSize())
    return "blocks hold " + std::to_string(blockValues) + " values, the mask's " +
           std::to_string(set) + " blocks need " +
           std::to_string(set * grid.blockSize());
  int64_t index = 0;
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < columns; ++b) {
      if (!grid.isStored(mask, s, b))
        continue;
      const T *block = blocks + index++ * grid.blockSize();
      for (int64_t r = 0; r < grid.blockRows; ++r)
        for (int64_t c = 0; c < grid.blockCols; ++c)
          if ((s * grid.blockRows + r >= grid.rows ||
               b * grid.blockCols + c >= grid.cols) &&
              block[r * grid.blockCols + c] != T(0))
            return "stored block " + std::to_string(index - 1) +
                   " has a nonzero value outside the matrix";
    }
  return "";
}

/// Decodes a consistent encoding (checkPacked) into a row-major matrix.
template <typename T>
std::vector<T> unpackBlocks(const uint8_t *mask, const T *blocks,
                            const BlockGrid &grid) {
  std::vector<T> dense(grid.rows * grid.cols, T(0));
  int64_t index = 0;
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b) {
      if (!grid.isStored(mask, s, b))
        continue;
      const T *block = blocks + index++ * grid.blockSize();
      for (int64_t r = 0; r < grid.blockRows; ++r)
        for (int64_t c = 0; c < grid.blockCols; ++c) {
          int64_t i = s * grid.blockRows + r, j = b * grid.blockCols + c;
          if (i < grid.rows && j < grid.cols)
            dense[i * grid.cols + j] = block[r * grid.blockCols + c];
        }
    }
  return dense;
}

/// Block-sparse 1-bit weights. The codes (+-1, 0 in pruned blocks) are cut
/// into blocks of kBinaryBlockRows rows x 64 columns (one packed word,
/// BitPacking.h); the mask is binaryBlockGrid's as above, and a stored
/// block is its 32 rows' packed words (rows past the matrix 0, padding bits
/// 0): I64 [stored, 32]. A stored block holds no zero code (a sign cannot
/// be 0); pruned blocks are all zero.
inline BlockGrid binaryBlockGrid(int64_t rows, int64_t cols) {
  return BlockGrid{rows, cols, kBinaryBlockRows, kBitsPerPackedWord};
}

/// A 1-bit matrix in the block-sparse encoding.
struct PackedBinaryBlocks {
  std::vector<uint8_t> mask;
  std::vector<uint64_t> words; // [storedBlocks, kBinaryBlockRows]
  int64_t storedBlocks = 0;
};

/// Encodes the codes `codes` (row-major rows x cols, each -1, 0 or +1): the
/// blocks with a nonzero code are stored, their signs packed.
inline PackedBinaryBlocks packBinaryBlocks(const int8_t *codes, int64_t rows,
                                           int64_t cols) {
  BlockGrid grid = binaryBlockGrid(rows, cols);
  PackedBinaryBlocks packed;
  packed.mask.assign(grid.maskBytes(), 0);
  std::vector<int8_t> block(grid.blockSize());
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b) {
      if (!grid.readBlock(codes, s, b, block.data()))
        continue;
      packed.mask[s * grid.maskRowBytes() + b / 8] |= uint8_t(1u << (b % 8));
      int64_t inputs = packedWordBits(cols, b);
      for (int64_t r = 0; r < kBinaryBlockRows; ++r) {
        uint64_t word = 0;
        if (s * kBinaryBlockRows + r < rows)
          for (int64_t c = 0; c < inputs; ++c)
            if (block[r * kBitsPerPackedWord + c] <= 0)
              word |= uint64_t{1} << c;
        packed.words.push_back(word);
      }
      ++packed.storedBlocks;
    }
  return packed;
}

/// Checks a 1-bit encoding (mask as checkPacked, `wordCount` = stored
/// blocks x 32, zero rows past the matrix and zero padding bits); an empty
/// string when it is consistent, else what is wrong.
inline std::string checkPackedBinary(const uint8_t *mask, int64_t maskBytes,
                                     const uint64_t *words, int64_t wordCount,
                                     int64_t rows, int64_t cols) {
  BlockGrid grid = binaryBlockGrid(rows, cols);
  // The mask rules of checkPacked, with a block of kBinaryBlockRows words.
  BlockGrid wordGrid{rows, grid.blockColumnCount(), kBinaryBlockRows, 1};
  std::string problem =
      checkPacked(mask, maskBytes, words, wordCount, wordGrid);
  if (!problem.empty())
    return problem;
  int64_t index = 0;
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b) {
      if (!grid.isStored(mask, s, b))
        continue;
      int64_t inputs = packedWordBits(cols, b);
      const uint64_t *block = words + index++ * kBinaryBlockRows;
      for (int64_t r = 0; r < kBinaryBlockRows; ++r)
        if (inputs < kBitsPerPackedWord && (block[r] >> inputs) != 0)
          return "stored block " + std::to_string(index - 1) +
                 " has sign bits past input " + std::to_string(cols - 1);
    }
  return "";
}

/// Decodes a consistent 1-bit encoding into row-major codes (+-1 in stored
/// blocks, 0 elsewhere).
inline std::vector<int8_t> unpackBinaryBlocks(const uint8_t *mask,
                                              const uint64_t *words,
                                              int64_t rows, int64_t cols) {
  BlockGrid grid = binaryBlockGrid(rows, cols);
  std::vector<int8_t> codes(rows * cols, 0);
  int64_t index = 0;
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b) {
      if (!grid.isStored(mask, s, b))
        continue;
      const uint64_t *block = words + index++ * kBinaryBlockRows;
      for (int64_t r = 0; r < kBinaryBlockRows; ++r) {
        int64_t row = s * kBinaryBlockRows + r;
        if (row >= rows)
          break;
        for (int64_t c = 0; c < packedWordBits(cols, b); ++c)
          codes[row * cols + b * kBitsPerPackedWord + c] =
              block[r] >> c & 1 ? -1 : 1;
      }
    }
  return codes;
}

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_BLOCKSPARSE_H
