//===- quant-bert-train.cpp - Pretrain, fine-tune and evaluate BERT -------===//
//
// The training driver of quant-bert (DESIGN.md, data flow):
//
//   quant-bert-train pretrain --corpus TXT --vocab VOCAB --output DIR [...]
//   quant-bert-train finetune --train TSV [--dev TSV] --output DIR
//                             (--model DIR | --vocab VOCAB) [...]
//   quant-bert-train eval --model DIR --data TSV [...]
//   quant-bert-train baseline-bow --train TSV --dev TSV --test TSV [...]
//
// pretrain trains a fresh BertForMaskedLM on a text file (one document a
// line); finetune trains BertForSequenceClassification, from a checkpoint's
// encoder (--model) or from scratch; both write Hugging Face checkpoint
// directories (OUTPUT/final, and OUTPUT/best for finetune) and a resumable
// OUTPUT/training-state.safetensors, and with --loss-csv a per-step loss
// curve. eval prints accuracy, macro-F1, MCC and the confusion matrix;
// baseline-bow prints the same for the majority-class and bag-of-words
// logistic-regression baselines (Baseline.h), its L2 weight chosen on dev.
// Errors are one line on stderr and exit code 1.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Baseline.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Trainer.h"

#include <fstream>
#include <iostream>
#include <map>
#include <set>

using namespace quantbert;
using namespace quantbert::train;

namespace {

const char *kUsage = R"(usage: quant-bert-train COMMAND [--option value]...

commands and their options (defaults in brackets):
  pretrain   --corpus TXT --vocab VOCAB --output DIR
             [--hidden-size 256 --layers 4 --heads 4 --intermediate-size 1024
              --max-position 512 --seq-length 128 --batch-size 32 --epochs 1
              --lr 1e-4 --warmup-ratio 0.06]
  finetune   --train TSV --output DIR (--model DIR | --vocab VOCAB) [--dev TSV
              --max-seq-length 128 --batch-size 32 --epochs 3 --lr 2e-5
              --warmup-ratio 0.1 --eval-every 0]
             (without --model: a fresh encoder of the pretrain size options)
  eval       --model DIR --data TSV [--max-seq-length 128 --batch-size 64]
  baseline-bow --train TSV --dev TSV --test TSV [--l2 L (default: the best
              on dev of 1e-6 ... 1e-2, by decades) --max-iterations 100]
common to pretrain and finetune:
             [--seed 42 --weight-decay 0.01 --max-grad-norm 1.0
              --log-every 50 --checkpoint-every 500 --resume STATE
              --max-steps N (overrides --epochs)
              --loss-csv FILE (step,loss,lr per step; appended on --resume)]
all:         [--threads N (LibTorch intra-op threads; default: its own)]
)";

[[noreturn]] void fail(const std::string &message) {
  std::cerr << "quant-bert-train: error: " << message << "\n";
  std::exit(1);
}

/// `--name value` pairs, checked against the command's options.
class Args {
public:
  Args(int argc, char **argv, const std::set<std::string> &known) {
    for (int i = 2; i < argc; i += 2) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || !known.count(key.substr(2)))
        fail("unknown option '" + key + "' (see --help)");
      if (i + 1 >= argc)
        fail("option '" + key + "' needs a value");
      values_[key.substr(2)] = argv[i + 1];
    }
  }
  bool has(const std::string &key) const { return values_.count(key); }
  std::string str(const std::string &key) const {
    auto it = values_.find(key);
    if (it == values_.end())
      fail("missing required option '--" + key + "'");
    return it->second;
  }
  std::string str(const std::string &key, const std::string &fallback) const {
    return has(key) ? str(key) : fallback;
  }
  int64_t integer(const std::string &key, int64_t fallback) const {
    if (!has(key))
      return fallback;
    try {
      size_t used = 0;
      int64_t v = std::stoll(str(key), &used);
      if (used == str(key).size())
        return v;
    } catch (const std::exception &) {
    }
    fail("option '--" + key + "' needs an integer, got '" + str(key) + "'");
  }
  double real(const std::string &key, double fallback) const {
    if (!has(key))
      return fallback;
    try {
      size_t used = 0;
      double v = std::stod(str(key), &used);
      if (used == str(key).size())
        return v;
    } catch (const std::exception &) {
    }
    fail("option '--" + key + "' needs a number, got '" + str(key) + "'");
  }

private:
  std::map<std::string, std::string> values_;
};

const std::set<std::string> kTrainOptions = {
    "seed",       "weight-decay",     "max-grad-norm", "log-every",
    "checkpoint-every", "resume",     "threads",       "batch-size",
    "epochs",     "lr",               "warmup-ratio",  "output",
    "vocab",      "hidden-size",      "layers",        "heads",
    "intermediate-size", "max-position", "max-steps", "loss-csv"};

template <typename T> T orFail(Expected<T> value) {
  if (!value)
    fail(value.message());
  return std::move(*value);
}

void setThreads(const Args &args) {
  if (args.has("threads")) {
    int64_t threads = args.integer("threads", 1);
    if (threads <= 0)
      fail("--threads must be positive");
    torch::set_num_threads(int(threads));
  }
}

TrainOptions trainOptions(const Args &args, int64_t epochs, double lr,
                          double warmup) {
  TrainOptions o;
  o.batchSize = args.integer("batch-size", 32);
  o.epochs = args.integer("epochs", epochs);
  o.maxSteps = args.integer("max-steps", 0);
  o.learningRate = args.real("lr", lr);
  o.warmupRatio = args.real("warmup-ratio", warmup);
  o.weightDecay = args.real("weight-decay", 0.01);
  o.maxGradNorm = args.real("max-grad-norm", 1.0);
  o.seed = uint64_t(args.integer("seed", 42));
  o.logEvery = args.integer("log-every", 50);
  o.checkpointEvery = args.integer("checkpoint-every", 500);
  o.outputDir = args.str("output");
  o.resumeFrom = args.str("resume", "");
  o.log = &std::cerr;
  if (args.has("loss-csv")) {
    std::string path = args.str("loss-csv");
    bool append = !o.resumeFrom.empty();
    auto csv = std::make_shared<std::ofstream>(
        path, append ? std::ios::app : std::ios::trunc);
    if (!*csv)
      fail(path + ": cannot open for writing");
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

/// A fresh encoder's config from the size options (vocabulary size from the
/// vocabulary file).
BertConfig sizedConfig(const Args &args, int64_t vocabSize) {
  BertConfig config;
  config.hiddenSize = args.integer("hidden-size", 256);
  config.numHiddenLayers = args.integer("layers", 4);
  config.numAttentionHeads = args.integer("heads", 4);
  config.intermediateSize = args.integer("intermediate-size", 1024);
  config.maxPositionEmbeddings = args.integer("max-position", 512);
  config.vocabSize = vocabSize;
  return config;
}

void report(const TrainResult &result, const std::string &output) {
  std::cerr << "trained " << result.steps << " steps, running loss "
            << result.runningLoss;
  if (result.bestScore)
    std::cerr << ", best dev accuracy " << *result.bestScore;
  std::cerr << "; checkpoints in " << output << "\n";
}

int runPretrain(int argc, char **argv) {
  std::set<std::string> known = kTrainOptions;
  known.insert({"corpus", "seq-length"});
  Args args(argc, argv, known);
  setThreads(args);
  std::string vocabPath = args.str("vocab");
  Tokenizer tokenizer = orFail(Tokenizer::open(vocabPath));
  SpecialTokens special = orFail(SpecialTokens::fromTokenizer(tokenizer));
  std::string corpus = orFail(readFile(args.str("corpus")));
  std::vector<std::string> lines;
  for (size_t start = 0; start < corpus.size();) {
    size_t end = std::min(corpus.find('\n', start), corpus.size());
    lines.push_back(corpus.substr(start, end - start));
    start = end + 1;
  }
  torch::Tensor blocks = orFail(buildMlmBlocks(
      tokenizer, lines, args.integer("seq-length", 128), special));

  BertConfig config = sizedConfig(args, tokenizer.vocabSize());
  config.architectures = {"BertForMaskedLM"};
  if (Error err = config.validate())
    fail(err.message());
  TrainOptions options = trainOptions(args, 1, 1e-4, 0.06);
  torch::manual_seed(options.seed);
  BertForMaskedLM model(config);
  initBertWeights(*model);
  std::cerr << "pretrain: " << blocks.size(0) << " blocks of "
            << blocks.size(1) << " tokens\n";
  MaskedLmTask task(config, model, vocabPath, blocks, special);
  report(orFail(runTraining(task, options)), options.outputDir);
  return 0;
}

int runFinetune(int argc, char **argv) {
  std::set<std::string> known = kTrainOptions;
  known.insert({"train", "dev", "model", "max-seq-length", "eval-every"});
  Args args(argc, argv, known);
  setThreads(args);
  TextDataset trainSet = orFail(readTsv(args.str("train")));
  std::optional<TextDataset> devSet;
  if (args.has("dev"))
    devSet = orFail(readTsv(args.str("dev"), &trainSet.labelNames));

  std::string vocabPath = args.has("model")
                              ? args.str("model") + "/vocab.txt"
                              : args.str("vocab");
  Tokenizer tokenizer = orFail(Tokenizer::open(vocabPath));
  BertConfig config = args.has("model")
                          ? orFail(loadCheckpointConfig(args.str("model")))
                          : sizedConfig(args, tokenizer.vocabSize());
  config.numLabels = int64_t(trainSet.labelNames.size());
  config.id2label.clear();
  for (int64_t i = 0; i < config.numLabels; ++i)
    config.id2label[i] = trainSet.labelNames[i];
  config.architectures = {"BertForSequenceClassification"};
  if (Error err = config.validate())
    fail(err.message());

  TrainOptions options = trainOptions(args, 3, 2e-5, 0.1);
  options.evalEvery = args.integer("eval-every", 0);
  torch::manual_seed(options.seed);
  BertForSequenceClassification model(config);
  initBertWeights(*model);
  if (args.has("model")) {
    // An MLM checkpoint has no pooler or classifier: those start fresh, as
    // in transformers' from_pretrained.
    LoadPolicy policy{{"bert.pooler.", "classifier."}, {"cls."}};
    if (Error err = loadCheckpointWeights(args.str("model"), *model, policy))
      fail(err.message());
  }
  std::cerr << "finetune: " << trainSet.examples.size() << " examples, "
            << config.numLabels << " labels\n";
  ClassificationTask task(config, model, tokenizer, vocabPath,
                          std::move(trainSet), std::move(devSet),
                          args.integer("max-seq-length", 128));
  report(orFail(runTraining(task, options)), options.outputDir);
  return 0;
}

int runEval(int argc, char **argv) {
  Args args(argc, argv,
            {"model", "data", "max-seq-length", "batch-size", "threads"});
  setThreads(args);
  std::string dir = args.str("model");
  BertConfig config = orFail(loadCheckpointConfig(dir));
  std::vector<std::string> labelNames;
  for (int64_t i = 0; i < config.numLabels; ++i)
    labelNames.push_back(config.labelName(i));
  TextDataset data = orFail(readTsv(args.str("data"), &labelNames));
  Tokenizer tokenizer = orFail(Tokenizer::open(dir + "/vocab.txt"));
  BertForSequenceClassification model(config);
  if (Error err = loadCheckpointWeights(dir, *model))
    fail(err.message());
  std::vector<int64_t> predicted = orFail(
      predict(model, tokenizer, data, args.integer("max-seq-length", 128),
              args.integer("batch-size", 64)));
  std::vector<int64_t> gold;
  for (const TextExample &example : data.examples)
    gold.push_back(example.label);
  std::cout << data.examples.size() << " examples\n"
            << formatMetrics(computeMetrics(gold, predicted, config.numLabels),
                             labelNames);
  return 0;
}

/// Prints `name`'s metrics on `data` for `predicted`.
void printScores(const std::string &name, const TextDataset &data,
                 const std::vector<int64_t> &predicted) {
  std::vector<int64_t> gold;
  for (const TextExample &example : data.examples)
    gold.push_back(example.label);
  std::cout << name << " (" << data.examples.size() << " examples)\n"
            << formatMetrics(computeMetrics(gold, predicted,
                                            int64_t(data.labelNames.size())),
                             data.labelNames);
}

int runBaselineBow(int argc, char **argv) {
  Args args(argc, argv,
            {"train", "dev", "test", "l2", "max-iterations", "threads"});
  setThreads(args);
  TextDataset trainSet = orFail(readTsv(args.str("train")));
  TextDataset devSet = orFail(readTsv(args.str("dev"), &trainSet.labelNames));
  TextDataset testSet =
      orFail(readTsv(args.str("test"), &trainSet.labelNames));

  int64_t majority = majorityLabel(trainSet);
  std::cout << "majority class: " << trainSet.labelNames[majority] << "\n";
  printScores("majority dev", devSet,
              std::vector<int64_t>(devSet.examples.size(), majority));
  printScores("majority test", testSet,
              std::vector<int64_t>(testSet.examples.size(), majority));

  BowOptions options;
  options.maxIterations = args.integer("max-iterations", 100);
  std::vector<double> grid = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2};
  if (args.has("l2"))
    grid = {args.real("l2", 0)};
  std::vector<int64_t> devGold;
  for (const TextExample &example : devSet.examples)
    devGold.push_back(example.label);
  std::optional<BowClassifier> best;
  double bestL2 = 0, bestAccuracy = -1;
  for (double l2 : grid) {
    options.l2 = l2;
    BowClassifier model = orFail(BowClassifier::train(trainSet, options));
    double accuracy = computeMetrics(devGold, model.predict(devSet),
                                     int64_t(trainSet.labelNames.size()))
                          .accuracy;
    std::cerr << "baseline-bow: l2 " << l2 << ": " << model.vocabularySize()
              << " words, objective " << model.finalLoss()
              << ", dev accuracy " << accuracy << "\n";
    // On a tie the weaker l2, tried first, stays.
    if (accuracy > bestAccuracy) {
      bestAccuracy = accuracy;
      bestL2 = l2;
      best = std::move(model);
    }
  }
  std::cout << "bag-of-words logistic regression: l2 " << bestL2 << ", "
            << best->vocabularySize() << " words\n";
  printScores("bow dev", devSet, best->predict(devSet));
  printScores("bow test", testSet, best->predict(testSet));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "pretrain")
    return runPretrain(argc, argv);
  if (command == "finetune")
    return runFinetune(argc, argv);
  if (command == "eval")
    return runEval(argc, argv);
  if (command == "baseline-bow")
    return runBaselineBow(argc, argv);
  if (command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << kUsage;
  fail(command.empty() ? "missing command" : "unknown command '" + command + "'");
}
