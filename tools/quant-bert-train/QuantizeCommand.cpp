//===- QuantizeCommand.cpp - quant-bert-train quantize --------------------===//
//
// Post-training quantization of an FP32 checkpoint (PostTraining.h): encoder
// linears int8 per channel, word and position embeddings int8 per row;
// activations calibrated (static) or quantized per row at run time
// (--dynamic).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/PostTraining.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct QuantizeOptions {
  std::string model, output, calibration, calibrator;
  double percentile = 99.99;
  int64_t calibrationSamples = 512, maxSeqLength = 128, batchSize = 32;
  bool dynamic = false, noEmbeddings = false;
  ThreadsFlag threads;
};

void runQuantize(const QuantizeOptions &o, const CLI::App &command) {
  o.threads.apply();
  PtqOptions options;
  options.dynamic = o.dynamic;
  options.quantizeEmbeddings = !o.noEmbeddings;
  if (given(command, "--calibrator"))
    options.calibrator = orFail(parseCalibrator(o.calibrator));
  options.percentile = o.percentile;
  options.maxSentences = o.calibrationSamples;
  options.maxLength = o.maxSeqLength;
  options.batchSize = o.batchSize;
  if (options.dynamic &&
      (given(command, "--calibration") || given(command, "--calibrator")))
    fail("--dynamic quantizes activations at run time: it takes no "
         "--calibration or --calibrator");
  if (!options.dynamic && !given(command, "--calibration"))
    fail("static quantization needs --calibration FILE (or use --dynamic)");
  std::vector<TextExample> calibration;
  if (!options.dynamic)
    calibration = orFail(readCalibrationFile(o.calibration));
  orFail(quantizePostTraining(o.model, calibration, options, o.output));
  std::cerr << "quantize: "
            << (options.dynamic
                    ? std::string("dynamic int8")
                    : "static int8, " +
                          std::string(calibratorName(options.calibrator)) +
                          " calibration on " +
                          std::to_string(std::min<int64_t>(
                              options.maxSentences, calibration.size())) +
                          " sentences")
            << "; bundle in " << o.output << "\n";
}

} // namespace

void addQuantizeCommand(CLI::App &app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App *command = app.add_subcommand(
      "quantize", "Post-training int8 quantization of an FP32 checkpoint "
                  "(docs/training.md)");
  command->add_option("--model", o->model, "FP32 checkpoint")->required();
  command->add_option("--output", o->output, "Bundle directory")->required();
  command->add_option("--calibration", o->calibration,
                      "Static: a TSV with a text column, or one sentence a "
                      "line");
  command->add_option("--calibrator", o->calibrator,
                      "max, percentile, mse or entropy (default percentile)");
  command->add_option("--percentile", o->percentile)
      ->check(positive() & atMost(100));
  command->add_option("--calibration-samples", o->calibrationSamples)
      ->check(positive());
  command->add_option("--max-seq-length", o->maxSeqLength)
      ->check(atLeast(2));
  command->add_option("--batch-size", o->batchSize)->check(positive());
  command->add_flag("--dynamic", o->dynamic,
                    "Activations quantized per row at run time, no "
                    "calibration");
  command->add_flag("--no-embeddings", o->noEmbeddings,
                    "Keep the embeddings f32");
  o->threads.add(command);
  command->callback([o, command] { runQuantize(*o, *command); });
}

} // namespace quantbert::train::cli
