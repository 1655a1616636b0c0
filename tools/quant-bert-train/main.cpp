//===- main.cpp - quant-bert-train: pretrain, fine-tune, compress, score --===//
//
// The training driver of quant-bert (docs/training.md):
//
//   quant-bert-train pretrain     masked-LM pretraining
//   quant-bert-train finetune     fine-tuning, QAT (--recipe), KD (--teacher)
//   quant-bert-train eval         scores of a checkpoint or bundle
//   quant-bert-train export       a QAT checkpoint to a bundle
//   quant-bert-train prune        structured pruning of heads and FFN neurons
//   quant-bert-train factorize    low-rank factorization of encoder linears
//   quant-bert-train quantize     post-training int8 quantization
//   quant-bert-train sensitivity  per-module quantization sensitivity
//   quant-bert-train baseline-bow majority and bag-of-words baselines
//   quant-bert-train compare      McNemar's test of two prediction files
//   quant-bert-train launch       N data-parallel processes of a command
//
// One file per command (*Command.cpp) parses its options with CLI11 and
// calls lib/Train. `COMMAND --help` lists a command's options and defaults.
// Errors are one line on stderr and exit code 1.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <iostream>

using namespace quantbert::train::cli;

int main(int argc, char **argv) {
  CLI::App app("Pretrain, fine-tune, compress and score BERT classifiers "
               "(docs/training.md)",
               "quant-bert-train");
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::simple);
  addPretrainCommand(app);
  addFinetuneCommand(app);
  addEvalCommand(app);
  addExportCommand(app);
  addPruneCommand(app);
  addFactorizeCommand(app);
  addShareCommand(app);
  addQuantizeCommand(app);
  addSensitivityCommand(app);
  addBaselineBowCommand(app);
  addCompareCommand(app);
  addLaunchCommand(app);
  // The commands run in their parse callbacks. LibTorch reports shape and
  // index errors by throwing: print them as the tool's own errors, without
  // the C++ backtrace.
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp &help) {
    return app.exit(help);
  } catch (const CLI::ParseError &error) {
    fail(std::string(error.what()) + " (see " +
         (argc > 1 ? std::string(argv[1]) + " --help" : std::string("--help")) +
         ")");
  } catch (const std::exception &error) {
    fail(quantbert::train::exceptionText(error));
  }
  return 0;
}
