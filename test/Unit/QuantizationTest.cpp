//===- QuantizationTest.cpp - Tests of the int8 affine formula -----------===//
//
// Checks quantbert/Support/Quantization.h against hand-computed values:
// rounding half to even, clamping, NaN, zero points and the SensiMix index
// format's offset.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/Quantization.h"

#include <gtest/gtest.h>

#include <limits>

using namespace quantbert;

TEST(Quantization, SymmetricRoundsHalfToEven) {
  EXPECT_EQ(quantizeToInt8(0.25f, 0.5f, 0), 0);  // 0.5 -> 0
  EXPECT_EQ(quantizeToInt8(0.75f, 0.5f, 0), 2);  // 1.5 -> 2
  EXPECT_EQ(quantizeToInt8(1.25f, 0.5f, 0), 2);  // 2.5 -> 2
  EXPECT_EQ(quantizeToInt8(-0.75f, 0.5f, 0), -2); // -1.5 -> -2
  EXPECT_EQ(quantizeToInt8(1.0f, 0.1f, 0), 10);
}

TEST(Quantization, ClampsToInt8) {
  EXPECT_EQ(quantizeToInt8(1000.0f, 1.0f, 0), 127);
  EXPECT_EQ(quantizeToInt8(-1000.0f, 1.0f, 0), -128);
  EXPECT_EQ(quantizeToInt8(std::numeric_limits<float>::infinity(), 1.0f, 0), 127);
  EXPECT_EQ(quantizeToInt8(100.0f, 1.0f, 50), 127);
}

TEST(Quantization, NaNMapsToZeroPoint) {
  EXPECT_EQ(quantizeToInt8(std::numeric_limits<float>::quiet_NaN(), 1.0f, 3), 3);
}

TEST(Quantization, ZeroPointShiftsCodes) {
  EXPECT_EQ(quantizeToInt8(2.0f, 1.0f, -5), -3);
  EXPECT_FLOAT_EQ(dequantizeInt8(-3, 1.0f, -5), 2.0f);
}

TEST(Quantization, SensiMixIndexFormat) {
  // W in [-0.5, 2.05]: scale = 2.55 / 255 = 0.01, zero_point = -128,
  // offset = min. W = min maps to -128 and W = max to 127.
  float min = -0.5f, max = 2.05f;
  float scale = (max - min) / 255.0f;
  EXPECT_EQ(quantizeToInt8(min, scale, -128, min), -128);
  EXPECT_EQ(quantizeToInt8(max, scale, -128, min), 127);
  EXPECT_EQ(quantizeToInt8(0.0f, scale, -128, min), -78); // round(50) - 128
  EXPECT_NEAR(dequantizeInt8(-78, scale, -128, min), 0.0f, 1e-6f);
}

TEST(Quantization, RoundTripErrorIsAtMostHalfAStep) {
  float scale = 0.037f;
  for (float x = -4.0f; x <= 4.0f; x += 0.0137f) {
    float back = dequantizeInt8(quantizeToInt8(x, scale, 0), scale, 0);
    EXPECT_LE(std::abs(back - x), scale * 0.5f + 1e-6f) << "x = " << x;
  }
}
