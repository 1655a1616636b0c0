//===- FuzzSupport.h - What the compiler fuzz targets share -----*- C++ -*-===//
//
// The MLIR side of test/Fuzz's targets: one dialect registry (qb and the
// upstream dialects the lowering produces, as quant-bert-opt registers
// them), a diagnostic handler that counts errors instead of printing them,
// and runPipeline, which runs a pass pipeline and enforces the oracle every
// target shares:
//
//   - a failure must come with at least one error diagnostic (a rejected
//     input is always explained to the user);
//   - nothing crashes, trips a sanitizer or hangs (libFuzzer's -timeout).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TEST_FUZZ_FUZZSUPPORT_H
#define QUANTBERT_TEST_FUZZ_FUZZSUPPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <memory>
#include <string>

namespace quantbert::fuzz {

/// A context with every dialect the pipelines need loaded, threading off.
std::unique_ptr<mlir::MLIRContext> makeContext();

/// Counts error diagnostics on a context and swallows all of them.
class DiagnosticCounter {
public:
  explicit DiagnosticCounter(mlir::MLIRContext *context);
  int64_t errors() const { return errors_; }
  /// The first error's text, for the message checks.
  const std::string &firstError() const { return first_; }

private:
  mlir::ScopedDiagnosticHandler handler_;
  int64_t errors_ = 0;
  std::string first_;
};

/// Runs `pipeline` (textual pass pipeline, anchored on builtin.module) on a
/// clone of `module`; aborts if it fails without an error diagnostic.
/// Returns whether it succeeded.
bool runPipeline(mlir::ModuleOp module, const std::string &pipeline,
                 const DiagnosticCounter &diagnostics);

/// Aborts with `what` on stderr: the fuzzer records the input as a crash.
[[noreturn]] void oracleFailure(const std::string &what);

} // namespace quantbert::fuzz

#endif // QUANTBERT_TEST_FUZZ_FUZZSUPPORT_H
