//===- MarkBlockSparse.cpp - qb-mark-block-sparse -------------------------===//
//
// Marks the qb.int8_linear ops whose constant weights have at least
// min-zero-blocks of their aligned 16 x 4 blocks all zero with
// block_sparse = [16, 4], so the lowering calls the runtime's block-sparse
// kernel on the packed nonzero blocks instead of the dense oneDNN one.
// Deciding from the weights themselves, not from how they were trained,
// keeps one rule for every source: a pruned bundle, a hand-made one, or a
// model whose int8 rounding zeroed whole blocks.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Transforms/Passes.h"

#include "QuantBert/QBOps.h"
#include "quantbert/Support/BlockSparse.h"

#include "mlir/IR/Builders.h"

namespace quantbert {
#define GEN_PASS_DEF_MARKBLOCKSPARSE
#include "quantbert/Transforms/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

class MarkBlockSparsePass
    : public quantbert::impl::MarkBlockSparseBase<MarkBlockSparsePass> {
public:
  using MarkBlockSparseBase::MarkBlockSparseBase;

  void runOnOperation() override {
    if (!(minZeroBlocks >= 0.0 && minZeroBlocks <= 1.0)) {
      getOperation()->emitError()
          << "qb-mark-block-sparse: min-zero-blocks must be in [0, 1], got "
          << minZeroBlocks;
      return signalPassFailure();
    }
    Builder builder(&getContext());
    getOperation()->walk([&](Int8LinearOp op) {
      if (op.getBlockSparse() || !op.getWeight().getType().hasStaticShape())
        return;
      std::optional<SmallVector<int8_t>> weights =
          getConstantInt8s(op.getWeight());
      if (!weights)
        return;
      BlockGrid grid{op.getWeight().getType().getDimSize(0),
                     op.getWeight().getType().getDimSize(1),
                     kSparseInt8BlockRows, kSparseInt8BlockCols};
      int64_t zero = countZeroBlocks(weights->data(), grid);
      if (double(zero) >= minZeroBlocks * double(grid.blockCount()))
        op.setBlockSparse(ArrayRef<int64_t>{kSparseInt8BlockRows,
                                            kSparseInt8BlockCols});
    });
  }
};

} // namespace
