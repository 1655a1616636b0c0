//===- QuantizedLinear.cpp - Quantization-aware linears -------------------===//
//
// The two forwards of QuantLinear/QuantEmbedding, the deployed weight form
// built with the shared scalar quantizers (qat.json: QatSpec.cpp). The eval forward
// quantizes activations element by element with quantizeToInt8 itself and
// takes its codes from WeightQuantizers.h, so it is the compiler's
// arithmetic by construction rather than by a tensor-op imitation of it.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/QuantizedLinear.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Support/WeightQuantizers.h"

#include <cmath>
#include <cstring>

namespace quantbert::train {

//===----------------------------------------------------------------------===//
// QuantizedMatrix
//===----------------------------------------------------------------------===//

torch::Tensor QuantizedMatrix::dequantize() const {
  torch::Tensor values = torch::empty(codes.sizes(), torch::kFloat32);
  int64_t rows = codes.size(0), cols = codes.size(1);
  torch::Tensor codeValues = codes.contiguous();
  const int8_t *q = codeValues.data_ptr<int8_t>();
  torch::Tensor scaleValues = scale.contiguous();
  const float *scales = scaleValues.data_ptr<float>();
  bool perRow = scale.dim() == 1;
  torch::Tensor zeroPointValues =
      zeroPoint.defined() ? zeroPoint.to(torch::kInt32).contiguous()
                          : torch::zeros({}, torch::kInt32);
  const int32_t *zeroPoints = zeroPointValues.data_ptr<int32_t>();
  bool perRowZero = zeroPointValues.dim() == 1;
  float *out = values.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] =
          dequantizeInt8(q[r * cols + c], scales[perRow ? r : 0],
                         zeroPoints[perRowZero ? r : 0], offset);
  return values;
}

QuantizedMatrix quantizeMatrix(const torch::Tensor &weight, Quantizer quantizer,
                               Granularity granularity) {
  TORCH_CHECK(weight.dim() == 2, "quantizeMatrix: expected a 2-d weight, got ",
              weight.dim(), " dimensions");
  TORCH_CHECK(!(quantizer == Quantizer::AsymmetricIndex &&
                granularity == Granularity::PerRow),
              "quantizeMatrix: asymmetric-index is per tensor only");
  torch::Tensor w =
      weight.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  int64_t rows = w.size(0), cols = w.size(1);
  bool perRow = granularity == Granularity::PerRow;
  int64_t groups = perRow ? rows : 1, groupSize = perRow ? cols : rows * cols;

  QuantizedMatrix result;
  result.quantizer = quantizer;
  result.codes = torch::empty({rows, cols}, torch::kInt8);
  result.scale = perRow ? torch::empty({rows}, torch::kFloat32)
                        : torch::empty({}, torch::kFloat32);
  const float *data = w.data_ptr<float>();
  int8_t *codes = result.codes.data_ptr<int8_t>();
  float *scales = result.scale.data_ptr<float>();
  for (int64_t g = 0; g < groups; ++g) {
    const float *group = data + g * groupSize;
    int8_t *groupCodes = codes + g * groupSize;
    if (isBinaryQuantizer(quantizer)) {
      for (int64_t i = 0; i < groupSize; ++i)
        groupCodes[i] = static_cast<int8_t>(binarize(group[i]));
      scales[g] = quantizer == Quantizer::BinaryMeanScale
                      ? binaryMeanScale(group, groupSize)
                      : 1.0f;
      continue;
    }
    QuantizedWeight quantized = quantizer == Quantizer::SymmetricEma
                                    ? quantizeSymmetricInt8(group, groupSize)
                                : quantizer == Quantizer::Twn
                                    ? quantizeTernaryTwn(group, groupSize)
                                    : quantizeAsymmetricIndex(group, groupSize);
    std::memcpy(groupCodes, quantized.codes.data(), size_t(groupSize));
    scales[g] = quantized.scale;
    if (quantizer == Quantizer::AsymmetricIndex)
      result.zeroPoint = torch::scalar_tensor(quantized.zeroPoint, torch::kInt32);
    result.offset = quantized.offset;
  }
  // A pruned 1-bit sign weight: its all-zero 32 x 64 blocks are 0 codes,
  // as the training forward binarizes them (binaryBlockKeep).
  if (quantizer == Quantizer::BinarySign)
    if (torch::Tensor keep = binaryBlockKeep(w); keep.defined())
      result.codes.mul_(keep.to(torch::kInt8));
  return result;
}

//===----------------------------------------------------------------------===//
// DeployedWeight
//===----------------------------------------------------------------------===//

const torch::Tensor &DeployedWeight::Form::codesTransposed() {
  if (!codesTransposed_.defined())
    codesTransposed_ = matrix.codes.to(torch::kFloat32).t().contiguous();
  return codesTransposed_;
}

const torch::Tensor &DeployedWeight::Form::dequantized() {
  if (!dequantized_.defined())
    dequantized_ = matrix.dequantize();
  return dequantized_;
}

DeployedWeight::Form &DeployedWeight::get(const torch::Tensor &latent,
                                          Quantizer quantizer,
                                          Granularity granularity) {
  if (frozen_)
    return *form_;
  // An optimizer step or a load bumps the weight's version counter.
  int64_t version = int64_t(latent._version());
  if (!form_ || version != version_ || latent.data_ptr() != data_ ||
      quantizer != quantizer_ || granularity != granularity_) {
    form_.emplace(quantizeMatrix(latent, quantizer, granularity));
    version_ = version;
    data_ = latent.data_ptr();
    quantizer_ = quantizer;
    granularity_ = granularity;
  }
  return *form_;
}

void DeployedWeight::freeze(QuantizedMatrix matrix) {
  form_.emplace(std::move(matrix));
  frozen_ = true;
}

void DeployedWeight::reset() {
  form_.reset();
  frozen_ = false;
  version_ = -1;
  data_ = nullptr;
}

//===----------------------------------------------------------------------===//
// QuantLinear
//===----------------------------------------------------------------------===//

QuantLinearImpl::QuantLinearImpl(int64_t inFeatures, int64_t outFeatures,
                                 bool bias)
    : LinearImpl(torch::nn::LinearOptions(inFeatures, outFeatures).bias(bias)) {
  inputRange_ = register_buffer("input_range", torch::full({}, -1.0f));
}

void QuantLinearImpl::setRank(int64_t rank) {
  TORCH_CHECK(!down && !spec_ && rank > 0,
              "setRank needs a float linear that is not factorized");
  int64_t in = options.in_features(), out = options.out_features();
  down = register_module("down",
                         std::make_shared<QuantLinearImpl>(in, rank, false));
  down->to(weight.device(), weight.scalar_type());
  torch::NoGradGuard noGrad;
  weight.set_data(torch::empty({out, rank}, weight.options()));
  options.in_features(rank);
}

void QuantLinearImpl::setSpec(std::optional<LinearQuantSpec> spec) {
  bool sameInput = spec_ && spec && spec_->input == spec->input;
  spec_ = spec;
  deployed_.reset();
  frozenInputScale_.reset();
  if (!sameInput)
    setInputRange(-1.0f);
}

bool QuantLinearImpl::inputCalibrated() const {
  return frozenInputScale_ || inputRange() >= 0.0f;
}

float QuantLinearImpl::inputRange() const { return inputRange_.item<float>(); }

void QuantLinearImpl::setInputRange(float range) {
  torch::NoGradGuard noGrad;
  inputRange_.fill_(range);
}

float QuantLinearImpl::inputScale() const {
  if (frozenInputScale_)
    return *frozenInputScale_;
  TORCH_CHECK(inputRange() >= 0.0f,
              "an int8-input linear was never calibrated: its activation "
              "range is set by the first quantized training step");
  return inputScaleOfRange(inputRange());
}

DeployedWeight::Form &QuantLinearImpl::deployedWeight() {
  TORCH_CHECK(spec_, "deployedWeight: the linear has no quantization spec");
  return deployed_.get(weight, spec_->weight, spec_->granularity);
}

void QuantLinearImpl::freeze(QuantizedMatrix matrix,
                             std::optional<float> inputScale) {
  deployed_.freeze(std::move(matrix));
  frozenInputScale_ = inputScale;
}

torch::Tensor QuantLinearImpl::forward(const torch::Tensor &input) {
  if (down)
    return forwardFactor(down->forward(input));
  return forwardFactor(input);
}

torch::Tensor QuantLinearImpl::forwardFactor(const torch::Tensor &input) {
  if (inputObserver)
    inputObserver(input);
  if (!spec_)
    return LinearImpl::forward(input);
  return is_training() ? trainingForward(input) : deployedForward(input);
}

torch::Tensor QuantLinearImpl::trainingForward(const torch::Tensor &input) {
  torch::Tensor x = input;
  switch (spec_->input) {
  case InputQuant::Float:
    break;
  case InputQuant::Int8:
    // Q8BERT: update the EMA, then quantize with it.
    updateEmaRange(inputRange_, input, emaDecay, batchMaxReducer);
    x = fakeQuantSymmetric(
        input,
        torch::scalar_tensor(inputScaleOfRange(inputRange()), torch::kFloat32),
        8);
    break;
  case InputQuant::DynamicInt8:
    x = fakeQuantRows(input);
    break;
  case InputQuant::Sign:
    if (binarizeInputsInTraining)
      x = binarizeSign(input, Ste::identity());
    break;
  }
  torch::Tensor w = weight;
  switch (spec_->weight) {
  case Quantizer::SymmetricEma:
    w = fakeQuantSymmetricWeight(weight, 8, spec_->granularity);
    break;
  case Quantizer::AsymmetricIndex:
    w = fakeQuantAsymmetricIndex(weight);
    break;
  case Quantizer::Twn:
    w = fakeQuantTwn(weight, spec_->granularity);
    break;
  case Quantizer::BinarySign:
    if (binarizeWeightsInTraining) {
      w = binarizeSign(weight, Ste::hardtanh());
      // Pruned blocks (MagnitudePruner) are zeros, not signs.
      if (torch::Tensor keep = binaryBlockKeep(weight); keep.defined())
        w = w * keep;
    }
    break;
  case Quantizer::BinaryMeanScale:
    if (binarizeWeightsInTraining)
      w = binarizeMeanScale(weight, spec_->granularity);
    break;
  }
  return torch::nn::functional::linear(x, w, bias);
}

/// The exact integer product codes x codesT (both float32 holding int8
/// values, magnitude <= 128), as float64. float32 represents every integer
/// up to 2^24 exactly, and 512 * 128 * 128 = 2^23, so an sgemm over 512 columns
/// has no rounding in any partial sum whatever its summation order or FMA
/// use; the 512-column blocks are summed in float64 (exact below 2^53).
/// Faster than one float64 GEMM and bit-identical to it.
static torch::Tensor exactIntegerMatmul(const torch::Tensor &codes,
                                        const torch::Tensor &codesT) {
  constexpr int64_t kBlock = 512;
  int64_t k = codes.size(-1);
  torch::Tensor acc;
  for (int64_t begin = 0; begin < k; begin += kBlock) {
    int64_t size = std::min(kBlock, k - begin);
    torch::Tensor part =
        torch::matmul(codes.narrow(-1, begin, size),
                      codesT.narrow(0, begin, size))
            .to(torch::kFloat64);
    acc = acc.defined() ? acc.add_(part) : part;
  }
  return acc;
}

torch::Tensor QuantLinearImpl::deployedForward(const torch::Tensor &input) {
  DeployedWeight::Form &form = deployedWeight();
  const QuantizedMatrix &matrix = form.matrix;
  switch (spec_->input) {
  case InputQuant::Float:
    return torch::nn::functional::linear(input, form.dequantized(), bias);
  case InputQuant::Int8:
  case InputQuant::DynamicInt8: {
    torch::Tensor x = input.detach().to(torch::kFloat32).contiguous();
    int64_t k = x.size(-1), rows = x.numel() / std::max<int64_t>(k, 1);
    // One scale for all rows (static) or each row's own (dynamic).
    torch::Tensor rowScales = torch::empty({rows}, torch::kFloat32);
    float *scales = rowScales.data_ptr<float>();
    const float *in = x.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r)
      scales[r] = spec_->input == InputQuant::Int8
                      ? inputScale()
                      : dynamicRowScale(in + r * k, k);
    torch::Tensor codes = torch::empty(x.sizes(), torch::kFloat32);
    float *out = codes.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < k; ++i)
        out[r * k + i] = float(quantizeToInt8(in[r * k + i], scales[r], 0));
    torch::Tensor acc = exactIntegerMatmul(codes, form.codesTransposed());
    std::vector<int64_t> rowShape(x.sizes().begin(), x.sizes().end());
    rowShape.back() = 1;
    torch::Tensor y = acc * (rowScales.to(torch::kFloat64).reshape(rowShape) *
                             matrix.scale.to(torch::kFloat64));
    if (bias.defined())
      y = y + bias.detach().to(torch::kFloat64);
    return y.to(torch::kFloat32);
  }
  case InputQuant::Sign: {
    // x > 0 is +1, anything else (0, NaN) -1: BitPacking.h's binarize.
    // |dot| <= K: exact in float32 for any K below 2^24.
    torch::Tensor signs = (input.detach() > 0).to(torch::kFloat32) * 2.0 - 1.0;
    torch::Tensor dot = torch::matmul(signs, form.codesTransposed());
    torch::Tensor y = dot * matrix.scale;
    if (bias.defined())
      y = y + bias.detach();
    return y;
  }
  }
  return input;
}

//===----------------------------------------------------------------------===//
// QuantEmbedding
//===----------------------------------------------------------------------===//

void QuantEmbeddingImpl::setSpec(std::optional<EmbeddingQuantSpec> spec) {
  spec_ = spec;
  deployed_.reset();
}

DeployedWeight::Form &QuantEmbeddingImpl::deployedWeight() {
  TORCH_CHECK(spec_, "deployedWeight: the embedding has no quantization spec");
  return deployed_.get(weight, spec_->weight, spec_->granularity);
}

void QuantEmbeddingImpl::freeze(QuantizedMatrix matrix) {
  deployed_.freeze(std::move(matrix));
}

torch::Tensor QuantEmbeddingImpl::forward(const torch::Tensor &indices) {
  if (!spec_)
    return EmbeddingImpl::forward(indices);
  if (!is_training())
    return torch::embedding(deployedWeight().dequantized(), indices);
  torch::Tensor table;
  switch (spec_->weight) {
  case Quantizer::SymmetricEma:
    table = fakeQuantSymmetricWeight(weight, 8, spec_->granularity);
    break;
  case Quantizer::AsymmetricIndex:
    table = fakeQuantAsymmetricIndex(weight);
    break;
  case Quantizer::Twn:
    table = fakeQuantTwn(weight, spec_->granularity);
    break;
  case Quantizer::BinarySign:
    table = binarizeSign(weight, Ste::hardtanh());
    break;
  case Quantizer::BinaryMeanScale:
    table = binarizeMeanScale(weight, spec_->granularity);
    break;
  }
  // The padding row keeps its zero gradient, as in the float embedding.
  return torch::embedding(table, indices, options.padding_idx().value_or(-1));
}

Error applyQatSpec(torch::nn::Module &model, const QatSpec &spec) {
  if (Error err = spec.validate())
    return err;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  for (const auto &item : model.named_modules())
    modules[item.key()] = item.value();
  auto find = [&](const std::string &name) -> torch::nn::Module * {
    auto it = modules.find(name);
    return it == modules.end() ? nullptr : it->second.get();
  };
  for (const auto &[name, linear] : spec.linears) {
    torch::nn::Module *module = find(name);
    if (!module)
      return Error::failure("qat spec: linears: no module '" + name +
                            "' in the model");
    if (!dynamic_cast<QuantLinearImpl *>(module))
      return Error::failure("qat spec: linears: module '" + name +
                            "' is not a linear");
  }
  for (const auto &[name, embedding] : spec.embeddings) {
    torch::nn::Module *module = find(name);
    if (!module)
      return Error::failure("qat spec: embeddings: no module '" + name +
                            "' in the model");
    if (!dynamic_cast<QuantEmbeddingImpl *>(module))
      return Error::failure("qat spec: embeddings: module '" + name +
                            "' is not an embedding");
  }
  for (const auto &[name, module] : modules) {
    if (auto *linear = dynamic_cast<QuantLinearImpl *>(module.get())) {
      auto it = spec.linears.find(name);
      linear->setSpec(it == spec.linears.end()
                          ? std::nullopt
                          : std::optional<LinearQuantSpec>(it->second));
      linear->setInputRange(-1.0f);
      if (auto range = spec.inputRanges.find(name);
          range != spec.inputRanges.end())
        linear->setInputRange(range->second);
    } else if (auto *embedding =
                   dynamic_cast<QuantEmbeddingImpl *>(module.get())) {
      auto it = spec.embeddings.find(name);
      embedding->setSpec(it == spec.embeddings.end()
                             ? std::nullopt
                             : std::optional<EmbeddingQuantSpec>(it->second));
    }
  }
  return Error::success();
}

QatSpec qatSpecOf(torch::nn::Module &model, const std::string &recipe) {
  QatSpec spec;
  spec.recipe = recipe;
  for (const auto &item : model.named_modules()) {
    if (auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get())) {
      if (!linear->spec())
        continue;
      spec.linears[item.key()] = *linear->spec();
      if (linear->spec()->input == InputQuant::Int8 &&
          linear->inputRange() >= 0.0f)
        spec.inputRanges[item.key()] = linear->inputRange();
    } else if (auto *embedding =
                   dynamic_cast<QuantEmbeddingImpl *>(item.value().get())) {
      if (embedding->spec())
        spec.embeddings[item.key()] = *embedding->spec();
    }
  }
  return spec;
}

Error checkCalibrated(torch::nn::Module &model) {
  for (const auto &item : model.named_modules())
    if (auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get()))
      if (linear->spec() && linear->spec()->input == InputQuant::Int8 &&
          !linear->inputCalibrated())
        return Error::failure(
            "linear '" + item.key() +
            "' quantizes its inputs to int8 but its activation range was "
            "never calibrated (no quantized training step ran)");
  return Error::success();
}

} // namespace quantbert::train
