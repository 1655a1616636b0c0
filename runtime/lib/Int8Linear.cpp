//===- Int8Linear.cpp - int8 linear layer on oneDNN matmul ----------------===//
//
// y = x_scale * w_scales[n] * sum_k (x_q - x_zero_point) * w_q[n, k] + bias
// as one oneDNN 2.6 s8 x s8 -> f32 matmul. On this CPU oneDNN runs it with
// its brgemm VNNI kernel only if the output scales are constants given at
// primitive creation and there is no source zero point (REFERENCE.md
// section 6; runtime scales or a zero point fall back to a path about 1.5x
// slower). Hence:
//  - the weights are reordered once, at prepare, into the blocked layout the
//    kernel wants (which depends on K and N only, not on M);
//  - a primitive is created per (M, x_scale, x_zero_point), with the scales
//    x_scale * w_scales[n] baked in, and cached in the plan;
//  - the zero point and the bias are folded into oneDNN's bias, which 2.6
//    adds before scaling: dst = scale[n] * (acc + bias'[n]) with
//    bias'[n] = bias[n] / scale[n] - x_zero_point * sum_k w_q[n, k].
// s8 sources (instead of the usual u8 shifted by 128) cost the same here and
// keep the compensation inside oneDNN, exact in int32. Per-row activation
// scales (dynamic quantization) cannot be fixed at creation: their
// primitive applies w_scales[n] only, without bias, and each part then
// multiplies its rows by their scales and adds the bias.
//
// Threads: a run splits M into one part of contiguous rows per thread of the
// context's pool, each part one single-threaded oneDNN call on all the
// weights, writing its rows of y (primitives are cached per part size).
// Splitting the columns instead needs an output with a row stride wider
// than the part, which oneDNN 2.6 does not give to its brgemm kernel: it
// falls back to gemm:jit, 1.3-1.5x on 2 threads where the row split gives
// 1.8-2.0x (docs/results/runtime.md). Parts have at least kMinRowsPerPart
// rows: below, the weights, streamed by every part, dominate and a split
// gains nothing. oneDNN in Debian is built with OpenMP and sizes its team
// from the calling thread's omp_get_max_threads(): every call sets that to
// 1 (a per-thread setting), so no OpenMP team ever spins against the pool's
// workers and the compiled code.
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "LinearRun.h"

#include <omp.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

using namespace quantbert;

using dnnl::memory;

namespace {

/// Largest K for which the int32 accumulator cannot overflow:
/// K * 128 * 127 < 2^31.
constexpr int64_t kMaxK = 131072;

/// Fewest multiply-accumulates (M * K * N) for which splitting the blocks
/// across threads pays for waking the pool (a few microseconds): below,
/// the calling thread runs them one after the other.
constexpr int64_t kMinParallelMacs = int64_t(1) << 20;

/// Fewest rows a thread's part of a split run gets (2 threads on 8 rows:
/// 1.4-1.6x on this machine's shapes; on 4 rows, 1.0x).
constexpr int64_t kMinRowsPerPart = 4;

/// The M that prepare asks oneDNN about to learn the weight layout.
constexpr int64_t kLayoutProbeM = 128;

/// The primitive for one (rows, x_scale, x_zero_point) and its folded bias.
struct Primitive {
  dnnl::matmul matmul;
  memory bias;
  memory::desc scratchpad;
};

/// Per-thread scratchpad, so one plan can run on several threads at once.
class Scratchpad {
public:
  ~Scratchpad() { std::free(data); }
  void *get(size_t size) {
    if (size > capacity) {
      std::free(data);
      capacity = (size + 63) / 64 * 64;
      data = std::aligned_alloc(64, capacity);
      if (!data) {
        capacity = 0;
        throw std::bad_alloc();
      }
    }
    return data;
  }

private:
  void *data = nullptr;
  size_t capacity = 0;
};

thread_local Scratchpad threadScratchpad;

memory::desc weightsDesc(int64_t k, int64_t n, memory::format_tag tag) {
  return memory::desc({k, n}, memory::data_type::s8, tag);
}

/// The matmul of an M x K input and the K x N weights into a dense M x N
/// output.
dnnl::matmul::primitive_desc
makePrimitiveDesc(const qbrt_context *ctx, int64_t m, int64_t k, int64_t n,
                  const memory::desc &weights,
                  const std::vector<float> &scales) {
  dnnl::primitive_attr attr;
  attr.set_output_scales(/*mask=per N*/ 1 << 1, scales);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::matmul::desc desc(
      memory::desc({m, k}, memory::data_type::s8, memory::format_tag::ab),
      weights,
      memory::desc({1, n}, memory::data_type::f32, memory::format_tag::ab),
      memory::desc({m, n}, memory::data_type::f32, memory::format_tag::ab));
  return dnnl::matmul::primitive_desc(desc, attr, ctx->engine);
}

/// The first row of part `part` of `parts` nearly equal parts of m rows.
int64_t partBegin(int64_t m, int64_t parts, int64_t part) {
  return m * part / parts;
}

} // namespace

struct qbrt_int8_linear_plan {
  qbrt_context *ctx;
  int64_t n, k;
  std::vector<float> weightScales;
  std::vector<float> bias;
  /// sum_k w_q[n, k], to fold the activation zero point into the bias.
  std::vector<int32_t> weightSums;
  /// All N columns, in the blocked layout oneDNN's kernel reads.
  memory packedWeights;

  std::mutex cacheMutex;
  std::map<std::tuple<int64_t, float, int32_t, bool>, Primitive> cache;

  /// Finds or creates the primitive for (rows, xScale, xZeroPoint), with
  /// the bias folded in unless `withoutBias` (per-row scales: the bias is
  /// added after them); fails if a combined scale is not a normal f32.
  qb_status primitiveFor(int64_t rows, float xScale, int32_t xZeroPoint,
                         bool withoutBias, const Primitive *&primitive);
};

qb_status qbrt_int8_linear_plan::primitiveFor(int64_t rows, float xScale,
                                              int32_t xZeroPoint,
                                              bool withoutBias,
                                              const Primitive *&primitive) {
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto key = std::make_tuple(rows, xScale, xZeroPoint, withoutBias);
  auto it = cache.find(key);
  if (it != cache.end()) {
    primitive = &it->second;
    return QB_OK;
  }

  std::vector<float> scales(n);
  for (int64_t j = 0; j < n; ++j) {
    scales[j] = xScale * weightScales[j];
    if (!(scales[j] >= FLT_MIN) || !std::isfinite(scales[j]))
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "qbrt_int8_linear_run: x_scale * w_scales[%lld] = "
                         "%g is not a normal f32",
                         static_cast<long long>(j),
                         static_cast<double>(scales[j]));
  }
  auto pd = makePrimitiveDesc(ctx, rows, k, n, packedWeights.get_desc(),
                              scales);
  if (pd.weights_desc() != packedWeights.get_desc())
    return reportError(ctx, QB_ERR_BACKEND,
                       "qbrt_int8_linear_run: oneDNN wants another weight "
                       "layout for %lld rows than the one packed at prepare",
                       static_cast<long long>(rows));
  memory foldedBias(pd.bias_desc(), ctx->engine);
  auto *folded = static_cast<float *>(foldedBias.get_data_handle());
  for (int64_t j = 0; j < n; ++j) {
    // In double, so the folded value is the correctly rounded f32.
    double value = -static_cast<double>(xZeroPoint) * weightSums[j];
    if (!bias.empty() && !withoutBias)
      value += static_cast<double>(bias[j]) / scales[j];
    folded[j] = static_cast<float>(value);
  }
  Primitive made{dnnl::matmul(pd), foldedBias, pd.scratchpad_desc()};
  primitive = &cache.emplace(key, std::move(made)).first->second;
  return QB_OK;
}

/// An int8 linear on m rows: one single-threaded oneDNN call per part of
/// the rows, the parts spread over the context's pool, whose workers stay
/// awake between the calls of a forward pass (OpenMP's would either sleep,
/// a wake-up per call, or spin and compete with the compiled code). With
/// `rowScales`, the primitives apply the weight scales only and each part
/// then scales its rows and adds the bias.
static qb_status runRows(qbrt_int8_linear_plan *plan, const int8_t *x_q,
                         int64_t m, float x_scale, int32_t x_zero_point,
                         const float *rowScales, float *y,
                         const char *function) {
  qbrt_context *ctx = plan->ctx;
  int64_t parts = 1;
  if (m * plan->k * plan->n >= kMinParallelMacs)
    parts = std::max<int64_t>(
        1, std::min<int64_t>(ctx->pool.size(), m / kMinRowsPerPart));
  // The primitives (at most two part sizes) are made here, on the calling
  // thread, so the parts only execute.
  bool scaledRows = rowScales != nullptr;
  std::vector<const Primitive *> primitives(parts);
  for (int64_t part = 0; part < parts; ++part) {
    int64_t rows = partBegin(m, parts, part + 1) - partBegin(m, parts, part);
    if (part > 0 && rows == partBegin(m, parts, 1)) {
      primitives[part] = primitives[0];
      continue;
    }
    if (qb_status s = plan->primitiveFor(rows, x_scale, x_zero_point,
                                         scaledRows, primitives[part]))
      return s;
  }
  auto runPart = [&](int64_t part) {
    omp_set_num_threads(1);
    int64_t begin = partBegin(m, parts, part);
    int64_t rows = partBegin(m, parts, part + 1) - begin;
    const Primitive &p = *primitives[part];
    memory src(memory::desc({rows, plan->k}, memory::data_type::s8,
                            memory::format_tag::ab),
               ctx->engine, const_cast<int8_t *>(x_q + begin * plan->k));
    memory dst(memory::desc({rows, plan->n}, memory::data_type::f32,
                            memory::format_tag::ab),
               ctx->engine, y + begin * plan->n);
    memory scratch(p.scratchpad, ctx->engine,
                   threadScratchpad.get(p.scratchpad.get_size()));
    dnnl::stream stream(ctx->engine);
    p.matmul.execute(stream, {{DNNL_ARG_SRC, src},
                              {DNNL_ARG_WEIGHTS, plan->packedWeights},
                              {DNNL_ARG_BIAS, p.bias},
                              {DNNL_ARG_DST, dst},
                              {DNNL_ARG_SCRATCHPAD, scratch}});
    stream.wait();
    if (!scaledRows)
      return;
    // y = (w_scale[n] * acc) * row_scale + bias[n], in f32.
    for (int64_t r = begin; r < begin + rows; ++r) {
      float *out = y + r * plan->n;
      float rowScale = rowScales[r];
      if (plan->bias.empty())
        for (int64_t j = 0; j < plan->n; ++j)
          out[j] *= rowScale;
      else
        for (int64_t j = 0; j < plan->n; ++j)
          out[j] = out[j] * rowScale + plan->bias[j];
    }
  };
  if (parts == 1) {
    runPart(0);
    return QB_OK;
  }
  // A part that throws (oneDNN out of memory) must not unwind through a
  // worker thread: the first failure is kept and reported here.
  std::mutex failureMutex;
  std::string failure;
  qb_status failureStatus = QB_OK;
  ctx->pool.parallelFor(parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t part = begin; part < end; ++part) {
      try {
        runPart(part);
      } catch (const std::exception &e) {
        std::lock_guard<std::mutex> lock(failureMutex);
        if (failureStatus == QB_OK) {
          failureStatus = dynamic_cast<const std::bad_alloc *>(&e)
                              ? QB_ERR_OUT_OF_MEMORY
                              : QB_ERR_BACKEND;
          failure = e.what();
        }
      }
    }
  });
  if (failureStatus != QB_OK)
    return reportError(ctx, failureStatus, "%s: %s", function,
                       failure.c_str());
  return QB_OK;
}

extern "C" {

qb_status qbrt_int8_linear_prepare(qbrt_context *ctx, const int8_t *w_q,
                                   const float *w_scales, const float *bias,
                                   int64_t n, int64_t k,
                                   qbrt_int8_linear_plan **out) {
  const char *function = "qbrt_int8_linear_prepare";
  if (qb_status s = checkLinearPrepare(ctx, function, w_q, w_scales, n, k,
                                       kMaxK, out))
    return s;

  return guardedCall(ctx, function, [&] {
    omp_set_num_threads(1);
    auto plan = std::make_unique<qbrt_int8_linear_plan>();
    plan->ctx = ctx;
    plan->n = n;
    plan->k = k;
    plan->weightScales.assign(w_scales, w_scales + n);
    if (bias)
      plan->bias.assign(bias, bias + n);
    plan->weightSums.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      int32_t sum = 0;
      for (int64_t i = 0; i < k; ++i)
        sum += w_q[j * k + i];
      plan->weightSums[j] = sum;
    }

    // w_q is [N, K] row-major, i.e. oneDNN's K x N weights in "ba" order.
    auto pd = makePrimitiveDesc(ctx, kLayoutProbeM, k, n,
                                weightsDesc(k, n, memory::format_tag::any),
                                std::vector<float>(n, 1.0f));
    memory plain(weightsDesc(k, n, memory::format_tag::ba), ctx->engine,
                 const_cast<int8_t *>(w_q));
    plan->packedWeights = memory(pd.weights_desc(), ctx->engine);
    dnnl::stream stream(ctx->engine);
    dnnl::reorder(plain, plan->packedWeights)
        .execute(stream, plain, plan->packedWeights);
    stream.wait();
    *out = plan.release();
    return QB_OK;
  });
}

qb_status qbrt_int8_linear_run(qbrt_int8_linear_plan *plan, const int8_t *x_q,
                               int64_t m, float x_scale, int32_t x_zero_point,
                               float *y) {
  const char *function = "qbrt_int8_linear_run";
  return checkedLinearRun(plan, function, x_q, m, y, /*perRow=*/false,
                          x_scale, x_zero_point, nullptr, [&] {
                            return runRows(plan, x_q, m, x_scale, x_zero_point,
                                           nullptr, y, function);
                          });
}

qb_status qbrt_int8_linear_run_rows(qbrt_int8_linear_plan *plan,
                                    const int8_t *x_q, int64_t m,
                                    const float *row_scales, float *y) {
  const char *function = "qbrt_int8_linear_run_rows";
  return checkedLinearRun(plan, function, x_q, m, y, /*perRow=*/true, 1.0f, 0,
                          row_scales, [&] {
                            return runRows(plan, x_q, m, 1.0f, 0, row_scales,
                                           y, function);
                          });
}

void qbrt_int8_linear_destroy(qbrt_int8_linear_plan *plan) { delete plan; }

qb_status qbrt_int8_linear(qbrt_context *ctx, const int8_t *x_q, int64_t m,
                           int64_t k, float x_scale, int32_t x_zero_point,
                           const int8_t *w_q, const float *w_scales,
                           const float *bias, int64_t n, float *y) {
  qbrt_int8_linear_plan *plan;
  if (qb_status s =
          qbrt_int8_linear_prepare(ctx, w_q, w_scales, bias, n, k, &plan))
    return s;
  qb_status status =
      qbrt_int8_linear_run(plan, x_q, m, x_scale, x_zero_point, y);
  qbrt_int8_linear_destroy(plan);
  return status;
}

} // extern "C"
