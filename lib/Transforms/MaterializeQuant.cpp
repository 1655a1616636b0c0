//===- MaterializeQuant.cpp - qb-materialize-quant ------------------------===//
//
// Rewrites each qb.linear annotated with a quantized precision into the ops
// that compute it (qb.quantize or qb.quantize_rows + qb.int8_linear, or
// qb.bitpack + qb.binary_linear), quantizing and packing its constant
// weights at compile time with the formulas shared with the training front
// end; quantizes the tables of an int8 qb.embedding per row.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Transforms/Passes.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Support/WeightQuantizers.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace quantbert {
#define GEN_PASS_DEF_MATERIALIZEQUANT
#include "quantbert/Transforms/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

/// A weight as int8 codes [N, K] with one scale per output channel.
struct ChannelQuantizedWeight {
  SmallVector<int8_t> codes;
  SmallVector<float> scales;
};

/// A [rows, cols] matrix quantized to int8 per row, each row's scale
/// max|row| / 127: per output channel for a weight, per row for a table.
ChannelQuantizedWeight quantizeRowsInt8(ArrayRef<float> values, int64_t rows,
                                        int64_t cols) {
  ChannelQuantizedWeight result;
  result.codes.reserve(rows * cols);
  for (int64_t row = 0; row < rows; ++row) {
    QuantizedWeight quantized =
        quantizeSymmetricInt8(values.data() + row * cols, cols);
    result.codes.append(quantized.codes.begin(), quantized.codes.end());
    result.scales.push_back(quantized.scale);
  }
  return result;
}

/// Codes and per-channel scales of `weight` if it is a symmetric
/// qb.dequantize (zero point 0, no offset, per tensor or along axis 0) of
/// constant codes: the form import gives exported int8 and ternary weights.
std::optional<ChannelQuantizedWeight> matchDequantizedCodes(Value weight,
                                                            int64_t outFeatures) {
  auto dequantize = weight.getDefiningOp<DequantizeOp>();
  if (!dequantize)
    return std::nullopt;
  QuantParams params = dequantize.getQuantParams();
  bool symmetric = params.offset == 0.0f &&
                   llvm::all_of(params.zeroPoints, [](int32_t z) { return z == 0; });
  bool perChannelOrTensor =
      params.scales.size() == 1 || (params.axis && *params.axis == 0);
  if (!symmetric || !perChannelOrTensor)
    return std::nullopt;
  std::optional<SmallVector<int8_t>> codes =
      getConstantInt8s(dequantize.getInput());
  if (!codes)
    return std::nullopt;
  ChannelQuantizedWeight result;
  result.codes = std::move(*codes);
  if (params.scales.size() == 1)
    result.scales.assign(outFeatures, params.scales.front());
  else
    result.scales.assign(params.scales.begin(), params.scales.end());
  return result;
}

/// The float values of `weight`: a constant, or qb.dequantize of constant
/// codes evaluated with the shared formula.
std::optional<SmallVector<float>> weightFloats(Value weight) {
  if (std::optional<SmallVector<float>> values = getConstantFloats(weight))
    return values;
  auto dequantize = weight.getDefiningOp<DequantizeOp>();
  if (!dequantize)
    return std::nullopt;
  std::optional<SmallVector<int8_t>> codes =
      getConstantInt8s(dequantize.getInput());
  if (!codes)
    return std::nullopt;
  QuantParams params = dequantize.getQuantParams();
  ArrayRef<int64_t> shape = dequantize.getInput().getType().getShape();
  int64_t stride = 1, channels = 1;
  if (params.axis) {
    channels = shape[*params.axis];
    for (int64_t dim : shape.drop_front(*params.axis + 1))
      stride *= dim;
  }
  SmallVector<float> values(codes->size());
  for (size_t i = 0; i < codes->size(); ++i) {
    int64_t channel = channels == 1 ? 0 : (int64_t(i) / stride) % channels;
    values[i] = dequantizeInt8((*codes)[i], params.scales[channel],
                               params.zeroPoint(channel), params.offset);
  }
  return values;
}

class Materializer {
public:
  explicit Materializer(LinearOp linear)
      : linear(linear), builder(OpBuilder(linear)), loc(linear.getLoc()) {}

  LogicalResult run();

private:
  LogicalResult materializeInt8(Quantizer quantizer);
  LogicalResult materializeBinary(Quantizer quantizer);
  LogicalResult materializeIndexStorage();
  InFlightDiagnostic nonConstantWeight() {
    return linear.emitOpError()
           << "cannot materialize precision '"
           << stringifyPrecision(linear.getPrecision())
           << "': the weight must be a constant or a qb.dequantize of "
              "constant codes";
  }

  Value constant(RankedTensorType type, DenseElementsAttr value) {
    return builder.create<arith::ConstantOp>(loc, type, value);
  }
  Value channelVector(ArrayRef<float> values) {
    auto type = RankedTensorType::get({int64_t(values.size())},
                                      builder.getF32Type());
    return constant(type, DenseElementsAttr::get(type, values));
  }

  LinearOp linear;
  IRRewriter builder;
  Location loc;
};

LogicalResult Materializer::run() {
  Precision precision = linear.getPrecision();
  if (precision == Precision::f32 || precision == Precision::f16 ||
      precision == Precision::bf16)
    return success();
  RankedTensorType weightType = linear.getWeight().getType();
  if (!weightType.hasStaticShape())
    return linear.emitOpError() << "needs a static weight shape to materialize";
  if (!linear.getInput().getType().getElementType().isF32())
    return linear.emitOpError()
           << "materializing precision '" << stringifyPrecision(precision)
           << "' needs f32 activations, got "
           << linear.getInput().getType().getElementType();
  Quantizer quantizer = linear.getQuantizer().value_or(
      precision == Precision::i8        ? Quantizer::symmetric_ema
      : precision == Precision::ternary ? Quantizer::twn
                                        : Quantizer::binary_sign);
  switch (quantizer) {
  case Quantizer::symmetric_ema:
  case Quantizer::twn:
    return materializeInt8(quantizer);
  case Quantizer::asymmetric_index:
    return materializeIndexStorage();
  case Quantizer::binary_sign:
  case Quantizer::binary_mean_scale:
    return materializeBinary(quantizer);
  }
  llvm_unreachable("unknown quantizer");
}

LogicalResult Materializer::materializeInt8(Quantizer quantizer) {
  RankedTensorType weightType = linear.getWeight().getType();
  int64_t outFeatures = weightType.getDimSize(0);
  int64_t inFeatures = weightType.getDimSize(1);

  std::optional<ChannelQuantizedWeight> weight =
      matchDequantizedCodes(linear.getWeight(), outFeatures);
  // Imported codes are kept when they are codes of this quantizer: any int8
  // for symmetric_ema, {-1, 0, 1} for twn (an int8 weight assigned ternary
  // is quantized again from its dequantized values).
  if (weight && quantizer == Quantizer::twn &&
      !llvm::all_of(weight->codes, [](int8_t c) { return c >= -1 && c <= 1; }))
    weight.reset();
  if (!weight) {
    std::optional<SmallVector<float>> values = weightFloats(linear.getWeight());
    if (!values)
      return nonConstantWeight();
    if (quantizer == Quantizer::twn) {
      // TWN's threshold and scale are per tensor.
      QuantizedWeight quantized =
          quantizeTernaryTwn(values->data(), values->size());
      weight.emplace();
      weight->codes.assign(quantized.codes.begin(), quantized.codes.end());
      weight->scales.assign(outFeatures, quantized.scale);
    } else {
      // A float weight quantized here (post-training): one scale per output
      // channel.
      weight = quantizeRowsInt8(*values, outFeatures, inFeatures);
    }
  }

  auto codesType = weightType.clone(builder.getI8Type());
  Value codes = constant(
      codesType, DenseElementsAttr::get(codesType, ArrayRef<int8_t>(weight->codes)));
  Value scales = channelVector(weight->scales);
  RankedTensorType inputType = linear.getInput().getType();
  auto codesOfInput = inputType.clone(builder.getI8Type());
  Int8LinearOp int8Linear;
  if (std::optional<APFloat> inputScale = linear.getInputScale()) {
    // A static scale (QAT's EMA range or a calibration).
    float scale = inputScale->convertToFloat();
    Value quantizedInput = builder.create<QuantizeOp>(
        loc, codesOfInput, linear.getInput(),
        builder.getDenseF32ArrayAttr({scale}), /*zero_point=*/nullptr,
        builder.getF32FloatAttr(0.0f), /*axis=*/nullptr);
    int8Linear = builder.create<Int8LinearOp>(
        loc, linear.getResult().getType(), quantizedInput, codes, scales,
        /*input_scales=*/Value(), linear.getBias(),
        builder.getF32FloatAttr(scale), builder.getI32IntegerAttr(0),
        /*block_sparse=*/DenseI64ArrayAttr());
  } else {
    // None: dynamic quantization, one scale per row at run time.
    SmallVector<int64_t> rows(inputType.getShape().drop_back());
    auto quantizedInput = builder.create<QuantizeRowsOp>(
        loc, codesOfInput, RankedTensorType::get(rows, builder.getF32Type()),
        linear.getInput());
    int8Linear = builder.create<Int8LinearOp>(
        loc, linear.getResult().getType(), quantizedInput.getResult(), codes,
        scales, quantizedInput.getScales(), linear.getBias(),
        /*input_scale=*/FloatAttr(), builder.getI32IntegerAttr(0),
        /*block_sparse=*/DenseI64ArrayAttr());
  }
  builder.replaceOp(linear, int8Linear.getResult());
  return success();
}

LogicalResult Materializer::materializeBinary(Quantizer quantizer) {
  std::optional<SmallVector<float>> values = weightFloats(linear.getWeight());
  if (!values)
    return nonConstantWeight();
  RankedTensorType weightType = linear.getWeight().getType();
  int64_t outFeatures = weightType.getDimSize(0);
  int64_t inFeatures = weightType.getDimSize(1);
  int64_t words = packedWordCount(inFeatures);

  SmallVector<uint64_t> packed(outFeatures * words);
  for (int64_t n = 0; n < outFeatures; ++n)
    packSignBits(values->data() + n * inFeatures, inFeatures,
                 packed.data() + n * words);
  // A pruned 1-bit weight: whole blocks of 32 rows x 64 inputs that are
  // zero are zeros (block_mask), not signs; with none, the weight is dense.
  std::vector<bool> stored =
      storedBinaryBlocks(values->data(), outFeatures, inFeatures);
  bool blockSparse = llvm::is_contained(stored, false);
  auto isStored = [&](int64_t n, int64_t k) {
    return stored[(n / kBinaryBlockRows) * words + k / kBitsPerPackedWord];
  };
  // An imported binary-mean-scale weight is a dequantize of +-1 codes (0 in
  // pruned blocks) that carries its scales (per tensor or per row): use
  // them as they are. Otherwise BWN's scale is mean |W| of the whole weight
  // (of its stored blocks when pruned).
  SmallVector<float> rowScales;
  if (quantizer == Quantizer::binary_mean_scale) {
    std::optional<ChannelQuantizedWeight> codes =
        matchDequantizedCodes(linear.getWeight(), outFeatures);
    bool signCodes = codes.has_value();
    for (int64_t i = 0; signCodes && i < outFeatures * inFeatures; ++i) {
      int8_t c = codes->codes[i];
      signCodes = c == 1 || c == -1 ||
                  (c == 0 && !isStored(i / inFeatures, i % inFeatures));
    }
    if (signCodes) {
      rowScales = std::move(codes->scales);
    } else {
      SmallVector<float> storedValues;
      for (int64_t i = 0; i < outFeatures * inFeatures; ++i)
        if (isStored(i / inFeatures, i % inFeatures))
          storedValues.push_back((*values)[i]);
      rowScales.assign(outFeatures, binaryMeanScale(storedValues.data(),
                                                    storedValues.size()));
    }
  } else {
    rowScales.assign(outFeatures, 1.0f);
  }

  auto packedType =
      RankedTensorType::get({outFeatures, words}, builder.getI64Type());
  SmallVector<int64_t> bits(packed.begin(), packed.end());
  Value packedWeight = constant(
      packedType, DenseElementsAttr::get(packedType, ArrayRef<int64_t>(bits)));
  Value scales = channelVector(rowScales);

  RankedTensorType inputType = linear.getInput().getType();
  SmallVector<int64_t> packedShape(inputType.getShape());
  packedShape.back() = words;
  // sign(gelu(x)) = sign(x): the signs of a GELU's input are packed instead
  // of its output (the GELU goes when nothing else reads it).
  Value signs = linear.getInput();
  if (auto gelu = signs.getDefiningOp<GeluOp>())
    signs = gelu.getInput();
  Value packedInput = builder.create<BitpackOp>(
      loc, RankedTensorType::get(packedShape, builder.getI64Type()), signs);
  Value mask;
  if (blockSparse) {
    auto maskType = RankedTensorType::get(
        {binaryBlockRowCount(outFeatures), words}, builder.getI1Type());
    SmallVector<bool> flags(stored.begin(), stored.end());
    mask = constant(maskType, DenseElementsAttr::get(maskType, ArrayRef<bool>(flags)));
  }
  auto binaryLinear = builder.create<BinaryLinearOp>(
      loc, linear.getResult().getType(), packedInput, packedWeight, scales,
      linear.getBias(), mask, builder.getI64IntegerAttr(inFeatures));
  builder.replaceOp(linear, binaryLinear.getResult());
  return success();
}

LogicalResult Materializer::materializeIndexStorage() {
  MLIRContext *context = linear.getContext();
  auto toFloatLinear = [&] {
    linear.setPrecisionAttr(PrecisionAttr::get(context, Precision::f32));
    linear.removeQuantizerAttr();
  };
  // Already codes behind an index-form dequantize: nothing to recompute.
  if (auto dequantize = linear.getWeight().getDefiningOp<DequantizeOp>())
    if (getConstantInt8s(dequantize.getInput())) {
      toFloatLinear();
      return success();
    }
  std::optional<SmallVector<float>> values = getConstantFloats(linear.getWeight());
  if (!values)
    return nonConstantWeight();
  QuantizedWeight quantized =
      quantizeAsymmetricIndex(values->data(), values->size());
  RankedTensorType weightType = linear.getWeight().getType();
  auto codesType = weightType.clone(builder.getI8Type());
  SmallVector<int8_t> codes(quantized.codes.begin(), quantized.codes.end());
  Value codesValue = constant(
      codesType, DenseElementsAttr::get(codesType, ArrayRef<int8_t>(codes)));
  Value weight = builder.create<DequantizeOp>(
      loc, weightType, codesValue,
      builder.getDenseF32ArrayAttr({quantized.scale}),
      builder.getDenseI32ArrayAttr({quantized.zeroPoint}),
      builder.getF32FloatAttr(quantized.offset), /*axis=*/nullptr);
  builder.modifyOpInPlace(linear, [&] {
    linear.getWeightMutable().assign(weight);
    toFloatLinear();
  });
  return success();
}

/// qb.embedding precision<i8>: its float word and position tables become
/// int8 codes per row behind a qb.dequantize (axis 0), which the embedding
/// lowering looks up in place. Tables that already are int8 codes stay.
LogicalResult materializeEmbedding(EmbeddingOp embedding) {
  if (embedding.getPrecision() != Precision::i8)
    return success();
  IRRewriter builder(embedding);
  Location loc = embedding.getLoc();
  for (OpOperand *operand : {&embedding.getWordsMutable(),
                             &embedding.getPositionsMutable()}) {
    Value table = operand->get();
    if (getInt8Dequantize(table))
      continue;
    auto type = cast<RankedTensorType>(table.getType());
    std::optional<SmallVector<float>> values;
    if (type.hasStaticShape() && type.getElementType().isF32())
      values = getConstantFloats(table);
    if (!values)
      return embedding.emitOpError()
             << "cannot materialize precision 'i8': the "
             << (operand->getOperandNumber() ==
                         embedding.getWordsMutable().getOperandNumber()
                     ? "words"
                     : "positions")
             << " table must be a static f32 constant or a qb.dequantize of "
                "int8 codes";
    ChannelQuantizedWeight quantized =
        quantizeRowsInt8(*values, type.getDimSize(0), type.getDimSize(1));
    auto codesType = type.clone(builder.getI8Type());
    Value codesValue = builder.create<arith::ConstantOp>(
        loc, codesType,
        DenseElementsAttr::get(codesType, ArrayRef<int8_t>(quantized.codes)));
    Value dequantized = builder.create<DequantizeOp>(
        loc, type, codesValue, builder.getDenseF32ArrayAttr(quantized.scales),
        /*zero_point=*/DenseI32ArrayAttr(), builder.getF32FloatAttr(0.0f),
        builder.getI64IntegerAttr(0));
    builder.modifyOpInPlace(embedding, [&] { operand->set(dequantized); });
  }
  return success();
}

/// Erases the ops that computed `value` once nothing uses them any more (the
/// float or dequantized weight a rewrite replaced).
void eraseDeadProducers(Value value) {
  Operation *op = value.getDefiningOp();
  if (!op || !isOpTriviallyDead(op))
    return;
  SmallVector<Value> operands(op->getOperands());
  op->erase();
  for (Value operand : operands)
    eraseDeadProducers(operand);
}

class MaterializeQuantPass
    : public quantbert::impl::MaterializeQuantBase<MaterializeQuantPass> {
public:
  void runOnOperation() override {
    SmallVector<LinearOp> linears;
    getOperation()->walk([&](LinearOp linear) { linears.push_back(linear); });
    bool failed = false;
    for (LinearOp linear : linears) {
      Value weight = linear.getWeight();
      Value input = linear.getInput();
      failed |= mlir::failed(Materializer(linear).run());
      eraseDeadProducers(weight);
      eraseDeadProducers(input);
    }
    SmallVector<EmbeddingOp> embeddings;
    getOperation()->walk(
        [&](EmbeddingOp embedding) { embeddings.push_back(embedding); });
    for (EmbeddingOp embedding : embeddings) {
      Value words = embedding.getWords(), positions = embedding.getPositions();
      failed |= mlir::failed(materializeEmbedding(embedding));
      eraseDeadProducers(words);
      eraseDeadProducers(positions);
    }
    if (failed)
      signalPassFailure();
  }
};

} // namespace
