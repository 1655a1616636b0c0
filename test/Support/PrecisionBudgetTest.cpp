//===- PrecisionBudgetTest.cpp - The budget solver against brute force ----===//
//
// solvePrecisionBudget against exhaustive enumeration on random instances
// (costs include the slightly negative values measurement noise gives),
// hand-checked small cases, ties, and infeasible budgets.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/PrecisionBudget.h"

#include <gtest/gtest.h>

#include <random>

using namespace quantbert;

namespace {

using Units = std::vector<std::vector<BudgetOption>>;

/// The least cost within the budget by trying every assignment, or nullopt.
std::optional<double> bruteForce(const Units &units, int64_t fixedBits,
                                 int64_t budgetBits) {
  std::optional<double> best;
  std::vector<size_t> picks(units.size(), 0);
  while (true) {
    int64_t bits = fixedBits;
    double cost = 0;
    for (size_t i = 0; i < units.size(); ++i) {
      bits += units[i][picks[i]].bits;
      cost += units[i][picks[i]].cost;
    }
    if (bits <= budgetBits && (!best || cost < *best))
      best = cost;
    size_t i = 0;
    while (i < units.size() && ++picks[i] == units[i].size())
      picks[i++] = 0;
    if (i == units.size())
      return best;
  }
}

TEST(PrecisionBudgetTest, MatchesBruteForceOnRandomInstances) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> numUnits(1, 7), numOptions(1, 4);
  std::uniform_int_distribution<int64_t> bits(1, 40);
  std::uniform_real_distribution<double> cost(-0.01, 1.0);
  int feasible = 0;
  for (int trial = 0; trial < 500; ++trial) {
    Units units(numUnits(rng));
    for (auto &options : units) {
      options.resize(numOptions(rng));
      for (BudgetOption &option : options)
        option = {bits(rng), cost(rng)};
    }
    int64_t fixed = bits(rng);
    int64_t budget = fixed + std::uniform_int_distribution<int64_t>(
                                 0, 40 * int64_t(units.size()))(rng);
    std::optional<double> expected = bruteForce(units, fixed, budget);
    std::optional<BudgetSolution> got =
        solvePrecisionBudget(units, fixed, budget);
    ASSERT_EQ(got.has_value(), expected.has_value()) << "trial " << trial;
    if (!got) {
      EXPECT_GT(minimumBudgetBits(units, fixed), budget);
      continue;
    }
    ++feasible;
    EXPECT_NEAR(got->cost, *expected, 1e-12) << "trial " << trial;
    // The solution is what it says: its picks add up to its bits and cost.
    ASSERT_EQ(got->picks.size(), units.size());
    int64_t sumBits = fixed;
    double sumCost = 0;
    for (size_t i = 0; i < units.size(); ++i) {
      ASSERT_LT(got->picks[i], units[i].size());
      sumBits += units[i][got->picks[i]].bits;
      sumCost += units[i][got->picks[i]].cost;
    }
    EXPECT_EQ(got->bits, sumBits);
    EXPECT_LE(sumBits, budget);
    EXPECT_NEAR(got->cost, sumCost, 1e-12);
  }
  // The random budgets exercise both outcomes.
  EXPECT_GT(feasible, 100);
  EXPECT_LT(feasible, 500);
}

TEST(PrecisionBudgetTest, SpendsTheBudgetWhereSensitivityIsLowest) {
  // Three modules at 8 bits (cost 0) or 1 bit (their sensitivity); the
  // budget allows two 1-bit modules' savings: the two least sensitive go.
  Units units = {{{80, 0.0}, {10, 0.5}},
                 {{80, 0.0}, {10, 0.1}},
                 {{80, 0.0}, {10, 0.2}}};
  std::optional<BudgetSolution> got = solvePrecisionBudget(units, 0, 100);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->picks, (std::vector<size_t>{0, 1, 1}));
  EXPECT_EQ(got->bits, 100);
  EXPECT_NEAR(got->cost, 0.3, 1e-12);
  // Nothing to save: everything at 8 bits.
  got = solvePrecisionBudget(units, 0, 240);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->picks, (std::vector<size_t>{0, 0, 0}));
}

TEST(PrecisionBudgetTest, AmongEqualCostsTheSmallest) {
  Units units = {{{8, 0.0}, {1, 0.0}}};
  std::optional<BudgetSolution> got = solvePrecisionBudget(units, 5, 100);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->picks, (std::vector<size_t>{1}));
  EXPECT_EQ(got->bits, 6);
}

TEST(PrecisionBudgetTest, InfeasibleBudgetsAndEmptyUnits) {
  Units units = {{{8, 0.0}, {2, 0.3}}, {{8, 0.0}, {1, 0.4}}};
  EXPECT_EQ(minimumBudgetBits(units, 10), 13);
  EXPECT_FALSE(solvePrecisionBudget(units, 10, 12));
  EXPECT_TRUE(solvePrecisionBudget(units, 10, 13));
  EXPECT_FALSE(solvePrecisionBudget({{{8, 0.0}}, {}}, 0, 100));
  // No units: the fixed bits alone.
  std::optional<BudgetSolution> none = solvePrecisionBudget({}, 4, 4);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->picks.empty());
  EXPECT_EQ(none->bits, 4);
}

} // namespace
