//===- Quantizers.h - Fake quantizers with STE gradients --------*- C++ -*-===//
//
// The quantizers of quantization-aware training, as LibTorch autograd
// functions on a latent FP32 tensor: the forward returns the quantized-and-
// dequantized value, the backward a straight-through estimate of the
// gradient (Bengio et al. 2013):
//
//   symmetric k-bit (Q8BERT)     scale = t / (2^(k-1) - 1),
//                                x^ = clamp(round(x / scale), +-qmax) * scale
//                                with qmax = 2^(k-1) - 1; weights: t = max|W|
//                                (live); activations: t = EMA of the batch
//                                max|x| (updateEmaRange)
//   asymmetric 8-bit "index"     SensiMix's per-tensor min/max format
//   TWN ternary (TernaryBERT)    clip to +-2.5, D = 0.7 mean|W|, a = mean of
//                                |W| over |W| > D, W^ = a sign(W) [|W| > D]
//   binary, no scale (SensiMix)  +1 if x > 0 else -1
//   binary, mean scale (BWN)     mean|W| * sign(W)
//
// Every formula is the one of quantbert/Support/WeightQuantizers.h and
// Quantization.h, which the compiler and the export use, written with tensor
// ops: the symmetric form divides by the f32 scale (not Q8BERT's multiply by
// 127/t) and rounds half to even as quantizeToInt8 does, so a training
// forward produces exactly the codes quantizeToInt8 gives; sign(0) is -1 as
// in BitPacking.h. The mean reductions of TWN and BWN may round differently
// in their last bit from the scalar versions; that only touches training's
// fake quantization, since eval and export call the scalar functions
// themselves (QuantizedLinear.h).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_QUANTIZERS_H
#define QUANTBERT_TRAIN_QUANTIZERS_H

#include <torch/torch.h>

#include <functional>

#include <cstdint>

namespace quantbert::train {

/// The gradient a quantizer passes to its latent input.
enum class SteKind : int64_t {
  /// d x^ / d x = 1.
  Identity,
  /// 1 inside [-clip, clip], 0 outside (TWN's clipped identity).
  Clipped,
  /// 1 where |x| < 1 (the hardtanh STE of binarized weights).
  Hardtanh,
};

/// A straight-through estimator: its kind and, for Clipped, the clip.
struct Ste {
  SteKind kind = SteKind::Identity;
  double clip = 0.0;

  static Ste identity() { return {SteKind::Identity, 0.0}; }
  static Ste clipped(double clip) { return {SteKind::Clipped, clip}; }
  static Ste hardtanh() { return {SteKind::Hardtanh, 1.0}; }
};

/// Whether a weight's quantization parameters are shared by the whole
/// tensor or computed per row (per output channel of a linear, per token of
/// an embedding table).
enum class Granularity { PerTensor, PerRow };

/// TWN's clip of the latent weights (TernaryBERT).
inline constexpr double kTwnClip = 2.5;
/// Q8BERT's EMA decay of activation ranges.
inline constexpr double kEmaDecay = 0.9999;

/// 2^(bits-1) - 1, the largest symmetric code.
int64_t symmetricMaxCode(int64_t bits);

/// The symmetric scale of `w` [rows, cols]: max|W| / (2^(bits-1) - 1) per
/// tensor (shape []) or per row (shape [rows, 1]); an all-zero tensor or row
/// gets scale 1, as quantizeSymmetricInt8 does.
torch::Tensor symmetricWeightScale(const torch::Tensor &w, int64_t bits,
                                   Granularity granularity);

/// clamp(round_half_even(x / scale), -qmax, qmax) * scale with
/// qmax = 2^(bits-1) - 1; `scale` broadcasts against x and is not
/// differentiated.
torch::Tensor fakeQuantSymmetric(const torch::Tensor &x,
                                 const torch::Tensor &scale, int64_t bits,
                                 Ste ste = Ste::identity());

/// Q8BERT's weight quantizer: fakeQuantSymmetric with the live max|W|.
torch::Tensor fakeQuantSymmetricWeight(const torch::Tensor &w, int64_t bits,
                                       Granularity granularity,
                                       Ste ste = Ste::identity());

/// SensiMix's 8-bit index format, quantized and dequantized (per tensor):
/// q = round((W - min) / scale) - 128 with scale = (max - min) / 255, and
/// W^ = (q + 128) * scale + min (quantizeAsymmetricIndex, dequantizeInt8).
torch::Tensor fakeQuantAsymmetricIndex(const torch::Tensor &w,
                                       Ste ste = Ste::identity());

/// TWN ternarization (quantizeTernaryTwn) per tensor or per row.
torch::Tensor fakeQuantTwn(const torch::Tensor &w, Granularity granularity,
                           Ste ste = Ste::clipped(kTwnClip));

/// +1 where x > 0, else -1 (BitPacking.h's binarize). SensiMix's weights use
/// the hardtanh STE, its binarized FFN inputs the identity.
torch::Tensor binarizeSign(const torch::Tensor &x, Ste ste);

/// A pruned 1-bit weight's kept values: 1 in the blocks of 32 rows x 64
/// columns (qb.binary_linear's block_mask) that hold a nonzero value, 0 in
/// the all-zero ones, `w`'s shape and dtype; undefined when no block is all
/// zero (a dense weight). Binarizing a pruned weight multiplies the signs by
/// it, so its zero blocks stay zeros (MagnitudePruner, export, compiler).
torch::Tensor binaryBlockKeep(const torch::Tensor &w);

/// BWN: mean|W| * sign(W), the mean per tensor or per row
/// (binaryMeanScale; an all-zero tensor or row gets scale 1).
torch::Tensor binarizeMeanScale(const torch::Tensor &w, Granularity granularity,
                                Ste ste = Ste::identity());

/// Q8BERT's activation range: on the first call (range < 0, "never
/// calibrated") range = max|x|, afterwards
/// range <- range - (1 - decay) * (range - max|x|). `range` is a float
/// scalar tensor updated in place; no gradient flows.
/// `reduceMax`, when given, maps the batch's max|x| first (data-parallel
/// training: to the max over the ranks).
void updateEmaRange(
    torch::Tensor &range, const torch::Tensor &x, double decay = kEmaDecay,
    const std::function<torch::Tensor(const torch::Tensor &)> &reduceMax = {});

/// The static int8 input scale of an activation range: range / 127 in f32,
/// or 1 for a zero range (a positive scale, as every quantizer gives).
float inputScaleOfRange(float range);

/// Dynamic quantization's scale of one row of `count` values: max|x| / 127
/// in f32 (NaN ignored), 1 for an all-zero row (qb.quantize_rows).
float dynamicRowScale(const float *row, int64_t count);

/// Dynamic int8 fake quantization: each row (last dimension) of `x` with
/// its own scale, dynamicRowScale; identity gradient.
torch::Tensor fakeQuantRows(const torch::Tensor &x);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_QUANTIZERS_H
