//===- PrecisionBudget.h - Precisions under a size budget --------*- C++ -*-===//
//
// The exact solver behind sensitivity-assigned precision: each unit (an
// encoder layer's attention or FFN) takes one of its options, an option
// costs storage bits and a measured sensitivity, and the solver minimises
// the summed sensitivity with the summed bits within a budget. Both
// qb-assign-precision (over a qb module) and quant-bert-train's
// `assign: budget` recipes (over sensitivity.json, before training) call it,
// so the compiler and the trainer make the same choice from the same data.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_PRECISIONBUDGET_H
#define QUANTBERT_SUPPORT_PRECISIONBUDGET_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace quantbert {

/// One precision a unit can take.
struct BudgetOption {
  /// Storage bits of the unit at this precision.
  int64_t bits = 0;
  /// Its measured sensitivity (loss increase; may be slightly negative).
  double cost = 0;
};

struct BudgetSolution {
  /// The chosen option index of each unit.
  std::vector<size_t> picks;
  /// fixedBits plus the chosen options' bits, and their summed cost.
  int64_t bits = 0;
  double cost = 0;
};

/// `fixedBits` plus each unit's smallest option: the smallest feasible size.
int64_t minimumBudgetBits(const std::vector<std::vector<BudgetOption>> &units,
                          int64_t fixedBits);

/// The assignment of least total cost with fixedBits + its bits <=
/// budgetBits, and among equal costs the smallest; nullopt when even
/// minimumBudgetBits exceeds the budget or a unit has no option. Exact: a
/// dynamic program over units keeping the Pareto frontier of (bits, cost)
/// prefixes (swapping in the prefix that dominates a dropped one never
/// makes a completion worse, so no optimum is lost).
std::optional<BudgetSolution>
solvePrecisionBudget(const std::vector<std::vector<BudgetOption>> &units,
                     int64_t fixedBits, int64_t budgetBits);

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_PRECISIONBUDGET_H
