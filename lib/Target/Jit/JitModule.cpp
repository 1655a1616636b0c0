//===- JitModule.cpp - JIT-compile qb IR ---------------------------------===//
//
// Parse -> qb lowering patterns -> bufferize and lower to LLVM -> ORC JIT.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Target/JitModule.h"

#include "quantbert/Conversion/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace quantbert {

std::unique_ptr<JitModule> JitModule::compile(const std::string &source,
                                              const Lowering &lowering,
                                              std::string &error) {
  static bool targetsInitialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)targetsInitialized;

  std::unique_ptr<JitModule> jit(new JitModule());
  DialectRegistry registry;
  registerLoweringDialects(registry);
  jit->context = std::make_unique<MLIRContext>(registry);
  MLIRContext &context = *jit->context;
  context.loadAllAvailableDialects();

  llvm::raw_string_ostream diagnostics(error);
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    diagnostics << diagnostic.getLocation() << ": " << diagnostic << "\n";
    return success();
  });

  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(source, &context);
  if (!module)
    return nullptr;
  RewritePatternSet patterns(&context);
  lowering(patterns);
  if (failed(applyPatternsAndFoldGreedily(*module, std::move(patterns))))
    return nullptr;
  PassManager pm(&context);
  buildBufferizeAndLowerToLLVMPipeline(pm);
  if (failed(pm.run(*module)))
    return nullptr;

  ExecutionEngineOptions options;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  options.enableObjectDump = true;
  auto engine = ExecutionEngine::create(*module, options);
  if (!engine) {
    diagnostics << llvm::toString(engine.takeError());
    return nullptr;
  }
  jit->engine = std::move(*engine);
  return jit;
}

void *JitModule::lookup(const std::string &name) {
  auto symbol = engine->lookup("_mlir_ciface_" + name);
  if (!symbol) {
    llvm::consumeError(symbol.takeError());
    return nullptr;
  }
  return *symbol;
}

void JitModule::dumpObject(const std::string &path) {
  engine->dumpToObjectFile(path);
}

} // namespace quantbert
