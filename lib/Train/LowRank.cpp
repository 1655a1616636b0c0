//===- LowRank.cpp - Low-rank factorization of encoder linears ------------===//
//
// Truncated SVD, the three rank policies, and the factorization of a
// model's linears in place (LowRank.h).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/LowRank.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace quantbert::train {

SvdFactors truncatedSvd(const torch::Tensor &weight, int64_t rank) {
  TORCH_CHECK(weight.dim() == 2 && rank > 0 &&
                  rank <= std::min(weight.size(0), weight.size(1)),
              "truncatedSvd: rank ", rank, " of a ", weight.sizes(), " matrix");
  auto [u, s, vh] = torch::linalg::svd(weight.to(torch::kFloat64), false, c10::nullopt);
  torch::Tensor root = s.narrow(0, 0, rank).sqrt();
  SvdFactors factors;
  factors.up = (u.narrow(1, 0, rank) * root.unsqueeze(0))
                   .to(weight.scalar_type())
                   .contiguous();
  factors.down = (root.unsqueeze(1) * vh.narrow(0, 0, rank))
                     .to(weight.scalar_type())
                     .contiguous();
  factors.singularValues = s;
  return factors;
}

int64_t largestUsefulRank(int64_t out, int64_t in) {
  return (in * out - 1) / (in + out);
}

Expected<std::map<std::string, int64_t>>
chooseRanks(const std::map<std::string, Spectrum> &spectra,
            const RankPolicy &policy) {
  int set = int(policy.energy.has_value()) + int(policy.rank.has_value()) +
            int(policy.budget.has_value());
  if (set != 1)
    return Error::failure("low-rank: choose ranks by exactly one of energy, "
                          "rank and budget");
  if (policy.energy && !(*policy.energy > 0 && *policy.energy <= 1))
    return Error::failure("low-rank: the energy must lie in (0, 1], got " +
                          std::to_string(*policy.energy));
  if (policy.rank && *policy.rank <= 0)
    return Error::failure("low-rank: the rank must be positive, got " +
                          std::to_string(*policy.rank));
  if (policy.budget && !(*policy.budget > 0 && *policy.budget < 1))
    return Error::failure("low-rank: the budget must lie in (0, 1), got " +
                          std::to_string(*policy.budget));

  std::map<std::string, int64_t> ranks;
  auto useful = [](const Spectrum &s, int64_t rank) {
    return rank <= largestUsefulRank(s.out, s.in) ? rank : 0;
  };
  if (policy.energy || policy.rank) {
    for (const auto &[module, s] : spectra) {
      int64_t rank = 0;
      if (policy.rank) {
        rank = std::min<int64_t>(*policy.rank, int64_t(s.values.size()));
      } else {
        double total = 0, kept = 0;
        for (double v : s.values)
          total += v * v;
        while (rank < int64_t(s.values.size()) &&
               (rank == 0 || kept < *policy.energy * total)) {
          kept += s.values[size_t(rank)] * s.values[size_t(rank)];
          ++rank;
        }
      }
      ranks[module] = useful(s, rank);
    }
    return ranks;
  }

  // Budget: every linear starts at rank 1, then the singular value with
  // the most energy per weight anywhere is added while the budget allows
  // (a linear stops at its largest useful rank).
  // A linear too small for any useful rank stays whole, outside the budget.
  double allowed = 0, used = 0;
  for (const auto &[module, s] : spectra) {
    if (largestUsefulRank(s.out, s.in) < 1 || s.values.empty()) {
      ranks[module] = 0;
      continue;
    }
    allowed += *policy.budget * double(s.in * s.out);
    used += double(s.in + s.out);
    ranks[module] = 1;
  }
  if (used > allowed)
    return Error::failure("low-rank: a budget of " +
                          std::to_string(*policy.budget) +
                          " is below rank 1 for every linear");
  struct Candidate {
    double gain;
    const std::string *module;
    bool operator<(const Candidate &other) const { return gain < other.gain; }
  };
  std::priority_queue<Candidate> queue;
  auto push = [&](const std::string &module) {
    const Spectrum &s = spectra.at(module);
    int64_t next = ranks[module];
    if (next < int64_t(s.values.size()) &&
        next + 1 <= largestUsefulRank(s.out, s.in))
      queue.push({s.values[size_t(next)] * s.values[size_t(next)] /
                      double(s.in + s.out),
                  &module});
  };
  for (const auto &item : spectra)
    if (ranks[item.first] > 0)
      push(item.first);
  while (!queue.empty()) {
    Candidate best = queue.top();
    queue.pop();
    const Spectrum &s = spectra.at(*best.module);
    if (used + double(s.in + s.out) > allowed)
      continue; // a narrower linear may still fit
    used += double(s.in + s.out);
    ++ranks[*best.module];
    push(*best.module);
  }
  for (auto &[module, rank] : ranks)
    rank = useful(spectra.at(module), rank);
  return ranks;
}

Expected<LowRankScope> parseLowRankScope(const std::string &name) {
  if (name == "ffn")
    return LowRankScope::Ffn;
  if (name == "attention")
    return LowRankScope::Attention;
  if (name == "all")
    return LowRankScope::All;
  return Error::failure("unknown linears '" + name +
                        "' (expected ffn, attention or all)");
}

Expected<std::vector<FactorizedLinear>>
factorizeModel(BertModel &bert, BertConfig &config, LowRankScope scope,
               const RankPolicy &policy) {
  std::map<std::string, QuantLinearImpl *> linears;
  for (int64_t layer = 0; layer < config.storedLayers(); ++layer) {
    auto &l = *bert->encoder->layer[size_t(layer)]->as<BertLayer>();
    std::string prefix = "bert.encoder.layer." + std::to_string(layer) + ".";
    if (scope != LowRankScope::Ffn) {
      linears[prefix + "attention.self.query"] = &*l.attention->self->query;
      linears[prefix + "attention.self.key"] = &*l.attention->self->key;
      linears[prefix + "attention.self.value"] = &*l.attention->self->value;
      linears[prefix + "attention.output.dense"] = &*l.attention->output->dense;
    }
    if (scope != LowRankScope::Attention) {
      linears[prefix + "intermediate.dense"] = &*l.intermediate->dense;
      linears[prefix + "output.dense"] = &*l.output->dense;
    }
  }
  std::map<std::string, Spectrum> spectra;
  for (const auto &[module, linear] : linears) {
    if (linear->spec())
      return Error::failure("low-rank: " + module +
                            " has a quantization spec: factorize the float "
                            "model, then quantize it");
    if (linear->down)
      return Error::failure("low-rank: " + module + " is already factorized");
    torch::NoGradGuard noGrad;
    torch::Tensor s = torch::linalg::svdvals(linear->weight.to(torch::kFloat64), c10::nullopt);
    Spectrum &spectrum = spectra[module];
    spectrum.out = linear->weight.size(0);
    spectrum.in = linear->weight.size(1);
    spectrum.values.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  }
  Expected<std::map<std::string, int64_t>> ranks = chooseRanks(spectra, policy);
  if (!ranks)
    return ranks.error();

  std::vector<FactorizedLinear> report;
  for (const auto &[module, linear] : linears) {
    FactorizedLinear entry;
    entry.module = module;
    entry.out = spectra[module].out;
    entry.in = spectra[module].in;
    entry.rank = ranks->at(module);
    if (entry.rank > 0) {
      torch::NoGradGuard noGrad;
      torch::Tensor weight = linear->weight.detach().clone();
      SvdFactors factors = truncatedSvd(weight, entry.rank);
      linear->weight.mutable_grad() = torch::Tensor();
      linear->setRank(entry.rank);
      linear->weight.set_data(factors.up);
      linear->down->weight.set_data(factors.down);
      entry.relativeError =
          ((weight.to(torch::kFloat64) -
            factors.up.to(torch::kFloat64).mm(factors.down.to(torch::kFloat64)))
               .norm() /
           weight.to(torch::kFloat64).norm())
              .item<double>();
      config.lowRank[module] = entry.rank;
    }
    report.push_back(entry);
  }
  return report;
}

} // namespace quantbert::train
