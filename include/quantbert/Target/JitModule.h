//===- JitModule.h - JIT-compile qb IR for tests and benchmarks --*- C++ -*-===//
//
// Parses qb IR, applies a lowering, runs the pipeline to the LLVM dialect
// and JIT-compiles the result for the host CPU, so tests and benchmarks can
// call the generated functions through their C interface.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TARGET_JITMODULE_H
#define QUANTBERT_TARGET_JITMODULE_H

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>
#include <memory>
#include <string>

namespace quantbert {

class JitModule {
public:
  using Lowering = std::function<void(mlir::RewritePatternSet &)>;

  /// Compiles `source`; on failure returns null and sets `error`.
  static std::unique_ptr<JitModule> compile(const std::string &source,
                                            const Lowering &lowering,
                                            std::string &error);

  /// Address of `_mlir_ciface_<name>` (functions need llvm.emit_c_interface).
  void *lookup(const std::string &name);

  /// Writes the generated machine code as an object file (to inspect the
  /// instructions a kernel compiled to, e.g. with objdump -d).
  void dumpObject(const std::string &path);

private:
  JitModule() = default;
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<mlir::ExecutionEngine> engine;
};

} // namespace quantbert

#endif // QUANTBERT_TARGET_JITMODULE_H
