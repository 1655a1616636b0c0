//===- Driver.h - What quant-bert-train's commands share --------*- C++ -*-===//
//
// The command-line layer of quant-bert-train: one file per command
// (*Command.cpp), each registering a CLI11 subcommand whose callback turns
// its options into calls of lib/Train, and these shared pieces: one-line
// errors, the training options common to pretrain and finetune, LibTorch's
// thread count, and ProgressPrinter, which draws the trainer's progress
// events. Domain logic (training, data, checkpoints) lives in lib/Train.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TOOLS_QUANTBERTTRAIN_DRIVER_H
#define QUANTBERT_TOOLS_QUANTBERTTRAIN_DRIVER_H

#include "quantbert/Support/Error.h"
#include "quantbert/Train/DataParallel.h"
#include "quantbert/Train/Distillation.h"
#include "quantbert/Train/Trainer.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace quantbert::train::cli {

/// Prints `quant-bert-train: error: MESSAGE` on stderr and exits with 1.
[[noreturn]] void fail(const std::string &message);

template <typename T> T orFail(Expected<T> value) {
  if (!value)
    fail(value.message());
  return std::move(*value);
}

inline void orFail(Error error) {
  if (error)
    fail(error.message());
}

/// Whether `name` (e.g. "--model") was given on `command`'s command line.
inline bool given(const CLI::App &command, const std::string &name) {
  return command.count(name) > 0;
}

/// Validators with one-line messages ("must be positive, got 0"); the
/// number is parsed as a double, which every integer option fits.
CLI::Validator atLeast(double minimum);
CLI::Validator atMost(double maximum);
/// > 0 and >= 0.
CLI::Validator positive();
CLI::Validator nonNegative();

/// --threads N: LibTorch's intra-op threads (default: its own choice).
struct ThreadsFlag {
  int64_t threads = 0;
  void add(CLI::App *command);
  /// Sets the thread count if --threads was given.
  void apply() const;
};

/// Data-parallel membership: torchrun's environment (MASTER_ADDR,
/// MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, and QB_DIST_TIMEOUT), each
/// overridden by its flag when given.
struct DistributedFlags {
  std::string masterAddr;
  int64_t masterPort = 0, worldSize = 0, rank = -1, localRank = -1,
          timeoutSeconds = 0;

  void add(CLI::App *command);
  /// The group this process joins (connecting on the first call), or null
  /// for a single process. Fails with a one-line error on bad values or an
  /// unreachable master.
  DataParallel *join() const;
};

/// The options of pretrain and finetune: optimisation, checkpoints,
/// logging, data parallelism, and the size of a fresh encoder.
struct TrainFlags {
  /// Filled by the options; the defaults are the command's (set them before
  /// add()).
  TrainOptions train;
  /// The command takes `--lr auto` (set before add()); learningRateAuto is
  /// then the default until --lr gives a number.
  bool acceptsAutoLearningRate = false;
  bool learningRateAuto = false;
  std::string lossCsv;
  // A fresh encoder's size (the vocabulary size comes from --vocab).
  std::string vocab;
  int64_t hiddenSize = 256, layers = 4, heads = 4, intermediateSize = 1024,
          maxPosition = 512;
  ThreadsFlag threads;
  DistributedFlags distributed;

  /// Registers the options with the defaults currently in the fields.
  void add(CLI::App *command);
  /// TrainOptions with the progress drawn on stderr (ProgressPrinter) and
  /// --loss-csv written step by step, by rank 0 only in a data-parallel
  /// run (which this joins).
  TrainOptions options() const;
  BertConfig sizedConfig(int64_t vocabSize) const;
};

/// "trained N steps, running loss L[, best dev accuracy A]; checkpoints in
/// DIR" on stderr (by rank 0 only in a data-parallel run).
void reportTraining(const TrainResult &result, const TrainOptions &options);

/// The options prune and factorize share: the float checkpoint they cut
/// (--model), the data (--train, --dev) and the distillation that recovers
/// accuracy afterwards (--teacher, --kd, --kd-temperature,
/// --max-seq-length, --eval-every).
struct RecoveryFlags {
  std::string model, trainPath, devPath, teacher, kd = "pred,rep";
  double kdTemperature = 1.0;
  int64_t maxSeqLength = 128, evalEvery = 0;
  void add(CLI::App *command);
};

/// What a prune, factorize or share run starts from.
struct RecoveryRun {
  TextDataset trainSet;
  std::optional<TextDataset> devSet;
  std::string vocabPath;
  Tokenizer tokenizer;
  /// --model's config; the command updates it as it cuts the model.
  BertConfig config;
  Teacher teacher;
  DistillationOptions kd;
  /// --model's weights, in the model the command cuts and trains.
  BertForSequenceClassification model;
  int64_t maxSeqLength;
};

/// Refuses a quantization-aware --model or one fine-tuned on other labels
/// (messages name `verb`, e.g. "prune", and `cut`, e.g. "pruned"), reads the
/// data, the tokenizer, the config and the teacher (default --model), then
/// seeds LibTorch with `seed` and loads --model.
RecoveryRun startRecovery(const RecoveryFlags &flags, const CLI::App &command,
                          const std::string &verb, const std::string &cut,
                          uint64_t seed);

/// The recovery training: distillation into run.model (built for
/// run.config) from run.teacher with the --kd terms, written to
/// options.outputDir; reports the run.
void recoverByDistillation(const RecoveryRun &run, const TrainOptions &options);

/// Draws ProgressEvents: on a terminal one bar redrawn in place (at most
/// five times a second, and at the end), otherwise a line per logging
/// window; dev scores and resumption on lines of their own.
class ProgressPrinter {
public:
  ProgressPrinter(std::ostream &out, bool bar, std::string resumedFrom = "")
      : out_(&out), bar_(bar), resumedFrom_(std::move(resumedFrom)) {}
  void operator()(const ProgressEvent &event);

private:
  std::ostream *out_;
  bool bar_;
  std::string resumedFrom_;
  std::chrono::steady_clock::time_point lastDraw_{};
};

// The commands, one file each.
void addPretrainCommand(CLI::App &app);
void addFinetuneCommand(CLI::App &app);
void addEvalCommand(CLI::App &app);
void addExportCommand(CLI::App &app);
void addPruneCommand(CLI::App &app);
void addFactorizeCommand(CLI::App &app);
void addShareCommand(CLI::App &app);
void addQuantizeCommand(CLI::App &app);
void addSensitivityCommand(CLI::App &app);
void addBaselineBowCommand(CLI::App &app);
void addCompareCommand(CLI::App &app);
void addLaunchCommand(CLI::App &app);

} // namespace quantbert::train::cli

#endif // QUANTBERT_TOOLS_QUANTBERTTRAIN_DRIVER_H
