//===- Context.h - The runtime context and error reporting ----------------===//
//
// qbrt_context owns the thread pool, the oneDNN engine and the per-thread
// last-error messages. Every C entry point reports failures through
// reportError, and runs its body inside guardedCall so that no C++ exception
// crosses the C ABI.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_RUNTIME_CONTEXT_H
#define QUANTBERT_RUNTIME_CONTEXT_H

#include "ThreadPool.h"
#include "quantbert/runtime.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

struct qbrt_context {
  explicit qbrt_context(int numThreads);

  int numThreads;
  quantbert::ThreadPool pool;
  dnnl::engine engine;

  std::mutex errorMutex;
  std::unordered_map<std::thread::id, std::string> lastErrors;
};

namespace quantbert {

/// Records a printf-style message as this thread's last error in ctx (or in
/// the context-less slot when ctx is null) and returns status.
qb_status reportError(const qbrt_context *ctx, qb_status status,
                      const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/// Runs body, turning any exception it throws into a status and message.
template <typename Body>
qb_status guardedCall(const qbrt_context *ctx, const char *function,
                      Body &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return reportError(ctx, QB_ERR_OUT_OF_MEMORY, "%s: out of memory",
                       function);
  } catch (const dnnl::error &e) {
    return reportError(ctx, QB_ERR_BACKEND, "%s: oneDNN: %s (status %d)",
                       function, e.what(), static_cast<int>(e.status));
  } catch (const std::exception &e) {
    return reportError(ctx, QB_ERR_INTERNAL, "%s: %s", function, e.what());
  } catch (...) {
    return reportError(ctx, QB_ERR_INTERNAL, "%s: unknown exception", function);
  }
}

/// Checks a pointer argument that must not be null when count > 0.
qb_status checkPointer(const qbrt_context *ctx, const char *function,
                       const void *pointer, const char *name,
                       int64_t count = 1);

/// Checks that a dimension is >= minimum.
qb_status checkDim(const qbrt_context *ctx, const char *function, int64_t value,
                   const char *name, int64_t minimum = 0);

/// Checks that a quantization scale is finite and > 0 and a zero point is in
/// [-128, 127].
qb_status checkQuantParams(const qbrt_context *ctx, const char *function,
                           float scale, int32_t zeroPoint);

/// Checks that each of `count` scales `name[i]` is finite and > 0.
qb_status checkScales(const qbrt_context *ctx, const char *function,
                      const float *scales, int64_t count, const char *name);

/// Checks that a * b does not overflow (both are >= 0) and stores it.
qb_status checkedProduct(const qbrt_context *ctx, const char *function,
                         int64_t a, int64_t b, int64_t *product);

} // namespace quantbert

#endif // QUANTBERT_RUNTIME_CONTEXT_H
