//===- ParameterAverageTest.cpp - The parameters' moving average ----------===//
//
// The average against a scalar reference of its formula, the decay's
// warm-up, swapping in and out, and its save/load round trip.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/ParameterAverage.h"

#include <gtest/gtest.h>

using namespace quantbert;
using namespace quantbert::train;

namespace {

struct TwoTensorsImpl : torch::nn::Module {
  TwoTensorsImpl() {
    a = register_parameter("a", torch::tensor({1.0f, -2.0f, 3.0f}));
    b = register_parameter("b", torch::tensor({{0.5f}, {4.0f}}));
  }
  torch::Tensor a, b;
};

void setParameter(torch::Tensor &p, const std::vector<float> &values) {
  torch::NoGradGuard noGrad;
  p.copy_(torch::tensor(values).reshape(p.sizes()));
}

TEST(ParameterAverageTest, DecayWarmsUpToItsLimit) {
  TwoTensorsImpl model;
  ParameterAverage average(model, 0.99);
  EXPECT_DOUBLE_EQ(average.decayAt(1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(average.decayAt(100), 101.0 / 110.0);
  EXPECT_DOUBLE_EQ(average.decayAt(5000), 0.99);
}

TEST(ParameterAverageTest, MatchesScalarReference) {
  TwoTensorsImpl model;
  ParameterAverage average(model, 0.5);
  // The reference: m <- d m + (1 - d) p per step, in double.
  std::vector<double> ma = {1, -2, 3}, mb = {0.5, 4};
  for (int64_t step = 1; step <= 6; ++step) {
    std::vector<float> pa = {float(step), float(-step * step), 0.25f},
                       pb = {float(10 - step), float(step) / 3};
    setParameter(model.a, pa);
    setParameter(model.b, pb);
    average.update(step);
    double d = std::min(0.5, double(1 + step) / double(10 + step));
    for (size_t i = 0; i < 3; ++i)
      ma[i] = d * ma[i] + (1 - d) * pa[i];
    for (size_t i = 0; i < 2; ++i)
      mb[i] = d * mb[i] + (1 - d) * pb[i];
  }
  torch::Tensor lastA = model.a.detach().clone();
  torch::Tensor lastB = model.b.detach().clone();
  average.swap();
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(model.a[i].item<double>(), ma[i], 1e-5) << "a[" << i << "]";
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(model.b[i][0].item<double>(), mb[i], 1e-5) << "b[" << i << "]";
  // Swapping back restores the last step's parameters exactly.
  average.swap();
  EXPECT_TRUE(torch::equal(model.a, lastA));
  EXPECT_TRUE(torch::equal(model.b, lastB));
  EXPECT_TRUE(model.a.requires_grad());
}

TEST(ParameterAverageTest, SaveLoadRoundTrip) {
  TwoTensorsImpl model;
  ParameterAverage average(model, 0.9);
  setParameter(model.a, {7, 8, 9});
  average.update(40);
  SafetensorsWriter writer;
  ASSERT_FALSE(average.save(writer, "ema."));
  Expected<SafetensorsFile> file =
      SafetensorsFile::parse(writer.serialize());
  ASSERT_TRUE(file) << file.message();

  TwoTensorsImpl other;
  ParameterAverage restored(other, 0.9);
  ASSERT_FALSE(restored.load(*file, "ema."));
  restored.swap();
  average.swap();
  EXPECT_TRUE(torch::equal(other.a, model.a));
  EXPECT_TRUE(torch::equal(other.b, model.b));

  // A file without the average names the missing tensor.
  Error missing = restored.load(*file, "average.");
  ASSERT_TRUE(missing);
  EXPECT_NE(missing.message().find("average.a"), std::string::npos)
      << missing.message();
}

} // namespace
