//===- Pipelines.cpp - qb lowering pipelines ------------------------------===//
//
// Assembles the upstream passes that take tensor-level code (what the qb
// conversions produce) through one-shot bufferization to the LLVM dialect.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Pipelines.h"

#include "QuantBert/QBDialect.h"
#include "quantbert/Conversion/Passes.h"
#include "quantbert/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void quantbert::registerLoweringDialects(DialectRegistry &registry) {
  registry.insert<qb::QBDialect, affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, cf::ControlFlowDialect,
                  func::FuncDialect, index::IndexDialect, linalg::LinalgDialect,
                  LLVM::LLVMDialect, math::MathDialect, memref::MemRefDialect,
                  scf::SCFDialect, tensor::TensorDialect,
                  vector::VectorDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerTilingInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

void quantbert::buildQBLowerToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createMaterializeQuant());
  pm.addPass(createCanonicalizerPass());
  // One qb.quantize per input (CSE), then one int8 linear per input.
  pm.addPass(createCSEPass());
  pm.addPass(createMergeInt8Linears());
  pm.addPass(createConvertQBToVector());
  pm.addPass(createConvertQBToRuntime());
  pm.addPass(createConvertQBToLinalg());
  // The importer's pooler tanh is a math op on tensors.
  pm.addPass(createConvertElementwiseToLinalgPass());
  // Chains of element-wise ops (bias, residual, GELU, quantize) become one
  // pass over memory before they are vectorized.
  pm.addNestedPass<func::FuncOp>(createLinalgElementwiseOpFusionPass());
  pm.addNestedPass<func::FuncOp>(createVectorizeLinalg());
  buildBufferizeAndLowerToLLVMPipeline(pm);
}

void quantbert::registerQBPipelines() {
  PassPipelineRegistration<>(
      "qb-lower-to-llvm",
      "Lowers an imported qb module (precisions assigned) to the LLVM dialect",
      buildQBLowerToLLVMPipeline);
}

void quantbert::buildBufferizeAndLowerToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  bufferization::OneShotBufferizationOptions bufferization;
  bufferization.bufferizeFunctionBoundaries = true;
  bufferization.setFunctionBoundaryTypeConversion(
      bufferization::LayoutMapOption::IdentityLayoutMap);
  pm.addPass(bufferization::createOneShotBufferizePass(bufferization));
  // The lowerings' scf.forall loops (rows, column panels, attention heads)
  // become scf.parallel, which convert-parallel-loops-to-runtime runs on the
  // runtime's thread pool; before the deallocation pipeline, which frees
  // the buffers of an scf.parallel body but not of an scf.forall one.
  pm.addPass(createForallToParallelLoopPass());
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(quantbert::createDeallocAfterLastUse());

  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // A parallel_insert_slice of the tile its iteration wrote bufferizes to a
  // copy between two identical subviews: CSE makes them one, and the
  // canonicalizer drops the copy of a buffer onto itself.
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(quantbert::createConvertParallelLoopsToRuntime());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertSCFToCFPass());
  // exp, erf and tanh become vectorisable polynomials; ctpop, roundeven,
  // sqrt and the rest become LLVM intrinsics; anything left goes to libm.
  pm.addPass(quantbert::createApproximateMath());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertVectorToLLVMPass());
  // Buffers come from _mlir_memref_to_llvm_alloc/free, which the runtime
  // implements with a per-thread cache (runtime/lib/Allocator.cpp).
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}
