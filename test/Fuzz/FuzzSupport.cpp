//===- FuzzSupport.cpp - What the compiler fuzz targets share -------------===//

#include "FuzzSupport.h"

#include "quantbert/Conversion/Passes.h"
#include "quantbert/Conversion/Pipelines.h"
#include "quantbert/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <mutex>

using namespace mlir;

namespace quantbert::fuzz {

std::unique_ptr<MLIRContext> makeContext() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    registerQBTransformsPasses();
    registerQBConversionPasses();
    registerQBPipelines();
    registerTransformsPasses();
  });
  DialectRegistry registry;
  registerLoweringDialects(registry);
  auto context = std::make_unique<MLIRContext>(
      registry, MLIRContext::Threading::DISABLED);
  context->loadAllAvailableDialects();
  context->printOpOnDiagnostic(false);
  return context;
}

DiagnosticCounter::DiagnosticCounter(MLIRContext *context)
    : handler_(context, [this](Diagnostic &diagnostic) {
        if (diagnostic.getSeverity() == DiagnosticSeverity::Error) {
          if (errors_++ == 0)
            first_ = diagnostic.str();
        }
        return success();
      }) {}

void oracleFailure(const std::string &what) {
  llvm::errs() << "fuzz oracle: " << what << "\n";
  std::abort();
}

bool runPipeline(ModuleOp module, const std::string &pipeline,
                 const DiagnosticCounter &diagnostics) {
  OwningOpRef<ModuleOp> clone = module.clone();
  PassManager pm(module->getContext());
  std::string parseErrors;
  llvm::raw_string_ostream errorStream(parseErrors);
  if (failed(parsePassPipeline(pipeline, pm, errorStream)))
    oracleFailure("the target's own pipeline does not parse: " + pipeline +
                  ": " + parseErrors);
  int64_t before = diagnostics.errors();
  if (succeeded(pm.run(*clone)))
    return true;
  if (diagnostics.errors() == before)
    oracleFailure("'" + pipeline + "' failed without an error diagnostic");
  return false;
}

} // namespace quantbert::fuzz
