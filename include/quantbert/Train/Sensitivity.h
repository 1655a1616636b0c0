//===- Sensitivity.h - Per-module quantization sensitivity -------*- C++ -*-===//
//
// Measures how much each encoder module of a fine-tuned
// BertForSequenceClassification suffers from quantization, the input of a
// mixed-precision assignment (SensiMix's sensitivity study; HAWQ's Hessian
// trace). For every layer and module (attention: query, key, value and
// attention.output.dense; ffn: intermediate.dense and output.dense) and every
// candidate precision, the module's linear weights alone are quantized and
// dequantized in place with the shared scalar quantizers (WeightQuantizers.h),
// the mean dev-set cross-entropy is measured, and the weights are restored:
// the sensitivity is that loss minus the unquantized one. int8 and ternary
// are weight-only (their deployed int8 inputs add little); binary measures
// the deployed 1-bit module, whose linears also binarize their inputs
// (sign), unless binaryInputs is off. Optionally, Hutchinson's
// estimator gives the trace of the loss Hessian with respect to each
// module's weights. The result is a sensitivity.json (docs/formats.md).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_SENSITIVITY_H
#define QUANTBERT_TRAIN_SENSITIVITY_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/SensitivityReport.h"
#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Data.h"

#include <torch/torch.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace quantbert::train {

/// `weight` quantized to `precision` and dequantized back to FP32, per
/// tensor: i8 symmetric int8 (Q8BERT, scale max|W|/127), ternary TWN
/// (TernaryBERT), binary mean|W| * sign(W) (BWN, sign(0) = -1 as
/// BitPacking.h), f16 and bf16 by rounding. f32 returns a copy.
torch::Tensor quantizeDequantize(const torch::Tensor &weight,
                                 Precision precision);

/// Hutchinson's trace estimator (Avron & Toledo; HAWQ-V2): for each of
/// `samples` Rademacher vectors v over all tensors of all groups, adds
/// v_g . (H v)_g to the estimate of group g, where H is the Hessian of `loss`
/// with respect to the concatenated tensors and H v comes from double
/// backpropagation. E[v_g . (H v)_g] = tr(H_gg), the trace of group g's
/// diagonal block. Returns one mean per group. `loss` must have been computed
/// with gradients through every tensor of `groups`.
std::vector<double>
hutchinsonTraces(const torch::Tensor &loss,
                 const std::vector<std::vector<torch::Tensor>> &groups,
                 int64_t samples, at::Generator generator);

struct SensitivityOptions {
  /// The candidate precisions, each measured for every module.
  std::vector<Precision> precisions = {Precision::I8, Precision::Ternary,
                                       Precision::Binary};
  /// binary: the module's linears also run on sign inputs, as the deployed
  /// 1-bit linear does (false: weights alone, the measure before 7 Dec
  /// 2026, which misses most of a 1-bit attention's loss).
  bool binaryInputs = true;
  /// Rademacher samples per dev batch for the Hessian traces (0: none).
  int64_t hessianSamples = 0;
  int64_t batchSize = 32;
  int64_t maxSeqLength = 128;
  /// Seeds the Rademacher vectors.
  uint64_t seed = 42;
  /// One progress line per module (null: quiet).
  std::ostream *log = nullptr;
};

/// The parameter counts of sensitivity.json: embeddings (`bert.embeddings.`,
/// with its LayerNorm), encoder (`bert.encoder.`), head (everything else:
/// pooler and classifier).
ParameterCounts countParameters(BertForSequenceClassification &model);

/// Measures every (layer, module) of `model` on `dev` (model in eval mode;
/// its weights are restored bit for bit afterwards).
Expected<SensitivityReport>
measureSensitivity(BertForSequenceClassification &model,
                   const Tokenizer &tokenizer, const TextDataset &dev,
                   const SensitivityOptions &options);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_SENSITIVITY_H
