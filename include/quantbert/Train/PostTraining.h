//===- PostTraining.h - Post-training quantization --------------*- C++ -*-===//
//
// quant-bert-train quantize: an FP32 checkpoint to an int8 bundle without
// training, as ONNX Runtime, TensorRT and OpenVINO do it.
//
//   - Weights: every encoder linear symmetric int8 per output channel
//     (max|W[n, :]| / 127), the word and position embeddings int8 per row.
//   - Activations, static: the inputs of each encoder linear are observed
//     over a calibration set (a few hundred sentences, labels unused) and a
//     calibrator picks the clipping threshold t, input scale t / 127:
//       max         t = max|x|;
//       percentile  t = the p-th percentile of |x| (default 99.99);
//       mse         the t minimizing the mean squared error of quantizing
//                   the observed |x| (rounding inside, clipping outside);
//       entropy     the t minimizing KL(P || Q) between the histogram of
//                   |x| clipped at t and its 128-level quantization
//                   (TensorRT's calibrator, Migacz 2017).
//     Histograms have 2048 bins over [0, max|x|] (a first pass finds the
//     max).
//   - Activations, dynamic: no calibration; each row of a linear's input is
//     quantized with its own scale at run time (qb.quantize_rows), the form
//     ONNX Runtime's quantize_dynamic uses (there per tensor).
//
// The bundle is the one `export` writes for a QAT checkpoint
// (docs/formats.md): quant.json's recipe says "ptq-<calibrator>" or
// "ptq-dynamic".
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_POSTTRAINING_H
#define QUANTBERT_TRAIN_POSTTRAINING_H

#include "quantbert/Support/Error.h"
#include "quantbert/Train/Data.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert::train {

enum class Calibrator { Max, Percentile, Mse, Entropy };

/// "max", "percentile", "mse", "entropy".
std::string_view calibratorName(Calibrator calibrator);
/// Errors name the unknown calibrator and the known ones.
Expected<Calibrator> parseCalibrator(std::string_view name);

/// The histogram of |x| of one activation over a calibration set.
class ActivationHistogram {
public:
  static constexpr int64_t kBins = 2048;
  /// Levels of a symmetric int8 magnitude the entropy calibrator quantizes
  /// the histogram into.
  static constexpr int64_t kLevels = 128;

  /// Pass 1: the range.
  void observeRange(const torch::Tensor &x);
  /// Pass 2: the counts, over [0, maxAbs()] (values beyond go to the last
  /// bin; NaN is ignored).
  void observe(const torch::Tensor &x);

  float maxAbs() const { return maxAbs_; }
  const std::vector<double> &counts() const { return counts_; }
  double binWidth() const { return maxAbs_ / kBins; }

  /// The clipping threshold the calibrator picks (maxAbs for an empty
  /// histogram); `percentile` in (0, 100] for Calibrator::Percentile.
  float threshold(Calibrator calibrator, double percentile = 99.99) const;

private:
  float percentileThreshold(double percentile) const;
  float mseThreshold() const;
  float entropyThreshold() const;

  float maxAbs_ = 0.0f;
  std::vector<double> counts_;
};

struct PtqOptions {
  /// Static calibration, or dynamic quantization (no calibration).
  bool dynamic = false;
  Calibrator calibrator = Calibrator::Percentile;
  double percentile = 99.99;
  /// At most this many calibration sentences (the first ones).
  int64_t maxSentences = 512;
  /// Tokens per calibration sentence, at most the model's positions.
  int64_t maxLength = 128;
  int64_t batchSize = 32;
  /// Word and position embeddings int8 per row.
  bool quantizeEmbeddings = true;
};

/// Reads calibration sentences: a GLUE-style TSV (a header naming `text`,
/// or `text_a` and `text_b`; labels are not needed) or plain text, one
/// sentence a line (empty lines skipped).
Expected<std::vector<TextExample>> readCalibrationFile(const std::string &path);

/// Quantizes the FP32 checkpoint `checkpointDir` and writes the bundle to
/// `bundleDir`. Calibration (static) runs the float model on `calibration`
/// in eval mode. Errors name the checkpoint, the file or the option.
Error quantizePostTraining(const std::string &checkpointDir,
                           const std::vector<TextExample> &calibration,
                           const PtqOptions &options,
                           const std::string &bundleDir);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_POSTTRAINING_H
