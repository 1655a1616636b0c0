//===- ExportCommand.cpp - quant-bert-train export ------------------------===//
//
// A QAT checkpoint to a compressed bundle (Export.h), optionally also an
// FP32 checkpoint of its dequantized weights.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/Export.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct ExportOptions {
  std::string model, output, dequantized;
  ThreadsFlag threads;
};

void runExport(const ExportOptions &o) {
  o.threads.apply();
  orFail(exportBundle(o.model, o.output));
  std::cerr << "export: bundle in " << o.output << "\n";
  if (!o.dequantized.empty()) {
    orFail(exportDequantized(o.model, o.dequantized));
    std::cerr << "export: dequantized FP32 checkpoint in " << o.dequantized
              << "\n";
  }
}

} // namespace

void addExportCommand(CLI::App &app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App *command = app.add_subcommand(
      "export", "A QAT checkpoint to a compressed bundle (docs/formats.md)");
  command->add_option("--model", o->model, "QAT checkpoint")->required();
  command->add_option("--output", o->output, "Bundle directory")->required();
  command->add_option("--dequantized", o->dequantized,
                      "Also an FP32 Hugging Face checkpoint of the "
                      "dequantized weights");
  o->threads.add(command);
  command->callback([o] { runExport(*o); });
}

} // namespace quantbert::train::cli
