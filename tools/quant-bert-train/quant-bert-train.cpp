//===- quant-bert-train.cpp - Pretrain, fine-tune and evaluate BERT -------===//
//
// The training driver of quant-bert (DESIGN.md, data flow):
//
//   quant-bert-train pretrain --corpus TXT --vocab VOCAB --output DIR [...]
//   quant-bert-train finetune --train TSV [--dev TSV] --output DIR
//                             (--model DIR | --vocab VOCAB) [...]
//   quant-bert-train finetune ... --recipe q8bert|sensimix|ternary [...]
//   quant-bert-train finetune ... --teacher DIR [--kd TERMS ...]
//   quant-bert-train eval --model DIR --data TSV [...]
//   quant-bert-train export --model CKPT_DIR --output BUNDLE_DIR [...]
//   quant-bert-train sensitivity --model DIR --dev TSV --output JSON [...]
//   quant-bert-train baseline-bow --train TSV --dev TSV --test TSV [...]
//   quant-bert-train compare --a PREDICTIONS --b PREDICTIONS
//
// pretrain trains a fresh BertForMaskedLM on a text file (one document a
// line); finetune trains BertForSequenceClassification, from a checkpoint's
// encoder (--model) or from scratch; both write Hugging Face checkpoint
// directories (OUTPUT/final, and OUTPUT/best for finetune) and a resumable
// OUTPUT/training-state.safetensors, and with --loss-csv a per-step loss
// curve. With --recipe, finetune is quantization-aware training (Recipes.h)
// and its checkpoints carry qat.json; export turns such a checkpoint into a
// compressed bundle (Export.h). With --teacher, finetune distils a float
// teacher into the student instead of learning the labels (Distillation.h),
// alone or inside a recipe. sensitivity measures each encoder module's dev
// loss under weight quantization (Sensitivity.h). eval prints accuracy, macro-F1, MCC and the
// confusion matrix of a float checkpoint, a QAT checkpoint or a bundle (the
// latter two with the deployed integer numerics);
// baseline-bow prints the same for the majority-class and bag-of-words
// logistic-regression baselines (Baseline.h), its L2 weight chosen on dev.
// compare tests whether two classifiers' accuracies on the same examples
// differ (McNemar's exact test, Metrics.h), from the prediction files of
// eval --logits and baseline-bow --predictions.
// Errors are one line on stderr and exit code 1.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Baseline.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Distillation.h"
#include "quantbert/Train/Export.h"
#include "quantbert/Train/Metrics.h"
#include "quantbert/Train/PostTraining.h"
#include "quantbert/Train/Recipes.h"
#include "quantbert/Train/Sensitivity.h"
#include "quantbert/Train/Trainer.h"
#include "quantbert/Train/WordVectors.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace quantbert;
using namespace quantbert::train;

namespace {

const char *kUsage = R"(usage: quant-bert-train COMMAND [--option value]...

commands and their options (defaults in brackets):
  pretrain   --corpus TXT (--vocab VOCAB | --model DIR) --output DIR
             (--model: continue from a checkpoint, keeping its size)
             [--embedding-init random|ppmi-svd (ppmi-svd: word embeddings
              from co-occurrence statistics of --embedding-corpus TXT,
              default --corpus, counting the tokens at most
              --embedding-window 5 positions apart within a line;
              docs/training.md)]
             [--hidden-size 256 --layers 4 --heads 4 --intermediate-size 1024
              --max-position 512 --seq-length 128 --batch-size 32 --epochs 1
              --lr 1e-4 --warmup-ratio 0.06]
  finetune   --train TSV --output DIR (--model DIR | --vocab VOCAB) [--dev TSV
              --max-seq-length 128 --batch-size 32 --epochs 3 --lr 2e-5
              --warmup-ratio 0.1 --eval-every 0]
             (without --model: a fresh encoder of the pretrain size options)
             [--freeze PREFIX[,PREFIX...] (parameters whose names start so
              are not trained, e.g. bert.embeddings.word_embeddings)]
             quantization-aware training (docs/training.md):
             [--recipe q8bert|sensimix|ternary --recipe-config JSON
              --keep-layers L (keep the first L encoder layers of --model)]
             sensimix only: [--mp-layers N (default: half the layers; the
              top N, or with --sensitivity FILE the N FFNs least sensitive
              to binarization) --no-abwr --no-pt --no-ilf (ablations)]
             (--model with a qat.json and no --recipe continues its QAT)
             knowledge distillation (docs/training.md), alone or with a recipe:
             [--teacher DIR (a float fine-tuned checkpoint; the student is
              --model as above, without label loss)
              --kd pred,rep,map (any of pred,rep,attscore,map,out)
              --kd-temperature 1 --kd-unified-weight W (c_map = W,
              c_out = 1 - W; default both 1) --kd-layer-map full|uniform|first
              (default full; required when the depths differ)
              --keep-layers L (with --teacher, also without --recipe)]
  eval       --model DIR --data TSV [--max-seq-length 128 --batch-size 64
              --logits FILE (TSV: gold, predicted, then each label's logit,
              a row per example) --attention-storage f32|f16|bf16 (round
              Q, K and V as the compiled model stores them; default f32)]
             (DIR: a checkpoint, a QAT checkpoint or an exported bundle)
  export     --model QAT_DIR --output BUNDLE_DIR [--dequantized DIR (also an
              FP32 Hugging Face checkpoint of the dequantized weights)]
  quantize   --model DIR --output BUNDLE_DIR (post-training quantization
              of an FP32 checkpoint: encoder linears int8 per channel, word
              and position embeddings int8 per row; docs/training.md)
             static: --calibration FILE (TSV with a text column, or one
              sentence a line) [--calibrator max|percentile|mse|entropy
              (default percentile) --percentile 99.99
              --calibration-samples 512 --max-seq-length 128
              --batch-size 32]
             or --dynamic (activations quantized per row at run time, no
              calibration); [--no-embeddings (keep the embeddings f32)]
  sensitivity --model DIR --dev TSV --output JSON [--precisions
              i8,ternary,binary (also f16,bf16) --hessian-samples 0
              --max-seq-length 128 --batch-size 32 --seed 42]
             (weight-only: each module's linear weights quantized alone,
              inputs stay f32; writes sensitivity.json, docs/formats.md)
  baseline-bow --train TSV --dev TSV --test TSV [--l2 L (default: the best
              on dev of 1e-6 ... 1e-2, by decades) --max-iterations 100
              --predictions FILE (the test split's TSV: gold, predicted)]
  compare    --a FILE --b FILE: two prediction files of the same examples
             (eval --logits, baseline-bow --predictions): each one's
             accuracy, where they disagree, McNemar's exact p-value
common to pretrain and finetune:
             [--seed 42 --weight-decay 0.01 --max-grad-norm 1.0
              --log-every 50 (a progress line every N steps; on a terminal
              one progress bar redrawn in place instead)
              --checkpoint-every 500 --resume STATE
              --max-steps N (overrides --epochs)
              --loss-csv FILE (step,loss,lr per step; appended on --resume)
              --ema-decay D (evaluate and keep an exponential moving average
               of the parameters with decay D, e.g. 0.99; default 0: off)]
all:         [--threads N (LibTorch intra-op threads; default: its own)]
             --help prints this text
)";

[[noreturn]] void fail(const std::string &message) {
  std::cerr << "quant-bert-train: error: " << message << "\n";
  std::exit(1);
}

/// `--name value` pairs and valueless `--flag`s, checked against the
/// command's options; `--help` prints the usage.
class Args {
public:
  Args(int argc, char **argv, const std::set<std::string> &known,
       const std::set<std::string> &flags = {}) {
    for (int i = 2; i < argc; i += 2) {
      std::string key = argv[i];
      if (key == "--help" || key == "-h") {
        std::cout << kUsage;
        std::exit(0);
      }
      if (key.rfind("--", 0) == 0 && flags.count(key.substr(2))) {
        values_[key.substr(2)] = "";
        --i;
        continue;
      }
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
    "intermediate-size", "max-position", "max-steps", "loss-csv",
    "ema-decay"};

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
  o.emaDecay = args.real("ema-decay", 0);
  if (!(o.emaDecay >= 0 && o.emaDecay < 1))
    fail("--ema-decay must be in [0, 1), got " + args.str("ema-decay"));
  o.outputDir = args.str("output");
  o.resumeFrom = args.str("resume", "");
  o.log = &std::cerr;
  // A bar redrawn in place on a terminal; a line per --log-every steps in
  // a log file.
  o.progressBar = ::isatty(STDERR_FILENO) == 1;
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

/// Splits a text file into its lines.
std::vector<std::string> readLines(const std::string &path) {
  std::string text = orFail(readFile(path));
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// --embedding-init ppmi-svd: the word embeddings of the tokens seen at
/// least 5 times in `corpusPath` become PPMI-SVD vectors (WordVectors.h),
/// scaled to the standard deviation of BERT's random initialisation so that
/// they sum with the position embeddings as a random row would; the other
/// rows keep their random values.
void initWordEmbeddings(torch::nn::Module &model, const Tokenizer &tokenizer,
                        const std::string &corpusPath,
                        const BertConfig &config, int64_t window,
                        uint64_t seed) {
  auto started = std::chrono::steady_clock::now();
  std::vector<std::vector<int32_t>> lines;
  for (const std::string &line : readLines(corpusPath))
    lines.push_back(orFail(tokenizer.tokenize(line)));
  PpmiSvdOptions options;
  options.dim = config.hiddenSize;
  options.window = window;
  options.seed = seed;
  WordVectors vectors =
      orFail(ppmiSvdVectors(lines, config.vocabSize, options));
  torch::Tensor known = vectors.known.nonzero().squeeze(1);
  torch::Tensor rows = vectors.vectors.index_select(0, known);
  rows = rows * (kInitializerRange / rows.std().item<double>());
  torch::Tensor *weight =
      model.named_parameters().find("bert.embeddings.word_embeddings.weight");
  if (!weight)
    fail("--embedding-init: the model has no word embeddings");
  torch::NoGradGuard noGrad;
  weight->index_copy_(0, known, rows);
  std::cerr << "pretrain: PPMI-SVD vectors for " << known.size(0) << " of "
            << config.vocabSize << " tokens from " << corpusPath << " ("
            << std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " s)\n";
}

int runPretrain(int argc, char **argv) {
  std::set<std::string> known = kTrainOptions;
  known.insert({"corpus", "seq-length", "model", "embedding-init",
                "embedding-corpus", "embedding-window"});
  Args args(argc, argv, known);
  setThreads(args);
  std::string embeddingInit = args.str("embedding-init", "random");
  if (embeddingInit != "random" && embeddingInit != "ppmi-svd")
    fail("--embedding-init must be random or ppmi-svd, got '" +
         embeddingInit + "'");
  if (args.has("model") &&
      (args.has("embedding-init") || args.has("embedding-corpus")))
    fail("--embedding-init and --embedding-corpus apply to a fresh model, "
         "not --model");
  if ((args.has("embedding-corpus") || args.has("embedding-window")) &&
      embeddingInit != "ppmi-svd")
    fail("--embedding-corpus and --embedding-window need --embedding-init "
         "ppmi-svd");
  int64_t embeddingWindow = args.integer("embedding-window", 5);
  if (embeddingWindow <= 0)
    fail("--embedding-window must be positive, got " +
         std::to_string(embeddingWindow));
  // --model continues masked-LM training from a checkpoint (domain- or
  // task-adaptive pretraining) with its own configuration and vocabulary.
  std::string vocabPath = args.has("model")
                              ? args.str("model") + "/vocab.txt"
                              : args.str("vocab");
  Tokenizer tokenizer = orFail(Tokenizer::open(vocabPath));
  SpecialTokens special = orFail(SpecialTokens::fromTokenizer(tokenizer));
  std::vector<std::string> lines = readLines(args.str("corpus"));
  torch::Tensor blocks = orFail(buildMlmBlocks(
      tokenizer, lines, args.integer("seq-length", 128), special));

  BertConfig config = args.has("model")
                          ? orFail(loadCheckpointConfig(args.str("model")))
                          : sizedConfig(args, tokenizer.vocabSize());
  config.architectures = {"BertForMaskedLM"};
  if (Error err = config.validate())
    fail(err.message());
  TrainOptions options = trainOptions(args, 1, 1e-4, 0.06);
  torch::manual_seed(options.seed);
  BertForMaskedLM model(config);
  initBertWeights(*model);
  if (embeddingInit == "ppmi-svd")
    initWordEmbeddings(*model, tokenizer,
                       args.str("embedding-corpus", args.str("corpus")),
                       config, embeddingWindow, options.seed);
  if (args.has("model")) {
    // A classification checkpoint has no MLM head (it starts fresh) and its
    // pooler and classifier are not used by masked-LM training.
    LoadPolicy policy{{"cls."}, {"bert.pooler.", "classifier."}};
    if (Error err = loadCheckpointWeights(args.str("model"), *model, policy))
      fail(err.message());
  }
  std::cerr << "pretrain: " << blocks.size(0) << " blocks of "
            << blocks.size(1) << " tokens\n";
  MaskedLmTask task(config, model, vocabPath, blocks, special);
  report(orFail(runTraining(task, options)), options.outputDir);
  return 0;
}

/// The recipe of --recipe / --recipe-config and the recipe options, or
/// nullopt for plain fine-tuning.
std::optional<RecipeOptions> recipeOptions(const Args &args) {
  const char *recipeOnly[] = {"mp-layers", "sensitivity", "keep-layers",
                              "no-abwr",   "no-pt",       "no-ilf"};
  if (!args.has("recipe") && !args.has("recipe-config")) {
    for (const char *option : recipeOnly)
      if (args.has(option) &&
          !(args.has("teacher") && std::string(option) == "keep-layers"))
        fail(std::string("--") + option + " needs --recipe");
    return std::nullopt;
  }
  RecipeOptions recipe;
  if (args.has("recipe-config"))
    if (Error err = readRecipeConfig(args.str("recipe-config"), recipe))
      fail(err.message());
  if (args.has("recipe"))
    recipe.kind = orFail(parseRecipeName(args.str("recipe")));
  if (args.has("mp-layers")) {
    recipe.mpLayers = args.integer("mp-layers", -1);
    if (recipe.mpLayers < 0)
      fail("--mp-layers must be non-negative");
  }
  recipe.sensitivityPath = args.str("sensitivity", recipe.sensitivityPath);
  recipe.keepLayers = args.integer("keep-layers", recipe.keepLayers);
  recipe.abwr &= !args.has("no-abwr");
  recipe.prioritizedTraining &= !args.has("no-pt");
  recipe.inverseLayerwise &= !args.has("no-ilf");
  for (const char *flag : {"no-abwr", "no-pt", "no-ilf"})
    if (args.has(flag) && recipe.kind != RecipeKind::SensiMix)
      fail(std::string("--") + flag + " applies to the sensimix recipe only");
  return recipe;
}

/// One line per quantized module group, so a run's log says what it trains.
void describeRecipe(const ResolvedRecipe &recipe) {
  std::cerr << "recipe " << recipe.spec.recipe << ": "
            << recipe.spec.linears.size() << " quantized linears, "
            << recipe.spec.embeddings.size() << " quantized embeddings";
  if (!recipe.mpLayers.empty()) {
    std::cerr << "; MP layers";
    for (int64_t layer : recipe.mpLayers)
      std::cerr << " " << layer;
    const RecipeOptions &o = recipe.options;
    std::cerr << " (ABWR " << (o.abwr ? "on" : "off") << ", PT "
              << (o.prioritizedTraining ? "on" : "off") << ", ILF "
              << (o.inverseLayerwise ? "on" : "off") << ")";
  }
  std::cerr << "\n";
}

/// --teacher: distillation into `student` with the --kd options; the KD-only
/// options without --teacher are errors.
std::unique_ptr<TrainingTask>
distillationTask(const Args &args, const BertConfig &config,
                 BertForSequenceClassification student, Tokenizer tokenizer,
                 const std::string &vocabPath, TextDataset trainSet,
                 std::optional<TextDataset> devSet) {
  std::string dir = args.str("teacher");
  if (std::filesystem::exists(dir + "/qat.json"))
    fail(dir + ": a QAT checkpoint; the teacher must be a float one");
  BertConfig teacherConfig = orFail(loadCheckpointConfig(dir));
  for (int64_t i = 0;
       i < std::min(config.numLabels, teacherConfig.numLabels); ++i)
    if (teacherConfig.labelName(i) != trainSet.labelNames[i])
      fail(dir + ": the teacher's label " + std::to_string(i) + " is '" +
           teacherConfig.labelName(i) + "', the training set's '" +
           trainSet.labelNames[i] + "'");
  if (orFail(readFile(dir + "/vocab.txt")) != orFail(readFile(vocabPath)))
    fail(dir + "/vocab.txt differs from the student's " + vocabPath);
  BertForSequenceClassification teacher(teacherConfig);
  if (Error err = loadCheckpointWeights(dir, *teacher))
    fail(err.message());

  DistillationOptions options;
  if (Error err = options.setTerms(args.str("kd", "pred,rep,map")))
    fail("--kd: " + err.message());
  options.temperature = args.real("kd-temperature", 1.0);
  if (!(options.temperature > 0))
    fail("--kd-temperature must be positive");
  if (args.has("kd-unified-weight")) {
    if (!options.map || !options.out)
      fail("--kd-unified-weight mixes map and out: --kd must list both");
    if (Error err =
            options.setUnifiedWeight(args.real("kd-unified-weight", 0.5)))
      fail("--kd-unified-weight: " + err.message());
  }
  LayerMapKind kind = LayerMapKind::Full;
  if (args.has("kd-layer-map")) {
    std::optional<LayerMapKind> parsed =
        parseLayerMapKind(args.str("kd-layer-map"));
    if (!parsed)
      fail("--kd-layer-map must be full, uniform or first, got '" +
           args.str("kd-layer-map") + "'");
    kind = *parsed;
  } else if (config.numHiddenLayers != teacherConfig.numHiddenLayers) {
    fail("a student of " + std::to_string(config.numHiddenLayers) +
         " layers and a teacher of " +
         std::to_string(teacherConfig.numHiddenLayers) +
         " need --kd-layer-map uniform or first");
  }
  std::vector<LayerPair> layers = orFail(mapLayers(
      kind, config.numHiddenLayers, teacherConfig.numHiddenLayers));
  std::cerr << "distill: teacher " << dir << " ("
            << teacherConfig.numHiddenLayers << " layers, map "
            << layerMapKindName(kind) << "), terms " << options.termNames()
            << ", temperature " << options.temperature << ", c_map "
            << options.mapWeight << ", c_out " << options.outWeight << "\n";
  return orFail(DistillationTask::create(
      config, std::move(student), teacherConfig, std::move(teacher),
      std::move(layers), options, std::move(tokenizer), vocabPath,
      std::move(trainSet), std::move(devSet),
      args.integer("max-seq-length", 128)));
}

/// Stops training the parameters whose names start with one of the
/// comma-separated `prefixes` (e.g. bert.embeddings.word_embeddings); a
/// prefix that names no parameter is an error.
void freezeParameters(torch::nn::Module &model, const std::string &prefixes) {
  std::istringstream list(prefixes);
  for (std::string prefix; std::getline(list, prefix, ',');) {
    if (prefix.empty())
      continue;
    int64_t frozen = 0;
    for (auto &item : model.named_parameters())
      if (item.key().compare(0, prefix.size(), prefix) == 0) {
        item.value().requires_grad_(false);
        frozen += item.value().numel();
      }
    if (frozen == 0)
      fail("--freeze: no parameter's name starts with '" + prefix + "'");
    std::cerr << "finetune: froze " << frozen << " parameters under '"
              << prefix << "'\n";
  }
}

int runFinetune(int argc, char **argv) {
  std::set<std::string> known = kTrainOptions;
  known.insert({"train", "dev", "model", "max-seq-length", "eval-every",
                "recipe", "recipe-config", "mp-layers", "sensitivity",
                "keep-layers", "teacher", "kd", "kd-temperature",
                "kd-unified-weight", "kd-layer-map", "freeze"});
  Args args(argc, argv, known, {"no-abwr", "no-pt", "no-ilf"});
  setThreads(args);
  std::optional<RecipeOptions> recipe = recipeOptions(args);
  if (!args.has("teacher"))
    for (const char *option :
         {"kd", "kd-temperature", "kd-unified-weight", "kd-layer-map"})
      if (args.has(option))
        fail(std::string("--") + option + " needs --teacher");
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
  // An MLM checkpoint has no pooler or classifier: those start fresh, as in
  // transformers' from_pretrained.
  LoadPolicy policy{{"bert.pooler.", "classifier."}, {"cls."}};
  int64_t keepLayers =
      recipe ? recipe->keepLayers : args.integer("keep-layers", 0);
  if (keepLayers > 0) {
    if (!args.has("model"))
      fail("--keep-layers needs --model");
    config = orFail(keepFirstLayers(config, keepLayers, policy));
  }
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
  if (args.has("model"))
    if (Error err = loadCheckpointWeights(args.str("model"), *model, policy))
      fail(err.message());

  // Quantization-aware training: a recipe, or the qat.json of a QAT
  // checkpoint being trained further.
  std::optional<ResolvedRecipe> resolved;
  if (recipe) {
    std::optional<SensitivityReport> sensitivity;
    if (!recipe->sensitivityPath.empty())
      sensitivity = orFail(SensitivityReport::load(recipe->sensitivityPath));
    resolved = orFail(resolveRecipe(*recipe, config,
                                    sensitivity ? &*sensitivity : nullptr));
  } else if (args.has("model") &&
             std::filesystem::exists(args.str("model") + "/qat.json")) {
    resolved.emplace();
    resolved->spec = orFail(QatSpec::load(args.str("model") + "/qat.json"));
  }
  if (resolved) {
    if (Error err = applyQatSpec(*model, resolved->spec))
      fail(err.message());
    describeRecipe(*resolved);
  }
  std::cerr << "finetune: " << trainSet.examples.size() << " examples, "
            << config.numLabels << " labels\n";
  std::unique_ptr<TrainingTask> task;
  if (args.has("teacher"))
    task = distillationTask(args, config, model, tokenizer, vocabPath,
                            std::move(trainSet), std::move(devSet));
  else
    task = std::make_unique<ClassificationTask>(
        config, model, tokenizer, vocabPath, std::move(trainSet),
        std::move(devSet), args.integer("max-seq-length", 128));
  freezeParameters(*model, args.str("freeze", ""));
  if (!resolved) {
    report(orFail(runTraining(*task, options)), options.outputDir);
    return 0;
  }
  QatTask qat(std::move(task), model, std::move(*resolved));
  report(orFail(runTraining(qat, options)), options.outputDir);
  return 0;
}

/// A prediction file, what eval --logits and baseline-bow --predictions
/// write and compare reads: a header `gold<TAB>predicted`, then a row of
/// label ids per example; with `logits` ([examples, labels]), a column per
/// label name after those two holds its logit at full float precision (9
/// significant digits round-trip a float).
void writePredictions(const std::string &path,
                      const std::vector<int64_t> &gold,
                      const std::vector<int64_t> &predicted,
                      const std::vector<std::string> &labelNames = {},
                      const torch::Tensor &logits = {}) {
  std::ostringstream out;
  out.precision(9);
  out << "gold\tpredicted";
  if (logits.defined())
    for (const std::string &name : labelNames)
      out << "\t" << name;
  out << "\n";
  torch::Tensor rows = logits.defined() ? logits.contiguous() : logits;
  int64_t labels = rows.defined() ? rows.size(1) : 0;
  const float *values = rows.defined() ? rows.data_ptr<float>() : nullptr;
  for (size_t i = 0; i < gold.size(); ++i) {
    out << gold[i] << "\t" << predicted[i];
    for (int64_t l = 0; l < labels; ++l)
      out << "\t" << values[i * labels + l];
    out << "\n";
  }
  if (Error err = writeFileAtomically(path, out.str()))
    fail(err.message());
}

int runEval(int argc, char **argv) {
  Args args(argc, argv,
            {"model", "data", "max-seq-length", "batch-size", "threads",
             "logits", "attention-storage"});
  setThreads(args);
  std::string dir = args.str("model");
  std::string storageName = args.str("attention-storage", "f32");
  torch::ScalarType storage = torch::kFloat;
  if (storageName == "f16")
    storage = torch::kHalf;
  else if (storageName == "bf16")
    storage = torch::kBFloat16;
  else if (storageName != "f32")
    fail("--attention-storage: expected f32, f16 or bf16, got '" +
         storageName + "'");
  int64_t batchSize = args.integer("batch-size", 64);
  if (batchSize < 1)
    fail("--batch-size must be positive");
  // A bundle or a QAT checkpoint runs the deployed integer numerics.
  LoadedModel loaded = orFail(loadModelForEval(dir));
  const BertConfig &config = loaded.config;
  std::vector<std::string> labelNames;
  for (int64_t i = 0; i < config.numLabels; ++i)
    labelNames.push_back(config.labelName(i));
  TextDataset data = orFail(readTsv(args.str("data"), &labelNames));
  Tokenizer tokenizer = orFail(Tokenizer::open(dir + "/vocab.txt"));
  if (Error err = checkCalibrated(*loaded.model))
    fail(dir + ": " + err.message());
  setAttentionStorage(*loaded.model, storage);
  std::vector<double> seconds;
  torch::Tensor logits = orFail(predictLogits(
      loaded.model, tokenizer, data, args.integer("max-seq-length", 128),
      batchSize, &seconds));
  torch::Tensor best = logits.argmax(-1).contiguous();
  std::vector<int64_t> predicted(best.data_ptr<int64_t>(),
                                 best.data_ptr<int64_t>() + best.numel());
  std::vector<int64_t> gold = labelIds(data);
  if (args.has("logits"))
    writePredictions(args.str("logits"), gold, predicted, labelNames, logits);
  std::cout << data.examples.size() << " examples";
  if (loaded.kind != "float")
    std::cout << " (" << loaded.kind << ", recipe " << loaded.recipe << ")";
  std::cout << "\n"
            << formatMetrics(computeMetrics(gold, predicted, config.numLabels),
                             labelNames);
  if (!seconds.empty()) {
    std::sort(seconds.begin(), seconds.end());
    double total = 0;
    for (double s : seconds)
      total += s;
    std::cout << "forward time: " << seconds.size() << " batches of up to "
              << batchSize << ", median " << seconds[seconds.size() / 2] * 1e3
              << " ms per batch, " << total * 1e3 / double(gold.size())
              << " ms per example\n";
  }
  return 0;
}

int runExport(int argc, char **argv) {
  Args args(argc, argv, {"model", "output", "dequantized", "threads"});
  setThreads(args);
  std::string model = args.str("model"), output = args.str("output");
  if (Error err = exportBundle(model, output))
    fail(err.message());
  std::cerr << "export: bundle in " << output << "\n";
  if (args.has("dequantized")) {
    if (Error err = exportDequantized(model, args.str("dequantized")))
      fail(err.message());
    std::cerr << "export: dequantized FP32 checkpoint in "
              << args.str("dequantized") << "\n";
  }
  return 0;
}

int runQuantize(int argc, char **argv) {
  Args args(argc, argv,
            {"model", "output", "calibration", "calibrator", "percentile",
             "calibration-samples", "max-seq-length", "batch-size", "threads"},
            {"dynamic", "no-embeddings"});
  setThreads(args);
  PtqOptions options;
  options.dynamic = args.has("dynamic");
  options.quantizeEmbeddings = !args.has("no-embeddings");
  if (args.has("calibrator"))
    options.calibrator = orFail(parseCalibrator(args.str("calibrator")));
  options.percentile = args.real("percentile", 99.99);
  if (!(options.percentile > 0 && options.percentile <= 100))
    fail("--percentile must be in (0, 100], got " + args.str("percentile"));
  options.maxSentences = args.integer("calibration-samples", 512);
  options.maxLength = args.integer("max-seq-length", 128);
  options.batchSize = args.integer("batch-size", 32);
  if (options.maxSentences < 1 || options.maxLength < 2 || options.batchSize < 1)
    fail("--calibration-samples and --batch-size must be positive, "
         "--max-seq-length at least 2");
  if (options.dynamic && (args.has("calibration") || args.has("calibrator")))
    fail("--dynamic quantizes activations at run time: it takes no "
         "--calibration or --calibrator");
  if (!options.dynamic && !args.has("calibration"))
    fail("static quantization needs --calibration FILE (or use --dynamic)");
  std::vector<TextExample> calibration;
  if (!options.dynamic)
    calibration = orFail(readCalibrationFile(args.str("calibration")));
  std::string output = args.str("output");
  if (Error err = quantizePostTraining(args.str("model"), calibration, options,
                                       output))
    fail(err.message());
  std::cerr << "quantize: "
            << (options.dynamic
                    ? std::string("dynamic int8")
                    : "static int8, " +
                          std::string(calibratorName(options.calibrator)) +
                          " calibration on " +
                          std::to_string(std::min<int64_t>(
                              options.maxSentences, calibration.size())) +
                          " sentences")
            << "; bundle in " << output << "\n";
  return 0;
}

int runSensitivity(int argc, char **argv) {
  Args args(argc, argv,
            {"model", "dev", "output", "precisions", "hessian-samples",
             "max-seq-length", "batch-size", "seed", "threads"});
  setThreads(args);
  std::string dir = args.str("model"), output = args.str("output");
  if (std::filesystem::exists(dir + "/qat.json"))
    fail(dir + ": a QAT checkpoint; measure the float model it started from");
  SensitivityOptions options;
  if (args.has("precisions")) {
    options.precisions.clear();
    std::string list = args.str("precisions");
    for (size_t start = 0; start <= list.size();) {
      size_t end = std::min(list.find(',', start), list.size());
      std::string name = list.substr(start, end - start);
      std::optional<Precision> precision = parsePrecision(name);
      if (!precision)
        fail("--precisions: unknown precision '" + name +
             "' (expected i8, ternary, binary, f16, bf16 or f32)");
      options.precisions.push_back(*precision);
      start = end + 1;
    }
  }
  options.hessianSamples = args.integer("hessian-samples", 0);
  if (options.hessianSamples < 0)
    fail("--hessian-samples must be non-negative");
  options.batchSize = args.integer("batch-size", 32);
  options.maxSeqLength = args.integer("max-seq-length", 128);
  options.seed = uint64_t(args.integer("seed", 42));
  options.log = &std::cerr;

  BertConfig config = orFail(loadCheckpointConfig(dir));
  std::vector<std::string> labelNames;
  for (int64_t i = 0; i < config.numLabels; ++i)
    labelNames.push_back(config.labelName(i));
  TextDataset dev = orFail(readTsv(args.str("dev"), &labelNames));
  Tokenizer tokenizer = orFail(Tokenizer::open(dir + "/vocab.txt"));
  BertForSequenceClassification model(config);
  if (Error err = loadCheckpointWeights(dir, *model))
    fail(err.message());
  SensitivityReport report =
      orFail(measureSensitivity(model, tokenizer, dev, options));
  if (Error err = report.save(output))
    fail(err.message());
  std::cerr << "sensitivity: " << report.modules.size() << " modules in "
            << output << "\n";
  return 0;
}

/// Prints `name`'s metrics on `data` for `predicted`.
void printScores(const std::string &name, const TextDataset &data,
                 const std::vector<int64_t> &predicted) {
  std::vector<int64_t> gold = labelIds(data);
  std::cout << name << " (" << data.examples.size() << " examples)\n"
            << formatMetrics(computeMetrics(gold, predicted,
                                            int64_t(data.labelNames.size())),
                             data.labelNames);
}

int runBaselineBow(int argc, char **argv) {
  Args args(argc, argv,
            {"train", "dev", "test", "l2", "max-iterations", "threads",
             "predictions"});
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
  std::vector<int64_t> devGold = labelIds(devSet);
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
  std::vector<int64_t> testPredicted = best->predict(testSet);
  printScores("bow test", testSet, testPredicted);
  if (args.has("predictions"))
    writePredictions(args.str("predictions"), labelIds(testSet),
                     testPredicted);
  return 0;
}

/// Gold and predicted label ids, the first two columns of a prediction file
/// (eval --logits, baseline-bow --predictions) after its header.
struct Predictions {
  std::vector<int64_t> gold, predicted;
};

Predictions readPredictions(const std::string &path) {
  std::vector<std::string> lines = readLines(path);
  if (lines.empty() || lines[0].rfind("gold\tpredicted", 0) != 0)
    fail(path + ": not a prediction file (the header must start with "
                "'gold<TAB>predicted')");
  Predictions p;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty() && i + 1 == lines.size())
      break;
    std::istringstream row(lines[i]);
    int64_t gold = -1, predicted = -1;
    char tab = 0;
    // eval --logits rows go on with a tab and the logits.
    if (!(row >> gold) || !row.get(tab) || tab != '\t' ||
        !(row >> predicted) || gold < 0 || predicted < 0 ||
        (row.peek() != '\t' && row.peek() != EOF))
      fail(path + ":" + std::to_string(i + 1) +
           ": expected two label ids, gold and predicted, separated by a tab");
    p.gold.push_back(gold);
    p.predicted.push_back(predicted);
  }
  if (p.gold.empty())
    fail(path + ": no predictions");
  return p;
}

int runCompare(int argc, char **argv) {
  Args args(argc, argv, {"a", "b"});
  std::string pathA = args.str("a"), pathB = args.str("b");
  Predictions a = readPredictions(pathA), b = readPredictions(pathB);
  if (a.gold.size() != b.gold.size())
    fail(pathA + " has " + std::to_string(a.gold.size()) + " predictions, " +
         pathB + " " + std::to_string(b.gold.size()) +
         ": not the same examples");
  for (size_t i = 0; i < a.gold.size(); ++i)
    if (a.gold[i] != b.gold[i])
      fail("line " + std::to_string(i + 2) + ": gold label " +
           std::to_string(a.gold[i]) + " in " + pathA + " but " +
           std::to_string(b.gold[i]) + " in " + pathB +
           ": not the same examples in the same order and label numbering");
  PairedComparison c = compareClassifiers(a.gold, a.predicted, b.predicted);
  double n = double(a.gold.size());
  std::cout << a.gold.size() << " examples\n";
  std::cout.setf(std::ios::fixed);
  std::cout.precision(4);
  std::cout << "A " << pathA << ": accuracy " << (c.bothRight + c.onlyA) / n
            << "\nB " << pathB << ": accuracy " << (c.bothRight + c.onlyB) / n
            << "\nboth right " << c.bothRight << ", only A " << c.onlyA
            << ", only B " << c.onlyB << ", both wrong " << c.bothWrong
            << "\n";
  std::cout.unsetf(std::ios::fixed);
  std::cout.precision(3);
  std::cout << "McNemar exact test, two-sided: p = " << c.pValue << "\n";
  return 0;
}

int dispatch(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "pretrain")
    return runPretrain(argc, argv);
  if (command == "finetune")
    return runFinetune(argc, argv);
  if (command == "eval")
    return runEval(argc, argv);
  if (command == "export")
    return runExport(argc, argv);
  if (command == "quantize")
    return runQuantize(argc, argv);
  if (command == "sensitivity")
    return runSensitivity(argc, argv);
  if (command == "baseline-bow")
    return runBaselineBow(argc, argv);
  if (command == "compare")
    return runCompare(argc, argv);
  if (command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << kUsage;
  fail(command.empty() ? "missing command" : "unknown command '" + command + "'");
}

} // namespace

int main(int argc, char **argv) {
  // LibTorch reports shape and index errors by throwing: print them as the
  // tool's own errors, without the C++ backtrace.
  try {
    return dispatch(argc, argv);
  } catch (const c10::Error &error) {
    fail(error.what_without_backtrace());
  } catch (const std::exception &error) {
    fail(error.what());
  }
}
