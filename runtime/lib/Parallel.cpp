//===- Parallel.cpp - Parallel loops of generated code ---------------------===//
//
// Compiled models run their parallel loops (attention heads, binary-linear
// column panels, rows of LayerNorm, GELU and the other element-wise ops)
// through qbrt_parallel_for, which convert-parallel-loops-to-runtime emits
// in place of each outermost scf.parallel. The loop runs on the pool of the
// calling thread's current context: qbrt_model_run makes its model's
// context current for the duration of the generated forward call, so the
// generated code needs no context argument, and a body that runs on a
// worker thread (which has no current context) runs nested loops inline.
//
//===----------------------------------------------------------------------===//
#include "Context.h"

namespace {
thread_local qbrt_context *currentContext = nullptr;
} // namespace

extern "C" {

qbrt_context *qbrt_context_make_current(qbrt_context *ctx) {
  qbrt_context *previous = currentContext;
  currentContext = ctx;
  return previous;
}

void qbrt_parallel_for(int64_t n, int64_t grain, qbrt_parallel_body body,
                       void *captures) {
  if (n <= 0)
    return;
  if (!currentContext) {
    body(0, n, captures);
    return;
  }
  currentContext->pool.parallelFor(
      n, grain, [&](int64_t begin, int64_t end) { body(begin, end, captures); });
}

} // extern "C"
