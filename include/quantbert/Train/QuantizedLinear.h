//===- QuantizedLinear.h - Quantization-aware linears -----------*- C++ -*-===//
//
// The BERT model's linears and embedding tables are QuantLinear and
// QuantEmbedding: torch::nn::Linear and Embedding with the same parameters
// (so checkpoint names stay Hugging Face's) plus an optional spec saying how
// the module runs once deployed. Without a spec a module is the plain float
// one. With one:
//
//   - training forward: fake quantization with straight-through gradients
//     (Quantizers.h); int8 inputs update their EMA range first (Q8BERT);
//   - eval forward: exactly the compiler's numerics (docs/training.md),
//       i8 / ternary weights, int8 inputs (qb.quantize + qb.int8_linear):
//         q_x = quantizeToInt8(x, s_x) with the static s_x = range / 127,
//         acc = sum_k q_x[k] * q_w[n, k] exactly (float64 sums of integers
//         below 2^53), y = (double(s_x) * s_w[n]) * acc + b[n], rounded to
//         f32 (the scalar reference of qb.int8_linear); dynamic int8 inputs
//         the same with each row's s_x = max|x_row| / 127 (1 for a zero
//         row), qb.quantize_rows;
//       binary weights, sign inputs (qb.bitpack + qb.binary_linear):
//         dot = the exact +-1 dot product (K - 2 popcount),
//         y = f32(dot) * scale[n] + b[n] in f32;
//       asymmetric-index weights (storage only): the weights dequantized
//         with dequantizeInt8, then a float linear;
//     with the weight codes and scales from WeightQuantizers.h, computed
//     once per weight version (or frozen, for an imported bundle).
//
// A QuantLinear can also be low-rank factorized (setRank, LowRank.h): it
// then holds a child QuantLinear `down` (in -> rank, no bias) that runs
// first, and its own weight is the up factor (rank -> out) with the bias.
// Each factor has its own spec, so each is quantized on its own.
//
// LayerNorm, GELU, softmax and everything outside these modules stay f32.
// The specs, and QatSpec (a whole model's, saved as qat.json), are in
// QatSpec.h.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_QUANTIZEDLINEAR_H
#define QUANTBERT_TRAIN_QUANTIZEDLINEAR_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Train/QatSpec.h"
#include "quantbert/Train/Quantizers.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace quantbert::train {

/// A weight matrix in deployable form: what the eval forward computes with,
/// export writes and bundle import reads back.
struct QuantizedMatrix {
  Quantizer quantizer = Quantizer::SymmetricEma;
  /// int8 [rows, cols]: codes, in {-1, 0, 1} for twn, the +-1 signs for the
  /// binary quantizers.
  torch::Tensor codes;
  /// f32 [] (per tensor) or [rows] (per row); 1 for binary-sign.
  torch::Tensor scale;
  /// asymmetric-index only: int32 [] (per tensor) or [rows]; undefined
  /// means 0.
  torch::Tensor zeroPoint;
  float offset = 0.0f;

  /// The f32 values the codes stand for: dequantizeInt8 per element (which
  /// for the binary quantizers is sign * scale).
  torch::Tensor dequantize() const;
};

/// Quantizes `weight` [rows, cols] with the shared scalar quantizers
/// (WeightQuantizers.h), per tensor or applied row by row.
QuantizedMatrix quantizeMatrix(const torch::Tensor &weight, Quantizer quantizer,
                               Granularity granularity);

/// The deployed form of a weight plus what the eval forward derives from it,
/// recomputed only when the latent weight changes.
class DeployedWeight {
public:
  class Form {
  public:
    explicit Form(QuantizedMatrix matrix) : matrix(std::move(matrix)) {}

    QuantizedMatrix matrix;
    /// The codes as float32 [cols, rows], the integer matmul's right
    /// operand (built on first use: linears on int8 or sign inputs).
    const torch::Tensor &codesTransposed();
    /// matrix.dequantize() (built on first use: index-format linears and
    /// embedding tables).
    const torch::Tensor &dequantized();

  private:
    torch::Tensor codesTransposed_;
    torch::Tensor dequantized_;
  };

  /// The form of `latent` under (quantizer, granularity), or the frozen one.
  Form &get(const torch::Tensor &latent, Quantizer quantizer,
            Granularity granularity);
  /// Uses `matrix` from now on, whatever the latent weight.
  void freeze(QuantizedMatrix matrix);
  bool frozen() const { return frozen_; }
  void reset();

private:
  std::optional<Form> form_;
  bool frozen_ = false;
  int64_t version_ = -1;
  const void *data_ = nullptr;
  Quantizer quantizer_ = Quantizer::SymmetricEma;
  Granularity granularity_ = Granularity::PerTensor;
};

/// torch::nn::Linear with a deployed-quantization spec (see the top).
class QuantLinearImpl : public torch::nn::LinearImpl {
public:
  QuantLinearImpl(int64_t inFeatures, int64_t outFeatures, bool bias = true);

  /// down's forward first when factorized, then this linear's.
  torch::Tensor forward(const torch::Tensor &input);

  /// Factorizes this in -> out linear into `down` (in -> rank, registered
  /// as the child "down", no bias) and itself (rank -> out, keeping the
  /// bias); both weights are left uninitialized (initBertWeights or a
  /// checkpoint fills them). Needs a float linear that is not factorized.
  void setRank(int64_t rank);
  /// The rank, or 0 when not factorized.
  int64_t rank() const { return down ? options.in_features() : 0; }
  /// The number of inputs of the (possibly factorized) linear as a whole.
  int64_t inFeatures() const {
    return down ? down->options.in_features() : options.in_features();
  }
  /// The first factor when factorized, else null.
  std::shared_ptr<QuantLinearImpl> down;

  /// Sets the deployed quantization (nullopt: a float linear); forgets any
  /// frozen form and, when the spec changes, the activation range.
  void setSpec(std::optional<LinearQuantSpec> spec);
  const std::optional<LinearQuantSpec> &spec() const { return spec_; }

  /// SensiMix's training phases (Prioritized Training, Inverse Layer-wise
  /// Fine-tuning) for binary specs: when false, training keeps the inputs
  /// (weights) of this linear in f32. Eval always runs the deployed form.
  bool binarizeInputsInTraining = true;
  bool binarizeWeightsInTraining = true;
  /// Decay of the activation-range EMA.
  double emaDecay = kEmaDecay;
  /// When set, maps this rank's batch max|x| to the one every rank uses
  /// (data-parallel training: the max over the ranks) before the EMA
  /// update.
  std::function<torch::Tensor(const torch::Tensor &)> batchMaxReducer;
  /// Called with every input before the forward computes (post-training
  /// calibration collects activation statistics through it).
  std::function<void(const torch::Tensor &)> inputObserver;

  /// The EMA of the batch max|x| (buffer `input_range`, f32 []); negative
  /// until the first quantized training step.
  bool inputCalibrated() const;
  float inputRange() const;
  void setInputRange(float range);
  /// The static int8 input scale: the frozen one, else range / 127. Needs a
  /// calibrated range.
  float inputScale() const;

  /// The deployed weight (frozen, or quantized from `weight`); needs a spec.
  DeployedWeight::Form &deployedWeight();
  /// Fixes the deployed weight and input scale (bundle import): eval then
  /// ignores the latent `weight`.
  void freeze(QuantizedMatrix matrix, std::optional<float> inputScale);

private:
  /// This linear's own product (the up factor when factorized).
  torch::Tensor forwardFactor(const torch::Tensor &input);
  torch::Tensor trainingForward(const torch::Tensor &input);
  torch::Tensor deployedForward(const torch::Tensor &input);

  std::optional<LinearQuantSpec> spec_;
  torch::Tensor inputRange_;
  std::optional<float> frozenInputScale_;
  DeployedWeight deployed_;
};
TORCH_MODULE(QuantLinear);

/// torch::nn::Embedding with a deployed-quantization spec: training looks
/// tokens up in the fake-quantized table, eval in the dequantized one.
class QuantEmbeddingImpl : public torch::nn::EmbeddingImpl {
public:
  using EmbeddingImpl::EmbeddingImpl;

  torch::Tensor forward(const torch::Tensor &indices);

  void setSpec(std::optional<EmbeddingQuantSpec> spec);
  const std::optional<EmbeddingQuantSpec> &spec() const { return spec_; }
  DeployedWeight::Form &deployedWeight();
  void freeze(QuantizedMatrix matrix);

private:
  std::optional<EmbeddingQuantSpec> spec_;
  DeployedWeight deployed_;
};
TORCH_MODULE(QuantEmbedding);

/// Sets the spec (and range) of every module `spec` names; every other
/// QuantLinear/QuantEmbedding becomes float. Errors name a module that does
/// not exist or is not a linear / embedding.
Error applyQatSpec(torch::nn::Module &model, const QatSpec &spec);

/// The specs and calibrated ranges currently set on `model`.
QatSpec qatSpecOf(torch::nn::Module &model, const std::string &recipe);

/// Fails, naming the module, if an int8-input linear of `model` has neither
/// a calibrated range nor a frozen input scale (eval needs a static scale).
Error checkCalibrated(torch::nn::Module &model);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_QUANTIZEDLINEAR_H
