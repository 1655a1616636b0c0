//===- Trainer.cpp - Training loop, checkpoints and the two tasks ---------===//
//
// The loop of Trainer.h. The training state is a safetensors file: the
// parameters as `model.<name>` (F32), the F32 buffers as `buffer.<name>`, the
// parameters' moving average (if any) as `ema.<name>`, the optimizer's
// serialized state and the generator state as U8 blobs, and the step and run
// identity as metadata, so one atomic write covers everything a resume needs.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Trainer.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/DataParallel.h"
#include "quantbert/Train/ParameterAverage.h"
#include "quantbert/Train/QuantizedLinear.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>

namespace quantbert::train {

namespace {

constexpr const char *kStateFile = "training-state.safetensors";

/// transformers' get_linear_schedule_with_warmup multiplier at `step`.
double scheduleFactor(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup)
    return double(step) / double(std::max<int64_t>(1, warmup));
  return std::max(0.0, double(total - step) /
                           double(std::max<int64_t>(1, total - warmup)));
}

constexpr const char *kBufferPrefix = "buffer.";
constexpr const char *kAveragePrefix = "ema.";

/// The example order of `epoch`, a function of (seed, epoch) only.
std::vector<int64_t> epochOrder(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i)
    order[i] = i;
  std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(epoch)};
  std::mt19937_64 rng(seq);
  // Fisher-Yates with a fixed reduction, not std::shuffle, whose
  // distribution is implementation-defined.
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[rng() % uint64_t(i + 1)]);
  return order;
}

/// No weight decay for biases and LayerNorm weights (BERT's recipe).
bool decays(const std::string &name) {
  return name.find("LayerNorm") == std::string::npos &&
         !(name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0);
}

std::string formatDuration(double seconds) {
  int64_t s = int64_t(std::lround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", (long long)(s / 3600),
                  (long long)(s / 60 % 60));
  else
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", (long long)(s / 60),
                  (long long)(s % 60));
  return buf;
}

} // namespace

std::string formatProgressBar(int64_t done, int64_t total, double loss,
                              double learningRate, double secondsPerStep,
                              int width) {
  double fraction =
      total > 0 ? std::clamp(double(done) / double(total), 0.0, 1.0) : 0.0;
  int filled = int(fraction * width);
  std::string bar = "[" + std::string(filled, '#') +
                    std::string(width - filled, '-') + "]";
  char line[200];
  std::snprintf(line, sizeof(line),
                "%s %3d%%  step %lld/%lld  loss %.4f  lr %.3g  %.2f s/step  "
                "ETA %s",
                bar.c_str(), int(fraction * 100), (long long)done,
                (long long)total, loss, learningRate, secondsPerStep,
                formatDuration(secondsPerStep * double(total - done)).c_str());
  return line;
}

std::string formatProgressLine(const ProgressEvent &event) {
  char line[200];
  std::snprintf(
      line, sizeof(line),
      "step %lld/%lld  epoch %lld  loss %.4f  lr %.3g  %.2f s/step  ETA %s",
      (long long)event.step, (long long)event.totalSteps,
      (long long)event.epoch, event.runningLoss, event.learningRate,
      event.secondsPerStep,
      formatDuration(event.secondsPerStep *
                     double(event.totalSteps - event.step))
          .c_str());
  return line;
}

namespace {

/// The identity a state must match to be resumed by this run.
std::map<std::string, std::string> runIdentity(TrainingTask &task,
                                               const TrainOptions &options,
                                               int64_t totalSteps) {
  char decay[32];
  std::snprintf(decay, sizeof(decay), "%.17g", options.emaDecay);
  int64_t trainable = 0;
  for (const auto &p : task.model().parameters())
    if (p.requires_grad())
      trainable += p.numel();
  std::map<std::string, std::string> identity = {
      {"task", task.name()},
      {"ema_decay", decay},
      {"trainable_parameters", std::to_string(trainable)},
      {"seed", std::to_string(options.seed)},
      {"batch_size", std::to_string(options.batchSize)},
      {"num_examples", std::to_string(task.numExamples())},
      {"total_steps", std::to_string(totalSteps)}};
  // Absent for one process, so states written before data parallelism
  // existed still resume.
  if (options.parallel && options.parallel->worldSize() > 1)
    identity["world_size"] = std::to_string(options.parallel->worldSize());
  return identity;
}

/// The generator state's tensor name for `rank`: "rng" for rank 0 (and a
/// single process), "rng.<rank>" for the others.
std::string rngName(int rank) {
  return rank == 0 ? "rng" : "rng." + std::to_string(rank);
}

std::vector<uint8_t> generatorState() {
  torch::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
  return std::vector<uint8_t>(rng.data_ptr<uint8_t>(),
                              rng.data_ptr<uint8_t>() + rng.numel());
}

Error saveState(const std::string &path, TrainingTask &task,
                torch::optim::Optimizer &optimizer,
                const ParameterAverage *average,
                const std::vector<std::vector<uint8_t>> &rngs, int64_t step,
                const TrainResult &result,
                const std::map<std::string, std::string> &identity) {
  SafetensorsWriter writer;
  if (Error err = addParameters(writer, task.model(), "model."))
    return err;
  // The buffers (all F32), so a resumed run restores state that is not a
  // parameter, such as the EMA activation ranges of QuantLinear.
  if (Error err = addF32Tensors(writer, task.model().named_buffers(),
                                kBufferPrefix, "buffer"))
    return err;
  if (average)
    if (Error err = average->save(writer, kAveragePrefix))
      return err;
  std::ostringstream optimizerBytes;
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  archive.save_to(optimizerBytes);
  std::string blob = optimizerBytes.str();
  if (Error err = writer.add("optimizer", DType::U8, {int64_t(blob.size())},
                             blob.data(), blob.size()))
    return err;
  for (size_t r = 0; r < rngs.size(); ++r)
    if (Error err = writer.add(rngName(int(r)), DType::U8,
                               {int64_t(rngs[r].size())}, rngs[r].data(),
                               rngs[r].size()))
      return err;
  std::map<std::string, std::string> metadata = identity;
  metadata["step"] = std::to_string(step);
  if (result.bestScore) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", *result.bestScore);
    metadata["best_score"] = buf;
  }
  metadata["evaluations_since_best"] =
      std::to_string(result.evaluationsSinceBest);
  for (const auto &[key, value] : metadata)
    if (Error err = writer.setMetadata(key, value))
      return err;
  return writer.writeAtomically(path);
}

/// Restores a state saved by saveState; returns its step.
Expected<int64_t> loadState(const std::string &path, TrainingTask &task,
                            torch::optim::Optimizer &optimizer,
                            ParameterAverage *average, TrainResult &result,
                            const std::map<std::string, std::string> &identity,
                            int rank) {
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file)
    return file.error();
  const auto &metadata = file->metadata();
  for (const auto &[key, value] : identity) {
    auto it = metadata.find(key);
    if (it == metadata.end() || it->second != value)
      return Error::failure(
          path + ": saved by a different run: " + key + " is '" +
          (it == metadata.end() ? std::string("(absent)") : it->second) +
          "', this run has '" + value + "'");
  }
  auto stepIt = metadata.find("step");
  if (stepIt == metadata.end())
    return Error::failure(path + ": metadata has no 'step'");
  LoadPolicy policy;
  policy.ignoredPrefixes = {"optimizer", "rng", kBufferPrefix,
                            kAveragePrefix};
  std::string rngTensor = rngName(rank);
  if (Error err = loadParameters(task.model(), *file, policy, "model."))
    return Error::failure(path + ": " + err.message());
  auto buffers = task.model().named_buffers();
  if (Error err = loadF32Tensors(*file, buffers, kBufferPrefix))
    return Error::failure(path + ": " + err.message());
  if (average)
    if (Error err = average->load(*file, kAveragePrefix))
      return Error::failure(path + ": " + err.message());
  for (const std::string &blob : {std::string("optimizer"), rngTensor})
    if (!file->find(blob) || file->find(blob)->dtype != DType::U8)
      return Error::failure(path + ": missing U8 tensor '" + blob + "'");
  ByteView optimizerBytes = file->bytes(*file->find("optimizer"));
  torch::serialize::InputArchive archive;
  archive.load_from(reinterpret_cast<const char *>(optimizerBytes.data),
                    optimizerBytes.size);
  optimizer.load(archive);
  ByteView rngBytes = file->bytes(*file->find(rngTensor));
  torch::Tensor rng = torch::empty({int64_t(rngBytes.size)}, torch::kUInt8);
  std::memcpy(rng.data_ptr<uint8_t>(), rngBytes.data, rngBytes.size);
  // Generator is a handle: the copy shares the default generator's state.
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(rng);
  auto bestIt = metadata.find("best_score");
  if (bestIt != metadata.end())
    result.bestScore = std::stod(bestIt->second);
  // Absent in states saved before early stopping existed.
  auto sinceIt = metadata.find("evaluations_since_best");
  if (sinceIt != metadata.end())
    result.evaluationsSinceBest = std::stoll(sinceIt->second);
  return std::stoll(stepIt->second);
}

} // namespace

namespace {

/// Data-parallel hooks of one run: no-ops for a single process.
struct RankContext {
  DataParallel *parallel = nullptr;

  int rank() const { return parallel ? parallel->rank() : 0; }
  int worldSize() const { return parallel ? parallel->worldSize() : 1; }
  bool leader() const { return rank() == 0; }

  /// Every rank's generator state, by rank (rank 0's file holds them all).
  Expected<std::vector<std::vector<uint8_t>>> generatorStates() const {
    if (!parallel)
      return std::vector<std::vector<uint8_t>>{generatorState()};
    return parallel->allGather(generatorState());
  }
};

/// The step loop of runTraining, filling `result`.
Error trainSteps(TrainingTask &task, const TrainOptions &options,
                 const RankContext &ranks, TrainResult &result) {
  int64_t n = task.numExamples();
  int64_t stepsPerEpoch = (n + options.batchSize - 1) / options.batchSize;
  int64_t totalSteps =
      options.maxSteps > 0 ? options.maxSteps : stepsPerEpoch * options.epochs;
  int64_t warmup = int64_t(std::lround(options.warmupRatio * totalSteps));
  DataParallel *parallel = ranks.parallel;

  if (options.dropout >= 0)
    setDropout(task.model(), options.dropout);
  std::vector<torch::Tensor> decayed, undecayed;
  // Frozen parameters (requires_grad off) are not optimized.
  for (auto &item : task.model().named_parameters())
    if (item.value().requires_grad())
      (decays(item.key()) ? decayed : undecayed).push_back(item.value());
  using torch::optim::AdamWOptions;
  if (decayed.empty() && undecayed.empty())
    return Error::failure("every parameter is frozen: nothing to train");
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty())
    groups.emplace_back(decayed, std::make_unique<AdamWOptions>(
                                     AdamWOptions(options.learningRate)
                                         .weight_decay(options.weightDecay)));
  if (!undecayed.empty())
    groups.emplace_back(
        undecayed, std::make_unique<AdamWOptions>(
                       AdamWOptions(options.learningRate).weight_decay(0)));
  torch::optim::AdamW optimizer(std::move(groups));
  std::optional<ParameterAverage> average;
  if (options.emaDecay > 0)
    average.emplace(task.model(), options.emaDecay);
  ParameterAverage *averagePtr = average ? &*average : nullptr;

  if (ranks.leader())
    if (Error err = createDirectories(options.outputDir))
      return err;
  std::string statePath = options.outputDir + "/" + kStateFile;
  auto identity = runIdentity(task, options, totalSteps);

  // Each rank its own dropout and masking draws; rank 0 (and a single
  // process) those of the seed.
  torch::manual_seed(options.seed + uint64_t(ranks.rank()));
  int64_t step = 0;
  if (!options.resumeFrom.empty()) {
    Expected<int64_t> resumed =
        loadState(options.resumeFrom, task, optimizer, averagePtr, result,
                  identity, ranks.rank());
    if (!resumed)
      return resumed.error();
    step = *resumed;
    if (options.onProgress) {
      ProgressEvent event;
      event.kind = ProgressEvent::Kind::Resumed;
      event.step = step;
      event.totalSteps = totalSteps;
      options.onProgress(event);
    }
  }
  if (parallel) {
    if (Error err = parallel->broadcast(task.model()))
      return err;
    if (Error err = parallel->attachGradientHooks(task.model()))
      return err;
    // QAT's activation ranges: every rank folds the global batch's max
    // into its EMA, as one process with the whole batch would.
    for (const auto &module : task.model().modules())
      if (auto *linear = dynamic_cast<QuantLinearImpl *>(module.get()))
        linear->batchMaxReducer = [parallel](const torch::Tensor &value) {
          return parallel->allReduceMax(value);
        };
  }

  auto started = std::chrono::steady_clock::now();
  int64_t firstStep = step;
  double windowLoss = 0;
  int64_t windowSteps = 0;
  std::vector<int64_t> order;
  int64_t orderEpoch = -1;
  // A resumed run that had stopped early stays stopped.
  auto patienceSpent = [&] {
    return options.patience > 0 &&
           result.evaluationsSinceBest >= options.patience;
  };
  result.stoppedEarly = step < totalSteps && patienceSpent();
  for (; step < totalSteps && !result.stoppedEarly; ++step) {
    int64_t epoch = step / stepsPerEpoch, index = step % stepsPerEpoch;
    if (epoch != orderEpoch) {
      order = epochOrder(n, options.seed, epoch);
      orderEpoch = epoch;
      task.beginEpoch(epoch);
    }
    std::vector<int64_t> batch(
        order.begin() + index * options.batchSize,
        order.begin() + std::min(n, (index + 1) * options.batchSize));

    double lr = options.learningRate * scheduleFactor(step, warmup, totalSteps);
    for (auto &group : optimizer.param_groups())
      static_cast<AdamWOptions &>(group.options()).lr(lr);
    task.model().train();
    optimizer.zero_grad();
    double lossValue = 0;
    if (!parallel) {
      Expected<torch::Tensor> loss = task.loss(batch);
      if (!loss)
        return loss.error();
      loss->backward();
      lossValue = loss->item<double>();
    } else {
      parallel->heartbeat(step);
      std::vector<int64_t> mine =
          rankSlice(batch, ranks.rank(), ranks.worldSize());
      // A rank whose slice is empty (a last batch smaller than the world)
      // still runs the step's collectives: on one example of the batch,
      // whose gradient it weighs 0 (and whose activation range is already
      // part of the batch's).
      double weight = double(mine.size()) / double(batch.size());
      if (mine.empty())
        mine = {batch.front()};
      task.setGlobalBatch(batch);
      Expected<torch::Tensor> loss = task.loss(mine);
      if (!loss)
        return loss.error();
      parallel->beginBackward(weight);
      loss->backward();
      if (Error err = parallel->finishBackward())
        return err;
      Expected<double> sum =
          parallel->allReduceSum(loss->item<double>() * weight);
      if (!sum)
        return sum.error();
      lossValue = *sum;
    }
    if (options.maxGradNorm > 0)
      torch::nn::utils::clip_grad_norm_(task.model().parameters(),
                                        options.maxGradNorm);
    optimizer.step();
    if (average)
      average->update(step + 1);

    windowLoss += lossValue;
    ++windowSteps;
    result.runningLoss = windowLoss / double(windowSteps);
    int64_t done = step + 1;
    if (options.onStep)
      options.onStep({done, totalSteps, lossValue, lr});
    // The running loss is the mean over a window of --log-every steps.
    bool windowEnds = options.logEvery > 0 &&
                      (done % options.logEvery == 0 || done == totalSteps);
    if (options.onProgress) {
      ProgressEvent event;
      event.step = done;
      event.totalSteps = totalSteps;
      event.epoch = epoch + 1;
      event.runningLoss = result.runningLoss;
      event.learningRate = lr;
      event.secondsPerStep =
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        started)
              .count() /
          double(done - firstStep);
      event.windowEnds = windowEnds;
      options.onProgress(event);
    }
    if (windowEnds) {
      windowLoss = 0;
      windowSteps = 0;
    }

    bool evalNow = options.evalEvery > 0
                       ? done % options.evalEvery == 0 || done == totalSteps
                       : index == stepsPerEpoch - 1;
    // Rank 0 alone evaluates and keeps best/: the parameters are the same
    // on every rank.
    if (evalNow && ranks.leader()) {
      // With an average, it is the model evaluated and kept.
      if (average)
        average->swap();
      Expected<std::optional<double>> score = task.evaluate();
      if (!score)
        return score.error();
      bool counts = done >= options.bestFromStep;
      if (*score && counts &&
          (!result.bestScore || **score > *result.bestScore)) {
        result.bestScore = **score;
        result.evaluationsSinceBest = 0;
        if (Error err = task.saveModel(options.outputDir + "/best"))
          return err;
      } else if (*score && counts) {
        ++result.evaluationsSinceBest;
      }
      if (average)
        average->swap();
      if (*score && options.onProgress) {
        ProgressEvent event;
        event.kind = ProgressEvent::Kind::Evaluated;
        event.step = done;
        event.totalSteps = totalSteps;
        event.epoch = epoch + 1;
        event.score = **score;
        event.bestScore = result.bestScore.value_or(**score);
        event.competes = counts;
        options.onProgress(event);
      }
    }
    // Early stopping: rank 0 decides (it alone evaluates), every rank stops.
    if (evalNow && options.patience > 0) {
      bool stop = ranks.leader() && patienceSpent();
      if (parallel) {
        Expected<double> votes = parallel->allReduceSum(stop ? 1.0 : 0.0);
        if (!votes)
          return votes.error();
        stop = *votes > 0;
      }
      result.stoppedEarly = stop && done < totalSteps;
    }
    if ((options.checkpointEvery > 0 && done % options.checkpointEvery == 0) ||
        done == totalSteps || result.stoppedEarly) {
      Expected<std::vector<std::vector<uint8_t>>> rngs =
          ranks.generatorStates();
      if (!rngs)
        return rngs.error();
      if (ranks.leader())
        if (Error err = saveState(statePath, task, optimizer, averagePtr,
                                  *rngs, done, result, identity))
          return err;
    }
  }
  result.steps = step;
  if (average)
    average->swap();
  if (ranks.leader())
    if (Error err = task.saveModel(options.outputDir + "/final"))
      return err;
  // The other ranks wait for rank 0's last checkpoint, so a launcher that
  // sees every rank exit 0 finds it complete.
  if (parallel)
    return parallel->barrier();
  return Error::success();
}

} // namespace

Expected<TrainResult> runTraining(TrainingTask &task,
                                  const TrainOptions &options) {
  if (task.numExamples() == 0)
    return Error::failure("no training examples");
  if (options.batchSize <= 0 || options.epochs <= 0)
    return Error::failure("batch size and epochs must be positive");
  if (!(options.emaDecay >= 0 && options.emaDecay < 1))
    return Error::failure("the moving average's decay must be in [0, 1)");
  if (options.patience < 0)
    return Error::failure("the patience must be non-negative");
  if (options.dropout > 1)
    return Error::failure("the dropout rate must be at most 1");
  RankContext ranks{options.parallel};
  TrainResult result;
  Error err = Error::success();
  try {
    err = trainSteps(task, options, ranks, result);
  } catch (const std::exception &e) {
    err = Error::failure(exceptionText(e));
  }
  if (err) {
    // The other ranks quote it when their next collective fails.
    if (ranks.parallel)
      ranks.parallel->postFailure(err.message());
    return err;
  }
  return result;
}

Expected<EncoderInputs> encodeExamples(const Tokenizer &tokenizer,
                                       const TextDataset &dataset,
                                       const std::vector<int64_t> &examples,
                                       const std::vector<int64_t> &globalBatch,
                                       int64_t maxSeqLength) {
  // Rows of the global batch's encoding, when it holds every example.
  std::vector<int64_t> rows;
  for (int64_t example : examples) {
    auto it = std::find(globalBatch.begin(), globalBatch.end(), example);
    if (it == globalBatch.end())
      break;
    rows.push_back(int64_t(it - globalBatch.begin()));
  }
  bool sliced = !globalBatch.empty() && rows.size() == examples.size();
  std::vector<const TextExample *> batch;
  for (int64_t i : sliced ? globalBatch : examples)
    batch.push_back(&dataset.examples[size_t(i)]);
  Expected<EncoderInputs> inputs = tokenizer.encode(batch, maxSeqLength);
  if (!inputs || !sliced)
    return inputs;
  torch::Tensor index = torch::tensor(rows);
  return EncoderInputs{inputs->inputIds.index_select(0, index),
                       inputs->tokenTypeIds.index_select(0, index),
                       inputs->attentionMask.index_select(0, index)};
}

std::string exceptionText(const std::exception &e) {
  if (auto *error = dynamic_cast<const c10::Error *>(&e))
    return error->what_without_backtrace();
  return e.what();
}

void setDropout(torch::nn::Module &model, double p) {
  for (const auto &module : model.modules())
    if (auto *dropout = dynamic_cast<torch::nn::DropoutImpl *>(module.get()))
      dropout->options.p(p);
}

std::vector<int64_t> rankSlice(const std::vector<int64_t> &batch, int rank,
                               int worldSize) {
  size_t size = batch.size(), world = size_t(worldSize);
  size_t begin = size * size_t(rank) / world;
  size_t end = size * size_t(rank + 1) / world;
  return std::vector<int64_t>(batch.begin() + begin, batch.begin() + end);
}

ClassificationTask::ClassificationTask(BertConfig config,
                                       BertForSequenceClassification model,
                                       Tokenizer tokenizer,
                                       std::string vocabPath,
                                       TextDataset trainSet,
                                       std::optional<TextDataset> devSet,
                                       int64_t maxSeqLength)
    : config_(std::move(config)), model_(std::move(model)),
      tokenizer_(std::move(tokenizer)), vocabPath_(std::move(vocabPath)),
      trainSet_(std::move(trainSet)), devSet_(std::move(devSet)),
      maxSeqLength_(maxSeqLength) {}

Expected<torch::Tensor>
ClassificationTask::loss(const std::vector<int64_t> &examples) {
  std::vector<int64_t> labels;
  for (int64_t i : examples)
    labels.push_back(trainSet_.examples[i].label);
  Expected<EncoderInputs> inputs = encodeExamples(
      tokenizer_, trainSet_, examples, globalBatch_, maxSeqLength_);
  if (!inputs)
    return inputs.error();
  return torch::nn::functional::cross_entropy(model_->forward(*inputs),
                                              torch::tensor(labels));
}

Expected<std::optional<double>>
devAccuracy(BertForSequenceClassification &model, const Tokenizer &tokenizer,
            const std::optional<TextDataset> &devSet, int64_t maxSeqLength,
            int64_t numLabels) {
  if (!devSet)
    return std::optional<double>();
  Expected<std::vector<int64_t>> predicted =
      predict(model, tokenizer, *devSet, maxSeqLength, 64);
  if (!predicted)
    return predicted.error();
  return std::optional<double>(
      computeMetrics(labelIds(*devSet), *predicted, numLabels).accuracy);
}

Expected<std::optional<double>> ClassificationTask::evaluate() {
  return devAccuracy(model_, tokenizer_, devSet_, maxSeqLength_,
                     config_.numLabels);
}

Error ClassificationTask::saveModel(const std::string &dir) {
  return saveCheckpoint(dir, config_, *model_, vocabPath_);
}

MaskedLmTask::MaskedLmTask(BertConfig config, BertForMaskedLM model,
                           std::string vocabPath, torch::Tensor blocks,
                           SpecialTokens special,
                           std::optional<torch::Tensor> devBlocks)
    : config_(std::move(config)), model_(std::move(model)),
      vocabPath_(std::move(vocabPath)), blocks_(std::move(blocks)),
      special_(special) {
  if (!devBlocks)
    return;
  // The held-out blocks are masked once, with a generator of their own, so
  // every evaluation scores the same positions.
  at::Generator generator = at::detail::createCPUGenerator(kDevMaskSeed);
  devBatch_ = maskTokens(*devBlocks, special_, generator);
}

Expected<std::optional<double>> MaskedLmTask::evaluate() {
  if (!devBatch_)
    return std::optional<double>();
  torch::NoGradGuard noGrad;
  model_->eval();
  const MaskedBatch &dev = *devBatch_;
  int64_t rows = dev.labels.size(0), batch = 64;
  int64_t correct = 0, total = 0;
  for (int64_t begin = 0; begin < rows; begin += batch) {
    int64_t end = std::min(rows, begin + batch);
    EncoderInputs inputs{dev.inputs.inputIds.slice(0, begin, end),
                         dev.inputs.tokenTypeIds.slice(0, begin, end),
                         dev.inputs.attentionMask.slice(0, begin, end)};
    torch::Tensor labels = dev.labels.slice(0, begin, end).reshape({-1});
    torch::Tensor positions = labels.ne(-100).nonzero().squeeze(1);
    if (positions.numel() == 0)
      continue;
    torch::Tensor predicted = model_->forward(inputs, positions).argmax(1);
    correct += predicted.eq(labels.index_select(0, positions)).sum().item<int64_t>();
    total += positions.numel();
  }
  model_->train();
  if (total == 0)
    return Error::failure("the held-out masked-LM text has no maskable token");
  return std::optional<double>(double(correct) / double(total));
}

Expected<torch::Tensor>
MaskedLmTask::loss(const std::vector<int64_t> &examples) {
  MaskedBatch batch =
      maskTokens(blocks_.index_select(0, torch::tensor(examples)), special_,
                 at::detail::getDefaultCPUGenerator());
  // Only labelled (masked) positions enter the loss, so the head runs on
  // those alone: the same mean cross-entropy as over all positions with
  // ignore_index -100, at a fraction of the decoder's cost.
  torch::Tensor labels = batch.labels.reshape({-1});
  torch::Tensor positions = labels.ne(-100).nonzero().squeeze(1);
  return torch::nn::functional::cross_entropy(
      model_->forward(batch.inputs, positions),
      labels.index_select(0, positions));
}

Error MaskedLmTask::saveModel(const std::string &dir) {
  return saveCheckpoint(dir, config_, *model_, vocabPath_);
}

Expected<torch::Tensor>
predictLogits(BertForSequenceClassification &model, const Tokenizer &tokenizer,
              const TextDataset &dataset, int64_t maxSeqLength,
              int64_t batchSize, std::vector<double> *batchSeconds) {
  torch::NoGradGuard noGrad;
  model->eval();
  std::vector<torch::Tensor> logits;
  for (size_t start = 0; start < dataset.examples.size(); start += batchSize) {
    std::vector<const TextExample *> batch;
    for (size_t i = start;
         i < std::min(dataset.examples.size(), start + size_t(batchSize)); ++i)
      batch.push_back(&dataset.examples[i]);
    Expected<EncoderInputs> inputs = tokenizer.encode(batch, maxSeqLength);
    if (!inputs)
      return inputs.error();
    auto begin = std::chrono::steady_clock::now();
    logits.push_back(model->forward(*inputs));
    if (batchSeconds)
      batchSeconds->push_back(std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - begin)
                                  .count());
  }
  if (logits.empty())
    return torch::empty({0, model->classifier->weight.size(0)});
  return torch::cat(logits);
}

Expected<std::vector<int64_t>> predict(BertForSequenceClassification &model,
                                       const Tokenizer &tokenizer,
                                       const TextDataset &dataset,
                                       int64_t maxSeqLength, int64_t batchSize) {
  Expected<torch::Tensor> logits =
      predictLogits(model, tokenizer, dataset, maxSeqLength, batchSize);
  if (!logits)
    return logits.error();
  torch::Tensor best = logits->argmax(-1).contiguous();
  return std::vector<int64_t>(best.data_ptr<int64_t>(),
                              best.data_ptr<int64_t>() + best.numel());
}

Expected<int64_t> freezeParameters(torch::nn::Module &model,
                                   const std::string &prefix) {
  int64_t frozen = 0;
  for (auto &item : model.named_parameters())
    if (item.key().compare(0, prefix.size(), prefix) == 0) {
      item.value().requires_grad_(false);
      frozen += item.value().numel();
    }
  if (prefix.empty() || frozen == 0)
    return Error::failure("no parameter's name starts with '" + prefix + "'");
  return frozen;
}

} // namespace quantbert::train
