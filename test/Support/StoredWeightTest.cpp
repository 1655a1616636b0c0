//===- StoredWeightTest.cpp - The one decoder of a bundle's weights -------===//
//
// readStoredWeight against hand-computed values: per-tensor and per-row
// scales and zero points, packed signs, inline and tensor parameters, and
// the offset rule (one per tensor) that QuantConfig::checkTensors enforces.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/StoredWeight.h"

#include <gtest/gtest.h>

using namespace quantbert;

namespace {

SafetensorsFile parse(const SafetensorsWriter &writer) {
  Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
  EXPECT_TRUE(file) << file.message();
  return std::move(*file);
}

TEST(StoredWeightTest, AsymmetricPerRowZeroPointsAndTensorOffset) {
  SafetensorsWriter writer;
  std::vector<int8_t> codes = {-128, 0, 127, 10, -10, 5};
  std::vector<float> scales = {0.5f, 0.25f};
  std::vector<int32_t> zeroPoints = {-128, 3};
  float offset = -1.0f;
  ASSERT_FALSE(writer.add("w", DType::I8, {2, 3}, codes.data(), 6));
  ASSERT_FALSE(writer.add("s", DType::F32, {2}, scales.data(), 8));
  ASSERT_FALSE(writer.add("z", DType::I32, {2}, zeroPoints.data(), 8));
  ASSERT_FALSE(writer.add("o", DType::F32, {}, &offset, 4));
  SafetensorsFile file = parse(writer);
  WeightQuant quant;
  quant.precision = Precision::I8;
  quant.quantizer = Quantizer::AsymmetricIndex;
  quant.weight = "w";
  quant.scale = "s";
  quant.zeroPoint = ScalarOrTensor{std::nullopt, "z"};
  quant.offset = ScalarOrTensor{std::nullopt, "o"};
  Expected<StoredWeight> weight = readStoredWeight(file, quant, 2, 3, "x: ");
  ASSERT_TRUE(weight) << weight.message();
  EXPECT_EQ(weight->codes, codes);
  // (q - z) * s + o, per row.
  EXPECT_FLOAT_EQ(weight->value(0, 0), (-128 + 128) * 0.5f - 1.0f);
  EXPECT_FLOAT_EQ(weight->value(0, 2), (127 + 128) * 0.5f - 1.0f);
  EXPECT_FLOAT_EQ(weight->value(1, 0), (10 - 3) * 0.25f - 1.0f);
  EXPECT_FLOAT_EQ(weight->value(1, 1), (-10 - 3) * 0.25f - 1.0f);

  // Inline per-tensor parameters give the same rule.
  quant.zeroPoint = ScalarOrTensor{-128.0, ""};
  quant.offset = ScalarOrTensor{2.0, ""};
  weight = readStoredWeight(file, quant, 2, 3, "x: ");
  ASSERT_TRUE(weight) << weight.message();
  EXPECT_FLOAT_EQ(weight->value(1, 2), (5 + 128) * 0.25f + 2.0f);
}

TEST(StoredWeightTest, UnpacksSignsAndDefaultsTheScale) {
  SafetensorsWriter writer;
  std::vector<float> signs(70);
  for (int i = 0; i < 70; ++i)
    signs[i] = (i % 3 == 0) ? -1.0f : 1.0f;
  std::vector<uint64_t> packed(packedWordCount(70));
  packSignBits(signs.data(), 70, packed.data());
  ASSERT_FALSE(writer.add("b", DType::I64, {1, 2}, packed.data(), 16));
  float scale = 0.75f;
  ASSERT_FALSE(writer.add("bs", DType::F32, {}, &scale, 4));
  SafetensorsFile file = parse(writer);
  WeightQuant quant;
  quant.precision = Precision::Binary;
  quant.quantizer = Quantizer::BinarySign;
  quant.weight = "b";
  Expected<StoredWeight> weight = readStoredWeight(file, quant, 1, 70, "x: ");
  ASSERT_TRUE(weight) << weight.message();
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(weight->codes[i], int8_t(signs[i])) << i;
    EXPECT_FLOAT_EQ(weight->value(0, i), signs[i]) << i;
  }
  quant.quantizer = Quantizer::BinaryMeanScale;
  quant.scale = "bs";
  weight = readStoredWeight(file, quant, 1, 70, "x: ");
  ASSERT_TRUE(weight) << weight.message();
  EXPECT_FLOAT_EQ(weight->value(0, 3), -0.75f);
}

TEST(StoredWeightTest, OneOffsetPerTensor) {
  SafetensorsWriter writer;
  std::vector<int8_t> codes(6);
  std::vector<float> offsets = {1.0f, 2.0f};
  float scale = 1.0f;
  ASSERT_FALSE(writer.add("m.weight", DType::I8, {2, 3}, codes.data(), 6));
  ASSERT_FALSE(writer.add("m.weight_scale", DType::F32, {}, &scale, 4));
  ASSERT_FALSE(writer.add("m.weight_offset", DType::F32, {2}, offsets.data(), 8));
  SafetensorsFile file = parse(writer);
  QuantConfig config;
  LinearQuant linear;
  linear.precision = Precision::I8;
  linear.quantizer = Quantizer::AsymmetricIndex;
  linear.inFeatures = 3;
  linear.outFeatures = 2;
  linear.weight = "m.weight";
  linear.scale = "m.weight_scale";
  linear.zeroPoint = ScalarOrTensor{-128.0, ""};
  linear.offset = ScalarOrTensor{std::nullopt, "m.weight_offset"};
  config.linears["m"] = linear;
  EXPECT_EQ(config.checkTensors(file).message(),
            "quant.json: linears['m']: tensor 'm.weight_offset' has shape "
            "[2], expected []");
  Expected<StoredWeight> weight = readStoredWeight(file, linear, 2, 3, "x: ");
  ASSERT_FALSE(weight);
  EXPECT_EQ(weight.message(), "x: 'offset': one value per tensor, got 2");
}

} // namespace
