//===- QBOps.cpp - qb dialect operations ---------------------------------===//
//
// Verifiers, folders and interface methods of the qb operations. Every
// verifier names the operand it rejects and the rule it breaks; folders exist
// only where the result is numerically exact (see each op's description).
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Support/Quantization.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <string>

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

namespace {

RankedTensorType tensorTypeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

bool dimsCompatible(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) || ShapedType::isDynamic(rhs) || lhs == rhs;
}

std::string formatDim(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += formatDim(dim); },
      [&] { text += ", "; });
  return text + "]";
}

bool isFinitePositive(float value) { return std::isfinite(value) && value > 0; }

/// Checks that `type` has the rank and a shape compatible with `expected`;
/// `layout` names the dimensions, e.g. "[batch, seq, hidden]".
LogicalResult verifyShapeIs(Operation *op, StringRef name,
                            RankedTensorType type, ArrayRef<int64_t> expected,
                            StringRef layout) {
  if (type.getRank() == static_cast<int64_t>(expected.size()) &&
      succeeded(verifyCompatibleShape(type.getShape(), expected)))
    return success();
  return op->emitOpError() << name << " shape " << formatShape(type.getShape())
                           << " must be " << layout << " = "
                           << formatShape(expected);
}

/// Checks that `vector` is a 1-D tensor of `expected` entries (the
/// per-output-channel bias and scales of linears).
LogicalResult verifyChannelVector(Operation *op, StringRef name, Value vector,
                                  int64_t expected, StringRef what) {
  RankedTensorType type = tensorTypeOf(vector);
  if (type.getRank() != 1 || !dimsCompatible(type.getDimSize(0), expected))
    return op->emitOpError() << name << " must be 1-D [" << what << " = "
                             << formatDim(expected) << "], got "
                             << formatShape(type.getShape());
  return success();
}

/// Checks that `vector` holds one value per row of `matrix` ([...] for a
/// [..., K] matrix: the per-row scales of dynamic quantization).
LogicalResult verifyRowVector(Operation *op, StringRef name, Value vector,
                              Value matrix) {
  ArrayRef<int64_t> rows = tensorTypeOf(matrix).getShape().drop_back();
  return verifyShapeIs(op, name, tensorTypeOf(vector), rows,
                       "[rows of the input]");
}

/// Checks the shapes every linear shares: `input` is [..., K'], `weight` is
/// [N, K'] and `result` is [..., N], where K' is in_features for float and
/// int8 linears and the packed word count for binary ones (`kName`).
LogicalResult verifyLinearShapes(Operation *op, Value input, Value weight,
                                 Value result, StringRef kName) {
  RankedTensorType inputType = tensorTypeOf(input);
  RankedTensorType weightType = tensorTypeOf(weight);
  RankedTensorType resultType = tensorTypeOf(result);
  if (weightType.getRank() != 2)
    return op->emitOpError() << "weight must be 2-D [out_features, " << kName
                             << "], got rank " << weightType.getRank();
  if (inputType.getRank() < 1)
    return op->emitOpError() << "input must have rank >= 1";
  int64_t inputK = inputType.getDimSize(inputType.getRank() - 1);
  if (!dimsCompatible(inputK, weightType.getDimSize(1)))
    return op->emitOpError()
           << "input's last dimension (" << formatDim(inputK)
           << ") does not match the weight's " << kName << " ("
           << formatDim(weightType.getDimSize(1)) << ")";
  if (resultType.getRank() != inputType.getRank())
    return op->emitOpError() << "result rank (" << resultType.getRank()
                             << ") must equal input rank ("
                             << inputType.getRank() << ")";
  for (int64_t i = 0, e = inputType.getRank() - 1; i < e; ++i)
    if (!dimsCompatible(resultType.getDimSize(i), inputType.getDimSize(i)))
      return op->emitOpError()
             << "result dimension " << i << " ("
             << formatDim(resultType.getDimSize(i))
             << ") does not match input dimension " << i << " ("
             << formatDim(inputType.getDimSize(i)) << ")";
  int64_t resultN = resultType.getDimSize(resultType.getRank() - 1);
  if (!dimsCompatible(resultN, weightType.getDimSize(0)))
    return op->emitOpError()
           << "result's last dimension (" << formatDim(resultN)
           << ") does not match the weight's out_features ("
           << formatDim(weightType.getDimSize(0)) << ")";
  return success();
}

/// Checks that all `values` share one element type.
LogicalResult verifySameElementType(Operation *op, ArrayRef<Value> values,
                                    StringRef what) {
  Type expected = getElementTypeOrSelf(values.front().getType());
  for (Value value : values.drop_front())
    if (getElementTypeOrSelf(value.getType()) != expected)
      return op->emitOpError() << what << " must share one element type, got "
                               << expected << " and "
                               << getElementTypeOrSelf(value.getType());
  return success();
}

/// Builds a float constant of `type` (f32, f16 or bf16) from f32 values,
/// rounding to nearest even as an f32 -> f16/bf16 conversion does.
DenseElementsAttr buildFloats(ShapedType type, ArrayRef<float> values) {
  auto elementType = cast<FloatType>(type.getElementType());
  if (elementType.isF32())
    return DenseElementsAttr::get(type, values);
  SmallVector<APFloat> converted;
  converted.reserve(values.size());
  for (float value : values) {
    APFloat apValue(value);
    bool losesInfo = false;
    apValue.convert(elementType.getFloatSemantics(),
                    APFloat::rmNearestTiesToEven, &losesInfo);
    converted.push_back(apValue);
  }
  return DenseElementsAttr::get(type, converted);
}

} // namespace

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType idsType = getInputIds().getType();
  RankedTensorType typeIdsType = getTokenTypeIds().getType();
  if (idsType.getRank() != 2)
    return emitOpError() << "input_ids must be 2-D [batch, seq], got rank "
                         << idsType.getRank();
  if (typeIdsType.getRank() != 2 ||
      failed(verifyCompatibleShape(idsType.getShape(), typeIdsType.getShape())))
    return emitOpError() << "token_type_ids shape "
                         << formatShape(typeIdsType.getShape())
                         << " does not match input_ids shape "
                         << formatShape(idsType.getShape());
  std::pair<StringRef, Value> tables[] = {{"words", getWords()},
                                          {"positions", getPositions()},
                                          {"token_types", getTokenTypes()}};
  for (auto [name, table] : tables)
    if (tensorTypeOf(table).getRank() != 2)
      return emitOpError() << name << " table must be 2-D [rows, hidden], got "
                           << formatShape(tensorTypeOf(table).getShape());
  int64_t hidden = getWords().getType().getDimSize(1);
  for (auto [name, table] : ArrayRef(tables).drop_front())
    if (!dimsCompatible(tensorTypeOf(table).getDimSize(1), hidden))
      return emitOpError() << name << " hidden size ("
                           << formatDim(tensorTypeOf(table).getDimSize(1))
                           << ") does not match the words hidden size ("
                           << formatDim(hidden) << ")";
  if (failed(verifySameElementType(
          *this, {getWords(), getPositions(), getTokenTypes(), getResult()},
          "tables and result")))
    return failure();
  RankedTensorType resultType = getResult().getType();
  SmallVector<int64_t> expected = {idsType.getDimSize(0), idsType.getDimSize(1),
                                   hidden};
  if (failed(verifyShapeIs(*this, "result", resultType, expected,
                           "[batch, seq, hidden]")))
    return failure();
  int64_t seq = idsType.getDimSize(1);
  int64_t maxPositions = getPositions().getType().getDimSize(0);
  if (!ShapedType::isDynamic(seq) && !ShapedType::isDynamic(maxPositions) &&
      seq > maxPositions)
    return emitOpError() << "sequence length " << seq << " exceeds the "
                         << maxPositions << " rows of the positions table";
  return success();
}

//===----------------------------------------------------------------------===//
// EncoderLayerOp
//===----------------------------------------------------------------------===//

LogicalResult EncoderLayerOp::verifyRegions() {
  Type hiddenType = getHidden().getType();
  Type maskType = getMask().getType();
  if (getResult().getType() != hiddenType)
    return emitOpError() << "result type " << getResult().getType()
                         << " must equal the hidden-state type " << hiddenType;

  Block &attention = getAttention().front();
  if (attention.getNumArguments() != 2 ||
      attention.getArgument(0).getType() != hiddenType ||
      attention.getArgument(1).getType() != maskType)
    return emitOpError() << "attention region must take (hidden: " << hiddenType
                         << ", mask: " << maskType << ") block arguments";
  Block &ffn = getFfn().front();
  if (ffn.getNumArguments() != 1 || ffn.getArgument(0).getType() != hiddenType)
    return emitOpError() << "ffn region must take one block argument of type "
                         << hiddenType;

  std::pair<StringRef, Block *> blocks[] = {{"attention", &attention},
                                            {"ffn", &ffn}};
  for (auto [name, block] : blocks) {
    auto yield = dyn_cast<YieldOp>(block->getTerminator());
    if (!yield)
      return emitOpError() << name << " region must end in qb.yield";
    if (yield.getValue().getType() != hiddenType)
      return yield.emitOpError()
             << "yields " << yield.getValue().getType() << " from the " << name
             << " region of layer " << getLayer() << ", expected " << hiddenType;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  if (failed(verifyLinearShapes(*this, getInput(), getWeight(), getResult(),
                                "in_features")))
    return failure();
  int64_t outFeatures = getWeight().getType().getDimSize(0);
  if (getBias() && failed(verifyChannelVector(*this, "bias", getBias(),
                                              outFeatures, "out_features")))
    return failure();
  SmallVector<Value> values = {getInput(), getWeight(), getResult()};
  if (getBias())
    values.push_back(getBias());
  if (failed(verifySameElementType(*this, values, "operands and result")))
    return failure();
  if (std::optional<APFloat> inputScale = getInputScale())
    if (!isFinitePositive(inputScale->convertToFloat()))
      return emitOpError() << "input_scale must be finite and positive, got "
                           << inputScale->convertToFloat();
  if (std::optional<Quantizer> quantizer = getQuantizer()) {
    Precision precision = getPrecision();
    if (isFloatPrecision(precision))
      return emitOpError() << "float precision '" << stringifyPrecision(precision)
                           << "' takes no quantizer, got '"
                           << stringifyQuantizer(*quantizer) << "'";
    if (precisionOfQuantizer(*quantizer) != precision)
      return emitOpError() << "quantizer '" << stringifyQuantizer(*quantizer)
                           << "' requires precision '"
                           << stringifyPrecision(precisionOfQuantizer(*quantizer))
                           << "', got '" << stringifyPrecision(precision) << "'";
  }
  return success();
}

std::optional<LayerModule> LinearOp::getRoleModule() {
  std::optional<LinearRole> role = getRole();
  if (!role)
    return std::nullopt;
  switch (*role) {
  case LinearRole::query:
  case LinearRole::key:
  case LinearRole::value:
  case LinearRole::attention_output:
    return LayerModule::attention;
  case LinearRole::intermediate:
  case LinearRole::output:
    return LayerModule::ffn;
  case LinearRole::pooler:
  case LinearRole::classifier:
    return std::nullopt;
  }
  llvm_unreachable("unknown linear role");
}

//===----------------------------------------------------------------------===//
// Int8LinearOp
//===----------------------------------------------------------------------===//

LogicalResult Int8LinearOp::verify() {
  if (failed(verifyLinearShapes(*this, getInput(), getWeight(), getResult(),
                                "in_features")))
    return failure();
  int64_t outFeatures = getWeight().getType().getDimSize(0);
  if (failed(verifyChannelVector(*this, "weight_scale", getWeightScale(),
                                 outFeatures, "out_features")))
    return failure();
  if (getBias() && failed(verifyChannelVector(*this, "bias", getBias(),
                                              outFeatures, "out_features")))
    return failure();
  if (!getInputScale() == !getInputScales())
    return emitOpError() << "needs exactly one of the attribute input_scale "
                            "(static) and the operand input_scales (dynamic)";
  if (std::optional<ArrayRef<int64_t>> block = getBlockSparse();
      block && (block->size() != 2 || (*block)[0] != kSparseInt8BlockRows ||
                (*block)[1] != kSparseInt8BlockCols)) {
    std::string got;
    llvm::raw_string_ostream os(got);
    llvm::interleaveComma(*block, os);
    return emitOpError() << "block_sparse must be [" << kSparseInt8BlockRows
                         << ", " << kSparseInt8BlockCols
                         << "] (the block-sparse int8 kernel's block: output "
                            "channels x inputs), got ["
                         << got << "]";
  }
  int32_t zeroPoint = static_cast<int32_t>(getInputZeroPoint());
  if (Value rowScales = getInputScales()) {
    if (failed(verifyRowVector(*this, "input_scales", rowScales, getInput())))
      return failure();
    if (zeroPoint != 0)
      return emitOpError() << "input_zero_point must be 0 with per-row "
                              "input_scales, got "
                           << zeroPoint;
    return success();
  }
  float inputScale = getInputScale()->convertToFloat();
  if (!isFinitePositive(inputScale))
    return emitOpError() << "input_scale must be finite and positive, got "
                         << inputScale;
  if (zeroPoint < kInt8Min || zeroPoint > kInt8Max)
    return emitOpError() << "input_zero_point " << zeroPoint
                         << " is outside the int8 range [-128, 127]";
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeRowsOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeRowsOp::verify() {
  RankedTensorType inputType = getInput().getType();
  if (inputType.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  RankedTensorType resultType = getResult().getType();
  if (resultType.getRank() != inputType.getRank())
    return emitOpError() << "result rank (" << resultType.getRank()
                         << ") must equal input rank (" << inputType.getRank()
                         << ")";
  for (int64_t i = 0; i < inputType.getRank(); ++i)
    if (!dimsCompatible(resultType.getDimSize(i), inputType.getDimSize(i)))
      return emitOpError() << "result dimension " << i << " ("
                           << formatDim(resultType.getDimSize(i))
                           << ") does not match input dimension " << i << " ("
                           << formatDim(inputType.getDimSize(i)) << ")";
  return verifyRowVector(*this, "scales", getScales(), getInput());
}

//===----------------------------------------------------------------------===//
// BitpackOp
//===----------------------------------------------------------------------===//

LogicalResult BitpackOp::verify() {
  RankedTensorType inputType = getInput().getType();
  RankedTensorType resultType = getResult().getType();
  if (inputType.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (resultType.getRank() != inputType.getRank())
    return emitOpError() << "result rank (" << resultType.getRank()
                         << ") must equal input rank (" << inputType.getRank()
                         << ")";
  int64_t last = inputType.getRank() - 1;
  for (int64_t i = 0; i < last; ++i)
    if (!dimsCompatible(resultType.getDimSize(i), inputType.getDimSize(i)))
      return emitOpError() << "result dimension " << i << " ("
                           << formatDim(resultType.getDimSize(i))
                           << ") does not match input dimension " << i << " ("
                           << formatDim(inputType.getDimSize(i)) << ")";
  int64_t k = inputType.getDimSize(last);
  if (k == 0)
    return emitOpError() << "cannot pack an empty last dimension";
  if (!ShapedType::isDynamic(k) &&
      !dimsCompatible(resultType.getDimSize(last), packedWordCount(k)))
    return emitOpError() << "result's last dimension ("
                         << formatDim(resultType.getDimSize(last))
                         << ") must be ceil(" << k << " / 64) = "
                         << packedWordCount(k) << " packed words";
  return success();
}

OpFoldResult BitpackOp::fold(FoldAdaptor adaptor) {
  std::optional<SmallVector<float>> input =
      readConstantFloats(adaptor.getInput());
  RankedTensorType resultType = getResult().getType();
  if (!input || !resultType.hasStaticShape() ||
      !getInput().getType().hasStaticShape())
    return {};
  SmallVector<float> &values = *input;
  int64_t k = getInput().getType().getShape().back();
  int64_t words = packedWordCount(k);
  int64_t rows = static_cast<int64_t>(values.size()) / k;
  SmallVector<uint64_t> packed(rows * words);
  for (int64_t row = 0; row < rows; ++row)
    packSignBits(values.data() + row * k, k, packed.data() + row * words);
  SmallVector<int64_t> bits(packed.begin(), packed.end());
  return DenseElementsAttr::get(resultType, ArrayRef<int64_t>(bits));
}

//===----------------------------------------------------------------------===//
// BinaryLinearOp
//===----------------------------------------------------------------------===//

LogicalResult BinaryLinearOp::verify() {
  if (failed(verifyLinearShapes(*this, getInput(), getWeight(), getResult(),
                                "packed words")))
    return failure();
  int64_t k = static_cast<int64_t>(getInFeatures());
  int64_t words = getWeight().getType().getDimSize(1);
  if (!dimsCompatible(words, packedWordCount(k)))
    return emitOpError() << "weight holds " << formatDim(words)
                         << " packed words per row, but in_features = " << k
                         << " needs ceil(" << k << " / 64) = "
                         << packedWordCount(k);
  int64_t outFeatures = getWeight().getType().getDimSize(0);
  if (failed(verifyChannelVector(*this, "scale", getScale(), outFeatures,
                                 "out_features")))
    return failure();
  if (getBias() && failed(verifyChannelVector(*this, "bias", getBias(),
                                              outFeatures, "out_features")))
    return failure();
  if (Value mask = getBlockMask()) {
    int64_t blockRows = ShapedType::isDynamic(outFeatures)
                            ? ShapedType::kDynamic
                            : binaryBlockRowCount(outFeatures);
    if (failed(verifyShapeIs(*this, "block_mask", tensorTypeOf(mask),
                             {blockRows, packedWordCount(k)},
                             "[ceil(out_features / 32), ceil(in_features / "
                             "64)]")))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// SplitHeadsOp / MergeHeadsOp
//===----------------------------------------------------------------------===//

LogicalResult SplitHeadsOp::verify() {
  RankedTensorType inputType = getInput().getType();
  RankedTensorType resultType = getResult().getType();
  if (inputType.getRank() != 3)
    return emitOpError() << "input must be 3-D [batch, seq, hidden], got rank "
                         << inputType.getRank();
  int64_t heads = static_cast<int64_t>(getNumHeads());
  int64_t hidden = inputType.getDimSize(2);
  if (!ShapedType::isDynamic(hidden) && hidden % heads != 0)
    return emitOpError() << "hidden size " << hidden
                         << " is not divisible by num_heads = " << heads;
  int64_t headDim = ShapedType::isDynamic(hidden) ? ShapedType::kDynamic
                                                  : hidden / heads;
  SmallVector<int64_t> expected = {inputType.getDimSize(0), heads,
                                   inputType.getDimSize(1), headDim};
  if (failed(verifyShapeIs(*this, "result", resultType, expected,
                           "[batch, heads, seq, head_dim]")))
    return failure();
  return verifySameElementType(*this, {getInput(), getResult()},
                               "input and result");
}

OpFoldResult SplitHeadsOp::fold(FoldAdaptor) {
  auto merge = getInput().getDefiningOp<MergeHeadsOp>();
  if (!merge || merge.getInput().getType() != getType())
    return {};
  if (merge.getInput().getType().getDimSize(1) !=
      static_cast<int64_t>(getNumHeads()))
    return {};
  return merge.getInput();
}

LogicalResult MergeHeadsOp::verify() {
  RankedTensorType inputType = getInput().getType();
  RankedTensorType resultType = getResult().getType();
  if (inputType.getRank() != 4)
    return emitOpError()
           << "input must be 4-D [batch, heads, seq, head_dim], got rank "
           << inputType.getRank();
  int64_t heads = inputType.getDimSize(1);
  int64_t headDim = inputType.getDimSize(3);
  int64_t hidden = ShapedType::isDynamic(heads) || ShapedType::isDynamic(headDim)
                       ? ShapedType::kDynamic
                       : heads * headDim;
  SmallVector<int64_t> expected = {inputType.getDimSize(0),
                                   inputType.getDimSize(2), hidden};
  if (failed(verifyShapeIs(*this, "result", resultType, expected,
                           "[batch, seq, heads * head_dim]")))
    return failure();
  return verifySameElementType(*this, {getInput(), getResult()},
                               "input and result");
}

OpFoldResult MergeHeadsOp::fold(FoldAdaptor) {
  auto split = getInput().getDefiningOp<SplitHeadsOp>();
  if (!split || split.getInput().getType() != getType())
    return {};
  return split.getInput();
}

//===----------------------------------------------------------------------===//
// BatchMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult BatchMatmulOp::verify() {
  RankedTensorType lhsType = getLhs().getType();
  RankedTensorType rhsType = getRhs().getType();
  RankedTensorType resultType = getResult().getType();
  int64_t rank = lhsType.getRank();
  if (rank < 2)
    return emitOpError() << "lhs must have rank >= 2, got " << rank;
  if (rhsType.getRank() != rank || resultType.getRank() != rank)
    return emitOpError() << "lhs, rhs and result must have one rank, got "
                         << rank << ", " << rhsType.getRank() << " and "
                         << resultType.getRank();
  for (int64_t i = 0; i < rank - 2; ++i)
    if (!dimsCompatible(lhsType.getDimSize(i), rhsType.getDimSize(i)) ||
        !dimsCompatible(lhsType.getDimSize(i), resultType.getDimSize(i)))
      return emitOpError() << "batch dimension " << i
                           << " differs between lhs ("
                           << formatDim(lhsType.getDimSize(i)) << "), rhs ("
                           << formatDim(rhsType.getDimSize(i))
                           << ") and result ("
                           << formatDim(resultType.getDimSize(i)) << ")";
  bool transposed = getTransposeRhs();
  int64_t lhsK = lhsType.getDimSize(rank - 1);
  int64_t rhsK = rhsType.getDimSize(transposed ? rank - 1 : rank - 2);
  int64_t rhsN = rhsType.getDimSize(transposed ? rank - 2 : rank - 1);
  if (!dimsCompatible(lhsK, rhsK))
    return emitOpError() << "contraction size of lhs (" << formatDim(lhsK)
                         << ") does not match rhs (" << formatDim(rhsK) << ")"
                         << (transposed ? " with transpose_rhs" : "");
  SmallVector<int64_t> expected(resultType.getShape());
  expected[rank - 2] = lhsType.getDimSize(rank - 2);
  expected[rank - 1] = rhsN;
  if (failed(verifyCompatibleShape(resultType.getShape(), expected)))
    return emitOpError() << "result shape " << formatShape(resultType.getShape())
                         << " must end in [M, N] = ["
                         << formatDim(expected[rank - 2]) << ", "
                         << formatDim(rhsN) << "]";
  return verifySameElementType(*this, {getLhs(), getRhs(), getResult()},
                               "lhs, rhs and result");
}

//===----------------------------------------------------------------------===//
// ScaleOp / AttentionMaskOp
//===----------------------------------------------------------------------===//

LogicalResult ScaleOp::verify() {
  if (!std::isfinite(getFactor().convertToFloat()))
    return emitOpError() << "factor must be finite";
  return success();
}

OpFoldResult ScaleOp::fold(FoldAdaptor) {
  if (getFactor().isExactlyValue(1.0))
    return getInput();
  return {};
}

LogicalResult AttentionMaskOp::verify() {
  RankedTensorType scoresType = getScores().getType();
  RankedTensorType maskType = getMask().getType();
  if (scoresType.getRank() != 4)
    return emitOpError()
           << "scores must be 4-D [batch, heads, query_seq, key_seq], got rank "
           << scoresType.getRank();
  SmallVector<int64_t> expected = {scoresType.getDimSize(0),
                                   scoresType.getDimSize(3)};
  if (failed(verifyShapeIs(*this, "mask", maskType, expected,
                           "[batch, key_seq]")))
    return failure();
  if (getResult().getType() != scoresType)
    return emitOpError() << "result type " << getResult().getType()
                         << " must equal the scores type " << scoresType;
  if (!std::isfinite(getFill().convertToFloat()))
    return emitOpError() << "fill must be finite";
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  std::pair<StringRef, Value> projections[] = {
      {"query", getQuery()}, {"key", getKey()}, {"value", getValue()}};
  for (auto [name, value] : projections)
    if (tensorTypeOf(value).getRank() != 3)
      return emitOpError() << name << " must be 3-D [batch, seq, hidden], got "
                           << formatShape(tensorTypeOf(value).getShape());
  if (failed(verifySameElementType(
          *this, {getQuery(), getKey(), getValue(), getResult()},
          "query, key, value and result")))
    return failure();
  RankedTensorType keyType = getKey().getType();
  if (failed(verifyCompatibleShape(keyType, getValue().getType())))
    return emitOpError() << "value shape "
                         << formatShape(getValue().getType().getShape())
                         << " does not match key shape "
                         << formatShape(keyType.getShape());
  RankedTensorType queryType = getQuery().getType();
  if (!dimsCompatible(queryType.getDimSize(0), keyType.getDimSize(0)) ||
      !dimsCompatible(queryType.getDimSize(2), keyType.getDimSize(2)))
    return emitOpError() << "query shape " << formatShape(queryType.getShape())
                         << " must agree with key shape "
                         << formatShape(keyType.getShape())
                         << " in batch and hidden size";
  int64_t heads = static_cast<int64_t>(getNumHeads());
  int64_t hidden = queryType.getDimSize(2);
  if (!ShapedType::isDynamic(hidden) && hidden % heads != 0)
    return emitOpError() << "hidden size " << hidden
                         << " is not divisible by num_heads = " << heads;
  float scale = getScale().convertToFloat();
  if (!isFinitePositive(scale))
    return emitOpError() << "scale must be finite and positive, got " << scale;
  if (!std::isfinite(getMaskFill().convertToFloat()))
    return emitOpError() << "mask_fill must be finite";
  if (Value mask = getMask()) {
    RankedTensorType maskType = tensorTypeOf(mask);
    SmallVector<int64_t> expected = {keyType.getDimSize(0),
                                     keyType.getDimSize(1)};
    if (failed(verifyShapeIs(*this, "mask", maskType, expected,
                             "[batch, key_seq]")))
      return failure();
  }
  if (failed(verifyCompatibleShape(getResult().getType(), queryType)))
    return emitOpError() << "result shape "
                         << formatShape(getResult().getType().getShape())
                         << " must match query shape "
                         << formatShape(queryType.getShape());
  return success();
}

FloatType AttentionOp::getStorageElementType() {
  if (std::optional<FloatType> type = getStorageType())
    return *type;
  return Float32Type::get(getContext());
}

//===----------------------------------------------------------------------===//
// LayerNormOp / SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  RankedTensorType inputType = getInput().getType();
  if (inputType.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  int64_t hidden = inputType.getShape().back();
  if (failed(verifyChannelVector(*this, "gamma", getGamma(), hidden, "hidden")) ||
      failed(verifyChannelVector(*this, "beta", getBeta(), hidden, "hidden")))
    return failure();
  if (failed(verifySameElementType(*this, {getInput(), getGamma(), getBeta()},
                                   "input, gamma and beta")))
    return failure();
  double epsilon = getEpsilon().convertToDouble();
  if (!(std::isfinite(epsilon) && epsilon > 0))
    return emitOpError() << "epsilon must be finite and positive, got "
                         << epsilon;
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (getInput().getType().getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

namespace {

QuantParams readQuantParams(ArrayRef<float> scales,
                            std::optional<ArrayRef<int32_t>> zeroPoints,
                            APFloat offset, std::optional<uint64_t> axis) {
  QuantParams params;
  params.scales = scales;
  params.zeroPoints = zeroPoints.value_or(ArrayRef<int32_t>());
  params.offset = offset.convertToFloat();
  if (axis)
    params.axis = static_cast<int64_t>(*axis);
  return params;
}

/// Checks quantization parameters against the quantized tensor's type.
LogicalResult verifyQuantParams(Operation *op, const QuantParams &params,
                                RankedTensorType type) {
  if (params.scales.empty())
    return op->emitOpError() << "scale must have at least one entry";
  for (auto [i, scale] : llvm::enumerate(params.scales))
    if (!isFinitePositive(scale))
      return op->emitOpError() << "scale[" << i
                               << "] must be finite and positive, got " << scale;
  if (!params.zeroPoints.empty() &&
      params.zeroPoints.size() != params.scales.size())
    return op->emitOpError() << "zero_point has " << params.zeroPoints.size()
                             << " entries but scale has "
                             << params.scales.size();
  for (auto [i, zeroPoint] : llvm::enumerate(params.zeroPoints))
    if (zeroPoint < kInt8Min || zeroPoint > kInt8Max)
      return op->emitOpError() << "zero_point[" << i << "] = " << zeroPoint
                               << " is outside the int8 range [-128, 127]";
  if (!std::isfinite(params.offset))
    return op->emitOpError() << "offset must be finite";
  if (!params.axis) {
    if (params.scales.size() != 1)
      return op->emitOpError() << "per-channel quantization ("
                               << params.scales.size()
                               << " scales) needs an axis";
    return success();
  }
  if (*params.axis >= type.getRank())
    return op->emitOpError() << "axis " << *params.axis
                             << " is out of range for a rank-"
                             << type.getRank() << " tensor";
  int64_t channels = type.getDimSize(*params.axis);
  if (!dimsCompatible(channels, static_cast<int64_t>(params.scales.size())))
    return op->emitOpError() << "axis " << *params.axis << " has " << channels
                             << " channels but scale has "
                             << params.scales.size() << " entries";
  return success();
}

LogicalResult verifyQuantizedShapes(Operation *op, RankedTensorType input,
                                    RankedTensorType result) {
  if (failed(verifyCompatibleShape(input.getShape(), result.getShape())))
    return op->emitOpError() << "result shape " << formatShape(result.getShape())
                             << " does not match input shape "
                             << formatShape(input.getShape());
  return success();
}

/// The channel whose parameters apply to element `index` (row-major) of a
/// tensor of static `shape`.
struct ChannelIndexer {
  ChannelIndexer(ArrayRef<int64_t> shape, std::optional<int64_t> axis) {
    if (!axis)
      return;
    channels = shape[*axis];
    for (int64_t dim : shape.drop_front(*axis + 1))
      stride *= dim;
  }
  int64_t operator()(int64_t index) const {
    return channels == 1 ? 0 : (index / stride) % channels;
  }
  int64_t channels = 1;
  int64_t stride = 1;
};

} // namespace

QuantParams QuantizeOp::getQuantParams() {
  return readQuantParams(getScale(), getZeroPoint(), getOffset(), getAxis());
}

LogicalResult QuantizeOp::verify() {
  if (failed(verifyQuantizedShapes(*this, getInput().getType(),
                                   getResult().getType())))
    return failure();
  return verifyQuantParams(*this, getQuantParams(), getInput().getType());
}

OpFoldResult QuantizeOp::fold(FoldAdaptor adaptor) {
  QuantParams params = getQuantParams();
  // quantize(dequantize(q)) == q: exact for an f32 intermediate and no offset
  // (see the op description).
  if (auto dequantize = getInput().getDefiningOp<DequantizeOp>())
    if (dequantize.getInput().getType() == getType() && params.offset == 0.0f &&
        dequantize.getResult().getType().getElementType().isF32() &&
        dequantize.getQuantParams() == params)
      return dequantize.getInput();

  std::optional<SmallVector<float>> input =
      readConstantFloats(adaptor.getInput());
  RankedTensorType resultType = getResult().getType();
  if (!input || !resultType.hasStaticShape())
    return {};
  SmallVector<float> &values = *input;
  ChannelIndexer channelOf(resultType.getShape(), params.axis);
  SmallVector<int8_t> codes(values.size());
  for (auto [i, value] : llvm::enumerate(values)) {
    int64_t channel = channelOf(i);
    codes[i] = quantizeToInt8(value, params.scales[channel],
                              params.zeroPoint(channel), params.offset);
  }
  return DenseElementsAttr::get(resultType, ArrayRef<int8_t>(codes));
}

DequantizeOp quantbert::qb::getInt8Dequantize(Value value) {
  auto dequantize = value.getDefiningOp<DequantizeOp>();
  if (dequantize && dequantize.getInput().getType().getElementType().isInteger(8))
    return dequantize;
  return nullptr;
}

QuantParams DequantizeOp::getQuantParams() {
  return readQuantParams(getScale(), getZeroPoint(), getOffset(), getAxis());
}

LogicalResult DequantizeOp::verify() {
  if (failed(verifyQuantizedShapes(*this, getInput().getType(),
                                   getResult().getType())))
    return failure();
  return verifyQuantParams(*this, getQuantParams(), getInput().getType());
}

OpFoldResult DequantizeOp::fold(FoldAdaptor adaptor) {
  // Only splats fold: folding a dense weight would store it as floats again
  // and undo the compression (quantized weights stay codes until run time).
  auto input = dyn_cast_if_present<DenseElementsAttr>(adaptor.getInput());
  RankedTensorType resultType = getResult().getType();
  if (!input || !input.isSplat() || !resultType.hasStaticShape())
    return {};
  QuantParams params = getQuantParams();
  ChannelIndexer channelOf(resultType.getShape(), params.axis);
  SmallVector<float> values;
  values.reserve(input.getNumElements());
  for (auto [i, code] : llvm::enumerate(input.getValues<int8_t>())) {
    int64_t channel = channelOf(i);
    values.push_back(dequantizeInt8(code, params.scales[channel],
                                    params.zeroPoint(channel), params.offset));
  }
  return buildFloats(resultType, values);
}

#define GET_OP_CLASSES
#include "QuantBert/QBOps.cpp.inc"
