//===- QBToLinalg.cpp - convert-qb-to-linalg ------------------------------===//
//
// Lowers the float-level qb ops to value-semantic linalg, tensor, arith and
// math ops on tensors, ready for one-shot bufferization and the upstream
// linalg -> loops / vector -> LLVM path. Encoder layers are inlined first;
// qb.bitpack, qb.binary_linear, qb.attention and qb.int8_linear belong to
// other conversions and are left alone. Arithmetic is carried out in f32:
// f16 and bf16 elements are extended on load and truncated on store.
//
// One file over 600 lines because it is one pass: a pattern per qb op (the
// sections below), all built from the same shape and element-type helpers
// at the top (collapse/expand to [M, K], f32 extension, broadcasts), which
// splitting would only turn into a second header.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/QBToLinalg.h"
#include "quantbert/Conversion/ShapeUtils.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Support/Quantization.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

namespace quantbert {
#define GEN_PASS_DEF_CONVERTQBTOLINALG
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

//===----------------------------------------------------------------------===//
// Builders shared by the patterns
//===----------------------------------------------------------------------===//

/// Computes the scalar a linalg.generic yields from its block arguments.
using BodyBuilder = function_ref<Value(OpBuilder &, Location, ValueRange)>;

Value f32Constant(OpBuilder &b, Location loc, float value) {
  return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(value));
}

Value extendToF32(OpBuilder &b, Location loc, Value scalar) {
  if (scalar.getType().isF32())
    return scalar;
  return b.create<arith::ExtFOp>(loc, b.getF32Type(), scalar);
}

Value truncateFromF32(OpBuilder &b, Location loc, Value scalar, Type type) {
  if (type.isF32())
    return scalar;
  return b.create<arith::TruncFOp>(loc, type, scalar);
}

/// The static one of two compatible dimensions, if either is static.
int64_t joinDims(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) ? rhs : lhs;
}

SmallVector<int64_t> joinShapes(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  SmallVector<int64_t> shape;
  for (auto [l, r] : llvm::zip_equal(lhs, rhs))
    shape.push_back(joinDims(l, r));
  return shape;
}

/// `value` as a tensor of `shape`: a tensor.cast when the (compatible) static
/// information differs.
Value castToShape(OpBuilder &b, Location loc, Value value,
                  ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  return b.create<tensor::CastOp>(loc, type.clone(shape), value);
}

Value castToType(OpBuilder &b, Location loc, Value value, Type type) {
  if (value.getType() == type)
    return value;
  return b.create<tensor::CastOp>(loc, type, value);
}

/// tensor.empty of `shape`, taking its dynamic sizes from `sizes`.
Value createEmpty(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType, ArrayRef<OpFoldResult> sizes) {
  SmallVector<Value> dynamicSizes;
  for (auto [dim, size] : llvm::zip_equal(shape, sizes))
    if (ShapedType::isDynamic(dim))
      dynamicSizes.push_back(getValueOrCreateConstantIndexOp(b, loc, size));
  return b.create<tensor::EmptyOp>(loc, shape, elementType, dynamicSizes);
}

/// A tensor of `shape` filled with the f32 `value`.
Value createFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   ArrayRef<OpFoldResult> sizes, float value) {
  Value empty = createEmpty(b, loc, shape, b.getF32Type(), sizes);
  Value fill = f32Constant(b, loc, value);
  return b.create<linalg::FillOp>(loc, ValueRange{fill}, ValueRange{empty})
      .getResult(0);
}

/// A linalg.generic over `init`'s iteration space (plus any reduced
/// dimensions) with one result.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                   ArrayRef<AffineMap> inputMaps, Value init, AffineMap initMap,
                   ArrayRef<utils::IteratorType> iterators, BodyBuilder body) {
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(initMap);
  auto generic = b.create<linalg::GenericOp>(
      loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args);
        nested.create<linalg::YieldOp>(nestedLoc, result);
      });
  return generic.getResult(0);
}

/// An element-wise linalg.generic: every input has `init`'s rank and shape.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       Value init, BodyBuilder body) {
  int64_t rank = cast<RankedTensorType>(init.getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> inputMaps(inputs.size(), identity);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return buildGeneric(b, loc, inputs, inputMaps, init, identity, iterators,
                      body);
}

/// (d0, ..., d{rank-1}) -> (d0, ..., d{rank-2}): a row of the last dimension.
AffineMap rowMap(OpBuilder &b, int64_t rank) {
  return AffineMap::getMultiDimIdentityMap(rank, b.getContext())
      .getMajorSubMap(rank - 1);
}

/// (d0, ..., d{rank-1}) -> (d{dim}): one entry per index of dimension `dim`.
AffineMap channelMap(OpBuilder &b, int64_t rank, int64_t dim) {
  return AffineMap::get(rank, 0, b.getAffineDimExpr(dim), b.getContext());
}

/// The f32 tensor of `input`'s shape without its last dimension, reduced
/// along it: `combine(args, accumulator)` folds the block arguments of the
/// full-shape `inputs` and the row-shape `rowInputs` into the accumulator,
/// which starts at `initial`.
Value reduceLastDim(OpBuilder &b, Location loc, Value input, ValueRange inputs,
                    ValueRange rowInputs, float initial, BodyBuilder combine) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  Value init = createFilled(b, loc, type.getShape().drop_back(),
                            ArrayRef(sizes).drop_back(), initial);
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(rank));
  maps.append(rowInputs.size(), rowMap(b, rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  SmallVector<Value> operands(inputs);
  llvm::append_range(operands, rowInputs);
  return buildGeneric(b, loc, operands, maps, init, rowMap(b, rank), iterators,
                      combine);
}

/// The row-wise f32 tensor `combine(rowArgs...)` of reduced rows.
Value mapRows(OpBuilder &b, Location loc, ValueRange rows, BodyBuilder body) {
  Value first = rows.front();
  auto type = cast<RankedTensorType>(first.getType());
  Value init = createEmpty(b, loc, type.getShape(), b.getF32Type(),
                           tensor::getMixedSizes(b, loc, first));
  return buildElementwise(b, loc, rows, init, body);
}

/// The size of `input`'s last dimension as an f32 scalar (the divisor of
/// means).
Value lastDimAsF32(OpBuilder &b, Location loc, Value input) {
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  Value size = b.createOrFold<tensor::DimOp>(loc, input, rank - 1);
  Value asInt = b.create<arith::IndexCastOp>(loc, b.getI64Type(), size);
  return b.create<arith::UIToFPOp>(loc, b.getF32Type(), asInt);
}

/// An element-wise f32 computation on same-shaped `inputs` whose result has
/// `resultType` (elements truncated from f32 to its element type).
Value buildFloatElementwise(OpBuilder &b, Location loc,
                            RankedTensorType resultType, ValueRange inputs,
                            function_ref<Value(OpBuilder &, Location,
                                               ArrayRef<Value>)>
                                compute) {
  Value init =
      createEmpty(b, loc, resultType.getShape(), resultType.getElementType(),
                  tensor::getMixedSizes(b, loc, inputs.front()));
  Type elementType = resultType.getElementType();
  return buildElementwise(
      b, loc, inputs, init,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        SmallVector<Value> values;
        for (Value arg : args.drop_back())
          values.push_back(extendToF32(nested, nestedLoc, arg));
        Value result = compute(nested, nestedLoc, values);
        return truncateFromF32(nested, nestedLoc, result, elementType);
      });
}

/// The f32 tensor `value` with its elements truncated to `elementType`.
Value truncateTensor(OpBuilder &b, Location loc, Value value,
                     Type elementType) {
  if (elementType.isF32())
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  return buildFloatElementwise(
      b, loc, type.clone(elementType), value,
      [](OpBuilder &, Location, ArrayRef<Value> args) { return args[0]; });
}

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

/// qb.embedding -> linalg.generic over [batch, seq, hidden] extracting the
/// word, token-type and position rows (ids through tensor.extract, since the
/// tables are indexed by data, and positions by linalg.index). A table that
/// is a qb.dequantize of int8 codes (per tensor or per row) is looked up in
/// its codes and only the gathered elements are dequantized, so the table
/// stays 8-bit in memory and the lookup does not touch the whole table.
struct EmbeddingLowering : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;

  /// A lookup table: float values, or int8 codes with their parameters.
  struct Table {
    Value values;
    bool quantized = false;
    /// Per-row [rows] f32 / i32 tensors, or null for per-tensor parameters.
    Value rowScales, rowZeroPoints;
    float scale = 1.0f, offset = 0.0f;
    int32_t zeroPoint = 0;

    static Table of(OpBuilder &builder, Location loc, Value original,
                    Value converted) {
      Table table{converted};
      auto dequantize = original.getDefiningOp<DequantizeOp>();
      if (!dequantize || !dequantize.getInput().getType().getElementType()
                              .isInteger(8))
        return table;
      QuantParams params = dequantize.getQuantParams();
      bool perRow = params.scales.size() > 1 || params.zeroPoints.size() > 1;
      if (perRow && (!params.axis || *params.axis != 0))
        return table; // Per-column parameters: dequantize the whole table.
      table.values = dequantize.getInput();
      table.quantized = true;
      table.offset = params.offset;
      int64_t rows = dequantize.getInput().getType().getDimSize(0);
      auto rowVector = [&](auto values, Type element) -> Value {
        auto type = RankedTensorType::get({rows}, element);
        return builder.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(type, values));
      };
      if (params.scales.size() > 1)
        table.rowScales =
            rowVector(ArrayRef<float>(params.scales), builder.getF32Type());
      else
        table.scale = params.scales.front();
      if (params.zeroPoints.size() > 1)
        table.rowZeroPoints = rowVector(ArrayRef<int32_t>(params.zeroPoints),
                                        builder.getI32Type());
      else if (!params.zeroPoints.empty())
        table.zeroPoint = params.zeroPoints.front();
      return table;
    }

    /// (code - zero point) * scale + offset, as qb.dequantize computes it.
    Value dequantize(OpBuilder &b, Location loc, Value code, Value row) const {
      Value value = b.create<arith::ExtSIOp>(loc, b.getI32Type(), code);
      if (rowZeroPoints || zeroPoint != 0) {
        Value zero =
            rowZeroPoints
                ? b.create<tensor::ExtractOp>(loc, rowZeroPoints, row)
                      .getResult()
                : b.create<arith::ConstantOp>(loc,
                                              b.getI32IntegerAttr(zeroPoint))
                      .getResult();
        value = b.create<arith::SubIOp>(loc, value, zero);
      }
      value = b.create<arith::SIToFPOp>(loc, b.getF32Type(), value);
      Value scaleValue =
          rowScales
              ? b.create<tensor::ExtractOp>(loc, rowScales, row).getResult()
              : b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(scale))
                    .getResult();
      value = b.create<arith::MulFOp>(loc, value, scaleValue);
      if (offset != 0.0f)
        value = b.create<arith::AddFOp>(
            loc, value,
            b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(offset)));
      return value;
    }
  };

  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    Table words = Table::of(rewriter, loc, op.getWords(), adaptor.getWords());
    Table positions =
        Table::of(rewriter, loc, op.getPositions(), adaptor.getPositions());
    Table tokenTypes =
        Table::of(rewriter, loc, op.getTokenTypes(), adaptor.getTokenTypes());
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, adaptor.getInputIds());
    sizes.push_back(tensor::getMixedSizes(rewriter, loc, words.values)[1]);
    Value init = createEmpty(rewriter, loc, resultType.getShape(),
                             resultType.getElementType(), sizes);

    AffineMap tokenMap = rowMap(rewriter, 3);
    AffineMap identity = rewriter.getMultiDimIdentityMap(3);
    SmallVector<utils::IteratorType> iterators(3,
                                               utils::IteratorType::parallel);
    Type elementType = resultType.getElementType();
    Value result = buildGeneric(
        rewriter, loc, {adaptor.getInputIds(), adaptor.getTokenTypeIds()},
        {tokenMap, tokenMap}, init, identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value seq = b.create<linalg::IndexOp>(nestedLoc, 1);
          Value hidden = b.create<linalg::IndexOp>(nestedLoc, 2);
          auto lookup = [&](const Table &table, Value row) -> Value {
            Value element = b.create<tensor::ExtractOp>(
                nestedLoc, table.values, ValueRange{row, hidden});
            if (!table.quantized)
              return extendToF32(b, nestedLoc, element);
            return table.dequantize(b, nestedLoc, element, row);
          };
          auto rowOf = [&](Value id) -> Value {
            return b.create<arith::IndexCastOp>(nestedLoc, b.getIndexType(),
                                                id);
          };
          // Hugging Face's BertEmbeddings order: (words + token types) +
          // positions.
          Value sum = b.create<arith::AddFOp>(
              nestedLoc, lookup(words, rowOf(args[0])),
              lookup(tokenTypes, rowOf(args[1])));
          sum = b.create<arith::AddFOp>(nestedLoc, sum,
                                        lookup(positions, seq));
          return truncateFromF32(b, nestedLoc, sum, elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Normalisation and activations
//===----------------------------------------------------------------------===//

/// qb.layer_norm -> linalg.generic reductions for the row sums of x and of
/// (x - mean)^2 (two passes, as PyTorch), then one element-wise generic
/// computing (x - mean) / sqrt(var + epsilon) * gamma + beta.
struct LayerNormLowering : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    RankedTensorType resultType = op.getType();
    int64_t rank = resultType.getRank();
    Value count = lastDimAsF32(rewriter, loc, input);
    auto add = [](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
      return b.create<arith::AddFOp>(
          nestedLoc, extendToF32(b, nestedLoc, args[0]), args[1]);
    };
    Value sum = reduceLastDim(rewriter, loc, input, input, {}, 0.0f, add);
    Value mean = mapRows(rewriter, loc, sum,
                         [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
                           return b.create<arith::DivFOp>(nestedLoc, args[0],
                                                          count);
                         });
    Value squares = reduceLastDim(
        rewriter, loc, input, input, mean, 0.0f,
        [](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          Value x = extendToF32(b, nestedLoc, args[0]);
          Value centered = b.create<arith::SubFOp>(nestedLoc, x, args[1]);
          Value square = b.create<arith::MulFOp>(nestedLoc, centered, centered);
          return b.create<arith::AddFOp>(nestedLoc, args[2], square);
        });

    float epsilon = static_cast<float>(op.getEpsilon().convertToDouble());
    Value epsilonValue = f32Constant(rewriter, loc, epsilon);
    Type elementType = resultType.getElementType();
    Value init = createEmpty(rewriter, loc, resultType.getShape(), elementType,
                             tensor::getMixedSizes(rewriter, loc, input));
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap row = rowMap(rewriter, rank);
    AffineMap channel = channelMap(rewriter, rank, rank - 1);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Value result = buildGeneric(
        rewriter, loc,
        {input, mean, squares, adaptor.getGamma(), adaptor.getBeta()},
        {identity, row, row, channel, channel}, init, identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value x = extendToF32(b, nestedLoc, args[0]);
          Value variance = b.create<arith::DivFOp>(nestedLoc, args[2], count);
          Value stddev = b.create<math::SqrtOp>(
              nestedLoc,
              b.create<arith::AddFOp>(nestedLoc, variance, epsilonValue));
          Value normalized = b.create<arith::DivFOp>(
              nestedLoc, b.create<arith::SubFOp>(nestedLoc, x, args[1]),
              stddev);
          Value scaled = b.create<arith::MulFOp>(
              nestedLoc, normalized, extendToF32(b, nestedLoc, args[3]));
          Value shifted = b.create<arith::AddFOp>(
              nestedLoc, scaled, extendToF32(b, nestedLoc, args[4]));
          return truncateFromF32(b, nestedLoc, shifted, elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// qb.softmax -> a max reduction, an element-wise exp(x - max), a sum
/// reduction and an element-wise division, all over the last dimension.
struct SoftmaxLowering : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    RankedTensorType type = op.getType();
    int64_t rank = type.getRank();
    Value max = reduceLastDim(
        rewriter, loc, input, input, {},
        -std::numeric_limits<float>::infinity(),
        [](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          return b.create<arith::MaximumFOp>(
              nestedLoc, extendToF32(b, nestedLoc, args[0]), args[1]);
        });

    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap row = rowMap(rewriter, rank);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, input);
    Value expInit = createEmpty(rewriter, loc, type.getShape(),
                                rewriter.getF32Type(), sizes);
    Value exps = buildGeneric(
        rewriter, loc, {input, max}, {identity, row}, expInit, identity,
        iterators, [](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value x = extendToF32(b, nestedLoc, args[0]);
          return b.create<math::ExpOp>(
              nestedLoc, b.create<arith::SubFOp>(nestedLoc, x, args[1]));
        });
    Value sum = reduceLastDim(
        rewriter, loc, exps, exps, {}, 0.0f,
        [](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          return b.create<arith::AddFOp>(nestedLoc, args[0], args[1]);
        });

    Type elementType = type.getElementType();
    Value init =
        createEmpty(rewriter, loc, type.getShape(), elementType, sizes);
    Value result = buildGeneric(
        rewriter, loc, {exps, sum}, {identity, row}, init, identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value quotient = b.create<arith::DivFOp>(nestedLoc, args[0], args[1]);
          return truncateFromF32(b, nestedLoc, quotient, elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// qb.gelu -> element-wise linalg.generic: 0.5 x (1 + erf(x / sqrt(2))) with
/// math.erf, or the tanh approximation
/// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) with math.tanh.
struct GeluLowering : OpConversionPattern<GeluOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GeluOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    bool useTanh = op.getApproximation() == GeluApproximation::tanh;
    Value half = f32Constant(rewriter, loc, 0.5f);
    Value one = f32Constant(rewriter, loc, 1.0f);
    Value cubeCoefficient, tanhScale, erfScale;
    if (useTanh) {
      cubeCoefficient = f32Constant(rewriter, loc, 0.044715f);
      tanhScale = f32Constant(rewriter, loc,
                              static_cast<float>(std::sqrt(2.0 / M_PI)));
    } else {
      erfScale = f32Constant(rewriter, loc, static_cast<float>(M_SQRT1_2));
    }
    Value result = buildFloatElementwise(
        rewriter, loc, op.getType(), adaptor.getInput(),
        [&](OpBuilder &b, Location nestedLoc, ArrayRef<Value> args) -> Value {
          Value x = args[0];
          Value halfX = b.create<arith::MulFOp>(nestedLoc, x, half);
          Value curve;
          if (useTanh) {
            Value cube = b.create<arith::MulFOp>(
                nestedLoc, b.create<arith::MulFOp>(nestedLoc, x, x), x);
            Value inner = b.create<arith::AddFOp>(
                nestedLoc, x,
                b.create<arith::MulFOp>(nestedLoc, cubeCoefficient, cube));
            curve = b.create<math::TanhOp>(
                nestedLoc, b.create<arith::MulFOp>(nestedLoc, tanhScale, inner));
          } else {
            curve = b.create<math::ErfOp>(
                nestedLoc, b.create<arith::MulFOp>(nestedLoc, x, erfScale));
          }
          Value onePlus = b.create<arith::AddFOp>(nestedLoc, one, curve);
          return b.create<arith::MulFOp>(nestedLoc, halfX, onePlus);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Element-wise arithmetic
//===----------------------------------------------------------------------===//

/// qb.add -> element-wise linalg.generic with arith.addf.
struct AddLowering : OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value result = buildFloatElementwise(
        rewriter, op.getLoc(), op.getType(),
        {adaptor.getLhs(), adaptor.getRhs()},
        [](OpBuilder &b, Location loc, ArrayRef<Value> args) -> Value {
          return b.create<arith::AddFOp>(loc, args[0], args[1]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// qb.scale -> element-wise linalg.generic multiplying by the factor.
struct ScaleLowering : OpConversionPattern<ScaleOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ScaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value factor =
        f32Constant(rewriter, op.getLoc(), op.getFactor().convertToFloat());
    Value result = buildFloatElementwise(
        rewriter, op.getLoc(), op.getType(), adaptor.getInput(),
        [&](OpBuilder &b, Location loc, ArrayRef<Value> args) -> Value {
          return b.create<arith::MulFOp>(loc, args[0], factor);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// qb.attention_mask -> linalg.generic over the scores adding
/// (mask[b, j] == 0 ? fill : 0), the mask read through (b, h, i, j) -> (b, j).
struct AttentionMaskLowering : OpConversionPattern<AttentionMaskOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(AttentionMaskOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value scores = adaptor.getScores();
    Value init =
        createEmpty(rewriter, loc, type.getShape(), type.getElementType(),
                    tensor::getMixedSizes(rewriter, loc, scores));
    MLIRContext *context = rewriter.getContext();
    AffineMap identity = rewriter.getMultiDimIdentityMap(4);
    AffineMap maskMap = AffineMap::get(
        4, 0, {getAffineDimExpr(0, context), getAffineDimExpr(3, context)},
        context);
    SmallVector<utils::IteratorType> iterators(4,
                                               utils::IteratorType::parallel);
    Value fill = f32Constant(rewriter, loc, op.getFill().convertToFloat());
    Value noFill = f32Constant(rewriter, loc, 0.0f);
    Value padding = rewriter.create<arith::ConstantOp>(
        loc, rewriter.getZeroAttr(op.getMask().getType().getElementType()));
    Type elementType = type.getElementType();
    Value result = buildGeneric(
        rewriter, loc, {scores, adaptor.getMask()}, {identity, maskMap}, init,
        identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value score = extendToF32(b, nestedLoc, args[0]);
          Value padded = b.create<arith::CmpIOp>(
              nestedLoc, arith::CmpIPredicate::eq, args[1], padding);
          Value bias =
              b.create<arith::SelectOp>(nestedLoc, padded, fill, noFill);
          Value sum = b.create<arith::AddFOp>(nestedLoc, score, bias);
          return truncateFromF32(b, nestedLoc, sum, elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Linears and matmuls
//===----------------------------------------------------------------------===//

/// qb.linear (float precision) -> tensor.collapse_shape of the input to
/// [M, K], linalg.matmul_transpose_b into a zero-filled f32 [M, N], a
/// broadcast linalg.generic adding the bias (and truncating to the element
/// type), and tensor.expand_shape (or tensor.reshape, see expandToShape) back
/// to [..., N].
struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isFloatPrecision(op.getPrecision()))
      return rewriter.notifyMatchFailure(
          op, "quantized precision: run qb-materialize-quant first");
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    auto inputType = cast<RankedTensorType>(adaptor.getInput().getType());
    auto weightType = cast<RankedTensorType>(adaptor.getWeight().getType());
    int64_t rank = inputType.getRank();
    int64_t k = joinDims(inputType.getShape().back(), weightType.getDimSize(1));
    int64_t n = joinDims(resultType.getShape().back(), weightType.getDimSize(0));
    SmallVector<int64_t> leading =
        joinShapes(inputType.getShape().drop_back(),
                   resultType.getShape().drop_back());
    SmallVector<int64_t> inputShape(leading);
    inputShape.push_back(k);
    Value input = castToShape(rewriter, loc, adaptor.getInput(), inputShape);
    Value weight = castToShape(rewriter, loc, adaptor.getWeight(), {n, k});

    // [..., K] <-> [M, K]; a 1-D input is one row.
    SmallVector<ReassociationIndices> reassociation;
    SmallVector<OpFoldResult> inputSizes =
        tensor::getMixedSizes(rewriter, loc, input);
    Value matrix;
    if (rank == 1) {
      reassociation = {{0, 1}};
      matrix = rewriter.create<tensor::ExpandShapeOp>(
          loc, RankedTensorType::get({1, k}, inputType.getElementType()), input,
          reassociation,
          SmallVector<OpFoldResult>{rewriter.getIndexAttr(1), inputSizes[0]});
    } else {
      reassociation = {llvm::to_vector(llvm::seq<int64_t>(0, rank - 1)),
                       {rank - 1}};
      matrix = rewriter.create<tensor::CollapseShapeOp>(loc, input,
                                                        reassociation);
    }
    int64_t m = cast<RankedTensorType>(matrix.getType()).getDimSize(0);
    OpFoldResult mSize = tensor::getMixedSizes(rewriter, loc, matrix)[0];
    OpFoldResult nSize = tensor::getMixedSizes(rewriter, loc, weight)[0];
    Value zeros = createFilled(rewriter, loc, {m, n}, {mSize, nSize}, 0.0f);
    Value product =
        rewriter
            .create<linalg::MatmulTransposeBOp>(loc, zeros.getType(),
                                                ValueRange{matrix, weight},
                                                ValueRange{zeros})
            .getResult(0);

    Type elementType = resultType.getElementType();
    Value output = product;
    if (Value bias = adaptor.getBias()) {
      Value init = createEmpty(rewriter, loc, {m, n}, elementType,
                               {mSize, nSize});
      AffineMap identity = rewriter.getMultiDimIdentityMap(2);
      SmallVector<utils::IteratorType> iterators(
          2, utils::IteratorType::parallel);
      output = buildGeneric(
          rewriter, loc, {product, bias}, {identity, channelMap(rewriter, 2, 1)},
          init, identity, iterators,
          [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
            Value sum = b.create<arith::AddFOp>(
                nestedLoc, args[0], extendToF32(b, nestedLoc, args[1]));
            return truncateFromF32(b, nestedLoc, sum, elementType);
          });
    } else {
      output = truncateTensor(rewriter, loc, product, elementType);
    }

    SmallVector<int64_t> outputShape(leading);
    outputShape.push_back(n);
    auto outputType = RankedTensorType::get(outputShape, elementType);
    if (rank == 1) {
      output = rewriter.create<tensor::CollapseShapeOp>(loc, outputType, output,
                                                        reassociation);
    } else {
      SmallVector<OpFoldResult> outputSizes(
          ArrayRef<OpFoldResult>(inputSizes).drop_back());
      outputSizes.push_back(nSize);
      output = expandToShape(rewriter, loc, output, outputType, reassociation,
                             outputSizes);
    }
    rewriter.replaceOp(op, castToType(rewriter, loc, output, resultType));
    return success();
  }
};

/// qb.batch_matmul -> linalg.batch_matmul (or batch_matmul_transpose_b) into
/// a zero-filled f32 init, with the batch dimensions collapsed into one and
/// expanded back; rank 2 becomes linalg.matmul (or matmul_transpose_b).
struct BatchMatmulLowering : OpConversionPattern<BatchMatmulOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(BatchMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    ArrayRef<int64_t> lhsShape =
        cast<RankedTensorType>(adaptor.getLhs().getType()).getShape();
    ArrayRef<int64_t> rhsShape =
        cast<RankedTensorType>(adaptor.getRhs().getType()).getShape();
    ArrayRef<int64_t> resultShape = resultType.getShape();
    int64_t rank = resultType.getRank();
    int64_t batchRank = rank - 2;
    bool transposed = op.getTransposeRhs();
    int64_t rhsK = transposed ? rank - 1 : rank - 2;
    int64_t rhsN = transposed ? rank - 2 : rank - 1;

    // Refine the operands with every static size the three types know.
    SmallVector<int64_t> batch = joinShapes(
        joinShapes(lhsShape.take_front(batchRank), rhsShape.take_front(batchRank)),
        resultShape.take_front(batchRank));
    int64_t m = joinDims(lhsShape[rank - 2], resultShape[rank - 2]);
    int64_t k = joinDims(lhsShape[rank - 1], rhsShape[rhsK]);
    int64_t n = joinDims(rhsShape[rhsN], resultShape[rank - 1]);
    SmallVector<int64_t> lhsRefined(batch), rhsRefined(batch);
    lhsRefined.append({m, k});
    rhsRefined.append(transposed ? SmallVector<int64_t>{n, k}
                                 : SmallVector<int64_t>{k, n});
    Value lhs = castToShape(rewriter, loc, adaptor.getLhs(), lhsRefined);
    Value rhs = castToShape(rewriter, loc, adaptor.getRhs(), rhsRefined);
    SmallVector<OpFoldResult> lhsSizes =
        tensor::getMixedSizes(rewriter, loc, lhs);
    SmallVector<OpFoldResult> rhsSizes =
        tensor::getMixedSizes(rewriter, loc, rhs);
    OpFoldResult mSize = lhsSizes[rank - 2];
    OpFoldResult nSize = rhsSizes[rhsN];

    SmallVector<ReassociationIndices> reassociation;
    if (batchRank > 1) {
      reassociation = {llvm::to_vector(llvm::seq<int64_t>(0, batchRank)),
                       {batchRank},
                       {batchRank + 1}};
      lhs = rewriter.create<tensor::CollapseShapeOp>(loc, lhs, reassociation);
      rhs = rewriter.create<tensor::CollapseShapeOp>(loc, rhs, reassociation);
    }

    Value product;
    if (batchRank == 0) {
      Value zeros = createFilled(rewriter, loc, {m, n}, {mSize, nSize}, 0.0f);
      product = transposed
                    ? rewriter
                          .create<linalg::MatmulTransposeBOp>(
                              loc, zeros.getType(), ValueRange{lhs, rhs},
                              ValueRange{zeros})
                          .getResult(0)
                    : rewriter
                          .create<linalg::MatmulOp>(loc, zeros.getType(),
                                                    ValueRange{lhs, rhs},
                                                    ValueRange{zeros})
                          .getResult(0);
    } else {
      int64_t batchDim = cast<RankedTensorType>(lhs.getType()).getDimSize(0);
      OpFoldResult batchSize = tensor::getMixedSizes(rewriter, loc, lhs)[0];
      Value zeros = createFilled(rewriter, loc, {batchDim, m, n},
                                 {batchSize, mSize, nSize}, 0.0f);
      product = transposed
                    ? rewriter
                          .create<linalg::BatchMatmulTransposeBOp>(
                              loc, zeros.getType(), ValueRange{lhs, rhs},
                              ValueRange{zeros})
                          .getResult(0)
                    : rewriter
                          .create<linalg::BatchMatmulOp>(loc, zeros.getType(),
                                                         ValueRange{lhs, rhs},
                                                         ValueRange{zeros})
                          .getResult(0);
    }

    Type elementType = resultType.getElementType();
    Value output = truncateTensor(rewriter, loc, product, elementType);
    if (batchRank > 1) {
      SmallVector<int64_t> outputShape(batch);
      outputShape.append({m, n});
      SmallVector<OpFoldResult> outputSizes(
          ArrayRef<OpFoldResult>(lhsSizes).take_front(batchRank));
      outputSizes.append({mSize, nSize});
      output = expandToShape(rewriter, loc, output,
                             RankedTensorType::get(outputShape, elementType),
                             reassociation, outputSizes);
    }
    rewriter.replaceOp(op, castToType(rewriter, loc, output, resultType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Attention heads
//===----------------------------------------------------------------------===//

/// qb.split_heads -> tensor.expand_shape [B, S, H] -> [B, S, heads, d] and
/// linalg.transpose (0, 2, 1, 3) into [B, heads, S, d].
struct SplitHeadsLowering : OpConversionPattern<SplitHeadsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SplitHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    ArrayRef<int64_t> resultShape = resultType.getShape();
    auto inputType = cast<RankedTensorType>(adaptor.getInput().getType());
    int64_t heads = static_cast<int64_t>(op.getNumHeads());
    int64_t hidden = inputType.getDimSize(2);
    if (ShapedType::isDynamic(hidden) && !ShapedType::isDynamic(resultShape[3]))
      hidden = heads * resultShape[3];
    SmallVector<int64_t> inputShape = {
        joinDims(inputType.getDimSize(0), resultShape[0]),
        joinDims(inputType.getDimSize(1), resultShape[2]), hidden};
    Value input = castToShape(rewriter, loc, adaptor.getInput(), inputShape);
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, input);

    int64_t headDim =
        ShapedType::isDynamic(hidden) ? ShapedType::kDynamic : hidden / heads;
    OpFoldResult headDimSize = rewriter.getIndexAttr(headDim);
    if (ShapedType::isDynamic(headDim))
      headDimSize = rewriter
                        .create<arith::DivUIOp>(
                            loc, cast<Value>(sizes[2]),
                            rewriter.create<arith::ConstantIndexOp>(loc, heads))
                        .getResult();
    OpFoldResult headsSize = rewriter.getIndexAttr(heads);
    Type elementType = resultType.getElementType();
    Value expanded = rewriter.create<tensor::ExpandShapeOp>(
        loc,
        RankedTensorType::get(
            {inputShape[0], inputShape[1], heads, headDim}, elementType),
        input, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}},
        SmallVector<OpFoldResult>{sizes[0], sizes[1], headsSize, headDimSize});
    Value init = createEmpty(rewriter, loc,
                             {inputShape[0], heads, inputShape[1], headDim},
                             elementType,
                             {sizes[0], headsSize, sizes[1], headDimSize});
    Value transposed =
        rewriter
            .create<linalg::TransposeOp>(loc, expanded, init,
                                         ArrayRef<int64_t>{0, 2, 1, 3})
            .getResult()[0];
    rewriter.replaceOp(op, castToType(rewriter, loc, transposed, resultType));
    return success();
  }
};

/// qb.merge_heads -> linalg.transpose (0, 2, 1, 3) of [B, heads, S, d] into
/// [B, S, heads, d] and tensor.collapse_shape into [B, S, heads * d].
struct MergeHeadsLowering : OpConversionPattern<MergeHeadsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(MergeHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    ArrayRef<int64_t> resultShape = resultType.getShape();
    auto inputType = cast<RankedTensorType>(adaptor.getInput().getType());
    ArrayRef<int64_t> shape = inputType.getShape();
    SmallVector<int64_t> inputShape = {joinDims(shape[0], resultShape[0]),
                                       shape[1],
                                       joinDims(shape[2], resultShape[1]),
                                       shape[3]};
    Value input = castToShape(rewriter, loc, adaptor.getInput(), inputShape);
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, input);
    Value init = createEmpty(
        rewriter, loc,
        {inputShape[0], inputShape[2], inputShape[1], inputShape[3]},
        resultType.getElementType(), {sizes[0], sizes[2], sizes[1], sizes[3]});
    Value transposed =
        rewriter
            .create<linalg::TransposeOp>(loc, input, init,
                                         ArrayRef<int64_t>{0, 2, 1, 3})
            .getResult()[0];
    Value collapsed = rewriter.create<tensor::CollapseShapeOp>(
        loc, transposed, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    rewriter.replaceOp(op, castToType(rewriter, loc, collapsed, resultType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

/// The scales and zero points of a qb.quantize/qb.dequantize as operands of
/// its linalg.generic: scalar constants captured by the body when quantizing
/// per tensor, 1-D constant tensors read through (d...) -> (d_axis) per
/// channel. A zero offset and all-zero zero points are left out.
struct QuantParamOperands {
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  bool perChannel = false;
  bool hasZeroPoint = false;
  /// The per-tensor f32 scale and i32 zero point, and the f32 offset.
  Value scale, zeroPoint, offset;

  QuantParamOperands(OpBuilder &b, Location loc, const QuantParams &params,
                     int64_t rank) {
    perChannel = params.scales.size() > 1;
    hasZeroPoint = llvm::any_of(params.zeroPoints,
                                [](int32_t zeroPoint) { return zeroPoint != 0; });
    if (params.offset != 0.0f)
      offset = f32Constant(b, loc, params.offset);
    if (!perChannel) {
      scale = f32Constant(b, loc, params.scales.front());
      if (hasZeroPoint)
        zeroPoint = b.create<arith::ConstantOp>(
            loc, b.getI32IntegerAttr(params.zeroPoint(0)));
      return;
    }
    int64_t channels = static_cast<int64_t>(params.scales.size());
    AffineMap map = channelMap(b, rank, *params.axis);
    auto scaleType = RankedTensorType::get({channels}, b.getF32Type());
    inputs.push_back(b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(scaleType, params.scales)));
    maps.push_back(map);
    if (!hasZeroPoint)
      return;
    auto zeroPointType = RankedTensorType::get({channels}, b.getI32Type());
    inputs.push_back(b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(zeroPointType, params.zeroPoints)));
    maps.push_back(map);
  }

  /// The f32 scale and the i32 zero point (null when all are zero) of the
  /// element at hand, given the body's block arguments after the input.
  std::pair<Value, Value> read(ValueRange args) const {
    if (perChannel)
      return {args[0], hasZeroPoint ? args[1] : Value()};
    return {scale, zeroPoint};
  }
};

/// qb.quantize -> element-wise linalg.generic computing, in f32,
/// clamp(roundeven((x - offset) / scale) + zero_point, -128, 127) with NaN
/// mapped to the zero point, then arith.fptosi to i8 (Quantization.h).
struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    int64_t rank = resultType.getRank();
    QuantParams params = op.getQuantParams();
    Value input = adaptor.getInput();
    QuantParamOperands operands(rewriter, loc, params, rank);
    Value init = createEmpty(rewriter, loc, resultType.getShape(),
                             rewriter.getI8Type(),
                             tensor::getMixedSizes(rewriter, loc, input));
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<Value> inputs = {input};
    llvm::append_range(inputs, operands.inputs);
    SmallVector<AffineMap> maps = {identity};
    llvm::append_range(maps, operands.maps);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Value lowest = f32Constant(rewriter, loc, kInt8Min);
    Value highest = f32Constant(rewriter, loc, kInt8Max);
    Value zeroCode;
    if (!operands.hasZeroPoint)
      zeroCode = rewriter.create<arith::ConstantOp>(
          loc, rewriter.getI8IntegerAttr(0));
    Value result = buildGeneric(
        rewriter, loc, inputs, maps, init, identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          auto [scale, zeroPoint] = operands.read(args.drop_front());
          Value x = extendToF32(b, nestedLoc, args[0]);
          if (operands.offset)
            x = b.create<arith::SubFOp>(nestedLoc, x, operands.offset);
          Value scaled = b.create<arith::DivFOp>(nestedLoc, x, scale);
          Value code = b.create<math::RoundEvenOp>(nestedLoc, scaled);
          if (zeroPoint)
            code = b.create<arith::AddFOp>(
                nestedLoc, code,
                b.create<arith::SIToFPOp>(nestedLoc, b.getF32Type(), zeroPoint));
          code = b.create<arith::MaximumFOp>(nestedLoc, code, lowest);
          code = b.create<arith::MinimumFOp>(nestedLoc, code, highest);
          Value codeI8 =
              b.create<arith::FPToSIOp>(nestedLoc, b.getI8Type(), code);
          Value nanCode = zeroCode;
          if (zeroPoint)
            nanCode = b.create<arith::TruncIOp>(nestedLoc, b.getI8Type(),
                                                zeroPoint);
          Value isNaN = b.create<arith::CmpFOp>(
              nestedLoc, arith::CmpFPredicate::UNO, scaled, scaled);
          return b.create<arith::SelectOp>(nestedLoc, isNaN, nanCode, codeI8);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// qb.quantize_rows -> a row reduction of max|x| (NaN ignored), the row
/// scales max / 127 (1 for an all-zero row), and an element-wise generic
/// computing clamp(roundeven(x / scale), -128, 127) with NaN mapped to 0,
/// qb.quantize's formula (Quantization.h) with the row's scale.
struct QuantizeRowsLowering : OpConversionPattern<QuantizeRowsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(QuantizeRowsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    int64_t rank = op.getResult().getType().getRank();
    Value maxAbs = reduceLastDim(
        rewriter, loc, input, input, {}, 0.0f,
        [](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          Value magnitude = b.create<math::AbsFOp>(nestedLoc, args[0]);
          return b.create<arith::MaxNumFOp>(nestedLoc, magnitude, args[1]);
        });
    Value zero = f32Constant(rewriter, loc, 0.0f);
    Value one = f32Constant(rewriter, loc, 1.0f);
    Value levels = f32Constant(rewriter, loc, static_cast<float>(kInt8Max));
    Value scales = mapRows(
        rewriter, loc, maxAbs,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          Value isZero = b.create<arith::CmpFOp>(
              nestedLoc, arith::CmpFPredicate::OEQ, args[0], zero);
          Value scale = b.create<arith::DivFOp>(nestedLoc, args[0], levels);
          return b.create<arith::SelectOp>(nestedLoc, isZero, one, scale);
        });
    Value init = createEmpty(rewriter, loc, op.getResult().getType().getShape(),
                             rewriter.getI8Type(),
                             tensor::getMixedSizes(rewriter, loc, input));
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Value lowest = f32Constant(rewriter, loc, kInt8Min);
    Value highest = f32Constant(rewriter, loc, kInt8Max);
    Value zeroCode =
        rewriter.create<arith::ConstantOp>(loc, rewriter.getI8IntegerAttr(0));
    Value codes = buildGeneric(
        rewriter, loc, {input, scales}, {identity, rowMap(rewriter, rank)},
        init, identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          Value scaled = b.create<arith::DivFOp>(nestedLoc, args[0], args[1]);
          Value code = b.create<math::RoundEvenOp>(nestedLoc, scaled);
          code = b.create<arith::MaximumFOp>(nestedLoc, code, lowest);
          code = b.create<arith::MinimumFOp>(nestedLoc, code, highest);
          Value codeI8 =
              b.create<arith::FPToSIOp>(nestedLoc, b.getI8Type(), code);
          Value isNaN = b.create<arith::CmpFOp>(
              nestedLoc, arith::CmpFPredicate::UNO, scaled, scaled);
          return b.create<arith::SelectOp>(nestedLoc, isNaN, zeroCode, codeI8);
        });
    rewriter.replaceOp(op, {codes, scales});
    return success();
  }
};

/// qb.dequantize -> element-wise linalg.generic computing
/// sitofp(extsi(q) - zero_point) * scale + offset in f32 (Quantization.h),
/// truncated to the result's element type.
struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    int64_t rank = resultType.getRank();
    QuantParams params = op.getQuantParams();
    Value input = adaptor.getInput();
    QuantParamOperands operands(rewriter, loc, params, rank);
    Type elementType = resultType.getElementType();
    Value init = createEmpty(rewriter, loc, resultType.getShape(), elementType,
                             tensor::getMixedSizes(rewriter, loc, input));
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<Value> inputs = {input};
    llvm::append_range(inputs, operands.inputs);
    SmallVector<AffineMap> maps = {identity};
    llvm::append_range(maps, operands.maps);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Value result = buildGeneric(
        rewriter, loc, inputs, maps, init, identity, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
          auto [scale, zeroPoint] = operands.read(args.drop_front());
          Value code =
              b.create<arith::ExtSIOp>(nestedLoc, b.getI32Type(), args[0]);
          if (zeroPoint)
            code = b.create<arith::SubIOp>(nestedLoc, code, zeroPoint);
          Value value =
              b.create<arith::SIToFPOp>(nestedLoc, b.getF32Type(), code);
          value = b.create<arith::MulFOp>(nestedLoc, value, scale);
          // (q - z) * scale is never -0, so adding a zero offset is exact.
          if (operands.offset)
            value = b.create<arith::AddFOp>(nestedLoc, value, operands.offset);
          return truncateFromF32(b, nestedLoc, value, elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

struct ConvertQBToLinalgPass
    : quantbert::impl::ConvertQBToLinalgBase<ConvertQBToLinalgPass> {
  void runOnOperation() override {
    Operation *root = getOperation();
    // A quantized linear has no float lowering: say which pass is missing
    // rather than "failed to legalize".
    bool quantizedLinear = false;
    root->walk([&](LinearOp linear) {
      if (isFloatPrecision(linear.getPrecision()))
        return;
      linear.emitOpError()
          << "precision '" << stringifyPrecision(linear.getPrecision())
          << "' must be materialized before lowering; run "
             "qb-materialize-quant first";
      quantizedLinear = true;
    });
    if (quantizedLinear)
      return signalPassFailure();

    inlineEncoderLayers(root);

    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect>();
    target.addIllegalDialect<QBDialect>();
    // Lowered by convert-qb-to-vector and by the runtime-call conversion.
    target.addLegalOp<BitpackOp, BinaryLinearOp, AttentionOp, Int8LinearOp>();
    RewritePatternSet patterns(context);
    populateQBToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(root, target, std::move(patterns))))
      return signalPassFailure();

    // A module with no qb op left sheds the qb module attributes too
    // (#qb.model, qb.sensitivity): what follows is upstream MLIR, which
    // tools without the qb dialect (mlir-translate) must be able to read.
    if (auto module = dyn_cast<ModuleOp>(root)) {
      bool anyQBOp = false;
      module.walk([&](Operation *op) {
        anyQBOp |= isa<QBDialect>(op->getDialect());
        return anyQBOp ? WalkResult::interrupt() : WalkResult::advance();
      });
      if (!anyQBOp) {
        module->removeAttr(kModelAttrName);
        module->removeAttr(kSensitivityAttrName);
      }
    }
  }
};

} // namespace

void quantbert::populateQBToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<QuantizeRowsLowering>(patterns.getContext());
  patterns.add<EmbeddingLowering, LayerNormLowering, SoftmaxLowering,
               GeluLowering, AddLowering, ScaleLowering, AttentionMaskLowering,
               LinearLowering, BatchMatmulLowering, SplitHeadsLowering,
               MergeHeadsLowering, QuantizeLowering, DequantizeLowering>(
      patterns.getContext());
}

void quantbert::inlineEncoderLayers(Operation *root) {
  SmallVector<EncoderLayerOp> layers;
  root->walk([&](EncoderLayerOp layer) { layers.push_back(layer); });
  IRRewriter rewriter(root->getContext());
  for (EncoderLayerOp layer : layers) {
    Block &attention = layer.getAttention().front();
    Block &ffn = layer.getFfn().front();
    auto attentionYield = cast<YieldOp>(attention.getTerminator());
    auto ffnYield = cast<YieldOp>(ffn.getTerminator());
    // A region may yield its own block argument: resolve those to the value
    // that argument stands for before the blocks disappear.
    Value attentionOutput = attentionYield.getValue();
    if (auto arg = dyn_cast<BlockArgument>(attentionOutput);
        arg && arg.getOwner() == &attention)
      attentionOutput = layer->getOperand(arg.getArgNumber());
    Value layerOutput = ffnYield.getValue();
    if (auto arg = dyn_cast<BlockArgument>(layerOutput);
        arg && arg.getOwner() == &ffn)
      layerOutput = attentionOutput;
    rewriter.eraseOp(attentionYield);
    rewriter.eraseOp(ffnYield);
    rewriter.inlineBlockBefore(&attention, layer,
                               {layer.getHidden(), layer.getMask()});
    rewriter.inlineBlockBefore(&ffn, layer, attentionOutput);
    rewriter.replaceOp(layer, layerOutput);
  }
}
