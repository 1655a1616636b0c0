//===- ForallSlices.h - Parallel loops over output tiles ---------*- C++ -*-===//
//
// The qb vector lowerings write their results tile by tile from the
// iterations of an scf.forall (rows, column panels, attention heads), which
// convert-parallel-loops-to-runtime later runs on the runtime's threads.
// Private to lib/Conversion/QBToVector.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_LIB_CONVERSION_QBTOVECTOR_FORALLSLICES_H
#define QUANTBERT_LIB_CONVERSION_QBTOVECTOR_FORALLSLICES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace quantbert {

inline mlir::Value indexConstant(mlir::OpBuilder &builder, mlir::Location loc,
                                 int64_t value) {
  return builder.create<mlir::arith::ConstantIndexOp>(loc, value);
}

/// The slice [offsets, offsets + sizes) of a tensor, unit strides.
struct Slice {
  llvm::SmallVector<mlir::OpFoldResult> offsets, sizes;

  mlir::Value extract(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Value tensor) const {
    llvm::SmallVector<mlir::OpFoldResult> strides(offsets.size(),
                                                  b.getIndexAttr(1));
    return b.create<mlir::tensor::ExtractSliceOp>(loc, tensor, offsets, sizes,
                                                  strides);
  }

  /// Ends an scf.forall body: `tile` goes into `shared` at the slice.
  void insertInParallel(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value tile, mlir::Value shared) const {
    llvm::SmallVector<mlir::OpFoldResult> strides(offsets.size(),
                                                  b.getIndexAttr(1));
    auto terminator = b.create<mlir::scf::InParallelOp>(loc);
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(terminator.getBody());
    b.create<mlir::tensor::ParallelInsertSliceOp>(loc, tile, shared, offsets,
                                                  sizes, strides);
  }
};

/// The body of forallSlices: given the induction variables and the shared
/// output, returns the tile an iteration computed and where it goes.
using SliceBody = llvm::function_ref<std::pair<mlir::Value, Slice>(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange ivs,
    mlir::Value shared)>;

/// An scf.forall over [0, counts) whose iterations each write one slice of
/// `init`.
inline mlir::Value forallSlices(mlir::OpBuilder &builder, mlir::Location loc,
                                llvm::ArrayRef<mlir::OpFoldResult> counts,
                                mlir::Value init, SliceBody body) {
  auto loop = builder.create<mlir::scf::ForallOp>(
      loc, counts, mlir::ValueRange{init}, std::nullopt,
      [&](mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange args) {
        mlir::Value shared = args.back();
        auto [tile, slice] = body(b, loc, args.drop_back(), shared);
        slice.insertInParallel(b, loc, tile, shared);
      });
  return loop.getResult(0);
}

} // namespace quantbert

#endif // QUANTBERT_LIB_CONVERSION_QBTOVECTOR_FORALLSLICES_H
