//===- JitModule.h - JIT-compile qb IR for tests and benchmarks --*- C++ -*-===//
//
// Parses qb IR, applies a lowering, runs the pipeline to the LLVM dialect
// and JIT-compiles the result for the host CPU, so tests and benchmarks can
// call the generated functions through their C interface.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TARGET_JITMODULE_H
#define QUANTBERT_TARGET_JITMODULE_H

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <array>
#include <functional>
#include <memory>
#include <string>

namespace quantbert {

class JitModule {
public:
  /// Adds the passes that take the parsed module to tensor-level upstream
  /// code (the qb conversions); bufferization and lowering to LLVM follow.
  using Lowering = std::function<void(mlir::OpPassManager &)>;

  /// Compiles `source`; on failure returns null and sets `error`.
  static std::unique_ptr<JitModule> compile(const std::string &source,
                                            const Lowering &lowering,
                                            std::string &error);

  /// Heap bytes the generated code has allocated and not freed at its peak
  /// since the last reset (memref allocations go through malloc/free, which
  /// the JIT binds to counting wrappers), on every thread.
  static size_t peakAllocatedBytes();
  static void resetAllocationCounters();

  /// Frees a buffer the generated code returned (e.g. a result memref's
  /// basePtr): it came from the counting malloc, not plain malloc.
  static void freeResult(void *basePtr);

  /// Address of `_mlir_ciface_<name>` (functions need llvm.emit_c_interface).
  void *lookup(const std::string &name);

  /// Address of the symbol `name` as compiled (functions without a memref
  /// in their signature, such as the generated int8 plan preparation).
  void *lookupSymbol(const std::string &name);

  /// Writes the generated machine code as an object file (to inspect the
  /// instructions a kernel compiled to, e.g. with objdump -d).
  void dumpObject(const std::string &path);

private:
  JitModule() = default;
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<mlir::ExecutionEngine> engine;
};

/// A row-major memref descriptor over `data` with `sizes`, to pass to a
/// generated function's C interface.
template <typename T, int Rank>
StridedMemRefType<T, Rank> makeMemRef(T *data,
                                      const std::array<int64_t, Rank> &sizes) {
  StridedMemRefType<T, Rank> ref;
  ref.basePtr = ref.data = data;
  ref.offset = 0;
  int64_t stride = 1;
  for (int i = Rank - 1; i >= 0; --i) {
    ref.sizes[i] = sizes[i];
    ref.strides[i] = stride;
    stride *= sizes[i];
  }
  return ref;
}

} // namespace quantbert

#endif // QUANTBERT_TARGET_JITMODULE_H
