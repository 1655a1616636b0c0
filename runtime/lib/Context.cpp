//===- Context.cpp - The runtime context and error reporting --------------===//
//
// Context creation sizes the thread pool and creates the oneDNN CPU engine;
// errors are formatted once and stored per calling thread, so concurrent
// callers of one context never see each other's messages.
//
//===----------------------------------------------------------------------===//
#include "Context.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

using namespace quantbert;

namespace {
/// Errors of calls that had no context to report to.
thread_local std::string contextlessError;
} // namespace

qbrt_context::qbrt_context(int numThreads)
    : numThreads(numThreads), pool(numThreads),
      engine(dnnl::engine::kind::cpu, 0) {}

qb_status quantbert::reportError(const qbrt_context *ctx, qb_status status,
                                 const char *format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  if (!ctx) {
    contextlessError = buffer;
    return status;
  }
  auto *mutableCtx = const_cast<qbrt_context *>(ctx);
  std::lock_guard<std::mutex> lock(mutableCtx->errorMutex);
  mutableCtx->lastErrors[std::this_thread::get_id()] = buffer;
  return status;
}

qb_status quantbert::checkPointer(const qbrt_context *ctx, const char *function,
                                  const void *pointer, const char *name,
                                  int64_t count) {
  if (pointer || count == 0)
    return QB_OK;
  return reportError(ctx, QB_ERR_INVALID_ARGUMENT, "%s: %s is NULL", function,
                     name);
}

qb_status quantbert::checkDim(const qbrt_context *ctx, const char *function,
                              int64_t value, const char *name,
                              int64_t minimum) {
  if (value >= minimum)
    return QB_OK;
  return reportError(
      ctx, QB_ERR_INVALID_ARGUMENT, "%s: %s is %lld, must be >= %lld", function,
      name, static_cast<long long>(value), static_cast<long long>(minimum));
}

qb_status quantbert::checkQuantParams(const qbrt_context *ctx,
                                      const char *function, float scale,
                                      int32_t zeroPoint) {
  if (!std::isfinite(scale) || !(scale > 0.0f))
    return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: scale is %g, must be finite and > 0", function,
                       static_cast<double>(scale));
  if (zeroPoint < -128 || zeroPoint > 127)
    return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: zero point is %d, must be in [-128, 127]", function,
                       zeroPoint);
  return QB_OK;
}

qb_status quantbert::checkScales(const qbrt_context *ctx,
                                 const char *function, const float *scales,
                                 int64_t count, const char *name) {
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(scales[i]) || !(scales[i] > 0.0f))
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "%s: %s[%lld] is %g, must be finite and > 0",
                         function, name, static_cast<long long>(i),
                         static_cast<double>(scales[i]));
  return QB_OK;
}

qb_status quantbert::checkedProduct(const qbrt_context *ctx,
                                    const char *function, int64_t a, int64_t b,
                                    int64_t *product) {
  if (!__builtin_mul_overflow(a, b, product))
    return QB_OK;
  return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                     "%s: %lld x %lld elements overflow int64", function,
                     static_cast<long long>(a), static_cast<long long>(b));
}

extern "C" {

qb_status qbrt_context_create(int num_threads, qbrt_context **out) {
  const char *function = "qbrt_context_create";
  if (!out)
    return reportError(nullptr, QB_ERR_INVALID_ARGUMENT, "%s: out is NULL",
                       function);
  *out = nullptr;
  if (num_threads < 0)
    return reportError(nullptr, QB_ERR_INVALID_ARGUMENT,
                       "%s: num_threads is %d, must be >= 0 (0 = hardware "
                       "concurrency)",
                       function, num_threads);
  if (num_threads == 0)
    num_threads = std::max(1u, std::thread::hardware_concurrency());
  return guardedCall(nullptr, function, [&] {
    *out = new qbrt_context(num_threads);
    return QB_OK;
  });
}

void qbrt_context_destroy(qbrt_context *ctx) { delete ctx; }

int qbrt_context_num_threads(const qbrt_context *ctx) {
  return ctx ? ctx->numThreads : 0;
}

const char *qbrt_last_error(const qbrt_context *ctx) {
  if (!ctx)
    return contextlessError.c_str();
  auto *mutableCtx = const_cast<qbrt_context *>(ctx);
  std::lock_guard<std::mutex> lock(mutableCtx->errorMutex);
  auto it = mutableCtx->lastErrors.find(std::this_thread::get_id());
  return it == mutableCtx->lastErrors.end() ? "" : it->second.c_str();
}

const char *qbrt_status_string(qb_status status) {
  switch (status) {
  case QB_OK:
    return "QB_OK";
  case QB_ERR_INVALID_ARGUMENT:
    return "QB_ERR_INVALID_ARGUMENT";
  case QB_ERR_OUT_OF_MEMORY:
    return "QB_ERR_OUT_OF_MEMORY";
  case QB_ERR_IO:
    return "QB_ERR_IO";
  case QB_ERR_INVALID_VOCAB:
    return "QB_ERR_INVALID_VOCAB";
  case QB_ERR_INVALID_UTF8:
    return "QB_ERR_INVALID_UTF8";
  case QB_ERR_BUFFER_TOO_SMALL:
    return "QB_ERR_BUFFER_TOO_SMALL";
  case QB_ERR_BACKEND:
    return "QB_ERR_BACKEND";
  case QB_ERR_INTERNAL:
    return "QB_ERR_INTERNAL";
  }
  return "unknown qb_status";
}

} // extern "C"
