//===- ShapeUtils.h - Reshapes shared by the qb conversions ------*- C++ -*-===//
//
// The qb lowerings compute on [M, C] matrices and reshape to and from the
// ops' [..., C] tensors; these helpers do that and work around MLIR 19's
// expand_shape bufferization (see expandToShape).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_CONVERSION_SHAPEUTILS_H
#define QUANTBERT_CONVERSION_SHAPEUTILS_H

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace quantbert {

/// `value` expanded into `type` along `reassociation`, with the sizes
/// `outputSizes`: a tensor.expand_shape, unless a reassociation group has
/// more than one dynamic size ([B * S, N] -> [B, S, N]). MLIR 19 bufferizes
/// expand_shape by inferring the sizes instead of reading output_shape and
/// crashes on such groups (fixed upstream by llvm-project PR #128871), so
/// those go through tensor.reshape with the sizes as a shape tensor.
mlir::Value expandToShape(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value value, mlir::RankedTensorType type,
                          llvm::ArrayRef<mlir::ReassociationIndices> reassociation,
                          llvm::ArrayRef<mlir::OpFoldResult> outputSizes);

/// Collapses a tensor of rank >= 2 to [prod(leading), last]; a rank-1 tensor
/// becomes [1, last].
mlir::Value collapseToMatrix(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value value);

/// The inverse of collapseToMatrix: reshapes `matrix` [M, C] to `type`
/// ([..., C]) whose leading sizes are those of `like` ([..., *]).
mlir::Value expandFromMatrix(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value matrix, mlir::RankedTensorType type,
                             mlir::Value like);

} // namespace quantbert

#endif // QUANTBERT_CONVERSION_SHAPEUTILS_H
