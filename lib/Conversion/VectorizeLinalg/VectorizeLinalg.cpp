//===- VectorizeLinalg.cpp - qb-vectorize-linalg --------------------------===//
//
// Tiles linalg ops on tensors to single rows and vectorizes each row:
//
//   linalg.generic ins(%x : tensor<?x?x768xf32>) ...        (LayerNorm sum)
//     ->
//   scf.for %b { scf.for %s {
//     %row = vector.transfer_read %x[%b, %s, 0] : vector<768xf32>
//     %sum = vector.reduction <add>, %row fastmath<reassoc>
//     ... } }
//
// The rows the qb conversions produce (hidden 768, intermediate 3072, head
// 64) are short enough to live in registers or L1 as one vector, so no
// tiling of the innermost loop is needed and no remainder loop exists:
// LLVM splits the wide vector into native ones. Every other loop gets tile
// size 1. Float sum reductions are marked reassociable so they become
// tree sums instead of a chain of dependent adds.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace quantbert {
#define GEN_PASS_DEF_VECTORIZELINALG
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

using namespace mlir;

namespace {

/// Width of the pieces element-wise rows are vectorized in (4 AVX-512
/// registers of f32).
constexpr int64_t kColumnTile = 64;

/// How `op` is cut into rows: `rows` tiles every loop but the innermost to
/// 1 (0, untiled, for the innermost and for loops of extent 1), `pieces`
/// cuts an element-wise row into kColumnTile-wide pieces (all zero when the
/// row stays whole). `parallelRows` says whether every tiled loop of `rows`
/// is parallel, so the rows can run as an scf.forall. Fails when the
/// innermost extent is dynamic or longer than `maxElements`, or the op has
/// no loops.
struct RowTiling {
  SmallVector<OpFoldResult> rows, pieces;
  bool parallelRows = true;
  bool tilesRows = false;
  bool tilesPieces = false;
};

std::optional<RowTiling> rowTiling(linalg::LinalgOp op, int64_t maxElements) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ranges.empty())
    return std::nullopt;
  int64_t innermost = ranges.back();
  if (ShapedType::isDynamic(innermost) || innermost > maxElements)
    return std::nullopt;
  Builder builder(op.getContext());
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  RowTiling tiling;
  tiling.rows.assign(ranges.size(), builder.getIndexAttr(0));
  tiling.pieces.assign(ranges.size(), builder.getIndexAttr(0));
  for (size_t d = 0; d + 1 < ranges.size(); ++d) {
    if (ranges[d] == 1)
      continue;
    tiling.rows[d] = builder.getIndexAttr(1);
    tiling.tilesRows = true;
    if (iterators[d] != utils::IteratorType::parallel)
      tiling.parallelRows = false;
  }
  // Element-wise rows are cut into kColumnTile-wide pieces, which stay in
  // registers (a 768-float row is 48 AVX-512 registers, more than exist,
  // and would spill); a row reduced along its length stays whole.
  if (iterators.back() == utils::IteratorType::parallel &&
      innermost > kColumnTile && innermost % kColumnTile == 0) {
    tiling.pieces.back() = builder.getIndexAttr(kColumnTile);
    tiling.tilesPieces = true;
  }
  return tiling;
}

/// Tiles `op` with `sizes` into loops of `loopType`; returns the tiled op,
/// or null (and leaves `op` alone) when tiling fails.
Operation *tile(RewriterBase &rewriter, TilingInterface op,
                ArrayRef<OpFoldResult> sizes,
                scf::SCFTilingOptions::LoopType loopType) {
  scf::SCFTilingOptions options;
  options.setTileSizes(sizes);
  options.setLoopType(loopType);
  rewriter.setInsertionPoint(op);
  FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(rewriter, op, options);
  if (failed(tiled) || tiled->tiledOps.empty())
    return nullptr;
  rewriter.replaceOp(op, tiled->replacements);
  return tiled->tiledOps.front();
}

/// Tiles `op` to rows (leaves it untouched when that is not possible): an
/// scf.forall over the rows when they are independent (convert-parallel-
/// loops-to-runtime runs them on the runtime's threads), nested scf.for
/// loops otherwise, then an scf.for over the pieces of each row.
void tileToRows(RewriterBase &rewriter, linalg::LinalgOp op,
                int64_t maxElements) {
  // Dead ops (a table a lookup no longer reads) are left to DCE.
  if (!op.hasPureTensorSemantics() || op->use_empty())
    return;
  std::optional<RowTiling> tiling = rowTiling(op, maxElements);
  if (!tiling)
    return;
  auto tilingInterface = dyn_cast<TilingInterface>(op.getOperation());
  if (!tilingInterface)
    return;
  using LoopType = scf::SCFTilingOptions::LoopType;
  if (!tiling->parallelRows) {
    // A reduction across rows: sequential loops over rows and pieces.
    SmallVector<OpFoldResult> sizes = tiling->rows;
    sizes.back() = tiling->pieces.back();
    tile(rewriter, tilingInterface, sizes, LoopType::ForOp);
    return;
  }
  Operation *row = op;
  if (tiling->tilesRows)
    row = tile(rewriter, tilingInterface, tiling->rows, LoopType::ForallOp);
  if (row && tiling->tilesPieces)
    tile(rewriter, cast<TilingInterface>(row), tiling->pieces, LoopType::ForOp);
}

/// Vectorizes every linalg op whose iteration space is static and at most
/// `maxElements` in all (rows after tiling; their slices became static
/// once the loop bounds folded the tiles' affine.min sizes to 1).
void vectorizeRows(RewriterBase &rewriter, func::FuncOp function,
                   int64_t maxElements) {
  SmallVector<linalg::LinalgOp> rows;
  function.walk([&](linalg::LinalgOp op) {
    if (!op.hasPureTensorSemantics() || op->use_empty())
      return;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (ranges.empty() || ShapedType::isDynamicShape(ranges))
      return;
    int64_t elements = 1;
    for (int64_t extent : ranges)
      elements *= extent;
    if (elements <= maxElements)
      rows.push_back(op);
  });
  for (linalg::LinalgOp op : rows) {
    rewriter.setInsertionPoint(op);
    (void)linalg::vectorize(rewriter, op, /*inputVectorSizes=*/{},
                            /*inputScalableVecDims=*/{},
                            /*vectorizeNDExtract=*/true);
  }
}

class VectorizeLinalgPass
    : public quantbert::impl::VectorizeLinalgBase<VectorizeLinalgPass> {
public:
  using VectorizeLinalgBase::VectorizeLinalgBase;

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    MLIRContext *context = &getContext();
    SmallVector<linalg::LinalgOp> ops;
    function.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    IRRewriter rewriter(context);
    for (linalg::LinalgOp op : ops)
      tileToRows(rewriter, op, maxVectorElements);

    // The tiles' sizes are affine.min(1, extent - iv): 1 inside the loop.
    // Folding them makes the row slices static.
    {
      RewritePatternSet patterns(context);
      scf::populateSCFForLoopCanonicalizationPatterns(patterns);
      affine::AffineMinOp::getCanonicalizationPatterns(patterns, context);
      tensor::ExtractSliceOp::getCanonicalizationPatterns(patterns, context);
      tensor::InsertSliceOp::getCanonicalizationPatterns(patterns, context);
      for (RegisteredOperationName name : context->getRegisteredOperations())
        if (name.getDialectNamespace() == "linalg")
          name.getCanonicalizationPatterns(patterns, context);
      if (failed(applyPatternsAndFoldGreedily(function, std::move(patterns))))
        return signalPassFailure();
    }
    vectorizeRows(rewriter, function, maxVectorElements);

    // Unit dimensions away (vector<1x1x768xf32> -> vector<768xf32>), row
    // reductions to vector.reduction, then tidy up.
    RewritePatternSet patterns(context);
    vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
    vector::populateVectorTransferDropUnitDimsPatterns(patterns);
    vector::populateVectorMultiReductionLoweringPatterns(
        patterns, vector::VectorMultiReductionLowering::InnerReduction);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::TransferReadOp::getCanonicalizationPatterns(patterns, context);
    vector::TransferWriteOp::getCanonicalizationPatterns(patterns, context);
    vector::BroadcastOp::getCanonicalizationPatterns(patterns, context);
    vector::ShapeCastOp::getCanonicalizationPatterns(patterns, context);
    if (failed(applyPatternsAndFoldGreedily(function, std::move(patterns))))
      return signalPassFailure();

    // Float sums in any order: a tree instead of a chain of dependent adds.
    function.walk([&](vector::ReductionOp reduction) {
      if (reduction.getKind() == vector::CombiningKind::ADD &&
          isa<FloatType>(reduction.getType()))
        reduction.setFastmath(arith::FastMathFlags::reassoc);
    });
  }
};

} // namespace
