//===- e2e_bench.cpp - End-to-end latency: LibTorch FP32 vs quant-bert -----===//
//
// Latency of BERT-base-shaped sequence classification (batch 1, seq 128 by
// default) for:
//   - LibTorch FP32, 12 layers (the training front end's
//     BertForSequenceClassification, eval mode, no autograd), with the
//     weights of --checkpoint (an FP32 Hugging Face checkpoint; random
//     weights without it), and
//   - every model compiled by quant-bert-compile and linked into this
//     program (their qbrt_model_descriptor symbols are listed by CMake in
//     QB_E2E_MODELS), run through libquantbert_rt.
// All models get the same token ids (ort_runner.js makes the same ones)
// and run round-robin, one call each per round, so that a slow phase of the
// shared machine hits every model alike. Writes one CSV line per model:
//   model,layers,median_ms,p10_ms,p90_ms,runs,param_bytes
// (param_bytes only for LibTorch: FP32 parameters; quant-bert's sizes come
// from quant-bert-compile's summary, see bench/e2e/run), preceded with
// --samples by one line per call: sample,MODEL,MS.
//
//   e2e-bench [--runs 30] [--warmup 3] [--threads 2] [--torch-threads N]
//             [--seq 128] [--batch 1] [--checkpoint DIR] [--samples]
//             [--no-torch | --no-compiled] [--logits-out FILE]
//
// --no-torch leaves LibTorch out, --no-compiled the compiled models (and
// the runtime's thread pool): bench/e2e/sweep.py times them in separate
// processes, since LibTorch's OpenBLAS threads stay busy for a while after
// its calls and slow whatever runs next in the same process.
// --threads is the compiled models' (the runtime context's);
// --torch-threads LibTorch's intra-op threads (default: --threads). With
// OpenBLAS, LibTorch's matrix products use every core whatever
// --torch-threads says; on the 2-core machine one thread is as fast as two
// under OMP_WAIT_POLICY=passive and far faster without it
// (docs/results/e2e.md). --logits-out writes every model's logits of the
// first sequence, one line each ("NAME v0 v1 ...").
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Checkpoint.h"

#include <quantbert/runtime.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace quantbert;
using namespace quantbert::train;

extern "C" {
#define QB_E2E_MODEL(name) extern const qbrt_model_descriptor name##_descriptor;
QB_E2E_MODELS
#undef QB_E2E_MODEL
}

namespace {

struct Candidate {
  std::string name;
  int64_t layers = 0;
  int64_t paramBytes = 0;
  std::function<void()> run;
  /// The first sequence's logits after the last run.
  std::function<std::vector<float>()> logits;
  std::vector<double> millis;
};

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "e2e-bench: error: %s\n", message.c_str());
  std::exit(1);
}

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  double position = q * double(values.size() - 1);
  size_t lower = size_t(position);
  size_t upper = std::min(lower + 1, values.size() - 1);
  return values[lower] + (position - double(lower)) * (values[upper] - values[lower]);
}

struct Options {
  int64_t runs = 30, warmup = 3, threads = 2, torchThreads = -1;
  int64_t seq = 128, batch = 1;
  bool samples = false, withTorch = true, withCompiled = true;
  std::string checkpoint, logitsOut;
};

Options parseOptions(int argc, char **argv) {
  Options o;
  const std::pair<const char *, int64_t *> numbers[] = {
      {"--runs", &o.runs},       {"--warmup", &o.warmup},
      {"--threads", &o.threads}, {"--torch-threads", &o.torchThreads},
      {"--seq", &o.seq},         {"--batch", &o.batch}};
  const std::pair<const char *, std::string *> texts[] = {
      {"--checkpoint", &o.checkpoint}, {"--logits-out", &o.logitsOut}};
  const std::pair<const char *, bool *> flags[] = {
      {"--samples", &o.samples},
      {"--no-torch", &o.withTorch},
      {"--no-compiled", &o.withCompiled}};
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    auto flag = std::find_if(std::begin(flags), std::end(flags),
                             [&](auto &f) { return key == f.first; });
    if (flag != std::end(flags)) {
      // --samples turns on, --no-* turns off.
      *flag->second = key == "--samples";
      continue;
    }
    if (i + 1 >= argc)
      fail("option '" + key + "' needs a value");
    std::string value = argv[++i];
    auto number = std::find_if(std::begin(numbers), std::end(numbers),
                               [&](auto &n) { return key == n.first; });
    auto text = std::find_if(std::begin(texts), std::end(texts),
                             [&](auto &t) { return key == t.first; });
    if (number != std::end(numbers)) {
      char *end = nullptr;
      *number->second = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end)
        fail(key + " takes a whole number, not '" + value + "'");
    } else if (text != std::end(texts)) {
      *text->second = value;
    } else {
      fail("unknown option '" + key + "'");
    }
  }
  if (o.torchThreads == -1)
    o.torchThreads = o.threads;
  if (!o.withTorch && !o.withCompiled)
    fail("--no-torch and --no-compiled leave nothing to run");
  if (o.runs < 1 || o.warmup < 0 || o.threads < 1 || o.torchThreads < 1 ||
      o.seq < 1 || o.seq > 512 || o.batch < 1)
    fail("--runs, --threads, --torch-threads, --batch and --seq (<= 512) "
         "must be positive");
  return o;
}

} // namespace

int main(int argc, char **argv) {
  const Options options = parseOptions(argc, argv);
  const int64_t runs = options.runs, warmup = options.warmup;
  const int64_t seq = options.seq, batch = options.batch;
  const std::string &checkpoint = options.checkpoint;
  torch::set_num_threads(options.torchThreads);
  torch::manual_seed(0);

  // The same token ids for every model and every sequence of the batch; no
  // padding.
  int64_t tokens = batch * seq;
  std::vector<int32_t> ids(tokens), types(tokens, 0), mask(tokens, 1);
  uint32_t state = 12345;
  for (int64_t i = 0; i < seq; ++i) {
    state = state * 1664525u + 1013904223u;
    ids[i] = int32_t(1000 + state % 29000);
  }
  for (int64_t b = 1; b < batch; ++b)
    std::copy(ids.begin(), ids.begin() + seq, ids.begin() + b * seq);
  torch::Tensor idsTensor = torch::from_blob(ids.data(), {batch, seq},
                                             torch::kInt32)
                                .to(torch::kInt64);
  EncoderInputs inputs{idsTensor, torch::zeros({batch, seq}, torch::kInt64),
                       torch::ones({batch, seq}, torch::kInt64)};

  std::vector<Candidate> candidates;
  std::vector<BertForSequenceClassification> torchModels;
  if (options.withTorch) {
    // BERT-base shapes; the checkpoint's weights, or random ones (latency
    // does not depend on them).
    BertConfig config;
    config.numLabels = 2;
    config.architectures = {"BertForSequenceClassification"};
    if (!checkpoint.empty()) {
      Expected<BertConfig> loaded = loadCheckpointConfig(checkpoint);
      if (!loaded)
        fail(checkpoint + ": " + loaded.message());
      config = *loaded;
    }
    BertForSequenceClassification model(config);
    initBertWeights(*model);
    if (!checkpoint.empty())
      if (Error err = loadCheckpointWeights(checkpoint, *model))
        fail(checkpoint + ": " + err.message());
    model->eval();
    torchModels.push_back(model);
    int64_t params = 0;
    for (const torch::Tensor &p : model->parameters())
      params += p.numel();
    auto last = std::make_shared<torch::Tensor>();
    Candidate candidate;
    candidate.name = "libtorch-fp32-" + std::to_string(config.numHiddenLayers);
    candidate.layers = config.numHiddenLayers;
    candidate.paramBytes = params * 4;
    candidate.run = [model, &inputs, last]() mutable {
      torch::NoGradGuard noGrad;
      *last = model->forward(inputs);
      (void)last->data_ptr<float>();
    };
    candidate.logits = [last] {
      torch::Tensor row = (*last)[0].contiguous();
      return std::vector<float>(row.data_ptr<float>(),
                                row.data_ptr<float>() + row.numel());
    };
    candidates.push_back(std::move(candidate));
  }

  // Without the compiled models, no runtime context (and no thread pool).
  qbrt_context *ctx = nullptr;
  if (options.withCompiled &&
      qbrt_context_create(options.threads, &ctx) != QB_OK)
    fail("qbrt_context_create failed");
  std::vector<qbrt_model *> compiled;
  std::deque<std::vector<float>> outputs; // stable addresses
  auto addCompiled = [&](const qbrt_model_descriptor &descriptor) {
    qbrt_model *model = nullptr;
    if (qbrt_model_create(ctx, &descriptor, &model) != QB_OK)
      fail(std::string(descriptor.name) + ": " + qbrt_last_error(ctx));
    compiled.push_back(model);
    std::vector<float> &out =
        outputs.emplace_back(batch * descriptor.num_labels);
    int64_t labels = descriptor.num_labels;
    Candidate candidate;
    candidate.name = descriptor.name;
    candidate.run = [&, model, name = std::string(descriptor.name)] {
      if (qbrt_model_run(model, ids.data(), types.data(), mask.data(), batch,
                         seq, out.data()) != QB_OK)
        fail(name + ": " + qbrt_last_error(ctx));
    };
    candidate.logits = [&out, labels] {
      return std::vector<float>(out.begin(), out.begin() + labels);
    };
    candidates.push_back(std::move(candidate));
  };
  if (options.withCompiled) {
#define QB_E2E_MODEL(name) addCompiled(name##_descriptor);
    QB_E2E_MODELS
#undef QB_E2E_MODEL
  }

  for (int round = 0; round < warmup + runs; ++round)
    for (Candidate &candidate : candidates) {
      auto start = std::chrono::steady_clock::now();
      candidate.run();
      std::chrono::duration<double, std::milli> elapsed =
          std::chrono::steady_clock::now() - start;
      if (round < warmup)
        continue;
      candidate.millis.push_back(elapsed.count());
      if (options.samples)
        std::printf("sample,%s,%.3f\n", candidate.name.c_str(),
                    elapsed.count());
    }

  std::printf("model,layers,median_ms,p10_ms,p90_ms,runs,param_bytes\n");
  for (const Candidate &candidate : candidates)
    std::printf("%s,%lld,%.3f,%.3f,%.3f,%d,%lld\n", candidate.name.c_str(),
                (long long)candidate.layers, percentile(candidate.millis, 0.5),
                percentile(candidate.millis, 0.1),
                percentile(candidate.millis, 0.9), (int)runs,
                (long long)candidate.paramBytes);
  if (!options.logitsOut.empty()) {
    FILE *file = std::fopen(options.logitsOut.c_str(), "w");
    if (!file)
      fail("cannot write " + options.logitsOut);
    for (const Candidate &candidate : candidates) {
      std::fprintf(file, "%s", candidate.name.c_str());
      for (float v : candidate.logits())
        std::fprintf(file, " %.9g", v);
      std::fprintf(file, "\n");
    }
    std::fclose(file);
  }
  for (qbrt_model *model : compiled)
    qbrt_model_destroy(model);
  qbrt_context_destroy(ctx);
  return 0;
}
