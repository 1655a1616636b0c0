//===- PostTrainingTest.cpp - Calibrators and post-training quantization --===//
//
// Each calibrator on data whose answer is known (a bulk in [0, 1] with one
// far outlier: max keeps the outlier, the others clip near the bulk; the
// 99.99th percentile of |N(0, 1)|), the calibration file reader, dynamic
// row quantization against the scalar formula, and the quantize command
// on a tiny checkpoint: the bundle's quant.json, its eval forward close to
// the float model's, and its errors.
//
//===----------------------------------------------------------------------===//

#include "TinyModels.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Export.h"
#include "quantbert/Train/PostTraining.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

/// 10^6 values uniform in [0, 1] and one at 50, in one histogram.
ActivationHistogram bulkWithOutlier() {
  torch::manual_seed(3);
  torch::Tensor x = torch::rand({1000000});
  x[17] = -50.0f; // the sign does not matter
  ActivationHistogram histogram;
  histogram.observeRange(x);
  histogram.observe(x);
  return histogram;
}

TEST(Calibrator, MaxKeepsTheOutlier) {
  ActivationHistogram histogram = bulkWithOutlier();
  EXPECT_FLOAT_EQ(histogram.maxAbs(), 50.0f);
  EXPECT_FLOAT_EQ(histogram.threshold(Calibrator::Max), 50.0f);
}

TEST(Calibrator, PercentileClipsAtTheBulk) {
  ActivationHistogram histogram = bulkWithOutlier();
  // The 99.9th percentile is 0.999; thresholds are bin edges (width
  // 50 / 2048).
  float t = histogram.threshold(Calibrator::Percentile, 99.9);
  EXPECT_GE(t, 0.999f);
  EXPECT_LE(t, 0.999f + 50.0f / 2048);
}

TEST(Calibrator, MseClipsTheOutlier) {
  // Clipping at t costs the outlier (50 - t)^2 once; the 10^6 bulk values
  // pay a rounding error of about (t/127)^2 / 12 each. The sum is smallest
  // at t = 50 / (1 + 193548 / 10^6), about 8.1 (bin-centre rounding moves
  // the histogram's optimum a little): far below the outlier, above the
  // bulk.
  ActivationHistogram histogram = bulkWithOutlier();
  float t = histogram.threshold(Calibrator::Mse);
  EXPECT_GE(t, 5.0f);
  EXPECT_LE(t, 11.0f);
}

TEST(Calibrator, EntropyClipsTheOutlier) {
  // A bell-shaped bulk |N(0, 1)| and one value at 50: the KL divergence
  // between the clipped histogram and its 128-level quantization is
  // smallest a few standard deviations out, far below the outlier.
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({1000000});
  x[17] = 50.0f;
  ActivationHistogram histogram;
  histogram.observeRange(x);
  histogram.observe(x);
  float t = histogram.threshold(Calibrator::Entropy);
  EXPECT_GE(t, 2.5f);
  EXPECT_LE(t, 8.0f);
}

TEST(Calibrator, PercentileOfAGaussian) {
  torch::manual_seed(4);
  ActivationHistogram histogram;
  torch::Tensor x = torch::randn({2000000});
  histogram.observeRange(x);
  histogram.observe(x);
  // P(|x| < 3.8906) = 0.9999 for a standard normal.
  EXPECT_NEAR(histogram.threshold(Calibrator::Percentile, 99.99), 3.8906,
              0.08);
  EXPECT_GT(histogram.threshold(Calibrator::Max), 4.5f);
}

TEST(Calibrator, NamesRoundTripAndUnknownIsAnError) {
  for (Calibrator c : {Calibrator::Max, Calibrator::Percentile, Calibrator::Mse,
                       Calibrator::Entropy}) {
    Expected<Calibrator> parsed = parseCalibrator(calibratorName(c));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, c);
  }
  Expected<Calibrator> unknown = parseCalibrator("kl");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.message(), "unknown calibrator 'kl' (known: max, "
                               "percentile, mse, entropy)");
}

TEST(DynamicQuantization, RowScaleAndFakeQuantization) {
  float row[4] = {0.5f, -2.54f, NAN, 1.0f};
  EXPECT_FLOAT_EQ(dynamicRowScale(row, 4), 2.54f / 127.0f);
  float zeros[3] = {0.0f, -0.0f, 0.0f};
  EXPECT_EQ(dynamicRowScale(zeros, 3), 1.0f);

  torch::Tensor x = torch::tensor({{0.5f, -2.54f, 1.0f}, {0.0f, 0.0f, 0.0f},
                                   {3.0f, 0.01f, -1.5f}});
  torch::Tensor q = fakeQuantRows(x);
  for (int64_t r = 0; r < 3; ++r) {
    const float *values = x[r].contiguous().data_ptr<float>();
    float scale = dynamicRowScale(values, 3);
    for (int64_t c = 0; c < 3; ++c)
      EXPECT_FLOAT_EQ(q[r][c].item<float>(),
                      float(quantizeToInt8(values[c], scale, 0)) * scale)
          << "(" << r << ", " << c << ")";
  }
}

TEST(CalibrationFile, TsvWithOrWithoutLabelsAndPlainText) {
  std::string dir = scratchDir("calibration-file");
  std::filesystem::create_directories(dir);
  ASSERT_FALSE(writeFileAtomically(dir + "/a.tsv",
                                   "id\ttext\nx\tfirst one\ny\tsecond one\n"));
  Expected<std::vector<TextExample>> tsv = readCalibrationFile(dir + "/a.tsv");
  ASSERT_TRUE(tsv) << tsv.message();
  ASSERT_EQ(tsv->size(), 2u);
  EXPECT_EQ((*tsv)[1].textA, "second one");

  ASSERT_FALSE(writeFileAtomically(dir + "/b.tsv",
                                   "text_a\ttext_b\tlabel\nq\ta\t1\n"));
  Expected<std::vector<TextExample>> pairs = readCalibrationFile(dir + "/b.tsv");
  ASSERT_TRUE(pairs) << pairs.message();
  EXPECT_EQ((*pairs)[0].textB, "a");

  ASSERT_FALSE(writeFileAtomically(dir + "/c.txt", "one line\n\n  \nanother\n"));
  Expected<std::vector<TextExample>> plain = readCalibrationFile(dir + "/c.txt");
  ASSERT_TRUE(plain) << plain.message();
  ASSERT_EQ(plain->size(), 2u);
  EXPECT_EQ((*plain)[1].textA, "another");

  ASSERT_FALSE(writeFileAtomically(dir + "/d.tsv", "id\tlabel\n1\tpos\n"));
  Expected<std::vector<TextExample>> noText = readCalibrationFile(dir + "/d.tsv");
  ASSERT_FALSE(noText);
  EXPECT_EQ(noText.message(),
            dir + "/d.tsv:1: header needs a 'text' column or 'text_a' and "
                  "'text_b'");
  ASSERT_FALSE(writeFileAtomically(dir + "/e.txt", "\n \n"));
  Expected<std::vector<TextExample>> empty = readCalibrationFile(dir + "/e.txt");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.message(), dir + "/e.txt: no calibration sentences");
  std::filesystem::remove_all(dir);
}

/// The float logits of `dir`'s model on `data`.
torch::Tensor logitsOf(const std::string &dir, const TextDataset &data) {
  Expected<LoadedModel> loaded = loadModelForEval(dir);
  EXPECT_TRUE(loaded) << loaded.message();
  return quantbert::train::testing::logitsOf(loaded->model, data);
}

TEST(PostTraining, StaticAndDynamicBundlesFromAFloatCheckpoint) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("ptq");
  torch::manual_seed(9);
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  ASSERT_FALSE(saveCheckpoint(dir + "/float", config, *model, QB_BERT_VOCAB));
  TextDataset data = sentimentData(24);
  torch::Tensor reference = logitsOf(dir + "/float", data);

  for (bool dynamic : {false, true}) {
    PtqOptions options;
    options.dynamic = dynamic;
    options.calibrator = Calibrator::Entropy;
    std::string bundle = dir + (dynamic ? "/dynamic" : "/static");
    Error err = quantizePostTraining(dir + "/float",
                                     dynamic ? std::vector<TextExample>{}
                                             : data.examples,
                                     options, bundle);
    ASSERT_FALSE(err) << err.message();
    Expected<QuantConfig> quant = QuantConfig::load(bundle + "/quant.json");
    ASSERT_TRUE(quant) << quant.message();
    EXPECT_EQ(quant->recipe, dynamic ? "ptq-dynamic" : "ptq-entropy");
    // Six linears a layer; the pooler and classifier stay f32.
    EXPECT_EQ(quant->linears.size(), 12u);
    for (const auto &[name, linear] : quant->linears) {
      EXPECT_EQ(linear.precision, Precision::I8) << name;
      EXPECT_EQ(linear.inputScale.has_value(), !dynamic) << name;
      if (linear.inputScale) {
        EXPECT_GT(*linear.inputScale, 0.0) << name;
      }
    }
    EXPECT_EQ(quant->embeddings.size(), 2u);
    // int8 stays close to the float model (a random tiny model: logits of
    // order 1).
    torch::Tensor logits = logitsOf(bundle, data);
    EXPECT_LT((logits - reference).abs().max().item<float>(), 0.1f)
        << (dynamic ? "dynamic" : "static");
  }

  // A bundle is not a float checkpoint; static needs calibration data.
  PtqOptions options;
  Error again = quantizePostTraining(dir + "/static", {}, options, dir + "/x");
  ASSERT_TRUE(again);
  EXPECT_EQ(again.message(), dir + "/static: is already quantized (bundle): "
                                   "post-training quantization starts from "
                                   "an FP32 checkpoint");
  Error uncalibrated =
      quantizePostTraining(dir + "/float", {}, options, dir + "/x");
  ASSERT_TRUE(uncalibrated);
  EXPECT_EQ(uncalibrated.message(),
            "static post-training quantization needs calibration sentences "
            "(--calibration FILE); --dynamic needs none");
  EXPECT_FALSE(std::filesystem::exists(dir + "/x"));
  std::filesystem::remove_all(dir);
}

} // namespace
