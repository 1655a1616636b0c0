//===- e2e_bench.cpp - End-to-end latency: LibTorch FP32 vs quant-bert -----===//
//
// Median latency of one BERT-base-shaped sequence classification (batch 1,
// seq 128 by default) for:
//   - LibTorch FP32, 12 and 9 layers (the training front end's
//     BertForSequenceClassification, eval mode, no autograd), and
//   - every model compiled by quant-bert-compile and linked into this
//     program (their qbrt_model_descriptor symbols are listed by CMake in
//     QB_E2E_MODELS), run through libquantbert_rt.
// All models get the same random token ids and run round-robin, one call
// each per round, so that a slow phase of the shared machine hits every
// model alike. Writes one CSV line per model:
//   model,layers,median_ms,p10_ms,p90_ms,runs,param_bytes
// (param_bytes only for LibTorch: FP32 parameters; quant-bert's sizes come
// from quant-bert-compile's summary, see bench/e2e/run).
//
//   e2e-bench [--runs 30] [--warmup 3] [--threads 2] [--torch-threads N]
//             [--seq 128]
//
// --threads is the compiled models' (the runtime context's);
// --torch-threads LibTorch's intra-op threads (default: --threads). With
// OpenBLAS, LibTorch's matrix products use every core whatever
// --torch-threads says; on the 2-core machine one thread is as fast as two
// under OMP_WAIT_POLICY=passive and far faster without it
// (docs/results/e2e.md).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/BertModel.h"

#include <quantbert/runtime.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

} // namespace

int main(int argc, char **argv) {
  int runs = 30, warmup = 3, threads = 2, torchThreads = -1;
  int64_t seq = 128;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (i + 1 >= argc)
      fail("option '" + key + "' needs a value");
    int value = std::atoi(argv[++i]);
    if (key == "--runs")
      runs = value;
    else if (key == "--warmup")
      warmup = value;
    else if (key == "--threads")
      threads = value;
    else if (key == "--torch-threads")
      torchThreads = value;
    else if (key == "--seq")
      seq = value;
    else
      fail("unknown option '" + key + "'");
  }
  if (torchThreads == -1)
    torchThreads = threads;
  if (runs < 1 || warmup < 0 || threads < 1 || torchThreads < 1 || seq < 1 ||
      seq > 512)
    fail("--runs, --threads, --torch-threads and --seq (<= 512) must be "
         "positive");

  torch::set_num_threads(torchThreads);
  torch::manual_seed(0);
  // BERT-base shapes; random weights (latency does not depend on them).
  BertConfig base;
  base.numLabels = 2;
  base.architectures = {"BertForSequenceClassification"};

  // The same random token ids for every model; no padding.
  std::vector<int32_t> ids(seq), types(seq, 0), mask(seq, 1);
  uint32_t state = 12345;
  for (int32_t &id : ids) {
    state = state * 1664525u + 1013904223u;
    id = int32_t(1000 + state % 29000);
  }
  torch::Tensor idsTensor =
      torch::from_blob(ids.data(), {1, seq}, torch::kInt32).to(torch::kInt64);
  EncoderInputs inputs{idsTensor, torch::zeros({1, seq}, torch::kInt64),
                       torch::ones({1, seq}, torch::kInt64)};

  std::vector<Candidate> candidates;
  std::vector<BertForSequenceClassification> torchModels;
  for (int64_t layers : {12, 9}) {
    BertConfig config = base;
    config.numHiddenLayers = layers;
    BertForSequenceClassification model(config);
    initBertWeights(*model);
    model->eval();
    torchModels.push_back(model);
    int64_t params = 0;
    for (const torch::Tensor &p : model->parameters())
      params += p.numel();
    Candidate candidate;
    candidate.name = "libtorch-fp32-" + std::to_string(layers);
    candidate.layers = layers;
    candidate.paramBytes = params * 4;
    candidate.run = [model, &inputs]() mutable {
      torch::NoGradGuard noGrad;
      torch::Tensor logits = model->forward(inputs);
      (void)logits.data_ptr<float>();
    };
    candidates.push_back(std::move(candidate));
  }

  qbrt_context *ctx = nullptr;
  if (qbrt_context_create(threads, &ctx) != QB_OK)
    fail("qbrt_context_create failed");
  std::vector<qbrt_model *> compiled;
  std::vector<float> logits(2);
  auto addCompiled = [&](const qbrt_model_descriptor &descriptor) {
    qbrt_model *model = nullptr;
    if (qbrt_model_create(ctx, &descriptor, &model) != QB_OK)
      fail(std::string(descriptor.name) + ": " + qbrt_last_error(ctx));
    compiled.push_back(model);
    if (int64_t(logits.size()) < descriptor.num_labels)
      logits.resize(descriptor.num_labels);
    Candidate candidate;
    candidate.name = descriptor.name;
    candidate.run = [&, model, name = std::string(descriptor.name)] {
      if (qbrt_model_run(model, ids.data(), types.data(), mask.data(), 1, seq,
                         logits.data()) != QB_OK)
        fail(name + ": " + qbrt_last_error(ctx));
    };
    candidates.push_back(std::move(candidate));
  };
#define QB_E2E_MODEL(name) addCompiled(name##_descriptor);
  QB_E2E_MODELS
#undef QB_E2E_MODEL

  for (int round = 0; round < warmup + runs; ++round)
    for (Candidate &candidate : candidates) {
      auto start = std::chrono::steady_clock::now();
      candidate.run();
      std::chrono::duration<double, std::milli> elapsed =
          std::chrono::steady_clock::now() - start;
      if (round >= warmup)
        candidate.millis.push_back(elapsed.count());
    }

  std::printf("model,layers,median_ms,p10_ms,p90_ms,runs,param_bytes\n");
  for (const Candidate &candidate : candidates)
    std::printf("%s,%lld,%.3f,%.3f,%.3f,%d,%lld\n", candidate.name.c_str(),
                (long long)candidate.layers, percentile(candidate.millis, 0.5),
                percentile(candidate.millis, 0.1),
                percentile(candidate.millis, 0.9), runs,
                (long long)candidate.paramBytes);
  for (qbrt_model *model : compiled)
    qbrt_model_destroy(model);
  qbrt_context_destroy(ctx);
  return 0;
}
