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

Value indexConstant(OpBuilder &builder, Location loc, int64_t value) {
  return builder.create<arith::ConstantIndexOp>(loc, value);
}

/// The slice [offsets, offsets + sizes) of a tensor, unit strides.
struct Slice {
  SmallVector<OpFoldResult> offsets, sizes;

  Value extract(OpBuilder &b, Location loc, Value tensor) const {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return b.create<tensor::ExtractSliceOp>(loc, tensor, offsets, sizes,
                                            strides);
  }
  /// Ends an scf.forall body: `tile` goes into `shared` at the slice.
  void insertInParallel(OpBuilder &b, Location loc, Value tile,
                        Value shared) const {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    auto terminator = b.create<scf::InParallelOp>(loc);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(terminator.getBody());
    b.create<tensor::ParallelInsertSliceOp>(loc, tile, shared, offsets, sizes,
                                            strides);
  }
};

/// An scf.forall over [0, counts) whose iterations each write one slice of
/// `init`: `body(b, loc, ivs, shared)` returns the tile and its slice.
/// convert-parallel-loops-to-runtime later runs the iterations on the
/// runtime's threads.
Value forallSlices(
    OpBuilder &builder, Location loc, ArrayRef<OpFoldResult> counts, Value init,
    function_ref<std::pair<Value, Slice>(OpBuilder &, Location, ValueRange,
                                         Value)>
        body) {
  auto loop = builder.create<scf::ForallOp>(
      loc, counts, ValueRange{init}, std::nullopt,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value shared = args.back();
        auto [tile, slice] = body(b, loc, args.drop_back(), shared);
        slice.insertInParallel(b, loc, tile, shared);
      });
  return loop.getResult(0);
}

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

/// Q, K or V [B, S, H] re-laid per head in the storage type: [B, nh, S, d],
/// or [B, nh, d, S] for K (`keyMajor`), so a block of keys is contiguous.
Value storeHeads(OpBuilder &builder, Location loc, Value projection,
                 int64_t heads, int64_t headDim, FloatType storage,
                 bool keyMajor) {
  auto type = cast<RankedTensorType>(projection.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(builder, loc, projection);
  SmallVector<OpFoldResult> outSizes = {sizes[0], builder.getIndexAttr(heads)};
  if (keyMajor)
    outSizes.append({builder.getIndexAttr(headDim), sizes[1]});
  else
    outSizes.append({sizes[1], builder.getIndexAttr(headDim)});
  Value init = builder.create<tensor::EmptyOp>(loc, outSizes, storage);
  MLIRContext *context = builder.getContext();
  AffineExpr b = getAffineDimExpr(0, context), h = getAffineDimExpr(1, context),
             s = getAffineDimExpr(keyMajor ? 3 : 2, context),
             c = getAffineDimExpr(keyMajor ? 2 : 3, context);
  AffineMap inputMap = AffineMap::get(4, 0, {b, s, h * headDim + c}, context);
  AffineMap outputMap = builder.getMultiDimIdentityMap(4);
  SmallVector<utils::IteratorType> iterators(4, utils::IteratorType::parallel);
  Type elementType = type.getElementType();
  return builder
      .create<linalg::GenericOp>(
          loc, init.getType(), ValueRange{projection}, ValueRange{init},
          ArrayRef<AffineMap>{inputMap, outputMap}, iterators,
          [&](OpBuilder &b, Location loc, ValueRange args) {
            Value value = args[0];
            if (elementType != storage)
              value = elementType.getIntOrFloatBitWidth() >
                              storage.getIntOrFloatBitWidth()
                          ? b.create<arith::TruncFOp>(loc, storage, value)
                                .getResult()
                          : b.create<arith::ExtFOp>(loc, storage, value)
                                .getResult();
            b.create<linalg::YieldOp>(loc, value);
          })
      .getResult(0);
}

/// qb.attention -> per batch, head and block of kRowBlock query rows, a
/// streaming (online) softmax over blocks of kKeyBlock keys: scores of a
/// block are kKeyBlock lanes accumulated by FMAs over the head dimension (K
/// is stored key-major, so no horizontal sums), the running maximum m and
/// sum l rescale the accumulated context, and no seq x seq buffer exists.
/// The rows of a block share every K and V load and give the FMA units
/// independent dependency chains; leftover rows (seq % kRowBlock) run one
/// at a time. Q, K and V are kept in the storage type and extended to f32
/// as they are loaded.
struct LowerAttention : OpRewritePattern<AttentionOp> {
  static constexpr int64_t kKeyBlock = 16;
  static constexpr int64_t kRowBlock = 4;
  /// Query rows per iteration of the parallel loop: 12 heads x 2 chunks at
  /// sequence 128, enough to balance two or four threads.
  static constexpr int64_t kQueryChunk = 64;

  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType queryType = op.getQuery().getType();
    int64_t hidden = queryType.getDimSize(2);
    if (ShapedType::isDynamic(hidden))
      return rewriter.notifyMatchFailure(op, "needs a static hidden size");
    Location loc = op.getLoc();
    int64_t heads = static_cast<int64_t>(op.getNumHeads());
    int64_t headDim = hidden / heads;
    FloatType storage = op.getStorageElementType();
    auto resultType = cast<RankedTensorType>(op.getType());

    Value q = storeHeads(rewriter, loc, op.getQuery(), heads, headDim, storage,
                         false);
    Value kT = storeHeads(rewriter, loc, op.getKey(), heads, headDim, storage,
                          true);
    Value v = storeHeads(rewriter, loc, op.getValue(), heads, headDim, storage,
                         false);
    Value mask = op.getMask();

    Value batch = rewriter.create<tensor::DimOp>(loc, op.getQuery(), 0);
    Value queries = rewriter.create<tensor::DimOp>(loc, op.getQuery(), 1);
    Value keys = rewriter.create<tensor::DimOp>(loc, op.getKey(), 1);
    auto roundDown = [&](Value count, int64_t multiple) -> Value {
      return rewriter.create<arith::SubIOp>(
          loc, count,
          rewriter.create<arith::RemUIOp>(
              loc, count, indexConstant(rewriter, loc, multiple)));
    };
    Value fullKeys = roundDown(keys, kKeyBlock);
    SmallVector<OpFoldResult> outSizes =
        tensor::getMixedSizes(rewriter, loc, op.getQuery());
    Value result = rewriter.create<tensor::EmptyOp>(
        loc, outSizes, resultType.getElementType());

    auto f32 = rewriter.getF32Type();
    auto blockType = VectorType::get({kKeyBlock}, f32);
    auto rowType = VectorType::get({headDim}, f32);
    Attributes attrs{
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(blockType, op.getScale())),
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(blockType, op.getMaskFill())),
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(blockType, rewriter.getF32FloatAttr(0))),
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(
                     blockType, rewriter.getF32FloatAttr(
                                    -std::numeric_limits<float>::infinity()))),
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(rowType, rewriter.getF32FloatAttr(0)))};

    // A parallel loop over batch, head and chunks of kQueryChunk query rows;
    // each iteration writes its [1, rows, headDim] slice of the result.
    Value chunkSize = indexConstant(rewriter, loc, kQueryChunk);
    Value chunks = rewriter.create<arith::DivUIOp>(
        loc,
        rewriter.create<arith::AddIOp>(
            loc, queries, indexConstant(rewriter, loc, kQueryChunk - 1)),
        chunkSize);
    Value attention = forallSlices(
        rewriter, loc,
        {getAsOpFoldResult(batch), rewriter.getIndexAttr(heads),
         getAsOpFoldResult(chunks)},
        result,
        [&](OpBuilder &b, Location loc, ValueRange ivs, Value shared) {
          Value bi = ivs[0], hi = ivs[1];
          Value first = b.create<arith::MulIOp>(loc, ivs[2], chunkSize);
          Value last = b.create<arith::MinUIOp>(
              loc, queries, b.create<arith::AddIOp>(loc, first, chunkSize));
          Value count = b.create<arith::SubIOp>(loc, last, first);
          Value blockedEnd = b.create<arith::SubIOp>(
              loc, last,
              b.create<arith::RemUIOp>(loc, count,
                                       indexConstant(b, loc, kRowBlock)));
          Slice slice{{bi, first,
                       getAsOpFoldResult(b.create<arith::MulIOp>(
                           loc, hi, indexConstant(b, loc, headDim)))},
                      {b.getIndexAttr(1), getAsOpFoldResult(count),
                       b.getIndexAttr(headDim)}};
          Value tile = slice.extract(b, loc, shared);
          auto rowLoop = [&](Value from, Value to, int64_t rows, Value init) {
            return b
                .create<scf::ForOp>(
                    loc, from, to, indexConstant(b, loc, rows),
                    ValueRange{init},
                    [&](OpBuilder &b, Location loc, Value qi,
                        ValueRange rowArgs) {
                      RowBlock block{b,    loc,   q,     kT,   v,
                                     mask, attrs, bi,    hi,   qi,
                                     keys, first, storage, headDim, rows};
                      b.create<scf::YieldOp>(
                          loc, block.emit(rowArgs.front(), fullKeys,
                                          resultType.getElementType()));
                    })
                .getResult(0);
          };
          Value blocked = rowLoop(first, blockedEnd, kRowBlock, tile);
          return std::make_pair(rowLoop(blockedEnd, last, 1, blocked), slice);
        });
    rewriter.replaceOp(op, attention);
    return success();
  }

  /// Loop-invariant vectors.
  struct Attributes {
    Value scale, fill, zeros, minusInfinity, zeroRow;
  };

  /// `rows` consecutive query rows of one head. The loop state is, per row,
  /// the running maximum, the running sum and the context vector, stored
  /// as [max x rows, sum x rows, context x rows].
  struct RowBlock {
    OpBuilder &b;
    Location loc;
    Value q, kT, v, mask;
    Attributes attrs;
    Value batch, head, query, keys;
    /// The first query row of the result tile `emit` writes into.
    Value tileRow;
    FloatType storage;
    int64_t headDim;
    int64_t rows;

    Value emit(Value result, Value fullKeys, Type resultElementType) {
      Value minusInfinity = b.create<arith::ConstantOp>(
          loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
      Value zeroF = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0));
      Value block = indexConstant(b, loc, kKeyBlock);
      SmallVector<Value> state(rows, minusInfinity);
      state.append(rows, zeroF);
      state.append(rows, attrs.zeroRow);
      auto full = b.create<scf::ForOp>(
          loc, indexConstant(b, loc, 0), fullKeys, block, state,
          [&](OpBuilder &nb, Location loc, Value key, ValueRange args) {
            nb.create<scf::YieldOp>(loc, emitBlock(nb, key, args, true));
          });
      // At most one partial block: lanes past the last key score -inf.
      auto tail = b.create<scf::ForOp>(
          loc, fullKeys, keys, block, full.getResults(),
          [&](OpBuilder &nb, Location loc, Value key, ValueRange args) {
            nb.create<scf::YieldOp>(loc, emitBlock(nb, key, args, false));
          });
      Value zero = indexConstant(b, loc, 0);
      Value tileQuery = b.create<arith::SubIOp>(loc, query, tileRow);
      for (int64_t r = 0; r < rows; ++r) {
        Value sum = tail.getResult(rows + r);
        Value context = b.create<arith::DivFOp>(
            loc, tail.getResult(2 * rows + r),
            b.create<vector::BroadcastOp>(loc, attrs.zeroRow.getType(), sum));
        if (!resultElementType.isF32())
          context = b.create<arith::TruncFOp>(
              loc, VectorType::get({headDim}, resultElementType), context);
        Value row = b.create<arith::AddIOp>(loc, tileQuery,
                                            indexConstant(b, loc, r));
        result = b.create<vector::TransferWriteOp>(
                      loc, context, result, ValueRange{zero, row, zero},
                      ArrayRef<bool>{true})
                     .getResult();
      }
      return result;
    }

    /// Scores, online-softmax update and context update of every row for
    /// keys [key, key + kKeyBlock); returns the new state.
    SmallVector<Value> emitBlock(OpBuilder &b, Value key, ValueRange state,
                                 bool full) {
      auto f32 = b.getF32Type();
      auto blockType = VectorType::get({kKeyBlock}, f32);
      auto storageBlock = VectorType::get({kKeyBlock}, storage);
      auto storageRow = VectorType::get({headDim}, storage);
      auto rowType = VectorType::get({headDim}, f32);
      Value zero = indexConstant(b, loc, 0);
      Value one = indexConstant(b, loc, 1);
      Value storageZero = b.create<arith::ConstantOp>(
          loc, b.getFloatAttr(storage, 0.0));
      auto extend = [&](OpBuilder &b, Value value, Type type) -> Value {
        return storage.isF32() ? value
                               : b.create<arith::ExtFOp>(loc, type, value)
                                     .getResult();
      };
      SmallVector<Value> rowIndex;
      for (int64_t r = 0; r < rows; ++r)
        rowIndex.push_back(
            b.create<arith::AddIOp>(loc, query, indexConstant(b, loc, r)));

      // s_r[j] = sum_c q[r, c] * k[c, j], lanes j of the block; one K load
      // serves every row.
      auto dot = b.create<scf::ForOp>(
          loc, zero, indexConstant(b, loc, headDim), one,
          SmallVector<Value>(rows, attrs.zeros),
          [&](OpBuilder &b, Location loc, Value c, ValueRange args) {
            Value kc = extend(
                b,
                b.create<vector::TransferReadOp>(
                    loc, storageBlock, kT, ValueRange{batch, head, c, key},
                    storageZero, ArrayRef<bool>{full}),
                blockType);
            SmallVector<Value> sums;
            for (int64_t r = 0; r < rows; ++r) {
              Value qc = b.create<tensor::ExtractOp>(
                  loc, q, ValueRange{batch, head, rowIndex[r], c});
              qc = extend(b, qc, f32);
              sums.push_back(b.create<vector::FMAOp>(
                  loc, b.create<vector::BroadcastOp>(loc, blockType, qc), kc,
                  args[r]));
            }
            b.create<scf::YieldOp>(loc, sums);
          });

      Value padding;
      if (mask) {
        Type maskElement = cast<ShapedType>(mask.getType()).getElementType();
        Value onePad = b.create<arith::ConstantOp>(
            loc, b.getIntegerAttr(maskElement, 1));
        Value bits = b.create<vector::TransferReadOp>(
            loc, VectorType::get({kKeyBlock}, maskElement), mask,
            ValueRange{batch, key}, onePad, ArrayRef<bool>{full});
        Value zeroBits = b.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(
                     VectorType::get({kKeyBlock}, maskElement),
                     b.getIntegerAttr(maskElement, 0)));
        Value padded = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                               bits, zeroBits);
        padding = b.create<arith::SelectOp>(loc, padded, attrs.fill, attrs.zeros);
      }
      Value valid;
      if (!full) {
        Value remaining = b.create<arith::SubIOp>(loc, keys, key);
        valid = b.create<vector::CreateMaskOp>(
            loc, VectorType::get({kKeyBlock}, b.getI1Type()),
            ValueRange{remaining});
      }

      SmallVector<Value> maxes, sums, contexts, probs;
      for (int64_t r = 0; r < rows; ++r) {
        Value scores =
            b.create<arith::MulFOp>(loc, dot.getResult(r), attrs.scale);
        if (padding)
          scores = b.create<arith::AddFOp>(loc, scores, padding);
        if (valid)
          scores = b.create<arith::SelectOp>(loc, valid, scores,
                                             attrs.minusInfinity);
        Value oldMax = state[r], oldSum = state[rows + r];
        Value blockMax = b.create<vector::ReductionOp>(
            loc, vector::CombiningKind::MAXIMUMF, scores);
        Value newMax = b.create<arith::MaximumFOp>(loc, oldMax, blockMax);
        Value p = b.create<math::ExpOp>(
            loc, b.create<arith::SubFOp>(
                     loc, scores,
                     b.create<vector::BroadcastOp>(loc, blockType, newMax)));
        Value correction = b.create<math::ExpOp>(
            loc, b.create<arith::SubFOp>(loc, oldMax, newMax));
        maxes.push_back(newMax);
        sums.push_back(b.create<arith::AddFOp>(
            loc, b.create<arith::MulFOp>(loc, oldSum, correction),
            b.create<vector::ReductionOp>(loc, vector::CombiningKind::ADD, p)));
        contexts.push_back(b.create<arith::MulFOp>(
            loc, state[2 * rows + r],
            b.create<vector::BroadcastOp>(loc, rowType, correction)));
        probs.push_back(p);
      }

      // context_r += p_r[j] * v[j, :] for the keys of the block; one V row
      // load serves every row. A full block is unrolled, so every lane
      // extract has a constant position (a variable one goes through the
      // stack).
      auto accumulateKey = [&](OpBuilder &b, Value j, OpFoldResult lane,
                               ValueRange current) {
        Value keyRow = b.create<arith::AddIOp>(loc, key, j);
        Value values = extend(
            b,
            b.create<vector::TransferReadOp>(
                loc, storageRow, v, ValueRange{batch, head, keyRow, zero},
                storageZero, ArrayRef<bool>{true}),
            rowType);
        SmallVector<Value> updated;
        for (int64_t r = 0; r < rows; ++r) {
          Value p = b.create<vector::ExtractOp>(loc, probs[r],
                                                ArrayRef<OpFoldResult>{lane});
          updated.push_back(b.create<vector::FMAOp>(
              loc, b.create<vector::BroadcastOp>(loc, rowType, p), values,
              current[r]));
        }
        return updated;
      };
      if (full) {
        for (int64_t j = 0; j < kKeyBlock; ++j)
          contexts = accumulateKey(b, indexConstant(b, loc, j),
                                   b.getIndexAttr(j), contexts);
      } else {
        Value count = b.create<arith::MinUIOp>(
            loc, indexConstant(b, loc, kKeyBlock),
            b.create<arith::SubIOp>(loc, keys, key));
        auto accumulate = b.create<scf::ForOp>(
            loc, zero, count, one, contexts,
            [&](OpBuilder &b, Location loc, Value j, ValueRange args) {
              b.create<scf::YieldOp>(loc, accumulateKey(b, j, j, args));
            });
        contexts.assign(accumulate.getResults().begin(),
                        accumulate.getResults().end());
      }
      SmallVector<Value> next = maxes;
      next.append(sums);
      next.append(contexts);
      return next;
    }
  };
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
  patterns.add<LowerAttention>(patterns.getContext());
}
