//===- SensitivityCommand.cpp - quant-bert-train sensitivity --------------===//
//
// Each encoder module's dev loss under weight quantization (Sensitivity.h),
// written as sensitivity.json (docs/formats.md).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Sensitivity.h"

#include <filesystem>
#include <iostream>

namespace quantbert::train::cli {

namespace {

struct SensitivityCommandOptions {
  std::string model, dev, output;
  std::vector<std::string> precisions;
  int64_t hessianSamples = 0, maxSeqLength = 128, batchSize = 32, seed = 42;
  bool binaryWeightsOnly = false;
  ThreadsFlag threads;
};

void runSensitivity(const SensitivityCommandOptions &o,
                    const CLI::App &command) {
  o.threads.apply();
  if (std::filesystem::exists(o.model + "/qat.json"))
    fail(o.model + ": a QAT checkpoint; measure the float model it started "
                   "from");
  SensitivityOptions options;
  if (given(command, "--precisions")) {
    options.precisions.clear();
    for (const std::string &name : o.precisions) {
      std::optional<Precision> precision = parsePrecision(name);
      if (!precision)
        fail("--precisions: unknown precision '" + name +
             "' (expected i8, ternary, binary, f16, bf16 or f32)");
      options.precisions.push_back(*precision);
    }
  }
  options.binaryInputs = !o.binaryWeightsOnly;
  options.hessianSamples = o.hessianSamples;
  options.batchSize = o.batchSize;
  options.maxSeqLength = o.maxSeqLength;
  options.seed = uint64_t(o.seed);
  options.log = &std::cerr;

  BertConfig config = orFail(loadCheckpointConfig(o.model));
  std::vector<std::string> labelNames = config.labelNames();
  TextDataset dev = orFail(readTsv(o.dev, &labelNames));
  Tokenizer tokenizer = orFail(Tokenizer::open(o.model + "/vocab.txt"));
  BertForSequenceClassification model(config);
  orFail(loadCheckpointWeights(o.model, *model));
  SensitivityReport report =
      orFail(measureSensitivity(model, tokenizer, dev, options));
  orFail(report.save(o.output));
  std::cerr << "sensitivity: " << report.modules.size() << " modules in "
            << o.output << "\n";
}

} // namespace

void addSensitivityCommand(CLI::App &app) {
  auto o = std::make_shared<SensitivityCommandOptions>();
  CLI::App *command = app.add_subcommand(
      "sensitivity", "Each module's dev loss increase when it alone is "
                     "quantized (binary: weights and inputs), as "
                     "sensitivity.json");
  command->add_option("--model", o->model, "Float checkpoint")->required();
  command->add_option("--dev", o->dev, "Dev TSV")->required();
  command->add_option("--output", o->output, "sensitivity.json to write")
      ->required();
  command->add_option("--precisions", o->precisions,
                      "Candidates (default i8,ternary,binary; also f16, bf16)")
      ->delimiter(',');
  command->add_flag("--binary-weights-only", o->binaryWeightsOnly,
                    "binary: quantize the weights alone (default: also the "
                    "linears' inputs, as the deployed 1-bit linear does)");
  command->add_option("--hessian-samples", o->hessianSamples,
                      "Hutchinson samples of each module's Hessian trace")
      ->check(nonNegative());
  command->add_option("--max-seq-length", o->maxSeqLength)
      ->check(atLeast(2));
  command->add_option("--batch-size", o->batchSize)->check(positive());
  command->add_option("--seed", o->seed);
  o->threads.add(command);
  command->callback([o, command] { runSensitivity(*o, *command); });
}

} // namespace quantbert::train::cli
