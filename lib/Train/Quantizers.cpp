//===- Quantizers.cpp - Fake quantizers with STE gradients ----------------===//
//
// Each quantizer is a torch::autograd::Function whose forward computes the
// quantized value (no graph is recorded inside a Function's forward) and
// whose backward passes the incoming gradient through the estimator of
// Quantizers.h. The quantization parameters (scales, thresholds) are
// functions of the detached latent tensor: as in Q8BERT, TernaryBERT and
// SensiMix, no gradient flows through them.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Quantizers.h"

#include "quantbert/Support/BitPacking.h"

#include <cmath>

namespace quantbert::train {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void saveSte(AutogradContext *ctx, const torch::Tensor &x, int64_t kind,
             double clip) {
  ctx->save_for_backward({x});
  ctx->saved_data["ste"] = kind;
  ctx->saved_data["clip"] = clip;
}

/// The straight-through estimate of d loss / d x from d loss / d x^.
torch::Tensor steGradient(AutogradContext *ctx, const torch::Tensor &grad) {
  torch::Tensor x = ctx->get_saved_variables()[0];
  double clip = ctx->saved_data["clip"].toDouble();
  switch (SteKind(ctx->saved_data["ste"].toInt())) {
  case SteKind::Identity:
    return grad;
  case SteKind::Clipped:
    return grad * (x.abs() <= clip).to(grad.scalar_type());
  case SteKind::Hardtanh:
    return grad * (x.abs() < 1.0).to(grad.scalar_type());
  }
  return grad;
}

/// `w` reduced to [rows, 1] (per row) or [] (per tensor) by `reduce`.
template <typename Reduce>
torch::Tensor reduceRows(const torch::Tensor &w, Granularity granularity,
                         Reduce reduce) {
  if (granularity == Granularity::PerRow)
    return reduce(w.reshape({w.size(0), -1}), /*perRow=*/true);
  return reduce(w, /*perRow=*/false);
}

torch::Tensor meanAbs(const torch::Tensor &w, Granularity granularity) {
  return reduceRows(w.abs(), granularity, [](const torch::Tensor &a, bool row) {
    return row ? a.mean(1, /*keepdim=*/true) : a.mean();
  });
}

/// +1 where x > 0, else -1 (0 and NaN give -1, BitPacking.h).
torch::Tensor signOf(const torch::Tensor &x) {
  return torch::where(x > 0, torch::ones_like(x), -torch::ones_like(x));
}

/// A positive scale: zero (all-zero tensor or row) becomes 1.
torch::Tensor positiveOrOne(const torch::Tensor &scale) {
  return torch::where(scale > 0, scale, torch::ones_like(scale));
}

struct SymmetricFunction : torch::autograd::Function<SymmetricFunction> {
  static torch::Tensor forward(AutogradContext *ctx, torch::Tensor x,
                               torch::Tensor scale, int64_t maxCode,
                               int64_t ste, double clip) {
    saveSte(ctx, x, ste, clip);
    // Division by the f32 scale, then half-to-even rounding: the operations
    // of quantizeToInt8.
    return torch::round(x / scale).clamp(-double(maxCode), double(maxCode)) *
           scale;
  }
  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    return {steGradient(ctx, grads[0]), {}, {}, {}, {}};
  }
};

struct AsymmetricIndexFunction
    : torch::autograd::Function<AsymmetricIndexFunction> {
  static torch::Tensor forward(AutogradContext *ctx, torch::Tensor w,
                               int64_t ste, double clip) {
    saveSte(ctx, w, ste, clip);
    torch::Tensor lo = w.min(), hi = w.max();
    torch::Tensor scale =
        torch::where(hi > lo, (hi - lo) / 255.0, torch::ones_like(lo));
    // quantizeToInt8(w, scale, -128, lo), then dequantizeInt8.
    torch::Tensor codes =
        (torch::round((w - lo) / scale) - 128.0).clamp(-128, 127);
    return (codes + 128.0) * scale + lo;
  }
  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    return {steGradient(ctx, grads[0]), {}, {}};
  }
};

struct TwnFunction : torch::autograd::Function<TwnFunction> {
  static torch::Tensor forward(AutogradContext *ctx, torch::Tensor w,
                               bool perRow, int64_t ste, double clip) {
    saveSte(ctx, w, ste, clip);
    Granularity granularity =
        perRow ? Granularity::PerRow : Granularity::PerTensor;
    torch::Tensor clipped = w.clamp(-kTwnClip, kTwnClip);
    torch::Tensor magnitude = clipped.abs();
    torch::Tensor threshold = meanAbs(clipped, granularity) * 0.7;
    torch::Tensor kept = (magnitude > threshold).to(w.scalar_type());
    auto sum = [&](const torch::Tensor &t) {
      return reduceRows(t, granularity, [](const torch::Tensor &a, bool row) {
        return row ? a.sum(1, /*keepdim=*/true) : a.sum();
      });
    };
    torch::Tensor count = sum(kept);
    // alpha = mean of |W| over |W| > D; no kept element: codes all 0, scale 1.
    torch::Tensor alpha = torch::where(count > 0, sum(magnitude * kept) / count,
                                       torch::ones_like(count));
    return alpha * signOf(clipped) * kept;
  }
  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    return {steGradient(ctx, grads[0]), {}, {}, {}};
  }
};

struct SignFunction : torch::autograd::Function<SignFunction> {
  static torch::Tensor forward(AutogradContext *ctx, torch::Tensor x,
                               bool meanScale, bool perRow, int64_t ste,
                               double clip) {
    saveSte(ctx, x, ste, clip);
    torch::Tensor sign = signOf(x);
    if (!meanScale)
      return sign;
    return sign * positiveOrOne(meanAbs(x, perRow ? Granularity::PerRow
                                                  : Granularity::PerTensor));
  }
  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    return {steGradient(ctx, grads[0]), {}, {}, {}, {}};
  }
};

int64_t steKind(Ste ste) { return static_cast<int64_t>(ste.kind); }

} // namespace

int64_t symmetricMaxCode(int64_t bits) {
  TORCH_CHECK(bits >= 2 && bits <= 16,
              "symmetric quantization needs 2 to 16 "
              "bits, got ",
              bits);
  return (int64_t{1} << (bits - 1)) - 1;
}

torch::Tensor symmetricWeightScale(const torch::Tensor &w, int64_t bits,
                                   Granularity granularity) {
  torch::NoGradGuard noGrad;
  double maxCode = double(symmetricMaxCode(bits));
  torch::Tensor maxAbs = reduceRows(
      w.detach().abs(), granularity, [](const torch::Tensor &a, bool row) {
        return row ? a.amax(1, /*keepdim=*/true) : a.max();
      });
  return positiveOrOne(maxAbs / maxCode);
}

torch::Tensor fakeQuantSymmetric(const torch::Tensor &x,
                                 const torch::Tensor &scale, int64_t bits,
                                 Ste ste) {
  return SymmetricFunction::apply(x, scale.detach(), symmetricMaxCode(bits),
                                  steKind(ste), ste.clip);
}

torch::Tensor fakeQuantSymmetricWeight(const torch::Tensor &w, int64_t bits,
                                       Granularity granularity, Ste ste) {
  return fakeQuantSymmetric(w, symmetricWeightScale(w, bits, granularity), bits,
                            ste);
}

torch::Tensor fakeQuantAsymmetricIndex(const torch::Tensor &w, Ste ste) {
  return AsymmetricIndexFunction::apply(w, steKind(ste), ste.clip);
}

torch::Tensor fakeQuantTwn(const torch::Tensor &w, Granularity granularity,
                           Ste ste) {
  return TwnFunction::apply(w, granularity == Granularity::PerRow, steKind(ste),
                            ste.clip);
}

torch::Tensor binarizeSign(const torch::Tensor &x, Ste ste) {
  return SignFunction::apply(x, /*meanScale=*/false, /*perRow=*/false,
                             steKind(ste), ste.clip);
}

torch::Tensor binaryBlockKeep(const torch::Tensor &w) {
  torch::NoGradGuard noGrad;
  TORCH_CHECK(w.dim() == 2, "binaryBlockKeep: expected a 2-d weight, got ",
              w.dim(), " dimensions");
  int64_t rows = w.size(0), cols = w.size(1);
  int64_t blockRows = binaryBlockRowCount(rows), words = packedWordCount(cols);
  torch::Tensor nonzero = torch::constant_pad_nd(
      w.detach().ne(0).to(torch::kFloat32),
      {0, words * kBitsPerPackedWord - cols, 0, blockRows * kBinaryBlockRows - rows});
  torch::Tensor blocks =
      nonzero.view({blockRows, kBinaryBlockRows, words, kBitsPerPackedWord})
          .amax({1, 3});
  if (blocks.min().item<float>() > 0)
    return {};
  return blocks.repeat_interleave(kBinaryBlockRows, 0)
      .repeat_interleave(kBitsPerPackedWord, 1)
      .slice(0, 0, rows)
      .slice(1, 0, cols)
      .to(w.dtype());
}

torch::Tensor binarizeMeanScale(const torch::Tensor &w, Granularity granularity,
                                Ste ste) {
  return SignFunction::apply(w, /*meanScale=*/true,
                             granularity == Granularity::PerRow, steKind(ste),
                             ste.clip);
}

void updateEmaRange(
    torch::Tensor &range, const torch::Tensor &x, double decay,
    const std::function<torch::Tensor(const torch::Tensor &)> &reduceMax) {
  torch::NoGradGuard noGrad;
  torch::Tensor batchMax = x.detach().abs().max().to(range.scalar_type());
  if (reduceMax)
    batchMax = reduceMax(batchMax);
  if (range.item<float>() < 0.0f)
    range.copy_(batchMax);
  else
    range.sub_((range - batchMax) * (1.0 - decay));
}

float inputScaleOfRange(float range) {
  return range > 0.0f ? range / 127.0f : 1.0f;
}

float dynamicRowScale(const float *row, int64_t count) {
  float maxAbs = 0.0f;
  for (int64_t i = 0; i < count; ++i)
    maxAbs = std::fmax(maxAbs, std::fabs(row[i]));
  return inputScaleOfRange(maxAbs);
}

torch::Tensor fakeQuantRows(const torch::Tensor &x) {
  // Each row's scale as qb.quantize_rows computes it: max|x| / 127 (NaN
  // ignored, 1 for a zero row).
  torch::Tensor maxAbs =
      torch::nan_to_num(x.detach().abs(), 0.0).amax(-1, /*keepdim=*/true);
  torch::Tensor scale =
      torch::where(maxAbs > 0, maxAbs / 127.0f, torch::ones_like(maxAbs));
  return fakeQuantSymmetric(x, scale, 8);
}

} // namespace quantbert::train
