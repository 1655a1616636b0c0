//===- quant-bert-opt.cpp - The qb optimizer driver ----------------------===//
//
// mlir-opt for quant-bert: parses, verifies, transforms and prints qb IR. It
// registers the qb dialect, the qb passes, and only the upstream dialects and
// passes that the quant-bert pipeline uses on its way to the LLVM dialect.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Passes.h"
#include "quantbert/Conversion/Pipelines.h"
#include "quantbert/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  // qb, the upstream dialects the lowering produces, and their
  // bufferization models (shared with quant-bert-compile and the JIT).
  quantbert::registerLoweringDialects(registry);

  quantbert::registerQBTransformsPasses();
  quantbert::registerQBConversionPasses();
  quantbert::registerQBPipelines();
  // Canonicalize, CSE, inlining, symbol DCE and the other generic passes.
  mlir::registerTransformsPasses();
  // The upstream path from tensors to the LLVM dialect: bufferization,
  // linalg to loops, memref metadata expansion and the *-to-llvm conversions.
  mlir::bufferization::registerBufferizationPasses();
  mlir::bufferization::registerBufferizationPipelines();
  mlir::registerLinalgPasses();
  mlir::memref::registerMemRefPasses();
  mlir::registerConversionPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "quant-bert optimizer driver\n", registry));
}
