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
// A binary linear whose only use is a qb.bitpack (the binary FFN's first
// linear: GELU keeps the sign, so the next binary linear reads the signs of
// its output) lowers with that bitpack into one loop that never stores the
// f32 output: per 64 outputs, two tiles of 4 vectors compute y as above and
// the signs of each row's 64 values, compared exactly as qb.bitpack does,
// become its output word. The [M, N] f32 tensor (1.5 MB at M = 128,
// N = 3072) is neither written nor read back.
//
// A block-sparse binary linear (block_mask; a pruned 1-bit FFN) keeps only
// its stored blocks of 32 outputs x 64 inputs, in panel order: each panel of
// 32 outputs (4 vectors, whatever tile-n says) loops over its own blocks,
// reads the input word each names, and counts only those blocks' inputs in
// place of K. Zero blocks cost nothing.
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


/// The binary linear whose output `pack` packs, if the two lower to one loop:
/// the pack is the linear's only use, and the weight is static with N a
/// multiple of 64 (whole output words, no padding bits).
BinaryLinearOp signPackedProducer(BitpackOp pack) {
  auto linear = pack.getInput().getDefiningOp<BinaryLinearOp>();
  if (!linear || !linear->hasOneUse())
    return {};
  RankedTensorType weightType = linear.getWeight().getType();
  if (!weightType.hasStaticShape() ||
      weightType.getDimSize(0) % kBitsPerPackedWord != 0)
    return {};
  return linear;
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
    if (signPackedProducer(op))
      return rewriter.notifyMatchFailure(op, "lowered with its binary linear");
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

/// A block-sparse weight (block_mask) as the kernel reads it: for each
/// panel of kBinaryBlockRows outputs, its stored blocks in word order.
struct StoredBlocks {
  Value starts;  // [panels + 1] i64: panel p's blocks are [starts[p], starts[p + 1])
  Value words;   // [max(stored, 1)] i64: the input word of each block
  Value weights; // [max(stored, 1), 32] i64: each block's 32 output rows' words
                 // (zero rows past N)
  Value inputs;  // [panels * 32] i64: per output, the inputs its blocks hold
  int64_t panels = 0;
};

/// The stored blocks of `op`'s constant weight and mask, as constants; null
/// when either is not a constant.
std::optional<StoredBlocks> storedBlocks(OpBuilder &b, Location loc,
                                         BinaryLinearOp op) {
  DenseIntElementsAttr weight, mask;
  if (!matchPattern(op.getWeight(), m_Constant(&weight)) ||
      !matchPattern(op.getBlockMask(), m_Constant(&mask)))
    return std::nullopt;
  int64_t n = op.getWeight().getType().getDimSize(0);
  int64_t words = op.getWeight().getType().getDimSize(1);
  int64_t k = static_cast<int64_t>(op.getInFeatures());
  SmallVector<int64_t> values(weight.getValues<int64_t>());
  SmallVector<bool> flags(mask.getValues<bool>());
  StoredBlocks blocks;
  blocks.panels = binaryBlockRowCount(n);
  SmallVector<int64_t> starts{0}, blockWords, blockWeights, inputs;
  for (int64_t p = 0; p < blocks.panels; ++p) {
    int64_t counted = 0;
    for (int64_t w = 0; w < words; ++w) {
      if (!flags[p * words + w])
        continue;
      blockWords.push_back(w);
      counted += packedWordBits(k, w);
      for (int64_t r = 0; r < kBinaryBlockRows; ++r) {
        int64_t row = p * kBinaryBlockRows + r;
        blockWeights.push_back(row < n ? values[row * words + w] : 0);
      }
    }
    starts.push_back(static_cast<int64_t>(blockWords.size()));
    inputs.append(kBinaryBlockRows, counted);
  }
  if (blockWords.empty()) { // a placeholder block no loop reads
    blockWords.push_back(0);
    blockWeights.append(kBinaryBlockRows, 0);
  }
  auto constant = [&](ArrayRef<int64_t> shape, ArrayRef<int64_t> data) {
    auto type = RankedTensorType::get(shape, b.getI64Type());
    return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type, data))
        .getResult();
  };
  int64_t stored = static_cast<int64_t>(blockWords.size());
  blocks.starts = constant({blocks.panels + 1}, starts);
  blocks.words = constant({stored}, blockWords);
  blocks.weights = constant({stored, kBinaryBlockRows}, blockWeights);
  blocks.inputs = constant({blocks.panels * kBinaryBlockRows}, inputs);
  return blocks;
}

/// The loops of one binary linear: tiles of rows by vectors of outputs.
/// Dense, the word loop runs over all input words of a transposed weight;
/// block-sparse, each panel of 32 outputs (4 vectors) runs over its stored
/// blocks only, reading the input word each block names.
struct BinaryKernel {
  Value input;   // [M, W] i64
  Value weightT; // [W, N] i64 (dense only)
  Value scale;   // [N] f32
  Value bias;    // [N] f32 or null
  int64_t inFeatures;
  int64_t words;
  std::optional<StoredBlocks> sparse;

  BinaryKernel(OpBuilder &builder, Location loc, BinaryLinearOp op,
               std::optional<StoredBlocks> sparse = std::nullopt)
      : input(collapseToMatrix(builder, loc, op.getInput())),
        weightT(sparse ? Value()
                       : transposedWeight(builder, loc, op.getWeight())),
        scale(op.getScale()), bias(op.getBias()),
        inFeatures(static_cast<int64_t>(op.getInFeatures())),
        words(op.getWeight().getType().getDimSize(1)),
        sparse(std::move(sparse)) {}

  /// Block-sparse: the output columns are whole panels, the last possibly
  /// past N, so per-output reads and writes are masked.
  bool paddedColumns() const {
    return sparse && cast<RankedTensorType>(scale.getType()).getDimSize(0) %
                             kBinaryBlockRows !=
                         0;
  }

  /// Rows row, row + 1, ..., row + count - 1.
  static SmallVector<Value> consecutive(OpBuilder &b, Location loc, Value row,
                                        int64_t count, int64_t step = 1) {
    SmallVector<Value> values;
    for (int64_t i = 0; i < count; ++i)
      values.push_back(i == 0 ? row
                              : b.create<arith::AddIOp>(
                                    loc, row, indexConstant(b, loc, i * step)));
    return values;
  }

  /// One word of the mismatch loop: `accs` (row-major, one per row and
  /// weight vector) plus popcount(input[row, word] ^ weight vector).
  SmallVector<Value> accumulateWord(OpBuilder &b, Location loc,
                                    ArrayRef<Value> rowsOf, Value word,
                                    ArrayRef<Value> weights,
                                    ValueRange accs) const {
    auto accType = cast<VectorType>(weights.front().getType());
    SmallVector<Value> next;
    for (auto [i, row] : llvm::enumerate(rowsOf)) {
      Value x = b.create<tensor::ExtractOp>(loc, input, ValueRange{row, word});
      Value xs = b.create<vector::BroadcastOp>(loc, accType, x);
      for (auto [j, w] : llvm::enumerate(weights)) {
        Value count =
            b.create<math::CtPopOp>(loc, b.create<arith::XOrIOp>(loc, xs, w));
        next.push_back(
            b.create<arith::AddIOp>(loc, accs[i * weights.size() + j], count));
      }
    }
    return next;
  }

  /// The mismatch counts of rows `rowsOf` against the `width` weight columns
  /// from each of `columnsOf`: one vector accumulator per (row, column
  /// vector), row-major.
  SmallVector<Value> mismatches(OpBuilder &b, Location loc,
                                ArrayRef<Value> rowsOf,
                                ArrayRef<Value> columnsOf,
                                int64_t width) const {
    if (sparse)
      return storedMismatches(b, loc, rowsOf, columnsOf, width);
    auto accType = VectorType::get({width}, b.getI64Type());
    Value zeroAcc = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(0)));
    SmallVector<Value> inits(rowsOf.size() * columnsOf.size(), zeroAcc);
    Value padding = b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(0));
    auto wordLoop = b.create<scf::ForOp>(
        loc, indexConstant(b, loc, 0), indexConstant(b, loc, words),
        indexConstant(b, loc, 1), inits,
        [&](OpBuilder &b, Location loc, Value word, ValueRange accs) {
          SmallVector<Value> weights;
          for (Value column : columnsOf)
            weights.push_back(b.create<vector::TransferReadOp>(
                loc, accType, weightT, ValueRange{word, column}, padding,
                ArrayRef<bool>{true}));
          b.create<scf::YieldOp>(
              loc, accumulateWord(b, loc, rowsOf, word, weights, accs));
        });
    return SmallVector<Value>(wordLoop.getResults());
  }

  /// mismatches() of a block-sparse weight: `columnsOf` are the 4 vectors
  /// of one panel (columnsOf[0] = 32 * panel), and the loop runs over the
  /// panel's stored blocks, each naming its input word.
  SmallVector<Value> storedMismatches(OpBuilder &b, Location loc,
                                      ArrayRef<Value> rowsOf,
                                      ArrayRef<Value> columnsOf,
                                      int64_t width) const {
    assert(width == kLanes &&
           static_cast<int64_t>(columnsOf.size()) * kLanes == kBinaryBlockRows &&
           "block-sparse tiles are whole panels");
    auto accType = VectorType::get({width}, b.getI64Type());
    Value zeroAcc = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(0)));
    SmallVector<Value> inits(rowsOf.size() * columnsOf.size(), zeroAcc);
    Value padding = b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(0));
    Value panel = b.create<arith::DivUIOp>(
        loc, columnsOf.front(), indexConstant(b, loc, kBinaryBlockRows));
    auto index = [&](OpBuilder &b, Value table, Value at) -> Value {
      return b.create<arith::IndexCastOp>(
          loc, b.getIndexType(),
          b.create<tensor::ExtractOp>(loc, table, ValueRange{at}));
    };
    Value begin = index(b, sparse->starts, panel);
    Value end = index(b, sparse->starts,
                      b.create<arith::AddIOp>(loc, panel, indexConstant(b, loc, 1)));
    auto blockLoop = b.create<scf::ForOp>(
        loc, begin, end, indexConstant(b, loc, 1), inits,
        [&](OpBuilder &b, Location loc, Value block, ValueRange accs) {
          Value word = index(b, sparse->words, block);
          SmallVector<Value> weights;
          for (int64_t j = 0, e = columnsOf.size(); j < e; ++j)
            weights.push_back(b.create<vector::TransferReadOp>(
                loc, accType, sparse->weights,
                ValueRange{block, indexConstant(b, loc, j * kLanes)}, padding,
                ArrayRef<bool>{true}));
          b.create<scf::YieldOp>(
              loc, accumulateWord(b, loc, rowsOf, word, weights, accs));
        });
    return SmallVector<Value>(blockLoop.getResults());
  }

  /// The number of inputs each of the `width` outputs from `column` counts:
  /// K, or for a block-sparse weight the inputs of its panel's blocks.
  Value countedInputs(OpBuilder &b, Location loc, Value column,
                      int64_t width) const {
    auto accType = VectorType::get({width}, b.getI64Type());
    if (!sparse)
      return b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(inFeatures)));
    Value padding = b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(0));
    return b.create<vector::TransferReadOp>(loc, accType, sparse->inputs,
                                            ValueRange{column}, padding,
                                            ArrayRef<bool>{true});
  }

  /// Scales and biases (null without bias) of the `width` outputs from
  /// `column`.
  std::pair<Value, Value> outputParameters(OpBuilder &b, Location loc,
                                           Value column, int64_t width) const {
    auto outType = VectorType::get({width}, b.getF32Type());
    Value zeroF = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0.0f));
    bool inBounds = !paddedColumns();
    Value scales = b.create<vector::TransferReadOp>(
        loc, outType, scale, ValueRange{column}, zeroF,
        ArrayRef<bool>{inBounds});
    Value biases =
        bias ? b.create<vector::TransferReadOp>(loc, outType, bias,
                                                ValueRange{column}, zeroF,
                                                ArrayRef<bool>{inBounds})
             : Value();
    return {scales, biases};
  }

  /// The op's output transform, (K - 2 * mismatches) * scale + bias, in the
  /// op's order of operations; `k` is countedInputs().
  Value output(OpBuilder &b, Location loc, Value mismatches, Value k,
               Value scales, Value biases) const {
    auto accType = cast<VectorType>(mismatches.getType());
    auto outType = VectorType::get(accType.getShape(), b.getF32Type());
    Value one = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(accType, b.getI64IntegerAttr(1)));
    Value dot = b.create<arith::SubIOp>(
        loc, k, b.create<arith::ShLIOp>(loc, mismatches, one));
    Value y = b.create<arith::MulFOp>(
        loc, b.create<arith::SIToFPOp>(loc, outType, dot), scales);
    if (biases)
      y = b.create<arith::AddFOp>(loc, y, biases);
    return y;
  }

  /// One f32 tile: tileM rows x tileN vectors of `width` outputs, from
  /// weight columns [column, column + tileN * width), into `target` from
  /// column `targetColumn`.
  Value floatTile(OpBuilder &b, Location loc, Value target, Value row,
                  Value column, Value targetColumn, int64_t tileM,
                  int64_t tileN, int64_t width) const {
    SmallVector<Value> rowsOf = consecutive(b, loc, row, tileM);
    SmallVector<Value> columnsOf = consecutive(b, loc, column, tileN, width);
    SmallVector<Value> targetColumnsOf =
        consecutive(b, loc, targetColumn, tileN, width);
    SmallVector<Value> counts = mismatches(b, loc, rowsOf, columnsOf, width);
    for (int64_t j = 0; j < tileN; ++j) {
      auto [scales, biases] = outputParameters(b, loc, columnsOf[j], width);
      Value k = countedInputs(b, loc, columnsOf[j], width);
      for (int64_t i = 0; i < tileM; ++i)
        target = b.create<vector::TransferWriteOp>(
                      loc, output(b, loc, counts[i * tileN + j], k, scales, biases),
                      target, ValueRange{rowsOf[i], targetColumnsOf[j]},
                      ArrayRef<bool>{!paddedColumns()})
                     .getResult();
    }
    return target;
  }

  /// One packed tile: the signs of outputs [64 * word, 64 * word + 64) of
  /// tileM rows, as qb.bitpack packs them (bit k set iff output k is not
  /// > 0), into column `targetWord` of `target`. Two halves of 4 vectors
  /// of 8 outputs keep 4 * tileM accumulators each.
  Value signTile(OpBuilder &b, Location loc, Value target, Value row,
                 Value word, Value targetWord, int64_t tileM) const {
    constexpr int64_t kHalves = 2, kVectors = 4;
    static_assert(kHalves * kVectors * kLanes == kBitsPerPackedWord);
    static_assert(kVectors * kLanes == kBinaryBlockRows,
                  "a half is one block-sparse panel");
    SmallVector<Value> rowsOf = consecutive(b, loc, row, tileM);
    Value first = b.create<arith::MulIOp>(
        loc, word, indexConstant(b, loc, kBitsPerPackedWord));
    auto zeroF = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(VectorType::get({kLanes}, b.getF32Type()),
                                    b.getF32FloatAttr(0.0f)));
    Value zeroWord = b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(0));
    SmallVector<Value> packed(tileM, zeroWord);
    for (int64_t half = 0; half < kHalves; ++half) {
      Value column = b.create<arith::AddIOp>(
          loc, first, indexConstant(b, loc, half * kVectors * kLanes));
      SmallVector<Value> columnsOf =
          consecutive(b, loc, column, kVectors, kLanes);
      SmallVector<Value> counts = mismatches(b, loc, rowsOf, columnsOf, kLanes);
      for (int64_t j = 0; j < kVectors; ++j) {
        auto [scales, biases] = outputParameters(b, loc, columnsOf[j], kLanes);
        Value k = countedInputs(b, loc, columnsOf[j], kLanes);
        int64_t shift = (half * kVectors + j) * kLanes;
        for (int64_t i = 0; i < tileM; ++i) {
          Value y = output(b, loc, counts[i * kVectors + j], k, scales, biases);
          // Bit set means -1: !(y > 0), NaN included, as qb.bitpack.
          Value negative =
              b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::ULE, y, zeroF);
          Value byte = b.create<vector::ExtractOp>(
              loc,
              b.create<vector::BitCastOp>(
                  loc, VectorType::get({1}, b.getI8Type()), negative),
              ArrayRef<int64_t>{0});
          Value bits = b.create<arith::ShLIOp>(
              loc, b.create<arith::ExtUIOp>(loc, b.getI64Type(), byte),
              b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(shift)));
          packed[i] = b.create<arith::OrIOp>(loc, packed[i], bits);
        }
      }
    }
    for (int64_t i = 0; i < tileM; ++i)
      target = b.create<tensor::InsertOp>(loc, packed[i], target,
                                          ValueRange{rowsOf[i], targetWord});
    return target;
  }

  /// Rows [0, rows) in blocks of tileM, then one by one: `tile(b, loc,
  /// target, row, tileRows)` computes each block into `target`.
  static Value overRows(
      OpBuilder &b, Location loc, Value target, Value rows, int64_t tileM,
      function_ref<Value(OpBuilder &, Location, Value, Value, int64_t)> tile) {
    Value tileMValue = indexConstant(b, loc, tileM);
    Value remainder = b.create<arith::RemUIOp>(loc, rows, tileMValue);
    Value blockedRows = b.create<arith::SubIOp>(loc, rows, remainder);
    auto blocked = b.create<scf::ForOp>(
        loc, indexConstant(b, loc, 0), blockedRows, tileMValue,
        ValueRange{target},
        [&](OpBuilder &b, Location loc, Value row, ValueRange args) {
          b.create<scf::YieldOp>(loc, tile(b, loc, args.front(), row, tileM));
        });
    auto tail = b.create<scf::ForOp>(
        loc, blockedRows, rows, indexConstant(b, loc, 1),
        blocked.getResults(),
        [&](OpBuilder &b, Location loc, Value row, ValueRange args) {
          b.create<scf::YieldOp>(loc, tile(b, loc, args.front(), row, 1));
        });
    return tail.getResult(0);
  }

  /// A tile of `tileRows` rows from `row` whose outputs come from weight
  /// panel `column`, written into `target` from column `targetColumn`.
  using TileFn = function_ref<Value(OpBuilder &, Location, Value target,
                                    Value row, Value column,
                                    Value targetColumn, int64_t tileRows)>;

  /// `tile` over every row (blocks of tileM, then one by one) of the
  /// `count` panels begin, begin + step, ... of the result, each `width`
  /// columns of it: as a parallel loop whose iterations write their
  /// [rows, width] slices of `result`, or, for a single panel, into
  /// `result` directly.
  static Value overPanels(OpBuilder &builder, Location loc, Value result,
                          Value rows, int64_t begin, int64_t count,
                          int64_t step, int64_t width, int64_t tileM,
                          TileFn tile) {
    auto panel = [&](OpBuilder &b, Location loc, Value target, Value column,
                     Value targetColumn) {
      return overRows(b, loc, target, rows, tileM,
                      [&](OpBuilder &b, Location loc, Value target, Value row,
                          int64_t tileRows) {
                        return tile(b, loc, target, row, column, targetColumn,
                                    tileRows);
                      });
    };
    if (count == 1) {
      Value column = indexConstant(builder, loc, begin);
      return panel(builder, loc, result, column, column);
    }
    OpFoldResult rowCount = getAsOpFoldResult(rows);
    return forallSlices(
        builder, loc, {builder.getIndexAttr(count)}, result,
        [&](OpBuilder &b, Location loc, ValueRange ivs, Value shared) {
          Value column = b.create<arith::AddIOp>(
              loc, indexConstant(b, loc, begin),
              b.create<arith::MulIOp>(loc, ivs.front(),
                                      indexConstant(b, loc, step)));
          Slice slice{{b.getIndexAttr(0), column},
                      {rowCount, b.getIndexAttr(width)}};
          Value tile = panel(b, loc, slice.extract(b, loc, shared), column,
                             indexConstant(b, loc, 0));
          return std::make_pair(tile, slice);
        });
  }

  /// for n in [begin, end) step `step`: the f32 outputs of all rows, one
  /// column panel per parallel iteration.
  Value floatPanels(OpBuilder &builder, Location loc, Value result, Value rows,
                    int64_t begin, int64_t end, int64_t step, int64_t tileM,
                    int64_t tileN, int64_t width) const {
    return overPanels(builder, loc, result, rows, begin, (end - begin) / step,
                      step, step, tileM,
                      [&](OpBuilder &b, Location loc, Value target, Value row,
                          Value column, Value targetColumn, int64_t tileRows) {
                        return floatTile(b, loc, target, row, column,
                                         targetColumn, tileRows, tileN, width);
                      });
  }

  /// The packed signs of all outputs into `result` [M, N / 64], one output
  /// word (a column of `result`) per parallel iteration.
  Value signWords(OpBuilder &builder, Location loc, Value result, Value rows,
                  int64_t outWords, int64_t tileM) const {
    return overPanels(builder, loc, result, rows, 0, outWords, 1, 1, tileM,
                      [&](OpBuilder &b, Location loc, Value target, Value row,
                          Value word, Value targetWord, int64_t tileRows) {
                        return signTile(b, loc, target, row, word, targetWord,
                                        tileRows);
                      });
  }
};

/// qb.binary_linear -> the register-blocked XNOR-popcount GEMM above.
struct LowerBinaryLinear : OpRewritePattern<BinaryLinearOp> {
  LowerBinaryLinear(MLIRContext *context, const QBToVectorOptions &options)
      : OpRewritePattern(context), options(options) {}

  LogicalResult matchAndRewrite(BinaryLinearOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType weightType = op.getWeight().getType();
    if (!weightType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a static weight shape");
    if (op->hasOneUse())
      if (auto pack = dyn_cast<BitpackOp>(*op->user_begin()))
        if (signPackedProducer(pack))
          return rewriter.notifyMatchFailure(op, "lowered with its bitpack");
    Location loc = op.getLoc();
    int64_t outFeatures = weightType.getDimSize(0);
    std::optional<StoredBlocks> blocks;
    if (op.getBlockMask()) {
      blocks = storedBlocks(rewriter, loc, op);
      if (!blocks)
        return rewriter.notifyMatchFailure(
            op, "a block-sparse weight needs a constant weight and mask");
    }

    BinaryKernel kernel(rewriter, loc, op, blocks);
    OpFoldResult rowCount = tensor::getMixedSizes(rewriter, loc, kernel.input)[0];
    Value rows = getValueOrCreateConstantIndexOp(rewriter, loc, rowCount);
    Value result = rewriter.create<tensor::EmptyOp>(
        loc, ArrayRef<OpFoldResult>{rowCount, rewriter.getIndexAttr(outFeatures)},
        rewriter.getF32Type());
    if (blocks) {
      // Whole panels of 32 outputs, 4 vectors each: one parallel iteration
      // per panel, then a last partial panel written straight into the
      // result, its lanes past N masked.
      int64_t tileM = std::max<int64_t>(1, options.tileM);
      int64_t fullPanels = outFeatures / kBinaryBlockRows;
      int64_t vectors = kBinaryBlockRows / kLanes;
      if (fullPanels > 0)
        result = kernel.floatPanels(rewriter, loc, result, rows, 0,
                                    fullPanels * kBinaryBlockRows,
                                    kBinaryBlockRows, tileM, vectors, kLanes);
      if (fullPanels < blocks->panels)
        result = kernel.floatPanels(
            rewriter, loc, result, rows, fullPanels * kBinaryBlockRows,
            (fullPanels + 1) * kBinaryBlockRows, kBinaryBlockRows, tileM,
            vectors, kLanes);
      rewriter.replaceOp(op, expandFromMatrix(rewriter, loc, result,
                                              op.getType(), op.getInput()));
      return success();
    }

    int64_t tileN = std::max<int64_t>(1, options.tileN);
    int64_t tileM = std::max<int64_t>(1, options.tileM);
    int64_t panel = kLanes * tileN;
    int64_t fullPanels = outFeatures / panel;
    // Full panels; then the remaining whole vectors one at a time; then a
    // narrower vector for the last N % 8 outputs.
    int64_t column = 0;
    if (fullPanels > 0) {
      result = kernel.floatPanels(rewriter, loc, result, rows, 0,
                                  fullPanels * panel, panel, tileM, tileN,
                                  kLanes);
      column = fullPanels * panel;
    }
    int64_t wholeVectors = (outFeatures - column) / kLanes;
    if (wholeVectors > 0) {
      result = kernel.floatPanels(rewriter, loc, result, rows, column,
                                  column + wholeVectors * kLanes, kLanes,
                                  tileM, 1, kLanes);
      column += wholeVectors * kLanes;
    }
    if (column < outFeatures)
      result = kernel.floatPanels(rewriter, loc, result, rows, column,
                                  outFeatures, outFeatures - column, tileM, 1,
                                  outFeatures - column);

    rewriter.replaceOp(op, expandFromMatrix(rewriter, loc, result, op.getType(),
                                            op.getInput()));
    return success();
  }

  QBToVectorOptions options;
};

/// qb.bitpack of a qb.binary_linear -> one loop writing the packed signs.
struct LowerSignsOfBinaryLinear : OpRewritePattern<BitpackOp> {
  LowerSignsOfBinaryLinear(MLIRContext *context,
                           const QBToVectorOptions &options)
      : OpRewritePattern(context, /*benefit=*/2), options(options) {}

  LogicalResult matchAndRewrite(BitpackOp op,
                                PatternRewriter &rewriter) const override {
    BinaryLinearOp linear = signPackedProducer(op);
    if (!linear)
      return rewriter.notifyMatchFailure(op, "not the signs of a binary linear");
    Location loc = op.getLoc();
    int64_t outWords =
        linear.getWeight().getType().getDimSize(0) / kBitsPerPackedWord;
    std::optional<StoredBlocks> blocks;
    if (linear.getBlockMask()) {
      blocks = storedBlocks(rewriter, loc, linear);
      if (!blocks)
        return rewriter.notifyMatchFailure(
            op, "a block-sparse weight needs a constant weight and mask");
    }

    BinaryKernel kernel(rewriter, loc, linear, blocks);
    OpFoldResult rowCount = tensor::getMixedSizes(rewriter, loc, kernel.input)[0];
    Value rows = getValueOrCreateConstantIndexOp(rewriter, loc, rowCount);
    Value result = rewriter.create<tensor::EmptyOp>(
        loc, ArrayRef<OpFoldResult>{rowCount, rewriter.getIndexAttr(outWords)},
        rewriter.getI64Type());
    result = kernel.signWords(rewriter, loc, result, rows, outWords,
                              std::max<int64_t>(1, options.tileM));
    rewriter.replaceOp(op, expandFromMatrix(rewriter, loc, result, op.getType(),
                                            linear.getInput()));
    rewriter.eraseOp(linear);
    return success();
  }

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
                           "static packed, weight and hidden dimensions"
                        << (isa<BinaryLinearOp>(op) &&
                                    cast<BinaryLinearOp>(op).getBlockMask()
                                ? ", and a constant weight and block_mask"
                                : "");
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
  patterns.add<LowerBinaryLinear, LowerSignsOfBinaryLinear>(
      patterns.getContext(), options);
  populateAttentionToVectorPatterns(patterns);
}
