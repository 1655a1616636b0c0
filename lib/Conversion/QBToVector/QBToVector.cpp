//===- QBToVector.cpp - qb binary ops to vector loops ---------------------===//
//
// Lowers the XNOR-popcount path to register-blocked vector loops on tensors:
// qb.bitpack packs activation signs 64 at a time (compare + i1-vector
// bitcast, which becomes a mask-register move), and qb.binary_linear runs a
// GEMM that vectorises over output channels, so each accumulator lane holds
// one output's mismatch count and no horizontal reduction is needed:
//
//   for n-panel (tileN vectors of 8 outputs):   weight panel [W, 8 * tileN]
//     for m-block (tileM rows):
//       acc[i][j] = 0                            (vector<8xi64>)
//       for w in words: acc[i][j] += ctpop(broadcast(x[m+i, w]) ^ wT[w, n+8j..])
//       out[m+i, n+8j..] = sitofp(K - 2 * acc[i][j]) * scale + bias
//
// The weight is transposed to [W, N] at compile time when it is a constant.
// The output transform is exactly the op's formula, so results match the
// scalar reference bit for bit.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/QBToVector.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Conversion/ShapeUtils.h"
#include "ForallSlices.h"

#include "QuantBert/QBOps.h"
#include "quantbert/Support/BitPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace quantbert {
#define GEN_PASS_DEF_CONVERTQBTOVECTOR
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

#include <limits>

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

constexpr int64_t kLanes = 8; // i64 lanes in a 512-bit vector


/// qb.bitpack -> per row and word: compare 64 lanes with 0, bitcast the i1
/// vector to an i64 (lane k is bit k), write the word.
struct LowerBitpack : OpRewritePattern<BitpackOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BitpackOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType inputType = op.getInput().getType();
    int64_t k = inputType.getShape().back();
    if (ShapedType::isDynamic(k))
      return rewriter.notifyMatchFailure(op, "needs a static packed dimension");
    Location loc = op.getLoc();
    int64_t words = packedWordCount(k);
    Type elementType = inputType.getElementType();

    Value input = collapseToMatrix(rewriter, loc, op.getInput());
    OpFoldResult rowCount = tensor::getMixedSizes(rewriter, loc, input)[0];
    Value init = rewriter.create<tensor::EmptyOp>(
        loc, ArrayRef<OpFoldResult>{rowCount, rewriter.getIndexAttr(words)},
        rewriter.getI64Type());

    Value zero = indexConstant(rewriter, loc, 0);
    // Out-of-range lanes of the last word read +1, whose bit is 0.
    Value padding = rewriter.create<arith::ConstantOp>(
        loc, rewriter.getFloatAttr(elementType, 1.0));
    Value zeroVector = rewriter.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(
                 VectorType::get({kBitsPerPackedWord}, elementType),
                 rewriter.getFloatAttr(elementType, 0.0)));
    // One row per iteration of a parallel loop.
    Value packedAll = forallSlices(
        rewriter, loc, {rowCount}, init,
        [&](OpBuilder &b, Location loc, ValueRange ivs, Value shared) {
          Value row = ivs.front();
          Slice slice{{row, b.getIndexAttr(0)},
                      {b.getIndexAttr(1), b.getIndexAttr(words)}};
          Value packed = slice.extract(b, loc, shared);
          for (int64_t word = 0; word < words; ++word) {
            bool full = (word + 1) * kBitsPerPackedWord <= k;
            Value column = indexConstant(b, loc, word * kBitsPerPackedWord);
            Value lanes = b.create<vector::TransferReadOp>(
                loc, VectorType::get({kBitsPerPackedWord}, elementType), input,
                ValueRange{row, column}, padding, ArrayRef<bool>{full});
            // Bit set means -1: !(x > 0), NaN included.
            Value negative = b.create<arith::CmpFOp>(
                loc, arith::CmpFPredicate::ULE, lanes, zeroVector);
            Value bits = b.create<vector::BitCastOp>(
                loc, VectorType::get({1}, b.getI64Type()), negative);
            packed = b.create<vector::TransferWriteOp>(
                          loc, bits, packed,
                          ValueRange{zero, indexConstant(b, loc, word)},
                          ArrayRef<bool>{true})
                         .getResult();
          }
          return std::make_pair(packed, slice);
        });
    rewriter.replaceOp(op, expandFromMatrix(rewriter, loc, packedAll,
                                            op.getType(), op.getInput()));
    return success();
  }
};

/// The weight [N, W] as [W, N]: folded at compile time for constants.
Value transposedWeight(OpBuilder &builder, Location loc, Value weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), words = type.getDimSize(1);
  auto transposedType = RankedTensorType::get({words, n}, type.getElementType());
  DenseIntElementsAttr values;
  if (matchPattern(weight, m_Constant(&values))) {
    SmallVector<APInt> elements(values.getValues<APInt>());
    SmallVector<APInt> transposed(elements.size());
    for (int64_t row = 0; row < n; ++row)
      for (int64_t word = 0; word < words; ++word)
        transposed[word * n + row] = elements[row * words + word];
    return builder.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(transposedType, transposed));
  }
  Value init = builder.create<tensor::EmptyOp>(loc, transposedType.getShape(),
                                               type.getElementType());
  return builder
      .create<linalg::TransposeOp>(loc, weight, init, ArrayRef<int64_t>{1, 0})
      .getResult()
      .front();
}

/// qb.binary_linear -> the register-blocked XNOR-popcount GEMM above.
struct LowerBinaryLinear : OpRewritePattern<BinaryLinearOp> {
  LowerBinaryLinear(MLIRContext *context, const QBToVectorOptions &options)
      : OpRewritePattern(context), options(options) {}

  LogicalResult matchAndRewrite(BinaryLinearOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType weightType = op.getWeight().getType();
    if (!weightType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a static weight shape");
    Location loc = op.getLoc();
    int64_t outFeatures = weightType.getDimSize(0);
    int64_t words = weightType.getDimSize(1);
    int64_t inFeatures = static_cast<int64_t>(op.getInFeatures());

    Value input = collapseToMatrix(rewriter, loc, op.getInput());
    Value weightT = transposedWeight(rewriter, loc, op.getWeight());
    OpFoldResult rowCount = tensor::getMixedSizes(rewriter, loc, input)[0];
    Value rows = getValueOrCreateConstantIndexOp(rewriter, loc, rowCount);
    Value result = rewriter.create<tensor::EmptyOp>(
        loc, ArrayRef<OpFoldResult>{rowCount, rewriter.getIndexAttr(outFeatures)},
        rewriter.getF32Type());

    Kernel kernel{rewriter, loc,  input, weightT, op.getScale(), op.getBias(),
                  inFeatures, words};
    int64_t tileN = std::max<int64_t>(1, options.tileN);
    int64_t tileM = std::max<int64_t>(1, options.tileM);
    int64_t panel = kLanes * tileN;
    int64_t fullPanels = outFeatures / panel;
    // Full panels; then the remaining whole vectors one at a time; then a
    // narrower vector for the last N % 8 outputs.
    int64_t column = 0;
    if (fullPanels > 0) {
      result = kernel.panelLoop(result, rows, 0, fullPanels * panel, panel,
                                tileM, tileN, kLanes);
      column = fullPanels * panel;
    }
    int64_t wholeVectors = (outFeatures - column) / kLanes;
    if (wholeVectors > 0) {
      result = kernel.panelLoop(result, rows, column,
                                column + wholeVectors * kLanes, kLanes, tileM,
                                1, kLanes);
      column += wholeVectors * kLanes;
    }
    if (column < outFeatures)
      result = kernel.panelLoop(result, rows, column, outFeatures,
                                outFeatures - column, tileM, 1,
                                outFeatures - column);

    rewriter.replaceOp(op, expandFromMatrix(rewriter, loc, result, op.getType(),
                                            op.getInput()));
    return success();
  }

  /// Emits the loops of one output-column range, all tiles of `width` lanes.
  struct Kernel {
    OpBuilder &builder;
    Location loc;
    Value input;   // [M, W] i64
    Value weightT; // [W, N] i64
    Value scale;   // [N] f32
    Value bias;    // [N] f32 or null
    int64_t inFeatures;
    int64_t words;

    /// for n in [begin, end) step `step`: rows in blocks of tileM, then the
    /// remaining rows one by one. Several panels run as a parallel loop,
    /// each iteration writing its [rows, step] column panel of the result;
    /// a single one writes into the result directly.
    Value panelLoop(Value result, Value rows, int64_t begin, int64_t end,
                    int64_t step, int64_t tileM, int64_t tileN, int64_t width) {
      int64_t panels = (end - begin) / step;
      if (panels == 1)
        return panel(builder, loc, result, rows, indexConstant(builder, loc, begin),
                     indexConstant(builder, loc, begin), tileM, tileN, width);
      OpFoldResult rowCount = getAsOpFoldResult(rows);
      return forallSlices(
          builder, loc, {builder.getIndexAttr(panels)}, result,
          [&](OpBuilder &b, Location loc, ValueRange ivs, Value shared) {
            Value column = b.create<arith::AddIOp>(
                loc, indexConstant(b, loc, begin),
                b.create<arith::MulIOp>(loc, ivs.front(),
                                        indexConstant(b, loc, step)));
            Slice slice{{b.getIndexAttr(0), column},
                        {rowCount, b.getIndexAttr(step)}};
            Value tile = panel(b, loc, slice.extract(b, loc, shared), rows,
                               column, indexConstant(b, loc, 0), tileM, tileN,
                               width);
            return std::make_pair(tile, slice);
          });
    }

    /// All rows of the panel of weight columns from `column`, written into
    /// `target` from column `targetColumn`.
    Value panel(OpBuilder &b, Location loc, Value target, Value rows,
                Value column, Value targetColumn, int64_t tileM, int64_t tileN,
                int64_t width) {
      Value tileMValue = indexConstant(b, loc, tileM);
      Value remainder = b.create<arith::RemUIOp>(loc, rows, tileMValue);
      Value blockedRows = b.create<arith::SubIOp>(loc, rows, remainder);
      Value zero = indexConstant(b, loc, 0);
      Value one = indexConstant(b, loc, 1);
      auto blocked = b.create<scf::ForOp>(
          loc, zero, blockedRows, tileMValue, ValueRange{target},
          [&](OpBuilder &b, Location loc, Value row, ValueRange args) {
            b.create<scf::YieldOp>(
                loc, emitTile(b, loc, args.front(), row, column, targetColumn,
                              tileM, tileN, width));
          });
      auto tail = b.create<scf::ForOp>(
          loc, blockedRows, rows, one, blocked.getResults(),
          [&](OpBuilder &b, Location loc, Value row, ValueRange args) {
            b.create<scf::YieldOp>(
                loc, emitTile(b, loc, args.front(), row, column, targetColumn,
                              1, tileN, width));
          });
      return tail.getResult(0);
    }

    /// One tile: tileM rows x tileN vectors of `width` outputs, from weight
    /// columns [column, column + tileN * width), into `target` from column
    /// `targetColumn`.
    Value emitTile(OpBuilder &b, Location loc, Value target, Value row,
                   Value column, Value targetColumn, int64_t tileM,
                   int64_t tileN, int64_t width) {
      auto accType = VectorType::get({width}, b.getI64Type());
      Value zeroAcc = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(0)));
      SmallVector<Value> rowsOf, columnsOf;
      for (int64_t i = 0; i < tileM; ++i)
        rowsOf.push_back(i == 0 ? row
                                : b.create<arith::AddIOp>(
                                      loc, row, indexConstant(b, loc, i)));
      SmallVector<Value> targetColumnsOf;
      for (int64_t j = 0; j < tileN; ++j) {
        Value offset = indexConstant(b, loc, j * width);
        columnsOf.push_back(
            j == 0 ? column : b.create<arith::AddIOp>(loc, column, offset));
        targetColumnsOf.push_back(
            j == 0 ? targetColumn
                   : b.create<arith::AddIOp>(loc, targetColumn, offset));
      }

      SmallVector<Value> inits(tileM * tileN, zeroAcc);
      Value padding = b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(0));
      auto wordLoop = b.create<scf::ForOp>(
          loc, indexConstant(b, loc, 0), indexConstant(b, loc, words),
          indexConstant(b, loc, 1), inits,
          [&](OpBuilder &b, Location loc, Value word, ValueRange accs) {
            SmallVector<Value> weights;
            for (int64_t j = 0; j < tileN; ++j)
              weights.push_back(b.create<vector::TransferReadOp>(
                  loc, accType, weightT, ValueRange{word, columnsOf[j]},
                  padding, ArrayRef<bool>{true}));
            SmallVector<Value> next;
            for (int64_t i = 0; i < tileM; ++i) {
              Value x = b.create<tensor::ExtractOp>(
                  loc, input, ValueRange{rowsOf[i], word});
              Value xs = b.create<vector::BroadcastOp>(loc, accType, x);
              for (int64_t j = 0; j < tileN; ++j) {
                Value mismatches = b.create<math::CtPopOp>(
                    loc, b.create<arith::XOrIOp>(loc, xs, weights[j]));
                next.push_back(b.create<arith::AddIOp>(
                    loc, accs[i * tileN + j], mismatches));
              }
            }
            b.create<scf::YieldOp>(loc, next);
          });

      // Output transform: (K - 2 * mismatches) * scale + bias, in the op's
      // order of operations.
      auto outType = VectorType::get({width}, b.getF32Type());
      Value k = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(inFeatures)));
      Value one = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(1)));
      Value zeroF = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0.0f));
      for (int64_t j = 0; j < tileN; ++j) {
        Value scales = b.create<vector::TransferReadOp>(
            loc, outType, scale, ValueRange{columnsOf[j]}, zeroF,
            ArrayRef<bool>{true});
        Value biases =
            bias ? b.create<vector::TransferReadOp>(loc, outType, bias,
                                                    ValueRange{columnsOf[j]},
                                                    zeroF, ArrayRef<bool>{true})
                 : Value();
        for (int64_t i = 0; i < tileM; ++i) {
          Value mismatches = wordLoop.getResult(i * tileN + j);
          Value dot = b.create<arith::SubIOp>(
              loc, k, b.create<arith::ShLIOp>(loc, mismatches, one));
          Value y = b.create<arith::MulFOp>(
              loc, b.create<arith::SIToFPOp>(loc, outType, dot), scales);
          if (biases)
            y = b.create<arith::AddFOp>(loc, y, biases);
          target = b.create<vector::TransferWriteOp>(
                        loc, y, target, ValueRange{rowsOf[i], targetColumnsOf[j]},
                        ArrayRef<bool>{true})
                       .getResult();
        }
      }
      return target;
    }
  };

  QBToVectorOptions options;
};

class ConvertQBToVectorPass
    : public quantbert::impl::ConvertQBToVectorBase<ConvertQBToVectorPass> {
public:
  using ConvertQBToVectorBase::ConvertQBToVectorBase;

  void runOnOperation() override {
    if (tileM < 1 || tileN < 1) {
      getOperation()->emitError()
          << "convert-qb-to-vector: tile-m and tile-n must be positive";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    populateQBToVectorPatterns(patterns, QBToVectorOptions{tileM, tileN});
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Anything left means a pattern could not apply (dynamic packed or
    // weight dimensions): say which op.
    WalkResult remaining = getOperation()->walk([](Operation *op) {
      if (!isa<BitpackOp, BinaryLinearOp, AttentionOp>(op))
        return WalkResult::advance();
      op->emitOpError() << "could not be lowered to vector loops: it needs "
                           "static packed, weight and hidden dimensions";
      return WalkResult::interrupt();
    });
    if (remaining.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void quantbert::populateQBToVectorPatterns(RewritePatternSet &patterns,
                                           const QBToVectorOptions &options) {
  patterns.add<LowerBitpack>(patterns.getContext());
  patterns.add<LowerBinaryLinear>(patterns.getContext(), options);
  populateAttentionToVectorPatterns(patterns);
}
