//===- PretrainCommand.cpp - quant-bert-train pretrain --------------------===//
//
// Masked-LM training of a fresh BertForMaskedLM on a text file (one
// document a line), or continued from a checkpoint (--model: domain- or
// task-adaptive pretraining, keeping its size and vocabulary).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/WordVectors.h"

#include <chrono>
#include <iostream>

namespace quantbert::train::cli {

namespace {

struct PretrainOptions {
  TrainFlags flags;
  std::string corpus, devCorpus, model, embeddingInit = "random",
                                      embeddingCorpus;
  int64_t seqLength = 128, embeddingWindow = 5, evalEvery = 0;
};

void runPretrain(const PretrainOptions &o, const CLI::App &command) {
  o.flags.threads.apply();
  if (given(command, "--model") &&
      (given(command, "--embedding-init") ||
       given(command, "--embedding-corpus")))
    fail("--embedding-init and --embedding-corpus apply to a fresh model, "
         "not --model");
  if ((given(command, "--embedding-corpus") ||
       given(command, "--embedding-window")) &&
      o.embeddingInit != "ppmi-svd")
    fail("--embedding-corpus and --embedding-window need --embedding-init "
         "ppmi-svd");
  if (!given(command, "--model") && o.flags.vocab.empty())
    fail("a fresh model needs --vocab (or continue one with --model)");
  std::string vocabPath =
      given(command, "--model") ? o.model + "/vocab.txt" : o.flags.vocab;
  Tokenizer tokenizer = orFail(Tokenizer::open(vocabPath));
  SpecialTokens special = orFail(SpecialTokens::fromTokenizer(tokenizer));
  std::vector<std::string> lines = orFail(readLines(o.corpus));
  torch::Tensor blocks =
      orFail(buildMlmBlocks(tokenizer, lines, o.seqLength, special));

  BertConfig config = given(command, "--model")
                          ? orFail(loadCheckpointConfig(o.model))
                          : o.flags.sizedConfig(tokenizer.vocabSize());
  config.architectures = {"BertForMaskedLM"};
  orFail(config.validate());
  TrainOptions options = o.flags.options();
  options.evalEvery = o.evalEvery;
  if (given(command, "--eval-every") && !given(command, "--dev-corpus"))
    fail("--eval-every needs --dev-corpus (the held-out text it scores)");
  torch::manual_seed(options.seed);
  BertForMaskedLM model(config);
  initBertWeights(*model);
  if (o.embeddingInit == "ppmi-svd") {
    auto started = std::chrono::steady_clock::now();
    std::string path = o.embeddingCorpus.empty() ? o.corpus : o.embeddingCorpus;
    std::vector<std::vector<int32_t>> tokens;
    for (const std::string &line : orFail(readLines(path)))
      tokens.push_back(orFail(tokenizer.tokenize(line)));
    PpmiSvdOptions ppmi;
    ppmi.dim = config.hiddenSize;
    ppmi.window = o.embeddingWindow;
    ppmi.seed = options.seed;
    int64_t rows = orFail(
        initWordEmbeddings(*model, tokens, config.vocabSize, ppmi));
    std::cerr << "pretrain: PPMI-SVD vectors for " << rows << " of "
              << config.vocabSize << " tokens from " << path << " ("
              << std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - started)
                     .count()
              << " s)\n";
  }
  if (given(command, "--model")) {
    // A classification checkpoint has no MLM head (it starts fresh) and its
    // pooler and classifier are not used by masked-LM training.
    LoadPolicy policy{{"cls."}, {"bert.pooler.", "classifier."}};
    orFail(loadCheckpointWeights(o.model, *model, policy));
  }
  std::cerr << "pretrain: " << blocks.size(0) << " blocks of "
            << blocks.size(1) << " tokens\n";
  std::optional<torch::Tensor> devBlocks;
  if (given(command, "--dev-corpus")) {
    Expected<torch::Tensor> dev = buildMlmBlocks(
        tokenizer, orFail(readLines(o.devCorpus)), o.seqLength, special);
    if (!dev)
      fail(o.devCorpus + ": " + dev.message());
    devBlocks = std::move(*dev);
    std::cerr << "pretrain: held-out masked-LM accuracy on "
              << devBlocks->size(0) << " blocks of " << o.devCorpus << "\n";
  }
  MaskedLmTask task(config, model, vocabPath, blocks, special,
                    std::move(devBlocks));
  reportTraining(orFail(runTraining(task, options)), options);
}

} // namespace

void addPretrainCommand(CLI::App &app) {
  auto o = std::make_shared<PretrainOptions>();
  CLI::App *command = app.add_subcommand(
      "pretrain", "Masked-LM pretraining of a fresh encoder (--vocab and the "
                  "size options) or of a checkpoint (--model)");
  o->flags.train.epochs = 1;
  o->flags.train.learningRate = 1e-4;
  o->flags.train.warmupRatio = 0.06;
  command->add_option("--corpus", o->corpus, "Text file, one document a line")
      ->required();
  command->add_option("--dev-corpus", o->devCorpus,
                      "Held-out text (one document a line): its masked-LM "
                      "accuracy is the dev score (every --eval-every steps, "
                      "else every epoch; best/ keeps the best)");
  command->add_option("--eval-every", o->evalEvery,
                      "Score --dev-corpus every N steps (0: each epoch's end)")
      ->check(nonNegative());
  command->add_option("--model", o->model,
                      "Continue from this checkpoint, keeping its size and "
                      "vocabulary");
  command->add_option("--seq-length", o->seqLength, "Tokens per block")
      ->check(positive());
  command->add_option("--embedding-init", o->embeddingInit,
                      "Word embeddings of a fresh model: random, or ppmi-svd "
                      "(vectors from co-occurrence statistics; "
                      "docs/training.md)")
      ->check(CLI::IsMember({"random", "ppmi-svd"}));
  command->add_option("--embedding-corpus", o->embeddingCorpus,
                      "ppmi-svd: the text to count (default --corpus)");
  command->add_option("--embedding-window", o->embeddingWindow,
                      "ppmi-svd: tokens at most this far apart within a line "
                      "co-occur")
      ->check(positive());
  o->flags.add(command);
  command->callback([o, command] { runPretrain(*o, *command); });
}

} // namespace quantbert::train::cli
