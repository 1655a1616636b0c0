//===- JitModule.cpp - JIT-compile qb IR ---------------------------------===//
//
// Parse -> qb lowering patterns -> bufferize and lower to LLVM -> ORC JIT.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Target/JitModule.h"

#include "quantbert/Conversion/Pipelines.h"
#ifdef QB_JIT_WITH_RUNTIME
#include "quantbert/runtime.h"
#endif

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

using namespace mlir;

namespace quantbert {

namespace {

// Counting malloc/free for generated code: each block carries its size in a
// 64-byte header (keeping the 64-byte alignment of the runtime's blocks).
// Atomic: the bodies of parallel loops allocate on the runtime's worker
// threads. With libquantbert_rt the blocks come from its per-thread cache,
// as in a compiled model, so a benchmark does not time page faults of fresh
// buffers; without it, from malloc.
std::atomic<size_t> liveBytes{0};
std::atomic<size_t> peakBytes{0};
constexpr size_t kHeader = 64;

#ifdef QB_JIT_WITH_RUNTIME
void *rawAlloc(size_t size) { return _mlir_memref_to_llvm_alloc(size); }
void rawFree(void *block) { _mlir_memref_to_llvm_free(block); }
#else
void *rawAlloc(size_t size) { return std::aligned_alloc(kHeader, (size + kHeader - 1) / kHeader * kHeader); }
void rawFree(void *block) { std::free(block); }
#endif

void *countingMalloc(size_t size) {
  auto *block = static_cast<char *>(rawAlloc(size + kHeader));
  if (!block)
    return nullptr;
  *reinterpret_cast<size_t *>(block) = size;
  size_t live = liveBytes.fetch_add(size) + size;
  size_t peak = peakBytes.load();
  while (live > peak && !peakBytes.compare_exchange_weak(peak, live)) {
  }
  return block + kHeader;
}

/// Alignments up to the header's 64 bytes are what every block has.
void *countingAlignedMalloc(size_t alignment, size_t size) {
  return alignment <= kHeader ? countingMalloc(size) : nullptr;
}

void countingFree(void *pointer) {
  if (!pointer)
    return;
  char *block = static_cast<char *>(pointer) - kHeader;
  liveBytes -= *reinterpret_cast<size_t *>(block);
  rawFree(block);
}

using ParallelBody = void (*)(int64_t, int64_t, void *);

#ifdef QB_JIT_WITH_RUNTIME
void parallelFor(int64_t n, int64_t grain, ParallelBody body, void *captures) {
  qbrt_parallel_for(n, grain, body, captures);
}
#else
/// Without libquantbert_rt, parallel loops run on the calling thread.
void parallelFor(int64_t n, int64_t, ParallelBody body, void *captures) {
  if (n > 0)
    body(0, n, captures);
}
#endif

} // namespace

size_t JitModule::peakAllocatedBytes() { return peakBytes; }

void JitModule::resetAllocationCounters() { peakBytes = liveBytes.load(); }

void JitModule::freeResult(void *basePtr) { countingFree(basePtr); }

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
  PassManager pm(&context);
  lowering(pm);
  buildBufferizeAndLowerToLLVMPipeline(pm);
  if (failed(pm.run(*module)))
    return nullptr;

  // The LLVM IR is optimized at -O3 for the host, as quant-bert-compile
  // does for a model's object (ObjectEmitter.cpp): tests and benchmarks run
  // the code a model would.
  auto hostMachine = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!hostMachine) {
    diagnostics << llvm::toString(hostMachine.takeError());
    return nullptr;
  }
  auto machine = hostMachine->createTargetMachine();
  if (!machine) {
    diagnostics << llvm::toString(machine.takeError());
    return nullptr;
  }
  ExecutionEngineOptions options;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  options.transformer = makeOptimizingTransformer(/*optLevel=*/3,
                                                  /*sizeLevel=*/0,
                                                  machine->get());
  options.enableObjectDump = true;
  auto engine = ExecutionEngine::create(*module, options);
  if (!engine) {
    diagnostics << llvm::toString(engine.takeError());
    return nullptr;
  }
  jit->engine = std::move(*engine);
  jit->engine->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner("malloc")] = {llvm::orc::ExecutorAddr::fromPtr(&countingMalloc),
                                   llvm::JITSymbolFlags::Exported};
    symbols[interner("free")] = {llvm::orc::ExecutorAddr::fromPtr(&countingFree),
                                 llvm::JITSymbolFlags::Exported};
    // The lowering pipeline allocates through MLIR's generic functions
    // (the runtime's caching allocator in compiled models).
    symbols[interner("_mlir_memref_to_llvm_alloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&countingMalloc),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("_mlir_memref_to_llvm_aligned_alloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&countingAlignedMalloc),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("_mlir_memref_to_llvm_free")] = {
        llvm::orc::ExecutorAddr::fromPtr(&countingFree),
        llvm::JITSymbolFlags::Exported};
    // Parallel loops run on the pool of the calling thread's current
    // runtime context (qbrt_context_make_current), inline without one.
    symbols[interner("qbrt_parallel_for")] = {
        llvm::orc::ExecutorAddr::fromPtr(&parallelFor),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  return jit;
}

void *JitModule::lookup(const std::string &name) {
  return lookupSymbol("_mlir_ciface_" + name);
}

void *JitModule::lookupSymbol(const std::string &name) {
  auto symbol = engine->lookup(name);
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
