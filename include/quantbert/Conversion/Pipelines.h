//===- Pipelines.h - qb lowering pipelines -----------------------*- C++ -*-===//
//
// The pass pipelines that take qb IR to the LLVM dialect.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_CONVERSION_PIPELINES_H
#define QUANTBERT_CONVERSION_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace quantbert {

/// Registers the qb dialect, every upstream dialect the lowering produces,
/// and their bufferization and LLVM-translation interfaces.
void registerLoweringDialects(mlir::DialectRegistry &registry);

/// qb-lower-to-llvm: an imported qb module (precisions assigned) to the LLVM
/// dialect: materialize quantization, fuse attention, lower the qb ops
/// (vector kernels, then linalg), then bufferize and lower to LLVM.
void buildQBLowerToLLVMPipeline(mlir::OpPassManager &pm);

/// Registers the qb-lower-to-llvm pipeline with the pass registry.
void registerQBPipelines();

/// Bufferizes tensor-level code (linalg, vector, scf, tensor, arith, math on
/// tensors, across function boundaries), inserts deallocations and lowers
/// everything to the LLVM dialect, ready for mlir-translate --mlir-to-llvmir.
void buildBufferizeAndLowerToLLVMPipeline(mlir::OpPassManager &pm);

} // namespace quantbert

#endif // QUANTBERT_CONVERSION_PIPELINES_H
