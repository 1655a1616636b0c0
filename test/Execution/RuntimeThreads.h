//===- RuntimeThreads.h - Run JIT-compiled kernels on the runtime's pool --===//
//
// Generated parallel loops call qbrt_parallel_for, which uses the calling
// thread's current runtime context (inline without one). A ScopedThreads
// makes a context with N threads current for one scope, so a test can run
// the same kernel sequentially and in parallel and compare.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_TEST_EXECUTION_RUNTIMETHREADS_H
#define QUANTBERT_TEST_EXECUTION_RUNTIMETHREADS_H

#include "quantbert/runtime.h"

#include <cstdlib>

namespace quantbert::test {

class ScopedThreads {
public:
  explicit ScopedThreads(int threads) {
    if (qbrt_context_create(threads, &context) != QB_OK)
      std::abort();
    previous = qbrt_context_make_current(context);
  }
  ~ScopedThreads() {
    qbrt_context_make_current(previous);
    qbrt_context_destroy(context);
  }
  ScopedThreads(const ScopedThreads &) = delete;
  ScopedThreads &operator=(const ScopedThreads &) = delete;

private:
  qbrt_context *context = nullptr;
  qbrt_context *previous = nullptr;
};

} // namespace quantbert::test

#endif // QUANTBERT_TEST_EXECUTION_RUNTIMETHREADS_H
