//===- BlockSparseTest.cpp - The block-sparse weight encoding -------------===//
//
// packBlocks / unpackBlocks round trips on matrices around the block sizes,
// the mask bits and block order against a hand-made example, zero-block
// counting, and checkPacked's rejections; then the bundle's block-sparse
// codes (quant.json "sparsity") through QuantConfig and readStoredWeight;
// the same for 1-bit signs in the binary kernel's 32 x 64 blocks.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/StoredWeight.h"

#include <gtest/gtest.h>

#include <random>

using namespace quantbert;

namespace {

/// A rows x cols matrix with about `zeroShare` of its blockRows x blockCols
/// blocks all zero (and some single zeros elsewhere).
std::vector<int8_t> prunedMatrix(std::mt19937 &rng, const BlockGrid &grid,
                                 double zeroShare) {
  std::uniform_int_distribution<int> code(-127, 127);
  std::bernoulli_distribution pruned(zeroShare);
  std::vector<int8_t> dense(grid.rows * grid.cols);
  for (int8_t &v : dense)
    v = static_cast<int8_t>(code(rng));
  for (int64_t s = 0; s < grid.blockRowCount(); ++s)
    for (int64_t b = 0; b < grid.blockColumnCount(); ++b)
      if (pruned(rng))
        for (int64_t r = s * grid.blockRows;
             r < std::min(grid.rows, (s + 1) * grid.blockRows); ++r)
          for (int64_t c = b * grid.blockCols;
               c < std::min(grid.cols, (b + 1) * grid.blockCols); ++c)
            dense[r * grid.cols + c] = 0;
  return dense;
}

TEST(BlockSparseTest, RoundTripsAroundTheBlockSizes) {
  std::mt19937 rng(5);
  for (int64_t rows : {1, 15, 16, 17, 48})
    for (int64_t cols : {1, 3, 4, 5, 33, 64})
      for (auto [br, bc] : {std::pair<int64_t, int64_t>{16, 4}, {1, 1}, {4, 16}}) {
        BlockGrid grid{rows, cols, br, bc};
        std::vector<int8_t> dense = prunedMatrix(rng, grid, 0.6);
        PackedBlocks<int8_t> packed = packBlocks(dense.data(), grid);
        EXPECT_EQ(packed.storedBlocks + countZeroBlocks(dense.data(), grid),
                  grid.blockCount());
        EXPECT_EQ(int64_t(packed.blocks.size()),
                  packed.storedBlocks * grid.blockSize());
        EXPECT_EQ(checkPacked(packed.mask.data(), int64_t(packed.mask.size()),
                              packed.blocks.data(),
                              int64_t(packed.blocks.size()), grid),
                  "");
        EXPECT_EQ(unpackBlocks(packed.mask.data(), packed.blocks.data(), grid),
                  dense)
            << rows << "x" << cols << " in " << br << "x" << bc;
      }
}

TEST(BlockSparseTest, MaskBitsAndBlockOrder) {
  // 17 x 5 in 16 x 4 blocks: 2 x 2 blocks, mask rows of 1 byte.
  BlockGrid grid{17, 5, 16, 4};
  std::vector<int8_t> dense(17 * 5, 0);
  dense[3 * 5 + 2] = -5; // block (0, 0), row 3, col 2
  dense[16 * 5 + 4] = 7; // block (1, 1), row 0, col 0 (the rest padding)
  PackedBlocks<int8_t> packed = packBlocks(dense.data(), grid);
  EXPECT_EQ(packed.mask, (std::vector<uint8_t>{0x01, 0x02}));
  ASSERT_EQ(packed.storedBlocks, 2);
  EXPECT_EQ(packed.blocks[3 * 4 + 2], -5);
  EXPECT_EQ(packed.blocks[64], 7);
  EXPECT_EQ(countZeroBlocks(dense.data(), grid), 2);
}

TEST(BlockSparseTest, CheckPackedNamesTheInconsistency) {
  BlockGrid grid{17, 5, 16, 4};
  std::vector<uint8_t> mask = {0x01, 0x02};
  std::vector<int8_t> blocks(2 * 64, 0);
  EXPECT_EQ(checkPacked(mask.data(), 1, blocks.data(), 128, grid),
            "mask has 1 bytes, expected 2");
  EXPECT_EQ(checkPacked(mask.data(), 2, blocks.data(), 64, grid),
            "blocks hold 64 values, the mask's 2 blocks need 128");
  mask[0] = 0x05; // block column 2 of a 2-column grid
  EXPECT_EQ(checkPacked(mask.data(), 2, blocks.data(), 192, grid),
            "mask row 0 sets bits past block column 1");
  mask[0] = 0x01;
  blocks[64 + 1] = 3; // block (1, 1), row 16, col 5: past the matrix
  EXPECT_EQ(checkPacked(mask.data(), 2, blocks.data(), 128, grid),
            "stored block 1 has a nonzero value outside the matrix");
}

/// quant.json's one linear, int8 codes stored block-sparse as "w" + "m".
QuantConfig sparseConfig() {
  QuantConfig config;
  config.recipe = "q8bert";
  LinearQuant linear;
  linear.precision = Precision::I8;
  linear.quantizer = Quantizer::SymmetricEma;
  linear.weight = "w";
  linear.scale = "s";
  linear.inFeatures = 10;
  linear.outFeatures = 20;
  linear.sparsity = BlockSparsity{16, 4, "m"};
  config.linears["dense"] = linear;
  return config;
}

TEST(BlockSparseTest, BundleCodesDecodeToTheDenseMatrix) {
  std::mt19937 rng(9);
  BlockGrid grid{20, 10, 16, 4};
  std::vector<int8_t> dense = prunedMatrix(rng, grid, 0.5);
  PackedBlocks<int8_t> packed = packBlocks(dense.data(), grid);
  std::vector<float> scales(20, 0.5f);
  SafetensorsWriter writer;
  ASSERT_FALSE(writer.add("w", DType::I8, {packed.storedBlocks, 16, 4},
                          packed.blocks.data(), packed.blocks.size()));
  ASSERT_FALSE(writer.add("m", DType::U8, {2, 1}, packed.mask.data(), 2));
  ASSERT_FALSE(writer.add("s", DType::F32, {20}, scales.data(), 80));
  Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
  ASSERT_TRUE(file) << file.message();

  QuantConfig config = sparseConfig();
  Expected<QuantConfig> parsed = QuantConfig::fromJson(config.toJson());
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->toJson(), config.toJson());
  const LinearQuant &linear = parsed->linears.at("dense");
  ASSERT_TRUE(linear.sparsity);
  EXPECT_EQ(linear.sparsity->blockRows, 16);
  EXPECT_EQ(linear.sparsity->mask, "m");
  ASSERT_FALSE(parsed->checkTensors(*file));
  Expected<StoredWeight> weight = readStoredWeight(*file, linear, 20, 10, "x: ");
  ASSERT_TRUE(weight) << weight.message();
  EXPECT_EQ(weight->codes, dense);

  // A mask that sets one more block than the codes hold.
  std::vector<uint8_t> badMask = packed.mask;
  badMask[1] |= 0x04;
  SafetensorsWriter bad;
  ASSERT_FALSE(bad.add("w", DType::I8, {packed.storedBlocks, 16, 4},
                       packed.blocks.data(), packed.blocks.size()));
  ASSERT_FALSE(bad.add("m", DType::U8, {2, 1}, badMask.data(), 2));
  ASSERT_FALSE(bad.add("s", DType::F32, {20}, scales.data(), 80));
  Expected<SafetensorsFile> badFile = SafetensorsFile::parse(bad.serialize());
  ASSERT_TRUE(badFile) << badFile.message();
  ASSERT_FALSE(packed.mask[1] & 0x04) << "block (1, 2) must be zero here";
  EXPECT_EQ(config.checkTensors(*badFile).message(),
            "quant.json: linears['dense']: tensor 'w' has shape [" +
                std::to_string(packed.storedBlocks) + ", 16, 4], expected [" +
                std::to_string(packed.storedBlocks + 1) + ", 16, 4]");
}

/// 1-bit codes (+-1) of a rows x cols matrix with about `zeroShare` of its
/// 32 x 64 blocks pruned (0).
std::vector<int8_t> prunedSigns(std::mt19937 &rng, int64_t rows, int64_t cols,
                                double zeroShare) {
  std::bernoulli_distribution negative(0.5);
  BlockGrid grid = binaryBlockGrid(rows, cols);
  std::vector<int8_t> codes = prunedMatrix(rng, grid, zeroShare);
  std::vector<int8_t> block(grid.blockSize());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      // Every code of a kept block is a sign (prunedMatrix's single zeros
      // too); pruned blocks stay 0.
      if (grid.readBlock(codes.data(), r / grid.blockRows, c / grid.blockCols,
                         block.data()))
        codes[r * cols + c] = negative(rng) ? -1 : 1;
  return codes;
}

TEST(BlockSparseTest, BinaryBlocksRoundTripAndCheck) {
  std::mt19937 rng(3);
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {31, 65},
                            {33, 64}, {64, 130}, {100, 768}}) {
    for (double share : {0.0, 0.5, 0.9, 1.0}) {
      std::vector<int8_t> codes = prunedSigns(rng, rows, cols, share);
      PackedBinaryBlocks packed = packBinaryBlocks(codes.data(), rows, cols);
      BlockGrid grid = binaryBlockGrid(rows, cols);
      EXPECT_EQ(packed.storedBlocks,
                grid.blockCount() - countZeroBlocks(codes.data(), grid));
      ASSERT_EQ(int64_t(packed.words.size()),
                packed.storedBlocks * kBinaryBlockRows);
      EXPECT_EQ(checkPackedBinary(packed.mask.data(), int64_t(packed.mask.size()),
                                  packed.words.data(),
                                  int64_t(packed.words.size()), rows, cols),
                "");
      EXPECT_EQ(unpackBinaryBlocks(packed.mask.data(), packed.words.data(),
                                   rows, cols),
                codes)
          << rows << " x " << cols << " at " << share;
    }
  }
  // 40 x 100: two block rows of two words; every block stored.
  std::vector<int8_t> codes(40 * 100, 1);
  PackedBinaryBlocks packed = packBinaryBlocks(codes.data(), 40, 100);
  ASSERT_EQ(packed.storedBlocks, 4);
  auto problem = [&](std::vector<uint8_t> mask, std::vector<uint64_t> words) {
    return checkPackedBinary(mask.data(), int64_t(mask.size()), words.data(),
                             int64_t(words.size()), 40, 100);
  };
  EXPECT_EQ(problem({0x07, 0x03}, packed.words),
            "mask row 0 sets bits past block column 1");
  EXPECT_EQ(problem(packed.mask, {packed.words.begin(), packed.words.end() - 32}),
            "blocks hold 96 values, the mask's 4 blocks need 128");
  std::vector<uint64_t> padded = packed.words;
  padded[32] = uint64_t{1} << 40; // block 1 (inputs 64..99): bit of input 104
  EXPECT_EQ(problem(packed.mask, padded),
            "stored block 1 has sign bits past input 99");
  std::vector<uint64_t> pastRows = packed.words;
  pastRows[2 * 32 + 8] = 1; // block 2's row 40 is past the matrix
  EXPECT_EQ(problem(packed.mask, pastRows),
            "stored block 2 has a nonzero value outside the matrix");
}

TEST(BlockSparseTest, BundleSignsDecodeWithZeroBlocks) {
  std::mt19937 rng(5);
  std::vector<int8_t> codes = prunedSigns(rng, 40, 100, 0.5);
  PackedBinaryBlocks packed = packBinaryBlocks(codes.data(), 40, 100);
  SafetensorsWriter writer;
  ASSERT_FALSE(writer.add("w", DType::I64, {packed.storedBlocks, 32},
                          packed.words.data(), packed.words.size() * 8));
  ASSERT_FALSE(writer.add("m", DType::U8, {2, 1}, packed.mask.data(), 2));
  Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
  ASSERT_TRUE(file) << file.message();
  QuantConfig config = sparseConfig();
  LinearQuant &linear = config.linears["dense"];
  linear.precision = Precision::Binary;
  linear.quantizer = Quantizer::BinarySign;
  linear.scale.clear();
  linear.inFeatures = 100;
  linear.outFeatures = 40;
  linear.sparsity = BlockSparsity{32, 64, "m"};
  ASSERT_FALSE(config.validate()) << config.validate().message();
  Error err = config.checkTensors(*file);
  ASSERT_FALSE(err) << err.message();
  Expected<StoredWeight> weight = readStoredWeight(*file, linear, 40, 100, "x: ");
  ASSERT_TRUE(weight) << weight.message();
  EXPECT_EQ(weight->codes, codes);

  // Words for one block fewer than the mask names.
  SafetensorsWriter bad;
  ASSERT_FALSE(bad.add("w", DType::I64, {packed.storedBlocks - 1, 32},
                       packed.words.data(), (packed.words.size() - 32) * 8));
  ASSERT_FALSE(bad.add("m", DType::U8, {2, 1}, packed.mask.data(), 2));
  Expected<SafetensorsFile> badFile = SafetensorsFile::parse(bad.serialize());
  ASSERT_TRUE(badFile) << badFile.message();
  EXPECT_EQ(config.checkTensors(*badFile).message(),
            "quant.json: linears['dense']: tensor 'w' has shape [" +
                std::to_string(packed.storedBlocks - 1) + ", 32], expected [" +
                std::to_string(packed.storedBlocks) + ", 32]");
}

TEST(BlockSparseTest, QuantJsonRejectsMisplacedSparsity) {
  std::string at = "quant.json: linears['dense']: ";
  QuantConfig binary = sparseConfig();
  binary.linears["dense"].precision = Precision::Binary;
  binary.linears["dense"].quantizer = Quantizer::BinaryMeanScale;
  EXPECT_EQ(binary.validate().message(),
            at + "'sparsity': a binary weight's block must be [32, 64] (the "
                 "binary kernel's), got [16, 4]");
  QuantConfig floats = sparseConfig();
  floats.linears["dense"].precision = Precision::F32;
  floats.linears["dense"].quantizer.reset();
  floats.linears["dense"].scale.clear();
  EXPECT_EQ(floats.validate().message(),
            at + "field 'sparsity' applies to precisions 'i8', 'ternary' and "
                 "'binary' only, not 'f32'");
  std::string text = sparseConfig().toJson();
  auto errorOf = [&](const std::string &from, const std::string &to) {
    std::string edited = text;
    size_t pos = edited.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    edited.replace(pos, from.size(), to);
    Expected<QuantConfig> parsed = QuantConfig::fromJson(edited);
    EXPECT_FALSE(parsed) << edited;
    return parsed ? std::string() : parsed.message();
  };
  EXPECT_EQ(errorOf("\"mask\": \"m\"", "\"masks\": \"m\""),
            at + "'sparsity': unknown field 'masks'");
  EXPECT_EQ(errorOf("\"block\": [\n          16,\n          4\n        ]",
                    "\"block\": [16]"),
            at + "'sparsity': field 'block' must be [rows, cols] (two "
                 "positive integers), got [16]");
  EXPECT_EQ(errorOf("\"block\": [\n          16,\n          4\n        ]",
                    "\"block\": [16, 0]"),
            at + "'sparsity': field 'block' must be a positive integer, got 0");
}

} // namespace
