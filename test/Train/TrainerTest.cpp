//===- TrainerTest.cpp - Tiny fine-tuning, MLM and kill-and-resume runs ---===//
//
// End-to-end runs of the training loop on a 2-layer, hidden-32 encoder:
// fine-tuning lowers the loss and keeps a best checkpoint; max-steps
// overrides epochs; a few MLM steps run, and the MLM head at the masked
// positions alone gives the full head's scores and loss; and a run killed
// after a checkpoint, then resumed from it, ends in exactly the state of the
// uninterrupted run, also with a moving average of the parameters, which is
// what such a run evaluates and keeps.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Trainer.h"

#include "Driver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <unistd.h>

using namespace quantbert;
using namespace quantbert::train;

namespace {

BertConfig tinyConfig(int64_t numLabels) {
  BertConfig config;
  config.hiddenSize = 32;
  config.numHiddenLayers = 2;
  config.numAttentionHeads = 2;
  config.intermediateSize = 64;
  config.maxPositionEmbeddings = 64;
  config.numLabels = numLabels;
  return config;
}

std::string scratchDir(const std::string &name) {
  std::string dir = std::filesystem::temp_directory_path().string() +
                    "/qb-trainer-test-" + std::to_string(getpid()) + "-" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

/// Sentences whose label is the sentiment word they contain.
TextDataset sentimentData(int64_t n) {
  const char *subjects[] = {"the film", "this book", "the meal", "our trip"};
  const char *positive[] = {"wonderful", "great", "excellent", "lovely"};
  const char *negative[] = {"terrible", "awful", "boring", "dreadful"};
  TextDataset data;
  data.labelNames = {"neg", "pos"};
  for (int64_t i = 0; i < n; ++i) {
    int64_t label = i % 2;
    std::string word = label ? positive[(i / 2) % 4] : negative[(i / 2) % 4];
    data.examples.push_back(
        {std::string(subjects[(i / 8) % 4]) + " was " + word, "", label});
  }
  return data;
}

std::unique_ptr<ClassificationTask> makeTask(uint64_t seed,
                                             std::optional<TextDataset> dev) {
  BertConfig config = tinyConfig(2);
  torch::manual_seed(seed);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  EXPECT_TRUE(tokenizer) << tokenizer.message();
  return std::make_unique<ClassificationTask>(config, model, *tokenizer,
                                              QB_BERT_VOCAB, sentimentData(64),
                                              std::move(dev), 16);
}

/// Masked-LM on the sentiment sentences (16-token blocks), a tiny model of
/// seed 3; with `heldOut`, the same blocks are its dev text.
std::unique_ptr<MaskedLmTask> tinyMlmTask(bool heldOut) {
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  Expected<SpecialTokens> special =
      tokenizer ? SpecialTokens::fromTokenizer(*tokenizer)
                : Expected<SpecialTokens>(tokenizer.error());
  if (!special) {
    ADD_FAILURE() << special.message();
    return nullptr;
  }
  std::vector<std::string> lines;
  for (const TextExample &e : sentimentData(64).examples)
    lines.push_back(e.textA + ".");
  Expected<torch::Tensor> blocks =
      buildMlmBlocks(*tokenizer, lines, 16, *special);
  if (!blocks) {
    ADD_FAILURE() << blocks.message();
    return nullptr;
  }
  BertConfig config = tinyConfig(2);
  torch::manual_seed(3);
  BertForMaskedLM model(config);
  initBertWeights(*model);
  std::optional<torch::Tensor> dev;
  if (heldOut)
    dev = *blocks;
  return std::make_unique<MaskedLmTask>(config, model, QB_BERT_VOCAB, *blocks,
                                        *special, dev);
}

TrainOptions tinyOptions(const std::string &dir) {
  TrainOptions options;
  options.batchSize = 16;
  options.epochs = 6;
  options.learningRate = 2e-3;
  options.warmupRatio = 0.1;
  options.seed = 5;
  options.checkpointEvery = 4;
  options.outputDir = dir;
  return options;
}

TEST(TrainerTest, TinyFinetuneLowersLossAndKeepsBest) {
  torch::set_num_threads(1);
  auto task = makeTask(11, sentimentData(16));
  std::string dir = scratchDir("finetune");
  TrainOptions options = tinyOptions(dir);
  // From a random init the encoder needs a few dozen steps to find the
  // sentiment word.
  options.epochs = 20;
  options.learningRate = 5e-3;
  std::vector<double> losses;
  options.onStep = [&](const StepReport &r) { losses.push_back(r.loss); };
  Expected<TrainResult> result = runTraining(*task, options);
  ASSERT_TRUE(result) << result.message();
  ASSERT_EQ(losses.size(), 80u);
  double first = std::accumulate(losses.begin(), losses.begin() + 4, 0.0) / 4;
  double last = std::accumulate(losses.end() - 4, losses.end(), 0.0) / 4;
  EXPECT_LT(last, 0.5 * first) << "first " << first << ", last " << last;
  ASSERT_TRUE(result->bestScore);
  EXPECT_GT(*result->bestScore, 0.9);
  EXPECT_TRUE(std::filesystem::exists(dir + "/best/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/final/config.json"));
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, TinyMaskedLmRuns) {
  torch::set_num_threads(1);
  std::unique_ptr<MaskedLmTask> mlm = tinyMlmTask(false);
  ASSERT_TRUE(mlm);
  MaskedLmTask &task = *mlm;
  std::string dir = scratchDir("mlm");
  TrainOptions options = tinyOptions(dir);
  options.epochs = 2;
  options.batchSize = 8;
  Expected<TrainResult> result = runTraining(task, options);
  ASSERT_TRUE(result) << result.message();
  EXPECT_TRUE(std::isfinite(result->runningLoss));
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(dir + "/final/model.safetensors");
  ASSERT_TRUE(file) << file.message();
  EXPECT_TRUE(file->find("cls.predictions.transform.dense.weight"));
  EXPECT_FALSE(file->find("bert.pooler.dense.weight"));
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, MaxStepsOverridesEpochs) {
  torch::set_num_threads(1);
  auto task = makeTask(13, std::nullopt);
  std::string dir = scratchDir("max-steps");
  TrainOptions options = tinyOptions(dir);
  // 64 examples in batches of 16: 4 steps an epoch, so 6 steps cross into
  // a second epoch although `epochs` says 1.
  options.epochs = 1;
  options.maxSteps = 6;
  std::vector<StepReport> reports;
  options.onStep = [&](const StepReport &r) { reports.push_back(r); };
  Expected<TrainResult> result = runTraining(*task, options);
  ASSERT_TRUE(result) << result.message();
  EXPECT_EQ(result->steps, 6);
  ASSERT_EQ(reports.size(), 6u);
  EXPECT_EQ(reports.back().totalSteps, 6);
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, MaskedLmHeadAtPositionsIsFullScoresRows) {
  torch::set_num_threads(1);
  BertConfig config = tinyConfig(2);
  config.vocabSize = 200;
  torch::manual_seed(4);
  BertForMaskedLM model(config);
  initBertWeights(*model);
  model->eval();
  torch::Tensor ids = torch::randint(1, 200, {3, 10}, torch::kInt64);
  EncoderInputs inputs{ids, torch::zeros_like(ids), torch::ones_like(ids)};
  torch::Tensor labels = torch::full({30}, -100, torch::kInt64);
  labels.index_put_({torch::tensor({1, 7, 12, 29})},
                    torch::tensor({5, 9, 150, 3}));
  torch::Tensor positions = labels.ne(-100).nonzero().squeeze(1);
  torch::Tensor full = model->forward(inputs).reshape({30, 200});
  torch::Tensor gathered = model->forward(inputs, positions);
  EXPECT_TRUE(torch::allclose(gathered, full.index_select(0, positions),
                              1e-5, 1e-6));
  // Hence the same loss as cross-entropy over every position, -100 ignored.
  namespace F = torch::nn::functional;
  double expected =
      F::cross_entropy(full, labels, F::CrossEntropyFuncOptions().ignore_index(
                                         -100))
          .item<double>();
  double actual =
      F::cross_entropy(gathered, labels.index_select(0, positions))
          .item<double>();
  EXPECT_NEAR(actual, expected, 1e-5);
}

// setAttentionStorage rounds Q, K and V, and only them: layer 0's scores
// are the f16-rounded projections' products, and f32 storage restores the
// float forward bit for bit.
TEST(TrainerTest, AttentionStorageRoundsQueryKeyAndValue) {
  torch::set_num_threads(1);
  BertConfig config = tinyConfig(3);
  torch::manual_seed(5);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  model->eval();
  torch::NoGradGuard noGrad;
  torch::Tensor ids = torch::randint(1, config.vocabSize, {2, 7}, torch::kInt64);
  torch::Tensor mask = torch::ones_like(ids);
  mask[1].slice(0, 5).zero_();
  EncoderInputs inputs{ids, torch::zeros_like(ids), mask};
  EncoderOutputs plain;
  torch::Tensor plainLogits = model->forward(inputs, &plain);

  setAttentionStorage(*model, torch::kHalf);
  EncoderOutputs rounded;
  torch::Tensor roundedLogits = model->forward(inputs, &rounded);
  BertSelfAttentionImpl &self =
      *model->bert->encoder->layer->at<BertLayerImpl>(0).attention->self;
  int64_t heads = config.numAttentionHeads;
  int64_t d = config.hiddenSize / heads;
  auto project = [&](QuantLinear &linear) {
    return linear->forward(rounded.embeddingOutput)
        .to(torch::kHalf)
        .to(torch::kFloat)
        .view({2, 7, heads, d})
        .permute({0, 2, 1, 3});
  };
  torch::Tensor additive =
      (1 - mask.to(torch::kFloat)).view({2, 1, 1, 7}) * kMaskedScore;
  torch::Tensor expected =
      torch::matmul(project(self.query), project(self.key).transpose(-1, -2)) /
          std::sqrt(double(d)) +
      additive;
  EXPECT_TRUE(torch::allclose(rounded.layers[0].attentionScores, expected,
                              1e-6, 1e-6));
  EXPECT_FALSE(torch::equal(rounded.layers[0].attentionScores,
                            plain.layers[0].attentionScores));
  EXPECT_TRUE(torch::allclose(roundedLogits, plainLogits, 1e-2, 1e-2));

  setAttentionStorage(*model, torch::kFloat);
  EXPECT_TRUE(torch::equal(model->forward(inputs), plainLogits));
}

struct Killed {};

TEST(TrainerTest, KillAndResumeMatchesUninterruptedRun) {
  torch::set_num_threads(1);
  std::string full = scratchDir("full"), killed = scratchDir("killed");
  auto reference = makeTask(21, std::nullopt);
  ASSERT_TRUE(runTraining(*reference, tinyOptions(full)));

  // Killed after step 10: the last state on disk is step 8's.
  auto interrupted = makeTask(21, std::nullopt);
  TrainOptions options = tinyOptions(killed);
  options.onStep = [](const StepReport &r) {
    if (r.step == 10)
      throw Killed();
  };
  EXPECT_THROW(runTraining(*interrupted, options), Killed);
  std::string state = killed + "/training-state.safetensors";
  Expected<SafetensorsFile> saved = SafetensorsFile::open(state);
  ASSERT_TRUE(saved) << saved.message();
  EXPECT_EQ(saved->metadata().at("step"), "8");

  // A fresh process would rebuild the model from another seed's init: the
  // state must override all of it.
  auto resumed = makeTask(99, std::nullopt);
  options = tinyOptions(killed);
  options.resumeFrom = state;
  std::vector<int64_t> steps;
  options.onStep = [&](const StepReport &r) { steps.push_back(r.step); };
  Expected<TrainResult> result = runTraining(*resumed, options);
  ASSERT_TRUE(result) << result.message();
  EXPECT_EQ(steps.front(), 9);
  EXPECT_EQ(result->steps, 24);

  auto a = reference->model().named_parameters();
  auto b = resumed->model().named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::equal(a[i].value(), b[i].value())) << a[i].key();
  // The generator state matches too. (The optimizer blob cannot be compared
  // bytewise: LibTorch keys it by tensor addresses. Its moments are checked
  // through the parameters: steps 9-24 would differ without them.)
  Expected<SafetensorsFile> x =
      SafetensorsFile::open(full + "/training-state.safetensors");
  Expected<SafetensorsFile> y = SafetensorsFile::open(state);
  ASSERT_TRUE(x && y);
  ByteView bx = x->bytes(*x->find("rng")), by = y->bytes(*y->find("rng"));
  ASSERT_EQ(bx.size, by.size);
  EXPECT_EQ(std::memcmp(bx.data, by.data, bx.size), 0);
  // Resuming a different run is refused.
  options.seed = 6;
  options.onStep = nullptr;
  Expected<TrainResult> wrong = runTraining(*resumed, options);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.message().find("saved by a different run: seed is '5'"),
            std::string::npos)
      << wrong.message();
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(killed);
}

TEST(TrainerTest, MovingAverageIsEvaluatedAndKept) {
  torch::set_num_threads(1);
  auto task = makeTask(31, sentimentData(16));
  std::string dir = scratchDir("ema");
  TrainOptions options = tinyOptions(dir);
  options.emaDecay = 0.8;
  options.evalEvery = 8;
  // The average recomputed from each step's parameters.
  std::vector<torch::Tensor> reference;
  for (const auto &p : task->model().parameters())
    reference.push_back(p.detach().clone());
  options.onStep = [&](const StepReport &r) {
    double d = std::min(0.8, double(1 + r.step) / double(10 + r.step));
    auto params = task->model().parameters();
    for (size_t i = 0; i < params.size(); ++i)
      reference[i] = d * reference[i] + (1 - d) * params[i].detach();
  };
  Expected<TrainResult> result = runTraining(*task, options);
  ASSERT_TRUE(result) << result.message();
  // The model ends holding the average, and final/ is the average.
  auto params = task->model().named_parameters();
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification saved(config);
  ASSERT_FALSE(loadCheckpointWeights(dir + "/final", *saved));
  auto savedParams = saved->named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(params[i].value(), reference[i], 1e-5, 1e-6))
        << params[i].key();
    EXPECT_TRUE(torch::equal(params[i].value(), savedParams[i].value()))
        << params[i].key();
  }
  // The dev score of the last evaluation is the average's.
  Expected<std::optional<double>> score = task->evaluate();
  ASSERT_TRUE(score && *score);
  EXPECT_LE(**score, *result->bestScore);
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, KillAndResumeKeepsTheMovingAverage) {
  torch::set_num_threads(1);
  std::string full = scratchDir("ema-full"), killed = scratchDir("ema-killed");
  auto reference = makeTask(41, std::nullopt);
  TrainOptions options = tinyOptions(full);
  options.emaDecay = 0.9;
  ASSERT_TRUE(runTraining(*reference, options));

  auto interrupted = makeTask(41, std::nullopt);
  options = tinyOptions(killed);
  options.emaDecay = 0.9;
  options.onStep = [](const StepReport &r) {
    if (r.step == 14)
      throw Killed();
  };
  EXPECT_THROW(runTraining(*interrupted, options), Killed);
  std::string state = killed + "/training-state.safetensors";

  // Resuming without the average is a different run.
  auto resumed = makeTask(99, std::nullopt);
  options = tinyOptions(killed);
  options.resumeFrom = state;
  Expected<TrainResult> wrong = runTraining(*resumed, options);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.message().find("ema_decay is '0.90000000000000002'"),
            std::string::npos)
      << wrong.message();

  options.emaDecay = 0.9;
  Expected<TrainResult> result = runTraining(*resumed, options);
  ASSERT_TRUE(result) << result.message();
  auto a = reference->model().named_parameters();
  auto b = resumed->model().named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::equal(a[i].value(), b[i].value())) << a[i].key();
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(killed);
}

TEST(TrainerTest, FrozenParametersStay) {
  torch::set_num_threads(1);
  auto task = makeTask(51, std::nullopt);
  std::string dir = scratchDir("frozen");
  torch::Tensor words, query;
  for (auto &item : task->model().named_parameters()) {
    if (item.key() == "bert.embeddings.word_embeddings.weight") {
      item.value().requires_grad_(false);
      words = item.value().detach().clone();
    }
    if (item.key() == "bert.encoder.layer.0.attention.self.query.weight")
      query = item.value().detach().clone();
  }
  ASSERT_TRUE(words.defined() && query.defined());
  ASSERT_TRUE(runTraining(*task, tinyOptions(dir)));
  for (auto &item : task->model().named_parameters()) {
    if (item.key() == "bert.embeddings.word_embeddings.weight") {
      EXPECT_TRUE(torch::equal(item.value(), words));
    }
    if (item.key() == "bert.encoder.layer.0.attention.self.query.weight") {
      EXPECT_FALSE(torch::equal(item.value(), query));
    }
  }
  // With everything frozen there is nothing to train.
  for (auto &p : task->model().parameters())
    p.requires_grad_(false);
  Expected<TrainResult> none = runTraining(*task, tinyOptions(dir));
  ASSERT_FALSE(none);
  EXPECT_NE(none.message().find("every parameter is frozen"), std::string::npos)
      << none.message();
  std::filesystem::remove_all(dir);
}

/// A fine-tuning task whose dev scores are scripted: early stopping sees
/// exactly these.
class ScriptedScores : public TrainingTask {
public:
  ScriptedScores(std::unique_ptr<ClassificationTask> inner,
                 std::vector<double> scores)
      : inner_(std::move(inner)), scores_(std::move(scores)) {}
  std::string name() const override { return inner_->name(); }
  torch::nn::Module &model() override { return inner_->model(); }
  int64_t numExamples() const override { return inner_->numExamples(); }
  Expected<torch::Tensor> loss(const std::vector<int64_t> &examples) override {
    return inner_->loss(examples);
  }
  Expected<std::optional<double>> evaluate() override {
    return std::optional<double>(scores_.at(evaluations++));
  }
  Error saveModel(const std::string &dir) override {
    return inner_->saveModel(dir);
  }
  size_t evaluations = 0;

private:
  std::unique_ptr<ClassificationTask> inner_;
  std::vector<double> scores_;
};

TEST(TrainerTest, EarlyStoppingAfterPatienceEvaluationsWithoutBetterScore) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("patience");
  // Evaluations every 2 steps of 24: the best at the 2nd, equal and worse
  // after it (a tie is no improvement), a new best at the 5th, then three
  // without: the run ends after the 8th evaluation, at step 16.
  std::vector<double> scores = {0.5, 0.6, 0.6, 0.55, 0.7, 0.65, 0.7, 0.6,
                                0.9, 0.9, 0.9, 0.9};
  ScriptedScores task(makeTask(61, sentimentData(16)), scores);
  TrainOptions options = tinyOptions(dir);
  options.evalEvery = 2;
  options.patience = 3;
  options.checkpointEvery = 0;
  Expected<TrainResult> result = runTraining(task, options);
  ASSERT_TRUE(result) << result.message();
  EXPECT_TRUE(result->stoppedEarly);
  EXPECT_EQ(result->steps, 16);
  EXPECT_EQ(task.evaluations, 8u);
  EXPECT_EQ(*result->bestScore, 0.7);
  EXPECT_EQ(result->evaluationsSinceBest, 3);
  EXPECT_TRUE(std::filesystem::exists(dir + "/best/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/final/model.safetensors"));
  // The state is saved where the run stopped, and resuming it stays
  // stopped.
  std::string state = dir + "/training-state.safetensors";
  Expected<SafetensorsFile> saved = SafetensorsFile::open(state);
  ASSERT_TRUE(saved) << saved.message();
  EXPECT_EQ(saved->metadata().at("step"), "16");
  EXPECT_EQ(saved->metadata().at("evaluations_since_best"), "3");
  ScriptedScores again(makeTask(61, sentimentData(16)), scores);
  options.resumeFrom = state;
  Expected<TrainResult> resumed = runTraining(again, options);
  ASSERT_TRUE(resumed) << resumed.message();
  EXPECT_TRUE(resumed->stoppedEarly);
  EXPECT_EQ(resumed->steps, 16);
  EXPECT_EQ(again.evaluations, 0u);

  // Without patience the same scores run all 24 steps.
  ScriptedScores full(makeTask(61, sentimentData(16)), scores);
  options = tinyOptions(dir + "-full");
  options.evalEvery = 2;
  Expected<TrainResult> all = runTraining(full, options);
  ASSERT_TRUE(all) << all.message();
  EXPECT_FALSE(all->stoppedEarly);
  EXPECT_EQ(all->steps, 24);
  EXPECT_EQ(full.evaluations, 12u);
  options.patience = -1;
  EXPECT_FALSE(runTraining(full, options));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir + "-full");
}

// bestFromStep: evaluations before it neither become best/ nor count for
// early stopping (a model still being pruned), however good they score.
TEST(TrainerTest, EvaluationsBeforeBestFromStepDoNotCompete) {
  torch::set_num_threads(1);
  std::string dir = scratchDir("best-from");
  // Every 2 steps of 24; from step 10 on: 0.5 at step 10, then 4 worse.
  std::vector<double> scores = {0.99, 0.98, 0.97, 0.96, 0.5, 0.4,
                                0.4,  0.4,  0.4,  0.9,  0.9, 0.9};
  ScriptedScores task(makeTask(62, sentimentData(16)), scores);
  TrainOptions options = tinyOptions(dir);
  options.evalEvery = 2;
  options.patience = 3;
  options.checkpointEvery = 0;
  options.bestFromStep = 10;
  std::vector<std::pair<double, bool>> seen;
  options.onProgress = [&](const ProgressEvent &event) {
    if (event.kind == ProgressEvent::Kind::Evaluated)
      seen.push_back({event.score, event.competes});
  };
  Expected<TrainResult> result = runTraining(task, options);
  ASSERT_TRUE(result) << result.message();
  EXPECT_EQ(*result->bestScore, 0.5);
  // 0.5 at step 10, then 3 worse: the run stops at step 16, not at step 8
  // (where the first 4 would have run out the patience).
  EXPECT_TRUE(result->stoppedEarly);
  EXPECT_EQ(result->steps, 16);
  ASSERT_EQ(seen.size(), 8u);
  for (size_t i = 0; i < seen.size(); ++i)
    EXPECT_EQ(seen[i].second, i >= 4) << "evaluation " << i;
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, MaskedLmDevScoreIsHeldOutAccuracyOnOneMasking) {
  torch::set_num_threads(1);
  std::unique_ptr<MaskedLmTask> mlm = tinyMlmTask(true);
  ASSERT_TRUE(mlm);
  MaskedLmTask &task = *mlm;
  // The same positions every time: two evaluations of the same weights
  // agree, and the training generator is untouched by them.
  torch::manual_seed(7);
  torch::Tensor before = torch::rand({4});
  torch::manual_seed(7);
  Expected<std::optional<double>> a = task.evaluate();
  Expected<std::optional<double>> b = task.evaluate();
  EXPECT_TRUE(torch::equal(torch::rand({4}), before));
  ASSERT_TRUE(a && b && *a && *b);
  EXPECT_EQ(**a, **b);
  EXPECT_GE(**a, 0.0);
  EXPECT_LE(**a, 1.0);
  // Training on the same text raises it (the blocks are memorized).
  std::string dir = scratchDir("mlm-dev");
  TrainOptions options = tinyOptions(dir);
  options.epochs = 30;
  options.batchSize = 8;
  options.learningRate = 5e-3;
  options.evalEvery = 40;
  Expected<TrainResult> result = runTraining(task, options);
  ASSERT_TRUE(result) << result.message();
  ASSERT_TRUE(result->bestScore);
  EXPECT_GT(*result->bestScore, **a + 0.1);
  // Without held-out blocks there is no score.
  std::unique_ptr<MaskedLmTask> plain = tinyMlmTask(false);
  ASSERT_TRUE(plain);
  Expected<std::optional<double>> none = plain->evaluate();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, ProgressBarText) {
  EXPECT_EQ(formatProgressBar(355, 710, 0.82361, 1.94e-4, 0.37, 10),
            "[#####-----]  50%  step 355/710  loss 0.8236  lr 0.000194  "
            "0.37 s/step  ETA 2m11s");
  EXPECT_EQ(formatProgressBar(0, 8, 0, 0, 0, 4).substr(0, 11), "[----]   0%");
  EXPECT_EQ(formatProgressBar(8, 8, 0, 0, 0, 4).substr(0, 11), "[####] 100%");
}

TEST(TrainerTest, ProgressBarRedrawsOneLine) {
  torch::set_num_threads(1);
  auto task = makeTask(61, sentimentData(16));
  std::string dir = scratchDir("bar");
  TrainOptions options = tinyOptions(dir);
  options.epochs = 2;
  options.evalEvery = 4;
  options.logEvery = 1;
  std::ostringstream log;
  options.onProgress = cli::ProgressPrinter(log, /*bar=*/true);
  ASSERT_TRUE(runTraining(*task, options));
  std::string text = log.str();
  // Redrawn with carriage returns; the only line ends are the two dev
  // score lines and the finished bar, whatever --log-every says.
  EXPECT_NE(text.find("\r[####"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_NE(text.find("step 8/8"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[Kstep 4: dev score"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, ProgressLinesEveryWindow) {
  torch::set_num_threads(1);
  auto task = makeTask(62, sentimentData(16));
  std::string dir = scratchDir("lines");
  TrainOptions options = tinyOptions(dir);
  options.epochs = 2;
  options.evalEvery = 4;
  options.logEvery = 3;
  std::ostringstream log;
  std::vector<ProgressEvent> events;
  cli::ProgressPrinter printer(log, /*bar=*/false);
  options.onProgress = [&](const ProgressEvent &event) {
    events.push_back(event);
    printer(event);
  };
  ASSERT_TRUE(runTraining(*task, options));
  // 8 steps: one event each, windows closing at 3, 6 and the last step;
  // dev scores after steps 4 and 8.
  int64_t steps = 0, windows = 0, evaluations = 0;
  for (const ProgressEvent &event : events) {
    steps += event.kind == ProgressEvent::Kind::Step;
    windows += event.kind == ProgressEvent::Kind::Step && event.windowEnds;
    evaluations += event.kind == ProgressEvent::Kind::Evaluated;
  }
  EXPECT_EQ(steps, 8);
  EXPECT_EQ(windows, 3);
  EXPECT_EQ(evaluations, 2);
  std::string text = log.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_NE(text.find("step 6/8  epoch 2  loss "), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

TEST(TrainerTest, FreezeParametersByPrefix) {
  auto task = makeTask(63, sentimentData(4));
  torch::nn::Module &model = task->model();
  Expected<int64_t> frozen =
      freezeParameters(model, "bert.embeddings.word_embeddings");
  ASSERT_TRUE(frozen) << frozen.message();
  int64_t expected = 0;
  for (auto &item : model.named_parameters()) {
    bool under = item.key().rfind("bert.embeddings.word_embeddings", 0) == 0;
    EXPECT_EQ(item.value().requires_grad(), !under) << item.key();
    if (under)
      expected += item.value().numel();
  }
  EXPECT_EQ(*frozen, expected);
  Expected<int64_t> none = freezeParameters(model, "bert.embedding.word");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.message(),
            "no parameter's name starts with 'bert.embedding.word'");
}

} // namespace
