//===- PrecisionBudget.cpp - Precisions under a size budget ---------------===//

#include "quantbert/Support/PrecisionBudget.h"

#include <algorithm>
#include <limits>

namespace quantbert {

int64_t minimumBudgetBits(const std::vector<std::vector<BudgetOption>> &units,
                          int64_t fixedBits) {
  int64_t bits = fixedBits;
  for (const std::vector<BudgetOption> &options : units) {
    int64_t cheapest = std::numeric_limits<int64_t>::max();
    for (const BudgetOption &option : options)
      cheapest = std::min(cheapest, option.bits);
    if (!options.empty())
      bits += cheapest;
  }
  return bits;
}

std::optional<BudgetSolution>
solvePrecisionBudget(const std::vector<std::vector<BudgetOption>> &units,
                     int64_t fixedBits, int64_t budgetBits) {
  // minRemaining[i]: the smallest bits units i.. can take, to prune prefixes
  // that cannot finish within the budget.
  std::vector<int64_t> minRemaining(units.size() + 1, 0);
  for (size_t i = units.size(); i-- > 0;) {
    if (units[i].empty())
      return std::nullopt;
    int64_t cheapest = std::numeric_limits<int64_t>::max();
    for (const BudgetOption &option : units[i])
      cheapest = std::min(cheapest, option.bits);
    minRemaining[i] = minRemaining[i + 1] + cheapest;
  }
  if (fixedBits + minRemaining[0] > budgetBits)
    return std::nullopt;

  // After unit i, `frontier` holds every (bits, cost) prefix that no other
  // prefix beats on both, sorted by bits with strictly falling cost.
  std::vector<BudgetSolution> frontier(1);
  frontier.front().bits = fixedBits;
  for (size_t i = 0; i < units.size(); ++i) {
    std::vector<BudgetSolution> next;
    for (const BudgetSolution &prefix : frontier) {
      for (size_t pick = 0; pick < units[i].size(); ++pick) {
        const BudgetOption &option = units[i][pick];
        int64_t bits = prefix.bits + option.bits;
        if (bits + minRemaining[i + 1] > budgetBits)
          continue;
        BudgetSolution extended = prefix;
        extended.picks.push_back(pick);
        extended.bits = bits;
        extended.cost += option.cost;
        next.push_back(std::move(extended));
      }
    }
    std::sort(next.begin(), next.end(),
              [](const BudgetSolution &a, const BudgetSolution &b) {
                return a.bits != b.bits ? a.bits < b.bits : a.cost < b.cost;
              });
    frontier.clear();
    for (BudgetSolution &prefix : next)
      if (frontier.empty() || prefix.cost < frontier.back().cost)
        frontier.push_back(std::move(prefix));
  }
  // The least cost is the frontier's last entry; among equal costs it is the
  // smallest (a larger equal-cost prefix was dropped).
  return frontier.back();
}

} // namespace quantbert
