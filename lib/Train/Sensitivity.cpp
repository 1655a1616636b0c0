//===- Sensitivity.cpp - Per-module quantization sensitivity --------------===//
//
// The measurements of Sensitivity.h. Modules are found by their checkpoint
// names (`bert.encoder.layer.N.attention.self.query.weight`, ...), so the
// measurement does not depend on how the model's linears are implemented.
// The dev set is tokenized once; each (module, precision) costs one pass
// over it without gradients, each Hessian sample one double backward per
// batch.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Sensitivity.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Support/WeightQuantizers.h"
#include "quantbert/Train/QuantizedLinear.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>

namespace quantbert::train {

namespace F = torch::nn::functional;

torch::Tensor quantizeDequantize(const torch::Tensor &weight,
                                 Precision precision) {
  torch::Tensor w = weight.detach().to(torch::kFloat32).contiguous().clone();
  switch (precision) {
  case Precision::F32:
    return w;
  case Precision::F16:
    return w.to(torch::kFloat16).to(torch::kFloat32);
  case Precision::BF16:
    return w.to(torch::kBFloat16).to(torch::kFloat32);
  case Precision::I8:
  case Precision::Ternary:
  case Precision::Binary:
    break;
  }
  const float *data = w.data_ptr<float>();
  int64_t n = w.numel();
  torch::Tensor result = torch::empty_like(w);
  float *out = result.data_ptr<float>();
  if (precision == Precision::Binary) {
    float scale = binaryMeanScale(data, n);
    for (int64_t i = 0; i < n; ++i)
      out[i] = scale * binarize(data[i]);
    return result;
  }
  QuantizedWeight q = precision == Precision::I8
                          ? quantizeSymmetricInt8(data, n)
                          : quantizeTernaryTwn(data, n);
  for (int64_t i = 0; i < n; ++i)
    out[i] = dequantizeInt8(q.codes[i], q.scale, q.zeroPoint, q.offset);
  return result;
}

std::vector<double>
hutchinsonTraces(const torch::Tensor &loss,
                 const std::vector<std::vector<torch::Tensor>> &groups,
                 int64_t samples, at::Generator generator) {
  std::vector<torch::Tensor> tensors;
  std::vector<size_t> groupOf;
  for (size_t g = 0; g < groups.size(); ++g)
    for (const torch::Tensor &tensor : groups[g]) {
      tensors.push_back(tensor);
      groupOf.push_back(g);
    }
  std::vector<double> traces(groups.size(), 0.0);
  if (samples <= 0 || tensors.empty())
    return traces;
  std::vector<torch::Tensor> grads = torch::autograd::grad(
      {loss}, tensors, {}, /*retain_graph=*/true, /*create_graph=*/true,
      /*allow_unused=*/true);
  // A gradient that does not depend on the tensors (a loss linear in them)
  // has a zero Hessian block: it is left out of the second backward.
  std::vector<size_t> curved;
  std::vector<torch::Tensor> curvedGrads;
  for (size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined() && grads[i].requires_grad()) {
      curved.push_back(i);
      curvedGrads.push_back(grads[i]);
    }
  if (curved.empty())
    return traces;
  for (int64_t s = 0; s < samples; ++s) {
    std::vector<torch::Tensor> v;
    for (const torch::Tensor &tensor : tensors)
      v.push_back(torch::randint(0, 2, tensor.sizes(), generator,
                                 tensor.options().requires_grad(false)) *
                      2 -
                  1);
    std::vector<torch::Tensor> curvedV;
    for (size_t i : curved)
      curvedV.push_back(v[i]);
    // H v = d(g . v)/dw, v held constant.
    std::vector<torch::Tensor> hv = torch::autograd::grad(
        curvedGrads, tensors, curvedV, /*retain_graph=*/true,
        /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < tensors.size(); ++i)
      if (hv[i].defined())
        traces[groupOf[i]] += (v[i] * hv[i]).sum().item<double>();
  }
  for (double &trace : traces)
    trace /= double(samples);
  return traces;
}

ParameterCounts countParameters(BertForSequenceClassification &model) {
  ParameterCounts counts;
  for (const auto &item : model->named_parameters()) {
    const std::string &name = item.key();
    int64_t n = item.value().numel();
    if (name.rfind("bert.embeddings.", 0) == 0)
      counts.embeddings += n;
    else if (name.rfind("bert.encoder.", 0) == 0)
      counts.encoder += n;
    else
      counts.head += n;
  }
  counts.total = counts.embeddings + counts.encoder + counts.head;
  return counts;
}

namespace {

/// The linears of each module, by their names under `bert.encoder.layer.N.`.
const std::vector<std::string> &moduleLinears(BertModule module) {
  static const std::vector<std::string> attention = {
      "attention.self.query", "attention.self.key", "attention.self.value",
      "attention.output.dense"};
  static const std::vector<std::string> ffn = {"intermediate.dense",
                                               "output.dense"};
  return module == BertModule::Attention ? attention : ffn;
}

/// One measured module: its place and its linears' weights (the model's own
/// parameter tensors, modified in place).
struct ModuleWeights {
  int64_t layer = 0;
  BertModule module = BertModule::Attention;
  std::vector<torch::Tensor> weights;
  /// The linears (and low-rank down factors) the weights belong to.
  std::vector<QuantLinearImpl *> linears;
};

/// A tokenized dev batch.
struct DevBatch {
  EncoderInputs inputs;
  torch::Tensor labels;
};

} // namespace

Expected<SensitivityReport>
measureSensitivity(BertForSequenceClassification &model,
                   const Tokenizer &tokenizer, const TextDataset &dev,
                   const SensitivityOptions &options) {
  if (dev.examples.empty())
    return Error::failure("sensitivity: the dev set is empty");
  if (options.precisions.empty())
    return Error::failure("sensitivity: no precision to measure");
  if (options.batchSize <= 0)
    return Error::failure("sensitivity: batch size must be positive");

  auto parameters = model->named_parameters();
  auto submodules = model->named_modules();
  std::vector<ModuleWeights> modules;
  int64_t numLayers = 0;
  while (parameters.contains("bert.encoder.layer." +
                             std::to_string(numLayers) +
                             ".attention.self.query.weight"))
    ++numLayers;
  for (int64_t layer = 0; layer < numLayers; ++layer)
    for (BertModule kind : {BertModule::Attention, BertModule::Ffn}) {
      ModuleWeights module{layer, kind, {}, {}};
      for (const std::string &linear : moduleLinears(kind)) {
        std::string name = "bert.encoder.layer." + std::to_string(layer) +
                           "." + linear + ".weight";
        if (!parameters.contains(name))
          return Error::failure("sensitivity: the model has no parameter '" +
                                name + "'");
        module.weights.push_back(parameters[name]);
        // A low-rank factorized linear: its down factor is quantized too.
        std::string down = "bert.encoder.layer." + std::to_string(layer) +
                           "." + linear + ".down.weight";
        if (parameters.contains(down))
          module.weights.push_back(parameters[down]);
        std::string path =
            "bert.encoder.layer." + std::to_string(layer) + "." + linear;
        auto *quantLinear = submodules.contains(path)
                                ? submodules[path]->as<QuantLinearImpl>()
                                : nullptr;
        if (!quantLinear)
          return Error::failure("sensitivity: the model has no linear '" +
                                path + "'");
        if (quantLinear->spec())
          return Error::failure("sensitivity: '" + path +
                                "' is quantized; measure the float model");
        module.linears.push_back(quantLinear);
        if (quantLinear->down)
          module.linears.push_back(quantLinear->down.get());
      }
      modules.push_back(std::move(module));
    }
  if (modules.empty())
    return Error::failure("sensitivity: the model has no encoder layers");

  std::vector<DevBatch> batches;
  for (size_t start = 0; start < dev.examples.size();
       start += size_t(options.batchSize)) {
    std::vector<const TextExample *> batch;
    std::vector<int64_t> labels;
    for (size_t i = start; i < std::min(dev.examples.size(),
                                        start + size_t(options.batchSize));
         ++i) {
      batch.push_back(&dev.examples[i]);
      labels.push_back(dev.examples[i].label);
    }
    Expected<EncoderInputs> inputs =
        tokenizer.encode(batch, options.maxSeqLength);
    if (!inputs)
      return inputs.error();
    batches.push_back({std::move(*inputs), torch::tensor(labels)});
  }
  double numExamples = double(dev.examples.size());
  model->eval();
  // The mean cross-entropy over the dev set.
  auto devLoss = [&] {
    torch::NoGradGuard noGrad;
    double sum = 0.0;
    for (const DevBatch &batch : batches)
      sum += F::cross_entropy(model->forward(batch.inputs), batch.labels,
                              F::CrossEntropyFuncOptions().reduction(torch::kSum))
                 .item<double>();
    return sum / numExamples;
  };

  SensitivityReport report;
  report.baselineLoss = devLoss();
  report.parameterCounts = countParameters(model);
  if (options.log)
    *options.log << "sensitivity: " << dev.examples.size()
                 << " dev examples, baseline loss " << report.baselineLoss
                 << "\n";
  for (ModuleWeights &module : modules) {
    ModuleSensitivity entry;
    entry.layer = module.layer;
    entry.module = module.module;
    std::vector<torch::Tensor> saved;
    for (const torch::Tensor &weight : module.weights) {
      entry.params += weight.numel();
      saved.push_back(weight.detach().clone());
    }
    for (Precision precision : options.precisions) {
      if (precision == Precision::Binary && options.binaryInputs) {
        // The deployed 1-bit module: mean-scaled sign weights on sign
        // inputs (the eval forward of the spec), the weights untouched.
        for (QuantLinearImpl *linear : module.linears)
          linear->setSpec(LinearQuantSpec{Quantizer::BinaryMeanScale,
                                          Granularity::PerTensor,
                                          InputQuant::Sign});
        entry.sensitivity[precision] = devLoss() - report.baselineLoss;
        for (QuantLinearImpl *linear : module.linears)
          linear->setSpec(std::nullopt);
        continue;
      }
      {
        torch::NoGradGuard noGrad;
        for (size_t i = 0; i < saved.size(); ++i)
          module.weights[i].copy_(quantizeDequantize(saved[i], precision));
      }
      entry.sensitivity[precision] = devLoss() - report.baselineLoss;
      torch::NoGradGuard noGrad;
      for (size_t i = 0; i < saved.size(); ++i)
        module.weights[i].copy_(saved[i]);
    }
    if (options.log) {
      *options.log << "sensitivity: layer " << entry.layer << " "
                   << bertModuleName(entry.module) << " (" << entry.params
                   << " weights):";
      for (const auto &[precision, increase] : entry.sensitivity) {
        char value[32];
        std::snprintf(value, sizeof(value), "%+.6f", increase);
        *options.log << " " << precisionName(precision) << " " << value;
      }
      *options.log << "\n" << std::flush;
    }
    report.modules.push_back(std::move(entry));
  }

  if (options.hessianSamples > 0) {
    std::vector<std::vector<torch::Tensor>> groups;
    for (const ModuleWeights &module : modules)
      groups.push_back(module.weights);
    at::Generator generator =
        at::make_generator<at::CPUGeneratorImpl>(options.seed);
    std::vector<double> traces(groups.size(), 0.0);
    for (size_t b = 0; b < batches.size(); ++b) {
      // Each batch's share of the mean loss, so the traces are those of the
      // mean dev-set cross-entropy the sensitivities use.
      torch::Tensor loss =
          F::cross_entropy(model->forward(batches[b].inputs),
                           batches[b].labels,
                           F::CrossEntropyFuncOptions().reduction(torch::kSum)) /
          numExamples;
      std::vector<double> batchTraces =
          hutchinsonTraces(loss, groups, options.hessianSamples, generator);
      for (size_t g = 0; g < groups.size(); ++g)
        traces[g] += batchTraces[g];
      if (options.log)
        *options.log << "sensitivity: Hessian traces, batch " << b + 1 << "/"
                     << batches.size() << "\n"
                     << std::flush;
    }
    for (size_t g = 0; g < groups.size(); ++g)
      report.modules[g].hessianTrace = traces[g];
  }
  if (Error err = report.validate())
    return err;
  return report;
}

} // namespace quantbert::train
