//===- ExportCommand.cpp - quant-bert-train export ------------------------===//
//
// A QAT checkpoint to a compressed bundle (Export.h), optionally also an
// FP32 checkpoint of its dequantized weights; any classification model (float,
// QAT or bundle) to transformers' ALBERT layout (AlbertExport.h).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Train/AlbertExport.h"
#include "quantbert/Train/Export.h"

#include <iostream>

namespace quantbert::train::cli {

namespace {

struct ExportOptions {
  std::string model, output, dequantized, albert;
  ThreadsFlag threads;
};

void runExport(const ExportOptions &o) {
  o.threads.apply();
  if (o.output.empty() && o.dequantized.empty() && o.albert.empty())
    fail("export needs --output, --dequantized or --albert");
  if (!o.output.empty()) {
    orFail(exportBundle(o.model, o.output));
    std::cerr << "export: bundle in " << o.output << "\n";
  }
  if (!o.dequantized.empty()) {
    orFail(exportDequantized(o.model, o.dequantized));
    std::cerr << "export: dequantized FP32 checkpoint in " << o.dequantized
              << "\n";
  }
  if (!o.albert.empty()) {
    orFail(exportAlbert(o.model, o.albert));
    std::cerr << "export: Hugging Face ALBERT checkpoint in " << o.albert
              << "\n";
  }
}

} // namespace

void addExportCommand(CLI::App &app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App *command = app.add_subcommand(
      "export", "A QAT checkpoint to a compressed bundle (docs/formats.md), "
                "a dequantized FP32 checkpoint or an ALBERT checkpoint");
  command->add_option("--model", o->model, "QAT checkpoint (any model for "
                                           "--albert)")
      ->required();
  command->add_option("--output", o->output, "Bundle directory");
  command->add_option("--dequantized", o->dequantized,
                      "An FP32 Hugging Face checkpoint of the dequantized "
                      "weights (with or without --output)");
  command->add_option("--albert", o->albert,
                      "A Hugging Face AlbertForSequenceClassification "
                      "checkpoint (float or dequantized weights, each shared "
                      "tensor once; with or without --output)");
  o->threads.add(command);
  command->callback([o] { runExport(*o); });
}

} // namespace quantbert::train::cli
