//===- LowerAttention.cpp - qb.attention to fused vector loops -------------===//
//
// Lowers qb.attention, multi-head self-attention with Q, K and V stored in
// f16, bf16 or f32 and every product and sum in f32, to vector loops on
// tensors, without a seq x seq score buffer:
//
//   Q -> [B, heads, S, d] f32 (values rounded to the storage type), so a
//        query element is one broadcast load;
//   K -> [B, heads, d, S] storage, transposed 16 x 16 in registers, so 16
//        consecutive keys of one channel are one vector load;
//   V -> [B, heads, S, d] storage.
//
//   parallel over (batch, head, chunk of kQueryChunk queries):
//     for each block of kRowBlock query rows (then single rows):
//       1. scores s[r, j] = (sum_c q[r, c] k[c, j]) * scale + fill[j], 32
//          keys at a time (two vectors of 16, 2 x kRowBlock accumulators,
//          one K load serving every row), into a kRowBlock x S buffer in
//          L1; a running vector maximum per row;
//       2. p[r, j] = exp(s[r, j] - max_r), in place, and the row sums;
//       3. context_r = sum_j p[r, j] v[j, :] / sum_r, one V row load serving
//          every row, p broadcast from the buffer.
//
// The scores are the chain's (qb.batch_matmul, qb.scale, qb.attention_mask)
// in the same order of operations; the softmax subtracts the row maximum as
// qb.softmax does; only the order of the sums differs.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/QBToVector.h"

#include "ForallSlices.h"
#include "QuantBert/QBOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

/// f32 lanes in a 512-bit vector: the width of a block of keys.
constexpr int64_t kLanes = 16;
/// Query rows that share every K and V load.
constexpr int64_t kRowBlock = 4;
/// Query rows per iteration of the parallel loop: 12 heads x 2 chunks at
/// sequence 128, enough to balance two or four threads.
constexpr int64_t kQueryChunk = 64;

/// Converts between float types (no-op when equal).
Value convertFloat(OpBuilder &b, Location loc, Value value, Type to) {
  Type from = getElementTypeOrSelf(value.getType());
  Type target = to;
  if (auto vector = dyn_cast<VectorType>(value.getType()))
    target = vector.clone(to);
  if (from == to)
    return value;
  if (from.getIntOrFloatBitWidth() > to.getIntOrFloatBitWidth())
    return b.create<arith::TruncFOp>(loc, target, value);
  return b.create<arith::ExtFOp>(loc, target, value);
}

/// An scf.for over [lower, upper) with `init` as its iter_args whose body
/// `body(iv, args)` is built with `b` (positioned in the body meanwhile) and
/// returns the values to yield.
scf::ForOp buildFor(
    OpBuilder &b, Location loc, Value lower, Value upper, Value step,
    ValueRange init,
    llvm::function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto loop = b.create<scf::ForOp>(loc, lower, upper, step, init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(loop.getBody());
  SmallVector<Value> results =
      body(loop.getInductionVar(), loop.getRegionIterArgs());
  b.create<scf::YieldOp>(loc, results);
  return loop;
}

/// Q or V [B, S, H] re-laid per head, [B, heads, S, d], with elements of
/// `elementType` holding the values rounded to `storage`.
Value relayoutHeads(OpBuilder &builder, Location loc, Value projection,
                    int64_t heads, int64_t headDim, FloatType storage,
                    Type elementType) {
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(builder, loc, projection);
  Value init = builder.create<tensor::EmptyOp>(
      loc,
      ArrayRef<OpFoldResult>{sizes[0], builder.getIndexAttr(heads), sizes[1],
                             builder.getIndexAttr(headDim)},
      elementType);
  MLIRContext *context = builder.getContext();
  AffineExpr b = getAffineDimExpr(0, context), h = getAffineDimExpr(1, context),
             s = getAffineDimExpr(2, context), c = getAffineDimExpr(3, context);
  AffineMap inputMap = AffineMap::get(4, 0, {b, s, h * headDim + c}, context);
  SmallVector<utils::IteratorType> iterators(4, utils::IteratorType::parallel);
  return builder
      .create<linalg::GenericOp>(
          loc, init.getType(), ValueRange{projection}, ValueRange{init},
          ArrayRef<AffineMap>{inputMap, builder.getMultiDimIdentityMap(4)},
          iterators,
          [&](OpBuilder &b, Location loc, ValueRange args) {
            Value stored = convertFloat(b, loc, args[0], storage);
            b.create<linalg::YieldOp>(loc,
                                      convertFloat(b, loc, stored, elementType));
          })
      .getResult(0);
}

/// Transposes 16 vectors of 16 lanes (rows[i][j] -> result[j][i]) in four
/// butterfly stages of lane shuffles: at block size b, rows i and i + b
/// (i & b == 0) swap their off-diagonal b-lane blocks.
SmallVector<Value> transpose16(OpBuilder &b, Location loc,
                               SmallVector<Value> rows) {
  for (int64_t block = kLanes / 2; block >= 1; block /= 2) {
    SmallVector<int64_t> lowMask(kLanes), highMask(kLanes);
    for (int64_t j = 0; j < kLanes; ++j) {
      bool upper = (j & block) != 0;
      lowMask[j] = upper ? kLanes + j - block : j;
      highMask[j] = upper ? kLanes + j : j + block;
    }
    SmallVector<Value> next(rows.size());
    for (int64_t i = 0; i < kLanes; ++i) {
      if (i & block)
        continue;
      next[i] =
          b.create<vector::ShuffleOp>(loc, rows[i], rows[i + block], lowMask);
      next[i + block] =
          b.create<vector::ShuffleOp>(loc, rows[i], rows[i + block], highMask);
    }
    rows = std::move(next);
  }
  return rows;
}

/// K [B, S, H] as [B, heads, d, S] in `storage`: a parallel loop over
/// (batch, head, block of 16 keys) that reads 16 key rows, transposes them
/// 16 channels at a time and writes 16 keys per channel.
Value transposeKeys(OpBuilder &builder, Location loc, Value key, int64_t heads,
                    int64_t headDim, FloatType storage) {
  Type keyType = cast<RankedTensorType>(key.getType()).getElementType();
  Value batch = builder.create<tensor::DimOp>(loc, key, 0);
  Value keys = builder.create<tensor::DimOp>(loc, key, 1);
  Value init = builder.create<tensor::EmptyOp>(
      loc,
      ArrayRef<OpFoldResult>{batch, builder.getIndexAttr(heads),
                             builder.getIndexAttr(headDim), keys},
      storage);
  Value blocks = builder.create<arith::DivUIOp>(
      loc,
      builder.create<arith::AddIOp>(loc, keys,
                                    indexConstant(builder, loc, kLanes - 1)),
      indexConstant(builder, loc, kLanes));
  return forallSlices(
      builder, loc,
      {getAsOpFoldResult(batch), builder.getIndexAttr(heads),
       getAsOpFoldResult(blocks)},
      init, [&](OpBuilder &b, Location loc, ValueRange ivs, Value shared) {
        Value bi = ivs[0], hi = ivs[1];
        Value first = b.create<arith::MulIOp>(loc, ivs[2],
                                              indexConstant(b, loc, kLanes));
        Value count = b.create<arith::MinUIOp>(
            loc, indexConstant(b, loc, kLanes),
            b.create<arith::SubIOp>(loc, keys, first));
        Slice slice{{bi, hi, b.getIndexAttr(0), first},
                    {b.getIndexAttr(1), b.getIndexAttr(1),
                     b.getIndexAttr(headDim), count}};
        Value tile = slice.extract(b, loc, shared); // [1, 1, d, count]
        Value zero = indexConstant(b, loc, 0);
        Value padding = b.create<arith::ConstantOp>(loc, b.getZeroAttr(keyType));
        Value column0 = b.create<arith::MulIOp>(loc, hi,
                                                indexConstant(b, loc, headDim));
        for (int64_t c0 = 0; c0 < headDim; c0 += kLanes) {
          // Rows past the last key read as zero (they are not written).
          bool fullChannels = c0 + kLanes <= headDim;
          SmallVector<Value> rows;
          for (int64_t r = 0; r < kLanes; ++r) {
            Value row = b.create<arith::AddIOp>(loc, first,
                                                indexConstant(b, loc, r));
            Value inRange = b.create<arith::CmpIOp>(
                loc, arith::CmpIPredicate::ult, row, keys);
            Value safeRow = b.create<arith::SelectOp>(loc, inRange, row, first);
            Value column = b.create<arith::AddIOp>(
                loc, column0, indexConstant(b, loc, c0));
            Value lanes = b.create<vector::TransferReadOp>(
                loc, VectorType::get({kLanes}, keyType), key,
                ValueRange{bi, safeRow, column}, padding,
                ArrayRef<bool>{fullChannels});
            rows.push_back(convertFloat(b, loc, lanes, b.getF32Type()));
          }
          SmallVector<Value> channels = transpose16(b, loc, rows);
          // Lanes past the tile's `count` keys are not written.
          for (int64_t c = c0; c < std::min(c0 + kLanes, headDim); ++c)
            tile = b.create<vector::TransferWriteOp>(
                        loc, convertFloat(b, loc, channels[c - c0], storage),
                        tile,
                        ValueRange{zero, zero, indexConstant(b, loc, c), zero},
                        ArrayRef<bool>{false})
                       .getResult();
        }
        return std::make_pair(tile, slice);
      });
}

/// Loop-invariant values of the kernel.
struct Constants {
  Value scale, fill, zeros, minusInfinity; // vector<16xf32>
  Value zeroRow;                           // vector<d x f32>
};

/// The rows [query, query + rows) of one head: the three passes above.
struct RowBlock {
  OpBuilder &b;
  Location loc;
  Value q, kT, v, mask; // relaid Q (f32), K, V; mask or null
  const Constants &constants;
  Value batch, head, query, keys, paddedKeys;
  FloatType storage;
  int64_t headDim, rows;

  Value index(int64_t value) { return indexConstant(b, loc, value); }
  Value extend(Value value) { return convertFloat(b, loc, value, b.getF32Type()); }

  /// Pass 1 for keys [key, key + width * 16): scores of every row into
  /// `scores`; returns the updated scores and running maxima.
  std::pair<Value, SmallVector<Value>> scoreBlock(Value scores, Value key,
                                                  int64_t width, bool full,
                                                  ValueRange maxima) {
    auto laneType = VectorType::get({kLanes}, b.getF32Type());
    SmallVector<Value> keyColumns, validLanes;
    for (int64_t w = 0; w < width; ++w)
      keyColumns.push_back(
          w == 0 ? key : b.create<arith::AddIOp>(loc, key, index(w * kLanes)));
    Value storageZero = b.create<arith::ConstantOp>(loc, b.getZeroAttr(storage));
    // s[r][w] = sum_c q[r, c] * k[c, key + 16 w ...], one K load per w and
    // channel serving every row.
    SmallVector<Value> init(rows * width, constants.zeros);
    auto dot = b.create<scf::ForOp>(
        loc, index(0), index(headDim), index(1), init,
        [&](OpBuilder &nb, Location loc, Value c, ValueRange acc) {
          SmallVector<Value> k;
          for (int64_t w = 0; w < width; ++w)
            k.push_back(convertFloat(
                nb, loc,
                nb.create<vector::TransferReadOp>(
                    loc, VectorType::get({kLanes}, storage), kT,
                    ValueRange{batch, head, c, keyColumns[w]}, storageZero,
                    ArrayRef<bool>{full}),
                nb.getF32Type()));
          SmallVector<Value> next;
          for (int64_t r = 0; r < rows; ++r) {
            Value qc = nb.create<tensor::ExtractOp>(
                loc, q,
                ValueRange{batch, head,
                           nb.create<arith::AddIOp>(loc, query,
                                                    indexConstant(nb, loc, r)),
                           c});
            Value qs = nb.create<vector::BroadcastOp>(loc, laneType, qc);
            for (int64_t w = 0; w < width; ++w)
              next.push_back(nb.create<vector::FMAOp>(loc, qs, k[w],
                                                      acc[r * width + w]));
          }
          nb.create<scf::YieldOp>(loc, next);
        });

    SmallVector<Value> fills(width);
    for (int64_t w = 0; w < width; ++w) {
      if (!mask)
        continue;
      Type maskElement = cast<ShapedType>(mask.getType()).getElementType();
      Value onePad =
          b.create<arith::ConstantOp>(loc, b.getIntegerAttr(maskElement, 1));
      Value bits = b.create<vector::TransferReadOp>(
          loc, VectorType::get({kLanes}, maskElement), mask,
          ValueRange{batch, keyColumns[w]}, onePad, ArrayRef<bool>{full});
      Value zeroBits = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(VectorType::get({kLanes}, maskElement),
                                      b.getIntegerAttr(maskElement, 0)));
      Value padded = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                             bits, zeroBits);
      fills[w] = b.create<arith::SelectOp>(loc, padded, constants.fill,
                                           constants.zeros);
    }
    // Lanes past the last key score -inf: exp gives 0 in pass 2.
    Value valid;
    if (!full)
      valid = b.create<vector::CreateMaskOp>(
          loc, VectorType::get({kLanes}, b.getI1Type()),
          ValueRange{b.create<arith::SubIOp>(loc, keys, key)});
    SmallVector<Value> newMaxima(maxima.begin(), maxima.end());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t w = 0; w < width; ++w) {
        Value s = b.create<arith::MulFOp>(loc, dot.getResult(r * width + w),
                                          constants.scale);
        if (fills[w])
          s = b.create<arith::AddFOp>(loc, s, fills[w]);
        if (valid)
          s = b.create<arith::SelectOp>(loc, valid, s, constants.minusInfinity);
        newMaxima[r] = b.create<arith::MaximumFOp>(loc, newMaxima[r], s);
        scores = b.create<vector::TransferWriteOp>(
                      loc, s, scores, ValueRange{index(r), keyColumns[w]},
                      ArrayRef<bool>{true})
                     .getResult();
      }
    return {scores, newMaxima};
  }

  /// All three passes; writes the block's context rows into `result` (the
  /// chunk's [1, chunk rows, d] tile, whose first row is `tileRow`) and
  /// returns it with the scores buffer, which the next block reuses.
  std::pair<Value, Value> emit(Value result, Value scores, Value tileRow,
                               Type resultType) {
    auto laneType = VectorType::get({kLanes}, b.getF32Type());
    auto rowType = VectorType::get({headDim}, b.getF32Type());
    Value key32 = b.create<arith::SubIOp>(
        loc, keys, b.create<arith::RemUIOp>(loc, keys, index(2 * kLanes)));
    auto withScores = [](Value s, ArrayRef<Value> rest) {
      SmallVector<Value> values{s};
      values.append(rest.begin(), rest.end());
      return values;
    };

    // Pass 1: 32 keys at a time, then at most two blocks of 16, the last
    // possibly partial.
    SmallVector<Value> state =
        withScores(scores, SmallVector<Value>(rows, constants.minusInfinity));
    auto wide = buildFor(b, loc, index(0), key32, index(2 * kLanes), state,
                         [&](Value key, ValueRange args) {
                           auto [s, m] = scoreBlock(args[0], key, 2, true,
                                                    args.drop_front());
                           return withScores(s, m);
                         });
    auto narrow = buildFor(
        b, loc, key32, keys, index(kLanes), wide.getResults(),
        [&](Value key, ValueRange args) {
          Value isFull = b.create<arith::CmpIOp>(
              loc, arith::CmpIPredicate::uge,
              b.create<arith::SubIOp>(loc, keys, key), index(kLanes));
          auto branch = b.create<scf::IfOp>(loc, args.getTypes(), isFull,
                                            /*withElseRegion=*/true);
          for (bool full : {true, false}) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(full ? branch.thenBlock()
                                            : branch.elseBlock());
            auto [s, m] = scoreBlock(args[0], key, 1, full, args.drop_front());
            b.create<scf::YieldOp>(loc, withScores(s, m));
          }
          return SmallVector<Value>(branch.getResults());
        });
    SmallVector<Value> maxima;
    for (int64_t r = 0; r < rows; ++r)
      maxima.push_back(b.create<vector::BroadcastOp>(
          loc, laneType,
          b.create<vector::ReductionOp>(loc, vector::CombiningKind::MAXIMUMF,
                                        narrow.getResult(1 + r))));

    // Pass 2: exponentials in place and their sums (padding lanes are
    // -inf, so they add 0).
    Value zeroF = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0));
    auto exps = buildFor(
        b, loc, index(0), paddedKeys, index(kLanes),
        withScores(narrow.getResult(0),
                   SmallVector<Value>(rows, constants.zeros)),
        [&](Value key, ValueRange args) {
          Value s = args[0];
          SmallVector<Value> sums;
          for (int64_t r = 0; r < rows; ++r) {
            Value x = b.create<vector::TransferReadOp>(
                loc, laneType, s, ValueRange{index(r), key}, zeroF,
                ArrayRef<bool>{true});
            Value p = b.create<math::ExpOp>(
                loc, b.create<arith::SubFOp>(loc, x, maxima[r]));
            s = b.create<vector::TransferWriteOp>(
                     loc, p, s, ValueRange{index(r), key}, ArrayRef<bool>{true})
                    .getResult();
            sums.push_back(b.create<arith::AddFOp>(loc, args[1 + r], p));
          }
          return withScores(s, sums);
        });
    scores = exps.getResult(0);

    // Pass 3: context rows, one V row load and one broadcast probability
    // per row and key.
    Value storageZero = b.create<arith::ConstantOp>(loc, b.getZeroAttr(storage));
    auto contexts = buildFor(
        b, loc, index(0), keys, index(1),
        SmallVector<Value>(rows, constants.zeroRow),
        [&](Value j, ValueRange acc) {
          Value values = extend(b.create<vector::TransferReadOp>(
              loc, VectorType::get({headDim}, storage), v,
              ValueRange{batch, head, j, index(0)}, storageZero,
              ArrayRef<bool>{true}));
          SmallVector<Value> next;
          for (int64_t r = 0; r < rows; ++r) {
            Value p = b.create<tensor::ExtractOp>(loc, scores,
                                                  ValueRange{index(r), j});
            next.push_back(b.create<vector::FMAOp>(
                loc, b.create<vector::BroadcastOp>(loc, rowType, p), values,
                acc[r]));
          }
          return next;
        });

    Value zero = index(0);
    Value tileQuery = b.create<arith::SubIOp>(loc, query, tileRow);
    for (int64_t r = 0; r < rows; ++r) {
      Value sum = b.create<vector::ReductionOp>(loc, vector::CombiningKind::ADD,
                                                exps.getResult(1 + r));
      Value context = b.create<arith::DivFOp>(
          loc, contexts.getResult(r),
          b.create<vector::BroadcastOp>(loc, rowType, sum));
      context = convertFloat(b, loc, context, resultType);
      result = b.create<vector::TransferWriteOp>(
                    loc, context, result,
                    ValueRange{zero,
                               b.create<arith::AddIOp>(loc, tileQuery, index(r)),
                               zero},
                    ArrayRef<bool>{true})
                   .getResult();
    }
    return {result, scores};
  }
};

/// qb.attention -> the loops above.
struct LowerAttention : OpRewritePattern<AttentionOp> {
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
    Type f32 = rewriter.getF32Type();
    Type resultElement = op.getType().getElementType();

    Value q = relayoutHeads(rewriter, loc, op.getQuery(), heads, headDim,
                            storage, f32);
    Value kT = transposeKeys(rewriter, loc, op.getKey(), heads, headDim,
                             storage);
    Value v = relayoutHeads(rewriter, loc, op.getValue(), heads, headDim,
                            storage, storage);

    auto laneType = VectorType::get({kLanes}, f32);
    auto splat = [&](Type type, float value) -> Value {
      return rewriter.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(cast<ShapedType>(type),
                                      rewriter.getF32FloatAttr(value)));
    };
    Constants constants{
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(laneType, op.getScale())),
        rewriter.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(laneType, op.getMaskFill())),
        splat(laneType, 0.0f),
        splat(laneType, -std::numeric_limits<float>::infinity()),
        splat(VectorType::get({headDim}, f32), 0.0f)};

    Value batch = rewriter.create<tensor::DimOp>(loc, op.getQuery(), 0);
    Value queries = rewriter.create<tensor::DimOp>(loc, op.getQuery(), 1);
    Value keys = rewriter.create<tensor::DimOp>(loc, op.getKey(), 1);
    Value lanesMinusOne = indexConstant(rewriter, loc, kLanes - 1);
    Value lanes = indexConstant(rewriter, loc, kLanes);
    Value paddedKeys = rewriter.create<arith::MulIOp>(
        loc,
        rewriter.create<arith::DivUIOp>(
            loc, rewriter.create<arith::AddIOp>(loc, keys, lanesMinusOne),
            lanes),
        lanes);
    Value chunkSize = indexConstant(rewriter, loc, kQueryChunk);
    Value chunks = rewriter.create<arith::DivUIOp>(
        loc,
        rewriter.create<arith::AddIOp>(
            loc, queries, indexConstant(rewriter, loc, kQueryChunk - 1)),
        chunkSize);
    Value init = rewriter.create<tensor::EmptyOp>(
        loc, tensor::getMixedSizes(rewriter, loc, op.getQuery()),
        resultElement);
    Value mask = op.getMask();

    Value attention = forallSlices(
        rewriter, loc,
        {getAsOpFoldResult(batch), rewriter.getIndexAttr(heads),
         getAsOpFoldResult(chunks)},
        init, [&](OpBuilder &b, Location loc, ValueRange ivs, Value shared) {
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
          // The scores of kRowBlock rows, reused by every block of the chunk.
          Value scores = b.create<tensor::EmptyOp>(
              loc,
              ArrayRef<OpFoldResult>{b.getIndexAttr(kRowBlock),
                                     getAsOpFoldResult(paddedKeys)},
              f32);
          auto rowLoop = [&](Value from, Value to, int64_t rows,
                             ValueRange state) {
            return buildFor(b, loc, from, to, indexConstant(b, loc, rows),
                            state, [&](Value query, ValueRange args) {
                              RowBlock block{b,    loc,  q,    kT,   v,
                                             mask, constants, bi, hi, query,
                                             keys, paddedKeys, storage,
                                             headDim, rows};
                              auto [out, buffer] = block.emit(
                                  args[0], args[1], first, resultElement);
                              return SmallVector<Value>{out, buffer};
                            })
                .getResults();
          };
          ValueRange blocked =
              rowLoop(first, blockedEnd, kRowBlock, ValueRange{tile, scores});
          return std::make_pair(
              rowLoop(blockedEnd, last, 1, blocked).front(), slice);
        });
    rewriter.replaceOp(op, attention);
    return success();
  }
};

} // namespace

void quantbert::populateAttentionToVectorPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerAttention>(patterns.getContext());
}
