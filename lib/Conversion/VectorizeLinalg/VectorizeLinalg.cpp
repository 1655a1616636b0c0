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

/// The linalg ops (and tensor.empty) of `root`'s block that `root` depends
/// on through tensor operands.
llvm::DenseSet<Operation *> producersOf(Operation *root) {
  llvm::DenseSet<Operation *> slice;
  SmallVector<Operation *> worklist{root};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (Value operand : op->getOperands()) {
      Operation *producer = operand.getDefiningOp();
      if (!producer || producer->getBlock() != root->getBlock() ||
          !isa<linalg::LinalgOp, tensor::EmptyOp>(producer) ||
          !slice.insert(producer).second)
        continue;
      worklist.push_back(producer);
    }
  }
  return slice;
}

/// True when the tile of `producer` that computes `slice` iterates over at
/// most one loop of more than one iteration (a row, or a row reduction).
bool isOneRow(tensor::ExtractSliceOp slice, OpResult producer) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(producer.getOwner());
  if (!linalgOp)
    return true; // tensor.empty
  AffineMap map = linalgOp.getIndexingMapMatchingResult(producer);
  SmallVector<int64_t> ranges = linalgOp.getStaticLoopRanges();
  SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
  int longLoops = 0;
  for (unsigned loop = 0; loop < ranges.size(); ++loop) {
    std::optional<unsigned> dim = map.getResultPosition(
        getAffineDimExpr(loop, producer.getContext()));
    int64_t extent =
        dim ? getConstantIntValue(sizes[*dim]).value_or(ShapedType::kDynamic)
            : ranges[loop];
    longLoops += extent != 1;
  }
  return longLoops <= 1;
}

/// Marks ops the pass has looked at and left at the top level.
constexpr StringLiteral kVisited = "qb.rows_visited";

/// Tiles `op` to rows (leaves it untouched when that is not possible): an
/// scf.forall over the rows when they are independent (convert-parallel-
/// loops-to-runtime runs them on the runtime's threads), into which the
/// linalg producers used only on the way to `op` are fused, so a chain
/// such as residual add -> LayerNorm sums -> normalize is one pass over
/// each row; nested scf.for loops when a reduction crosses rows. Then an
/// scf.for over the pieces of each row of `op`.
void tileToRows(RewriterBase &rewriter, linalg::LinalgOp op,
                int64_t maxElements) {
  op->setAttr(kVisited, rewriter.getUnitAttr());
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
  if (tiling->tilesRows) {
    // The producers that can move into the loop: those whose every user is
    // `op` or another of them (shape queries, tensor.dim, do not count).
    // One with other users stays outside: fused, it would be computed
    // twice.
    llvm::DenseSet<Operation *> fusable = producersOf(op);
    for (bool changed = true; changed;) {
      changed = false;
      for (Operation *producer : llvm::to_vector(fusable))
        if (llvm::any_of(producer->getUsers(), [&](Operation *user) {
              return user != op.getOperation() && !fusable.contains(user) &&
                     !isa<tensor::DimOp>(user);
            })) {
          fusable.erase(producer);
          changed = true;
        }
    }
    scf::SCFTileAndFuseOptions options;
    scf::SCFTilingOptions tilingOptions;
    tilingOptions.setTileSizes(tiling->rows);
    tilingOptions.setLoopType(LoopType::ForallOp);
    options.setTilingOptions(tilingOptions);
    // Only a producer whose slice moves with the row (one that every row
    // reads whole, a weight transpose or a broadcast bias, is computed once,
    // outside the loop) and whose tile is one row (a matmul producing a row
    // iterates over columns and K: it stays a matmul of its own).
    options.setFusionControlFn([&](tensor::ExtractSliceOp slice,
                                   OpResult producer, bool) {
      bool perRow = llvm::any_of(slice.getMixedOffsets(), [](OpFoldResult o) {
        return !getConstantIntValue(o).has_value();
      });
      return std::make_tuple(perRow && fusable.contains(producer.getOwner()) &&
                                 isOneRow(slice, producer),
                             false);
    });
    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTileAndFuseResult> fused =
        scf::tileConsumerAndFuseProducersUsingSCF(rewriter, tilingInterface,
                                                  options);
    if (failed(fused) || fused->tiledAndFusedOps.empty())
      return;
    for (OpResult result : op->getResults())
      rewriter.replaceAllUsesWith(result, fused->replacements.lookup(result));
    row = fused->tiledAndFusedOps.front();
    // The fused producers are dead now but for shape queries, which their
    // destination operands answer as well: erase them, users first.
    SmallVector<Operation *> dead(fused->fusedProducers.begin(),
                                  fused->fusedProducers.end());
    for (Operation *producer : dead)
      if (auto destinationStyle = dyn_cast<DestinationStyleOpInterface>(producer))
        for (OpResult result : producer->getResults())
          for (OpOperand &use : llvm::make_early_inc_range(result.getUses()))
            if (auto dim = dyn_cast<tensor::DimOp>(use.getOwner()))
              rewriter.modifyOpInPlace(dim, [&] {
                use.set(destinationStyle.getTiedOpOperand(result)->get());
              });
    rewriter.eraseOp(op);
    bool erased = true;
    while (erased) {
      erased = false;
      for (Operation *&producer : dead)
        if (producer && producer->use_empty()) {
          rewriter.eraseOp(producer);
          producer = nullptr;
          erased = true;
        }
    }
  }
  if (tiling->tilesPieces)
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

/// tensor.extract %t[i...] of %t = vector.transfer_write %v, %d[j...] (1-D
/// %v along the last dimension, in bounds) where the element lies in the
/// written part -> vector.extract %v[i_last - j_last]. A row statistic
/// (LayerNorm's mean) written into a 1x1 tile and read back then needs no
/// buffer.
struct ForwardExtractOfTransferWrite : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ExtractOp extract,
                                PatternRewriter &rewriter) const override {
    auto write = extract.getTensor().getDefiningOp<vector::TransferWriteOp>();
    if (!write || write.getVectorType().getRank() != 1 || write.getMask() ||
        !write.getPermutationMap().isMinorIdentity() ||
        !write.getInBoundsValues()[0])
      return failure();
    SmallVector<int64_t> readAt, writtenAt;
    for (Value index : extract.getIndices()) {
      std::optional<int64_t> value = getConstantIntValue(index);
      if (!value)
        return failure();
      readAt.push_back(*value);
    }
    for (Value index : write.getIndices()) {
      std::optional<int64_t> value = getConstantIntValue(index);
      if (!value)
        return failure();
      writtenAt.push_back(*value);
    }
    int64_t last = static_cast<int64_t>(readAt.size()) - 1;
    for (int64_t d = 0; d < last; ++d)
      if (readAt[d] != writtenAt[d])
        return failure();
    int64_t lane = readAt[last] - writtenAt[last];
    if (lane < 0 || lane >= write.getVectorType().getDimSize(0))
      return failure();
    rewriter.replaceOpWithNewOp<vector::ExtractOp>(extract, write.getVector(),
                                                   ArrayRef<int64_t>{lane});
    return success();
  }
};

class VectorizeLinalgPass
    : public quantbert::impl::VectorizeLinalgBase<VectorizeLinalgPass> {
public:
  using VectorizeLinalgBase::VectorizeLinalgBase;

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    MLIRContext *context = &getContext();
    // Consumers first, so each pulls in the producers only it needs; the
    // walk starts again after every rewrite (fused producers are erased).
    IRRewriter rewriter(context);
    for (;;) {
      linalg::LinalgOp next;
      function.walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
          if (!op->hasAttr(kVisited))
            next = linalgOp;
        // Ops already in a loop of this pass are tiled.
        return isa<scf::ForallOp, scf::ForOp>(op) ? WalkResult::skip()
                                                  : WalkResult::advance();
      });
      if (!next)
        break;
      tileToRows(rewriter, next, maxVectorElements);
    }
    function.walk([](Operation *op) { op->removeAttr(kVisited); });

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
    patterns.add<ForwardExtractOfTransferWrite>(context);
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
