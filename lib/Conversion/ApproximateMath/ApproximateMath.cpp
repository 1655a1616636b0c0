//===- ApproximateMath.cpp - qb-approximate-math --------------------------===//
//
// Replaces transcendental math ops by MLIR's polynomial approximations so
// they vectorise (MLIR 19 ships the patterns but registers no pass for them).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace quantbert {
#define GEN_PASS_DEF_APPROXIMATEMATH
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

using namespace mlir;

namespace {

class ApproximateMathPass
    : public quantbert::impl::ApproximateMathBase<ApproximateMathPass> {
public:
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
