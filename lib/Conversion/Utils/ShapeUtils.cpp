//===- ShapeUtils.cpp - Reshapes shared by the qb conversions -------------===//
//
// See quantbert/Conversion/ShapeUtils.h.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/ShapeUtils.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace quantbert {

Value expandToShape(OpBuilder &b, Location loc, Value value,
                    RankedTensorType type,
                    ArrayRef<ReassociationIndices> reassociation,
                    ArrayRef<OpFoldResult> outputSizes) {
  bool inferable =
      llvm::all_of(reassociation, [&](const ReassociationIndices &group) {
        return llvm::count_if(group, [&](int64_t dim) {
                 return type.isDynamicDim(dim);
               }) <= 1;
      });
  if (inferable)
    return b.create<tensor::ExpandShapeOp>(loc, type, value, reassociation,
                                           outputSizes);
  SmallVector<Value> sizes;
  for (OpFoldResult size : outputSizes)
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, size));
  Value shape = b.create<tensor::FromElementsOp>(loc, sizes);
  return b.create<tensor::ReshapeOp>(loc, type, value, shape);
}

Value collapseToMatrix(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() == 2)
    return value;
  if (type.getRank() == 1) {
    auto matrixType = RankedTensorType::get({1, type.getDimSize(0)},
                                            type.getElementType());
    return b.create<tensor::ExpandShapeOp>(
        loc, matrixType, value, SmallVector<ReassociationIndices>{{0, 1}});
  }
  ReassociationIndices leading;
  for (int64_t i = 0; i < type.getRank() - 1; ++i)
    leading.push_back(i);
  return b.create<tensor::CollapseShapeOp>(
      loc, value,
      SmallVector<ReassociationIndices>{leading, {type.getRank() - 1}});
}

Value expandFromMatrix(OpBuilder &b, Location loc, Value matrix,
                       RankedTensorType type, Value like) {
  if (type.getRank() == 2)
    return matrix.getType() == type
               ? matrix
               : b.create<tensor::CastOp>(loc, type, matrix).getResult();
  if (type.getRank() == 1)
    return b.create<tensor::CollapseShapeOp>(
        loc, type, matrix, SmallVector<ReassociationIndices>{{0, 1}});
  SmallVector<OpFoldResult> outputShape = tensor::getMixedSizes(b, loc, like);
  outputShape.back() = b.getIndexAttr(type.getShape().back());
  ReassociationIndices leading;
  for (int64_t i = 0; i < type.getRank() - 1; ++i)
    leading.push_back(i);
  return expandToShape(
      b, loc, matrix, type,
      SmallVector<ReassociationIndices>{leading, {type.getRank() - 1}},
      outputShape);
}

} // namespace quantbert
