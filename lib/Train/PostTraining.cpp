//===- PostTraining.cpp - Post-training quantization ----------------------===//
//
// Calibrators over a histogram of |x| (PostTraining.h), and the quantize
// command: observe the encoder linears' inputs of the float model on the
// calibration sentences (two passes: range, then counts), set each input
// scale from its calibrator's threshold, quantize the weights per channel
// and export the bundle.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/PostTraining.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Train/Export.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace quantbert::train {

namespace {

constexpr std::pair<Calibrator, std::string_view> kCalibrators[] = {
    {Calibrator::Max, "max"},
    {Calibrator::Percentile, "percentile"},
    {Calibrator::Mse, "mse"},
    {Calibrator::Entropy, "entropy"}};

/// Normalizes `p` to sum 1 and replaces its zeros by `eps` (taking the mass
/// from the nonzero entries), so KL(P || Q) is finite (as TensorRT and
/// MXNet smooth the quantized histogram).
std::vector<double> smoothed(std::vector<double> p, double eps = 1e-4) {
  double total = 0;
  int64_t zeros = 0;
  for (double v : p) {
    total += v;
    zeros += v == 0;
  }
  int64_t nonzeros = static_cast<int64_t>(p.size()) - zeros;
  if (total == 0 || nonzeros == 0)
    return p;
  double taken = eps * zeros / nonzeros;
  for (double &v : p)
    v = v == 0 ? eps : v / total - taken;
  return p;
}

} // namespace

std::string_view calibratorName(Calibrator calibrator) {
  for (auto [kind, name] : kCalibrators)
    if (kind == calibrator)
      return name;
  return "?";
}

Expected<Calibrator> parseCalibrator(std::string_view name) {
  for (auto [kind, known] : kCalibrators)
    if (known == name)
      return kind;
  return Error::failure("unknown calibrator '" + std::string(name) +
                        "' (known: max, percentile, mse, entropy)");
}

void ActivationHistogram::observeRange(const torch::Tensor &x) {
  torch::Tensor magnitude = torch::nan_to_num(x.detach().abs(), 0.0);
  if (magnitude.numel())
    maxAbs_ = std::max(maxAbs_, magnitude.max().item<float>());
}

void ActivationHistogram::observe(const torch::Tensor &x) {
  if (counts_.empty())
    counts_.assign(kBins, 0.0);
  if (!(maxAbs_ > 0))
    return;
  torch::Tensor magnitude =
      torch::nan_to_num(x.detach().abs().to(torch::kFloat32), 0.0)
          .clamp_max(maxAbs_)
          .flatten();
  torch::Tensor counts = torch::histc(magnitude, kBins, 0.0, maxAbs_);
  const float *values = counts.data_ptr<float>();
  for (int64_t i = 0; i < kBins; ++i)
    counts_[i] += values[i];
}

float ActivationHistogram::threshold(Calibrator calibrator,
                                     double percentile) const {
  if (counts_.empty() || !(maxAbs_ > 0))
    return maxAbs_;
  switch (calibrator) {
  case Calibrator::Max:
    return maxAbs_;
  case Calibrator::Percentile:
    return percentileThreshold(percentile);
  case Calibrator::Mse:
    return mseThreshold();
  case Calibrator::Entropy:
    return entropyThreshold();
  }
  return maxAbs_;
}

float ActivationHistogram::percentileThreshold(double percentile) const {
  double total = 0;
  for (double c : counts_)
    total += c;
  double target = total * percentile / 100.0, seen = 0;
  for (int64_t i = 0; i < kBins; ++i) {
    seen += counts_[i];
    if (seen >= target)
      return static_cast<float>((i + 1) * binWidth());
  }
  return maxAbs_;
}

float ActivationHistogram::mseThreshold() const {
  // Candidates: every bin edge; each bin's values are taken at its centre.
  double width = binWidth(), best = std::numeric_limits<double>::infinity();
  float bestThreshold = maxAbs_;
  for (int64_t edge = 1; edge <= kBins; ++edge) {
    double t = edge * width, scale = t / kInt8Max, error = 0;
    for (int64_t i = 0; i < kBins; ++i) {
      if (counts_[i] == 0)
        continue;
      double centre = (i + 0.5) * width;
      double quantized =
          centre >= t ? t : std::nearbyint(centre / scale) * scale;
      error += counts_[i] * (centre - quantized) * (centre - quantized);
    }
    if (error < best) {
      best = error;
      bestThreshold = static_cast<float>(t);
    }
  }
  return bestThreshold;
}

float ActivationHistogram::entropyThreshold() const {
  double best = std::numeric_limits<double>::infinity();
  int64_t bestEdge = kBins;
  for (int64_t edge = kLevels; edge <= kBins; ++edge) {
    // P: the histogram clipped at the edge, the tail folded into its last
    // bin.
    std::vector<double> p(counts_.begin(), counts_.begin() + edge);
    for (int64_t i = edge; i < kBins; ++i)
      p.back() += counts_[i];
    // Q: the histogram below the edge (tail not folded in) quantized to
    // kLevels levels, each level's mass spread over the bins where P is
    // nonzero, as TensorRT's entropy calibrator does.
    std::vector<double> q(edge, 0.0);
    for (int64_t level = 0; level < kLevels; ++level) {
      int64_t begin = level * edge / kLevels, end = (level + 1) * edge / kLevels;
      double mass = 0;
      int64_t nonzero = 0;
      for (int64_t i = begin; i < end; ++i) {
        mass += counts_[i];
        nonzero += p[i] != 0;
      }
      for (int64_t i = begin; i < end; ++i)
        if (p[i] != 0)
          q[i] = mass / nonzero;
    }
    std::vector<double> ps = smoothed(p), qs = smoothed(q);
    double kl = 0;
    for (int64_t i = 0; i < edge; ++i)
      if (ps[i] > 0 && qs[i] > 0)
        kl += ps[i] * std::log(ps[i] / qs[i]);
    if (kl < best) {
      best = kl;
      bestEdge = edge;
    }
  }
  return static_cast<float>(std::min<double>(maxAbs_, (bestEdge + 0.5) * binWidth()));
}

Expected<std::vector<TextExample>> readCalibrationFile(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  std::string_view firstLine(*text);
  firstLine = firstLine.substr(0, firstLine.find('\n'));
  std::vector<TextExample> examples;
  if (firstLine.find('\t') != std::string_view::npos) {
    // A TSV: its text columns; labels, if any, are not needed.
    Expected<std::vector<TextExample>> rows = parseTexts(*text, path);
    if (!rows)
      return rows.error();
    examples = std::move(*rows);
  } else {
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);)
      if (line.find_first_not_of(" \t\r") != std::string::npos)
        examples.push_back({line, std::string(), 0});
  }
  if (examples.empty())
    return Error::failure(path + ": no calibration sentences");
  return examples;
}

Error quantizePostTraining(const std::string &checkpointDir,
                           const std::vector<TextExample> &calibration,
                           const PtqOptions &options,
                           const std::string &bundleDir) {
  Expected<LoadedModel> loaded = loadModelForEval(checkpointDir);
  if (!loaded)
    return loaded.error();
  if (loaded->kind != "float")
    return Error::failure(checkpointDir + ": is already quantized (" +
                          loaded->kind +
                          "): post-training quantization starts from an "
                          "FP32 checkpoint");
  BertForSequenceClassification &model = loaded->model;

  // Every encoder linear: int8 weights per channel on int8 inputs.
  std::vector<std::pair<std::string, QuantLinearImpl *>> linears;
  for (const auto &item : model->named_modules())
    if (item.key().rfind("bert.encoder.layer.", 0) == 0)
      if (auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get()))
        linears.emplace_back(item.key(), linear);
  QatSpec spec;
  spec.recipe = options.dynamic
                    ? "ptq-dynamic"
                    : "ptq-" + std::string(calibratorName(options.calibrator));
  LinearQuantSpec linearSpec{Quantizer::SymmetricEma, Granularity::PerRow,
                             options.dynamic ? InputQuant::DynamicInt8
                                             : InputQuant::Int8};
  for (const auto &[name, linear] : linears)
    spec.linears[name] = linearSpec;
  if (options.quantizeEmbeddings)
    for (const char *name : {"bert.embeddings.word_embeddings",
                             "bert.embeddings.position_embeddings"})
      spec.embeddings[name] =
          EmbeddingQuantSpec{Quantizer::SymmetricEma, Granularity::PerRow};

  if (!options.dynamic) {
    if (calibration.empty())
      return Error::failure("static post-training quantization needs "
                            "calibration sentences (--calibration FILE); "
                            "--dynamic needs none");
    Expected<Tokenizer> tokenizer = Tokenizer::open(checkpointDir + "/vocab.txt");
    if (!tokenizer)
      return tokenizer.error();
    int64_t count = std::min<int64_t>(options.maxSentences, calibration.size());
    // Calibration sentences longer than the model's positions are cut there.
    int64_t maxLength = std::min(options.maxLength,
                                 loaded->config.maxPositionEmbeddings);
    std::vector<ActivationHistogram> histograms(linears.size());
    // Runs the float model over the calibration sentences with every
    // linear's input going to `observe`.
    auto pass = [&](auto observe) -> Error {
      for (size_t i = 0; i < linears.size(); ++i)
        linears[i].second->inputObserver =
            [&histogram = histograms[i], observe](const torch::Tensor &x) {
              observe(histogram, x);
            };
      torch::NoGradGuard noGrad;
      model->eval();
      Error failure = Error::success();
      for (int64_t begin = 0; begin < count && !failure;
           begin += options.batchSize) {
        std::vector<const TextExample *> batch;
        for (int64_t i = begin; i < std::min(count, begin + options.batchSize);
             ++i)
          batch.push_back(&calibration[i]);
        Expected<EncoderInputs> inputs = tokenizer->encode(batch, maxLength);
        if (!inputs)
          failure = inputs.error();
        else
          model->forward(*inputs);
      }
      for (auto &[name, linear] : linears)
        linear->inputObserver = nullptr;
      return failure;
    };
    if (Error err = pass([](ActivationHistogram &h, const torch::Tensor &x) {
          h.observeRange(x);
        }))
      return err;
    if (Error err = pass([](ActivationHistogram &h, const torch::Tensor &x) {
          h.observe(x);
        }))
      return err;
    for (size_t i = 0; i < linears.size(); ++i)
      spec.inputRanges[linears[i].first] =
          histograms[i].threshold(options.calibrator, options.percentile);
  }
  if (Error err = applyQatSpec(*model, spec))
    return Error::failure(checkpointDir + ": " + err.message());
  loaded->recipe = spec.recipe;
  return exportModel(*loaded, checkpointDir, bundleDir);
}

} // namespace quantbert::train
