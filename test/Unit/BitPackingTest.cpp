//===- BitPackingTest.cpp - Tests of the sign-bit packing convention -----===//
//
// Checks quantbert/Support/BitPacking.h: the sign rule, bit order, padding,
// and that K - 2 * popcount equals the float dot product of +-1 vectors.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/BitPacking.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

using namespace quantbert;

TEST(BitPacking, WordCountRoundsUp) {
  EXPECT_EQ(packedWordCount(1), 1);
  EXPECT_EQ(packedWordCount(64), 1);
  EXPECT_EQ(packedWordCount(65), 2);
  EXPECT_EQ(packedWordCount(768), 12);
  EXPECT_EQ(packedWordCount(3072), 48);
}

TEST(BitPacking, ZeroAndNaNAreNegative) {
  EXPECT_TRUE(isNegativeSign(0.0f));
  EXPECT_TRUE(isNegativeSign(-0.0f));
  EXPECT_TRUE(isNegativeSign(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_TRUE(isNegativeSign(-1e-30f));
  EXPECT_FALSE(isNegativeSign(1e-30f));
  EXPECT_EQ(binarize(0.0f), -1.0f);
  EXPECT_EQ(binarize(3.5f), 1.0f);
}

TEST(BitPacking, LeastSignificantBitFirstAndZeroPadding) {
  // Elements 0, 2 and 66 are negative: bits 0 and 2 of word 0, bit 2 of word 1.
  std::vector<float> row(70, 1.0f);
  row[0] = -1.0f;
  row[2] = 0.0f;
  row[66] = -5.0f;
  uint64_t packed[2] = {~uint64_t{0}, ~uint64_t{0}};
  packSignBits(row.data(), 70, packed);
  EXPECT_EQ(packed[0], uint64_t{0b101});
  EXPECT_EQ(packed[1], uint64_t{0b100}); // bits 6..63 of word 1 are padding: 0
  for (int64_t i = 0; i < 70; ++i)
    EXPECT_EQ(unpackSign(packed, i), binarize(row[i])) << "element " << i;
}

TEST(BitPacking, PopcountDotMatchesFloatDotOnRandomRows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int64_t k : {1, 5, 63, 64, 65, 127, 128, 200, 768, 3072}) {
    std::vector<float> a(k), b(k);
    for (int64_t i = 0; i < k; ++i) {
      a[i] = normal(rng);
      b[i] = normal(rng);
    }
    std::vector<uint64_t> pa(packedWordCount(k)), pb(packedWordCount(k));
    packSignBits(a.data(), k, pa.data());
    packSignBits(b.data(), k, pb.data());
    float expected = 0;
    for (int64_t i = 0; i < k; ++i)
      expected += binarize(a[i]) * binarize(b[i]);
    EXPECT_EQ(packedSignDot(pa.data(), pb.data(), k),
              static_cast<int64_t>(expected))
        << "K = " << k;
  }
}

// The block-sparse reference against the float dot product of +-1 rows
// whose unstored 64-input words are zeros.
TEST(BitPacking, MaskedDotSkipsUnstoredWordsOnRandomRows) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::bernoulli_distribution keep(0.4);
  for (int64_t k : {1, 63, 64, 65, 130, 768, 3072}) {
    int64_t words = packedWordCount(k);
    std::vector<float> a(k), b(k);
    for (int64_t i = 0; i < k; ++i) {
      a[i] = normal(rng);
      b[i] = normal(rng);
    }
    std::unique_ptr<bool[]> stored(new bool[words]);
    for (int64_t w = 0; w < words; ++w)
      stored[w] = keep(rng);
    stored[words - 1] = true; // the short last word counts its bits only
    std::vector<uint64_t> pa(words), pb(words);
    packSignBits(a.data(), k, pa.data());
    packSignBits(b.data(), k, pb.data());
    float expected = 0;
    for (int64_t i = 0; i < k; ++i)
      if (stored[i / kBitsPerPackedWord])
        expected += binarize(a[i]) * binarize(b[i]);
    EXPECT_EQ(maskedPackedSignDot(pa.data(), pb.data(), k, stored.get()),
              static_cast<int64_t>(expected))
        << "K = " << k;
  }
  EXPECT_EQ(binaryBlockRowCount(1), 1);
  EXPECT_EQ(binaryBlockRowCount(32), 1);
  EXPECT_EQ(binaryBlockRowCount(33), 2);
  EXPECT_EQ(packedWordBits(65, 0), 64);
  EXPECT_EQ(packedWordBits(65, 1), 1);
}
