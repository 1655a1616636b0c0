//===- Driver.cpp - What quant-bert-train's commands share ----------------===//

#include "Driver.h"

#include "quantbert/Train/Checkpoint.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <iostream>
#include <memory>
#include <unistd.h>

namespace quantbert::train::cli {

void fail(const std::string &message) {
  std::cerr << "quant-bert-train: error: " << message << "\n";
  std::exit(1);
}

namespace {

CLI::Validator numberCheck(std::function<bool(double)> accept,
                           std::string requirement, std::string description) {
  return CLI::Validator(
      [accept, requirement](std::string &text) -> std::string {
        char *end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !accept(value))
          return "must be " + requirement + ", got " + text;
        return "";
      },
      description);
}

/// [0, 1]: --warmup-ratio and --dropout.
CLI::Validator inUnitInterval() {
  return numberCheck([](double v) { return v >= 0 && v <= 1; }, "in [0, 1]",
                     "in [0, 1]");
}

} // namespace

CLI::Validator atLeast(double minimum) {
  std::ostringstream text;
  text << minimum;
  return numberCheck([minimum](double v) { return v >= minimum; },
                     "at least " + text.str(), ">= " + text.str());
}

CLI::Validator atMost(double maximum) {
  std::ostringstream text;
  text << maximum;
  return numberCheck([maximum](double v) { return v <= maximum; },
                     "at most " + text.str(), "<= " + text.str());
}

CLI::Validator positive() {
  return numberCheck([](double v) { return v > 0; }, "positive", "> 0");
}

CLI::Validator nonNegative() {
  return numberCheck([](double v) { return v >= 0; }, "non-negative", ">= 0");
}

void ThreadsFlag::add(CLI::App *command) {
  command->add_option("--threads", threads,
                      "LibTorch intra-op threads (default: its own)")
      ->check(positive());
}

void ThreadsFlag::apply() const {
  if (threads > 0)
    torch::set_num_threads(int(threads));
}

void TrainFlags::add(CLI::App *command) {
  command->add_option("--output", train.outputDir,
                      "Directory for best/, final/ and the training state")
      ->required();
  command->add_option("--batch-size", train.batchSize)->check(positive());
  command->add_option("--epochs", train.epochs)->check(positive());
  command->add_option("--max-steps", train.maxSteps,
                      "Run length in steps, overriding --epochs (0: off)")
      ->check(nonNegative());
  if (acceptsAutoLearningRate) {
    command->add_option_function<std::string>(
        "--lr",
        [this](const std::string &value) {
          learningRateAuto = value == "auto";
          if (learningRateAuto)
            return;
          char *end = nullptr;
          double rate = std::strtod(value.c_str(), &end);
          if (value.empty() || *end || !(rate > 0))
            throw CLI::ValidationError(
                "--lr", "must be a positive number or auto, got '" + value +
                            "'");
          train.learningRate = rate;
        },
        std::string("Peak learning rate, or auto: the best on dev of short "
                    "trial runs (docs/training.md)") +
            (learningRateAuto ? " (default: auto)" : ""));
  } else {
    command->add_option("--lr", train.learningRate, "Peak learning rate")
        ->check(positive());
  }
  command->add_option("--warmup-ratio", train.warmupRatio,
                      "Fraction of the steps spent warming up")
      ->check(inUnitInterval());
  command->add_option("--weight-decay", train.weightDecay)
      ->check(nonNegative());
  command->add_option("--max-grad-norm", train.maxGradNorm, "0: no clipping")
      ->check(nonNegative());
  command->add_option("--seed", train.seed);
  command->add_option("--log-every", train.logEvery,
                      "A progress line every N steps (on a terminal, one bar "
                      "redrawn in place instead)")
      ->check(nonNegative());
  command->add_option("--checkpoint-every", train.checkpointEvery,
                      "Save the training state every N steps (0: at the end)")
      ->check(nonNegative());
  command->add_option("--resume", train.resumeFrom,
                      "A training-state file to continue from");
  command->add_option("--loss-csv", lossCsv,
                      "Write step,loss,lr per step (appended on --resume)");
  command->add_option("--ema-decay", train.emaDecay,
                      "Evaluate and keep a moving average of the parameters "
                      "with this decay, e.g. 0.99 (0: off)")
      ->check(numberCheck([](double v) { return v >= 0 && v < 1; },
                          "in [0, 1)", "in [0, 1)"));
  command->add_option("--vocab", vocab,
                      "WordPiece vocabulary of a fresh encoder");
  command->add_option("--hidden-size", hiddenSize, "Fresh encoder: hidden size")
      ->check(positive());
  command->add_option("--layers", layers, "Fresh encoder: layers")
      ->check(positive());
  command->add_option("--heads", heads, "Fresh encoder: attention heads")
      ->check(positive());
  command->add_option("--intermediate-size", intermediateSize,
                      "Fresh encoder: FFN width")
      ->check(positive());
  command->add_option("--max-position", maxPosition,
                      "Fresh encoder: position embeddings")
      ->check(positive());
  command->add_option("--dropout", train.dropout,
                      "Dropout rate of every dropout layer (default: the "
                      "model's, 0.1; 0 turns dropout off)")
      ->check(inUnitInterval());
  threads.add(command);
  distributed.add(command);
}

void DistributedFlags::add(CLI::App *command) {
  auto *group = "Data parallel (docs/training.md; default: torchrun's "
                "environment variables)";
  command->add_option("--master-addr", masterAddr, "MASTER_ADDR")
      ->group(group);
  command->add_option("--master-port", masterPort, "MASTER_PORT")
      ->check(CLI::Range(1, 65535))
      ->group(group);
  command->add_option("--world-size", worldSize, "WORLD_SIZE")
      ->check(positive())
      ->group(group);
  command->add_option("--rank", rank, "RANK")->check(nonNegative())->group(group);
  command->add_option("--local-rank", localRank, "LOCAL_RANK")
      ->check(nonNegative())
      ->group(group);
  command->add_option("--dist-timeout", timeoutSeconds,
                      "Seconds a collective may wait for the other ranks "
                      "(QB_DIST_TIMEOUT; default 1800)")
      ->check(positive())
      ->group(group);
}

DataParallel *DistributedFlags::join() const {
  static std::unique_ptr<DataParallel> joined;
  if (joined)
    return joined.get();
  std::optional<DistributedEnv> env = orFail(readDistributedEnv());
  bool flagged = !masterAddr.empty() || masterPort > 0 || worldSize > 0 ||
                 rank >= 0 || localRank >= 0 || timeoutSeconds > 0;
  if (!env && !flagged)
    return nullptr;
  if (!env) {
    if (worldSize <= 0 || rank < 0)
      fail("data-parallel flags need --world-size and --rank (or WORLD_SIZE "
           "and RANK)");
    env.emplace();
    env->localRank = int(rank);
  }
  if (!masterAddr.empty())
    env->masterAddr = masterAddr;
  if (masterPort > 0)
    env->masterPort = int(masterPort);
  if (worldSize > 0)
    env->worldSize = int(worldSize);
  if (rank >= 0)
    env->rank = int(rank);
  if (localRank >= 0)
    env->localRank = int(localRank);
  if (timeoutSeconds > 0)
    env->timeout = std::chrono::seconds(timeoutSeconds);
  orFail(validateDistributedEnv(*env));
  if (env->worldSize == 1)
    return nullptr;
  joined = orFail(DataParallel::connect(*env));
  return joined.get();
}

TrainOptions TrainFlags::options() const {
  TrainOptions o = train;
  o.parallel = distributed.join();
  if (o.parallel && o.parallel->rank() != 0)
    return o; // Rank 0 draws the progress and writes the loss file.
  // A bar redrawn in place on a terminal; a line per --log-every steps in
  // a log file.
  o.onProgress = ProgressPrinter(std::cerr, ::isatty(STDERR_FILENO) == 1,
                                 o.resumeFrom);
  if (!lossCsv.empty()) {
    bool append = !o.resumeFrom.empty();
    auto csv = std::make_shared<std::ofstream>(
        lossCsv, append ? std::ios::app : std::ios::trunc);
    if (!*csv)
      fail(lossCsv + ": cannot open for writing");
    if (!append)
      *csv << "step,loss,lr\n";
    // Flushed every step, so a killed run keeps its curve up to the kill;
    // a resumed run then repeats the steps since its last saved state.
    o.onStep = [csv](const StepReport &r) {
      *csv << r.step << "," << r.loss << "," << r.learningRate << std::endl;
    };
  }
  return o;
}

BertConfig TrainFlags::sizedConfig(int64_t vocabSize) const {
  BertConfig config;
  config.hiddenSize = hiddenSize;
  config.numHiddenLayers = layers;
  config.numAttentionHeads = heads;
  config.intermediateSize = intermediateSize;
  config.maxPositionEmbeddings = maxPosition;
  config.vocabSize = vocabSize;
  return config;
}

void reportTraining(const TrainResult &result, const TrainOptions &options) {
  if (options.parallel && options.parallel->rank() != 0)
    return;
  const std::string &output = options.outputDir;
  std::cerr << "trained " << result.steps << " steps, running loss "
            << result.runningLoss;
  if (result.bestScore)
    std::cerr << ", best dev accuracy " << *result.bestScore;
  if (result.stoppedEarly)
    std::cerr << " (stopped early: " << result.evaluationsSinceBest
              << " evaluations without a better dev score)";
  std::cerr << "; checkpoints in " << output << "\n";
}

void ProgressPrinter::operator()(const ProgressEvent &event) {
  std::ostream &out = *out_;
  switch (event.kind) {
  case ProgressEvent::Kind::Resumed:
    out << "resumed from " << resumedFrom_ << " at step " << event.step
        << "\n";
    return;
  case ProgressEvent::Kind::Evaluated:
    out << (bar_ ? "\r\033[K" : "") << "step " << event.step
        << ": dev score " << event.score;
    if (event.competes)
      out << " (best " << event.bestScore << ")\n";
    else
      out << " (still pruning: not a candidate for best/)\n";
    return;
  case ProgressEvent::Kind::Step:
    break;
  }
  bool last = event.step == event.totalSteps;
  if (bar_) {
    auto now = std::chrono::steady_clock::now();
    if (!last && now - lastDraw_ < std::chrono::milliseconds(200))
      return;
    lastDraw_ = now;
    // Carriage return, the bar, then erase to the end of the line.
    out << "\r"
        << formatProgressBar(event.step, event.totalSteps, event.runningLoss,
                             event.learningRate, event.secondsPerStep)
        << "\033[K" << (last ? "\n" : "") << std::flush;
  } else if (event.windowEnds) {
    out << formatProgressLine(event) << "\n" << std::flush;
  }
}

void RecoveryFlags::add(CLI::App *command) {
  command->add_option("--model", model,
                      "A float checkpoint fine-tuned on the task")
      ->required();
  command->add_option("--train", trainPath, "Training TSV (text, label)")
      ->required();
  command->add_option("--dev", devPath,
                      "Dev TSV: evaluated, the best kept in OUTPUT/best");
  command->add_option("--teacher", teacher,
                      "The uncompressed model to distil from (default: "
                      "--model)");
  command->add_option("--kd", kd,
                      "Distillation terms: any of pred,rep,attscore,map,out "
                      "(the attention terms need the teacher's head counts)");
  command->add_option("--kd-temperature", kdTemperature)->check(positive());
  command->add_option("--max-seq-length", maxSeqLength)->check(atLeast(2));
  command->add_option("--eval-every", evalEvery,
                      "Evaluate every N steps (0: each epoch's end)")
      ->check(nonNegative());
}

RecoveryRun startRecovery(const RecoveryFlags &flags, const CLI::App &command,
                          const std::string &verb, const std::string &cut,
                          uint64_t seed) {
  if (std::filesystem::exists(flags.model + "/qat.json"))
    fail(flags.model + " is a quantization-aware checkpoint: " + verb +
         " the float model, then quantize the " + cut + " one");
  TextDataset trainSet = orFail(readTsv(flags.trainPath));
  std::optional<TextDataset> devSet;
  if (given(command, "--dev"))
    devSet = orFail(readTsv(flags.devPath, &trainSet.labelNames));
  std::string vocabPath = flags.model + "/vocab.txt";
  Tokenizer tokenizer = orFail(Tokenizer::open(vocabPath));
  BertConfig config = orFail(loadCheckpointConfig(flags.model));
  if (config.numLabels != int64_t(trainSet.labelNames.size()))
    fail(flags.model + " classifies " + std::to_string(config.numLabels) +
         " labels, " + flags.trainPath + " has " +
         std::to_string(trainSet.labelNames.size()) + ": " + verb +
         " a model fine-tuned on this task");
  Teacher teacher =
      orFail(loadTeacher(flags.teacher.empty() ? flags.model : flags.teacher,
                         trainSet.labelNames, vocabPath));
  DistillationOptions kd;
  if (Error err = kd.setTerms(flags.kd))
    fail("--kd: " + err.message());
  kd.temperature = flags.kdTemperature;
  torch::manual_seed(seed);
  BertForSequenceClassification model(config);
  orFail(loadCheckpointWeights(flags.model, *model, LoadPolicy{}));
  return RecoveryRun{std::move(trainSet), std::move(devSet),
                     std::move(vocabPath), std::move(tokenizer),
                     std::move(config), std::move(teacher), kd,
                     std::move(model), flags.maxSeqLength};
}

void recoverByDistillation(const RecoveryRun &run, const TrainOptions &options) {
  std::vector<LayerPair> layers =
      orFail(mapLayers(LayerMapKind::Full, run.config.numHiddenLayers,
                       run.teacher.config.numHiddenLayers));
  std::unique_ptr<DistillationTask> task = orFail(DistillationTask::create(
      run.config, run.model, run.teacher.config, run.teacher.model, layers,
      run.kd, run.tokenizer, run.vocabPath, run.trainSet, run.devSet,
      run.maxSeqLength));
  reportTraining(orFail(runTraining(*task, options)), options);
}

} // namespace quantbert::train::cli
