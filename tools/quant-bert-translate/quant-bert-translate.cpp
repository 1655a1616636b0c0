//===- quant-bert-translate.cpp - Checkpoints and bundles to qb IR --------===//
//
// quant-bert-translate --import-bundle DIR [-o FILE] [--emit-bytecode]
//
// Reads a Hugging Face BERT checkpoint directory or a compressed bundle
// (config.json, model.safetensors, optionally quant.json and
// sensitivity.json) and writes the qb module: text by default, bytecode
// (.mlirbc, much smaller and faster to read for large models) on request.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Pipelines.h"
#include "quantbert/Import/BundleImporter.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::opt<std::string> importBundleDir(
    "import-bundle", cl::desc("Checkpoint or bundle directory to import"),
    cl::value_desc("directory"), cl::Required);
static cl::opt<std::string> outputFilename("o", cl::desc("Output file"),
                                           cl::value_desc("filename"),
                                           cl::init("-"));
static cl::opt<bool> emitBytecode("emit-bytecode",
                                  cl::desc("Write MLIR bytecode"),
                                  cl::init(false));
static cl::opt<std::string> functionName(
    "function-name", cl::desc("Name of the generated function"),
    cl::init("forward"));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv, "quant-bert-translate: BERT checkpoints and bundles to qb IR\n");

  mlir::DialectRegistry registry;
  quantbert::registerLoweringDialects(registry);
  mlir::MLIRContext context(registry);
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);

  quantbert::BundleImportOptions options;
  options.functionName = functionName;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      quantbert::importBundle(&context, importBundleDir, options);
  if (!module)
    return 1;

  std::string error;
  std::unique_ptr<ToolOutputFile> output =
      mlir::openOutputFile(outputFilename, &error);
  if (!output) {
    errs() << "quant-bert-translate: " << error << "\n";
    return 1;
  }
  if (emitBytecode) {
    if (mlir::failed(mlir::writeBytecodeToFile(*module, output->os())))
      return 1;
  } else {
    module->print(output->os());
  }
  output->keep();
  return 0;
}
