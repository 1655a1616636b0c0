//===- Model.cpp - Running models compiled by quant-bert-compile ----------===//
//
// qbrt_model_create / run / destroy: the entry points a generated header
// calls. The generated object only knows how to compute; this file checks
// every input against the model's sizes before the generated code sees it,
// prepares the int8 plans once, and builds the memref descriptors of MLIR's
// C interface (allocated pointer, aligned pointer, offset, sizes, strides).
//
//===----------------------------------------------------------------------===//

#include "Allocator.h"
#include "Context.h"

#include <cstdlib>
#include <memory>
#include <cstring>
#include <vector>

using namespace quantbert;

namespace {

/// MLIR's descriptor of a rank-2 memref (mlir/ExecutionEngine/CRunnerUtils.h).
template <typename T> struct MemRef2D {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};

template <typename T>
MemRef2D<T> rowMajor(const T *data, int64_t rows, int64_t cols) {
  T *pointer = const_cast<T *>(data); // the generated code only reads inputs
  return {pointer, pointer, 0, {rows, cols}, {cols, 1}};
}

using Forward = void (*)(MemRef2D<float> *, MemRef2D<int32_t> *,
                         MemRef2D<int32_t> *, MemRef2D<int32_t> *);
using ForwardWithPlans = void (*)(MemRef2D<float> *, MemRef2D<int32_t> *,
                                  MemRef2D<int32_t> *, MemRef2D<int32_t> *,
                                  void **);
using Prepare = int32_t (*)(qbrt_context *, void **);
using Destroy = void (*)(void **);

/// Checks that every value of `values` lies in [0, limit).
qb_status checkRange(const qbrt_context *ctx, const int32_t *values,
                     int64_t count, int64_t limit, const char *name) {
  for (int64_t i = 0; i < count; ++i)
    if (values[i] < 0 || values[i] >= limit)
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "qbrt_model_run: %s[%lld] = %d is outside [0, %lld)",
                         name, static_cast<long long>(i), values[i],
                         static_cast<long long>(limit));
  return QB_OK;
}

} // namespace

struct qbrt_model {
  qbrt_context *context;
  qbrt_model_descriptor descriptor;
  /// One plan per int8 linear (the generated prepare fills them).
  std::vector<void *> plans;
};

qb_status qbrt_model_create(qbrt_context *ctx,
                            const qbrt_model_descriptor *descriptor,
                            qbrt_model **out) {
  return guardedCall(ctx, "qbrt_model_create", [&]() -> qb_status {
    if (!ctx)
      return reportError(nullptr, QB_ERR_INVALID_ARGUMENT,
                         "qbrt_model_create: ctx is NULL");
    if (qb_status s = checkPointer(ctx, "qbrt_model_create", descriptor,
                                   "descriptor"))
      return s;
    if (qb_status s = checkPointer(ctx, "qbrt_model_create", out, "out"))
      return s;
    *out = nullptr;
    if (descriptor->abi_version != QBRT_MODEL_ABI_VERSION)
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "qbrt_model_create: model ABI version %d, this "
                         "runtime supports %d (recompile the model)",
                         descriptor->abi_version, QBRT_MODEL_ABI_VERSION);
    if (!descriptor->forward || descriptor->num_labels < 1 ||
        descriptor->vocab_size < 1 || descriptor->type_vocab_size < 1 ||
        descriptor->max_positions < 1 || descriptor->num_plans < 0 ||
        (descriptor->num_plans > 0 &&
         (!descriptor->prepare || !descriptor->destroy)))
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "qbrt_model_create: malformed model descriptor");
    auto model = std::make_unique<qbrt_model>();
    model->context = ctx;
    model->descriptor = *descriptor;
    model->plans.assign(descriptor->num_plans + 1, nullptr);
    if (descriptor->num_plans > 0) {
      auto prepare = reinterpret_cast<Prepare>(descriptor->prepare);
      if (int32_t status = prepare(ctx, model->plans.data())) {
        reinterpret_cast<Destroy>(descriptor->destroy)(model->plans.data());
        return static_cast<qb_status>(status);
      }
    }
    *out = model.release();
    return QB_OK;
  });
}

qb_status qbrt_model_run(qbrt_model *model, const int32_t *input_ids,
                         const int32_t *token_type_ids,
                         const int32_t *attention_mask, int64_t batch,
                         int64_t seq_len, float *logits) {
  if (!model)
    return reportError(nullptr, QB_ERR_INVALID_ARGUMENT,
                       "qbrt_model_run: model is NULL");
  qbrt_context *ctx = model->context;
  const qbrt_model_descriptor &d = model->descriptor;
  return guardedCall(ctx, "qbrt_model_run", [&]() -> qb_status {
    const char *fn = "qbrt_model_run";
    if (qb_status s = checkDim(ctx, fn, batch, "batch", 1))
      return s;
    if (qb_status s = checkDim(ctx, fn, seq_len, "seq_len", 1))
      return s;
    if (seq_len > d.max_positions)
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "%s: seq_len %lld exceeds the model's %lld positions",
                         fn, static_cast<long long>(seq_len),
                         static_cast<long long>(d.max_positions));
    int64_t tokens = 0;
    if (qb_status s = checkedProduct(ctx, fn, batch, seq_len, &tokens))
      return s;
    for (auto [pointer, name] :
         {std::pair<const void *, const char *>{input_ids, "input_ids"},
          {token_type_ids, "token_type_ids"},
          {attention_mask, "attention_mask"},
          {logits, "logits"}})
      if (qb_status s = checkPointer(ctx, fn, pointer, name))
        return s;
    if (qb_status s = checkRange(ctx, input_ids, tokens, d.vocab_size,
                                 "input_ids"))
      return s;
    if (qb_status s = checkRange(ctx, token_type_ids, tokens,
                                 d.type_vocab_size, "token_type_ids"))
      return s;
    if (qb_status s = checkRange(ctx, attention_mask, tokens, 2,
                                 "attention_mask"))
      return s;

    MemRef2D<int32_t> ids = rowMajor(input_ids, batch, seq_len);
    MemRef2D<int32_t> types = rowMajor(token_type_ids, batch, seq_len);
    MemRef2D<int32_t> mask = rowMajor(attention_mask, batch, seq_len);
    MemRef2D<float> result{};
    // The generated code's parallel loops run on this context's pool.
    struct CurrentContext {
      qbrt_context *previous;
      explicit CurrentContext(qbrt_context *ctx)
          : previous(qbrt_context_make_current(ctx)) {}
      ~CurrentContext() { qbrt_context_make_current(previous); }
    } current(ctx);
    if (d.num_plans == 0) {
      reinterpret_cast<Forward>(d.forward)(&result, &ids, &types, &mask);
    } else {
      // A per-call copy: the last slot receives a failing run's status.
      std::vector<void *> plans(model->plans.begin(), model->plans.end());
      plans.back() = nullptr;
      reinterpret_cast<ForwardWithPlans>(d.forward)(&result, &ids, &types,
                                                     &mask, plans.data());
      int32_t status;
      std::memcpy(&status, &plans.back(), sizeof status);
      if (status != 0) {
        _mlir_memref_to_llvm_free(result.allocated);
        return reportError(ctx, static_cast<qb_status>(status),
                           "%s: an int8 linear failed in the runtime", fn);
      }
    }
    if (result.sizes[0] != batch || result.sizes[1] != d.num_labels) {
      _mlir_memref_to_llvm_free(result.allocated);
      return reportError(ctx, QB_ERR_INTERNAL,
                         "%s: the model returned [%lld, %lld] logits", fn,
                         static_cast<long long>(result.sizes[0]),
                         static_cast<long long>(result.sizes[1]));
    }
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t l = 0; l < d.num_labels; ++l)
        logits[b * d.num_labels + l] =
            result.aligned[result.offset + b * result.strides[0] +
                           l * result.strides[1]];
    _mlir_memref_to_llvm_free(result.allocated);
    return QB_OK;
  });
}

void qbrt_model_destroy(qbrt_model *model) {
  if (!model)
    return;
  if (model->descriptor.num_plans > 0)
    reinterpret_cast<Destroy>(model->descriptor.destroy)(model->plans.data());
  delete model;
}
