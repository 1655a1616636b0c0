//===- LowRank.h - Low-rank factorization of encoder linears -----*- C++ -*-===//
//
// quant-bert-train factorize (docs/training.md): a linear y = W x + b with
// W [out, in] becomes y = U (V x) + b, the truncated SVD W ~ U_r S_r V_r^T
// split as U = U_r S_r^(1/2) [out, r] and V = S_r^(1/2) V_r^T [r, in], so
// both factors have the same scale when each is quantized on its own. By
// Eckart-Young this is the best rank-r approximation in the Frobenius norm,
// with ||W - U V||_F^2 = sum_{i > r} s_i^2.
//
// The rank of each linear comes from one policy: an energy threshold (the
// smallest r keeping that fraction of sum s_i^2), a fixed rank, or a budget
// (a fraction of the chosen linears' weights that the factors may hold,
// spent greedily on the singular values with the most energy per parameter,
// s_i^2 / (in + out), over all linears at once). A rank at which the
// factors hold as many weights as W (r (in + out) >= in out) saves nothing:
// such a linear stays whole.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_LOWRANK_H
#define QUANTBERT_TRAIN_LOWRANK_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quantbert::train {

/// The factors of a truncated SVD.
struct SvdFactors {
  /// [out, rank] and [rank, in]: weight ~ up.mm(down).
  torch::Tensor up, down;
  /// Every singular value of the weight, descending (float64).
  torch::Tensor singularValues;
};

/// The rank-`rank` truncated SVD of `weight` [out, in] (computed in
/// float64; the factors in the weight's dtype). rank <= min(out, in).
SvdFactors truncatedSvd(const torch::Tensor &weight, int64_t rank);

/// The largest rank whose factors hold fewer weights than the matrix:
/// the largest r with r (in + out) < in out (0 if none).
int64_t largestUsefulRank(int64_t out, int64_t in);

/// How ranks are chosen; exactly one field is set.
struct RankPolicy {
  /// In (0, 1]: the smallest rank keeping this fraction of sum s_i^2.
  std::optional<double> energy;
  /// The same rank for every linear.
  std::optional<int64_t> rank;
  /// In (0, 1): the factors of all chosen linears together hold at most
  /// this fraction of their weights.
  std::optional<double> budget;
};

/// One linear's spectrum, for chooseRanks.
struct Spectrum {
  int64_t out = 0, in = 0;
  /// Descending singular values.
  std::vector<double> values;
};

/// The rank of each linear under `policy` (0: leave it whole, because the
/// rank would save nothing). Errors: no or several policy fields, or a
/// value out of range.
Expected<std::map<std::string, int64_t>>
chooseRanks(const std::map<std::string, Spectrum> &spectra,
            const RankPolicy &policy);

/// Which encoder linears to factorize.
enum class LowRankScope { Ffn, Attention, All };
/// "ffn", "attention", "all".
Expected<LowRankScope> parseLowRankScope(const std::string &name);

/// What factorizeModel did to one linear.
struct FactorizedLinear {
  std::string module;
  int64_t out = 0, in = 0, rank = 0;
  /// ||W - U V||_F / ||W||_F (0 when left whole).
  double relativeError = 0;
};

/// Factorizes the `scope` linears of `bert` by `policy`, recording each
/// rank in config.lowRank. Linears must be float and not yet factorized.
/// Returns one entry per linear in scope (rank 0: left whole).
Expected<std::vector<FactorizedLinear>>
factorizeModel(BertModel &bert, BertConfig &config, LowRankScope scope,
               const RankPolicy &policy);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_LOWRANK_H
