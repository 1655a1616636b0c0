//===- SparseInt8Linear.cpp - Block-sparse int8 linear on VNNI ------------===//
//
// The qb.int8_linear formula on weights pruned in blocks of 16 output
// channels x 4 inputs (aligned: channels 16s..16s+15, inputs 4b..4b+3):
// blocks whose 64 weights are all zero are skipped, the others are one
// 512-bit register each. The block is the operand of one AVX512-VNNI
// vpdpbusd: 16 int32 lanes (the strip's channels), each the sum of 4 u8 x s8
// products. Per nonzero block and row, the 4 input bytes of that row are
// broadcast and multiplied into the row's accumulator of the strip.
//
// Layout, made at prepare: per strip of 16 channels, its nonzero blocks in
// K order, each 64 bytes [channel][4 inputs], with the block's input index.
// A run converts x to u8 (x + 128) once, interleaved by tiles of 16 rows:
// [tile][input block][row of the tile][4 bytes], so the 16 rows' bytes for
// one block are one cache line (a 16 x 16 transpose of 4-byte groups in
// registers). Then per tile, every strip of the part: 16 accumulators,
// one weight load and 16 broadcast multiply-adds per block. The u8 shift
// comes back exactly in int32:
//   sum_k (x - z) w = sum_k (x + 128) w - (128 + z) sum_k w,
// with sum_k w over the whole row (pruned weights add nothing). Then, in
// f32 and in this order, as the dense linear's reference:
//   y = float(acc) * (x_scale * w_scales[n]) + bias[n]
//   y = (w_scales[n] * float(acc)) * row_scales[m] + bias[n]   (per-row)
//
// Threads: with at least one tile of rows per thread, each thread gets
// whole tiles, interleaves its own rows and walks every strip (as oneDNN's
// row split in Int8Linear.cpp: the read-only weights are shared, the
// activations written each call are not). With fewer tiles (short inputs)
// the strips are cut instead, into parts of about equal numbers of nonzero
// blocks. Every output is computed by one part exactly as with one thread
// (bit-exact for any thread count).
//
// Without AVX512-VNNI (or with QBRT_SPARSE_INT8_KERNEL=scalar in the
// environment at prepare, for tests) the same walk runs in scalar code; it
// gives bit-identical results: the integer sums are exact and the f32
// epilogue is the same operations (the runtime is built without FMA
// contraction).
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "LinearRun.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics pass an "undefined" register it flags as
// uninitialized once inlined (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define QB_HAVE_VNNI_KERNEL 1
#define QB_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#else
#define QB_HAVE_VNNI_KERNEL 0
#endif

using namespace quantbert;

namespace {

constexpr int64_t kStripChannels = 16;
constexpr int64_t kBlockInputs = 4;
constexpr int64_t kBlockBytes = kStripChannels * kBlockInputs;
/// Rows of one tile: 16 accumulators + the weight block + a broadcast.
constexpr int64_t kTileRows = 16;
/// (x + 128) * w is at most 255 * 128 in magnitude; the int32 accumulator
/// holds K of them.
constexpr int64_t kMaxK = 65536;
/// Fewest multiply-accumulates of the nonzero blocks worth splitting.
constexpr int64_t kMinParallelMacs = int64_t(1) << 20;

struct AlignedFree {
  void operator()(void *p) const { std::free(p); }
};

/// What one tile of rows of one run reads and writes.
struct RunArgs {
  const uint8_t *x;   // x + 128, [tile][kBlocks][16 rows][4]
  int64_t tileBytes;  // kBlocks * 64
  float *y;           // [m][n]
  int64_t n;
  const int32_t *compensation; // [strips * 16]: (128 + z) * sum_k w
  const float *scales;         // [strips * 16]: x_scale * w_scales, or w_scales
  const float *bias;           // [strips * 16], zero-padded
  const float *rowScales;      // per-row scales, or null
};

/// Per thread: the u8 copy of x and the per-run per-channel vectors.
struct Scratch {
  std::vector<uint8_t> x;
  std::vector<int32_t> compensation;
  std::vector<float> scales;
};
thread_local Scratch threadScratch;

} // namespace

struct qbrt_sparse_int8_linear_plan {
  qbrt_context *ctx;
  int64_t n, k;
  int64_t strips, kBlocks;
  /// stripBegin[s]..stripBegin[s + 1]: strip s's blocks.
  std::vector<int64_t> stripBegin;
  /// The input block (of 4) of each nonzero block.
  std::vector<int32_t> blockInput;
  /// 64 bytes per nonzero block: [channel][4 inputs], 64-byte aligned.
  std::unique_ptr<int8_t[], AlignedFree> blocks;
  std::vector<int32_t> weightSums;  // [strips * 16]
  std::vector<float> weightScales;  // [strips * 16], padded with 1
  std::vector<float> bias;          // [strips * 16], zero-padded
  bool vnni;
};

namespace {

/// The bytes of row 0 of a tile's first input block.
const uint8_t *tileInput(const RunArgs &a, int64_t row0) {
  return a.x + row0 / kTileRows * a.tileBytes +
         row0 % kTileRows * kBlockInputs;
}

/// y for rows [row0, row0 + rows) (within one tile) and strip `strip`, in
/// scalar code.
void tileScalar(const qbrt_sparse_int8_linear_plan &plan, const RunArgs &a,
                int64_t row0, int64_t rows, int64_t strip) {
  int32_t acc[kTileRows][kStripChannels] = {};
  const uint8_t *x0 = tileInput(a, row0);
  for (int64_t b = plan.stripBegin[strip]; b < plan.stripBegin[strip + 1];
       ++b) {
    const int8_t *w = plan.blocks.get() + b * kBlockBytes;
    const uint8_t *xb = x0 + int64_t(plan.blockInput[b]) * kBlockBytes;
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *x = xb + r * kBlockInputs;
      for (int64_t c = 0; c < kStripChannels; ++c)
        for (int64_t i = 0; i < kBlockInputs; ++i)
          acc[r][c] += int32_t(x[i]) * int32_t(w[c * kBlockInputs + i]);
    }
  }
  int64_t channel0 = strip * kStripChannels;
  int64_t channels = std::min(kStripChannels, a.n - channel0);
  for (int64_t r = 0; r < rows; ++r) {
    float *out = a.y + (row0 + r) * a.n + channel0;
    for (int64_t c = 0; c < channels; ++c) {
      int64_t j = channel0 + c;
      float value = float(acc[r][c] - a.compensation[j]);
      if (a.rowScales)
        out[c] = (a.scales[j] * value) * a.rowScales[row0 + r] + a.bias[j];
      else
        out[c] = value * a.scales[j] + a.bias[j];
    }
  }
}

#if QB_HAVE_VNNI_KERNEL
template <int Rows>
QB_VNNI_TARGET void tileVnni(const qbrt_sparse_int8_linear_plan &plan,
                             const RunArgs &a, int64_t row0, int64_t strip) {
  __m512i acc[Rows];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r)
    acc[r] = _mm512_setzero_si512();
  const uint8_t *x0 = tileInput(a, row0);
  const int8_t *blocks = plan.blocks.get();
  const int32_t *inputs = plan.blockInput.data();
  for (int64_t b = plan.stripBegin[strip], e = plan.stripBegin[strip + 1];
       b < e; ++b) {
    __m512i w = _mm512_load_si512(blocks + b * kBlockBytes);
    const uint8_t *x = x0 + int64_t(inputs[b]) * kBlockBytes;
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      int32_t four;
      std::memcpy(&four, x + r * kBlockInputs, sizeof four);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(four), w);
    }
  }
  int64_t channel0 = strip * kStripChannels;
  int64_t channels = std::min(kStripChannels, a.n - channel0);
  __mmask16 mask = __mmask16((1u << channels) - 1);
  __m512i compensation = _mm512_loadu_si512(a.compensation + channel0);
  __m512 scales = _mm512_loadu_ps(a.scales + channel0);
  __m512 bias = _mm512_loadu_ps(a.bias + channel0);
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
    __m512 value =
        _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], compensation));
    __m512 out;
    if (a.rowScales)
      out = _mm512_add_ps(
          _mm512_mul_ps(_mm512_mul_ps(scales, value),
                        _mm512_set1_ps(a.rowScales[row0 + r])),
          bias);
    else
      out = _mm512_add_ps(_mm512_mul_ps(value, scales), bias);
    _mm512_mask_storeu_ps(a.y + (row0 + r) * a.n + channel0, mask, out);
  }
}

/// Tail tiles: the largest instantiation not above `rows`.
void tileVnniRows(const qbrt_sparse_int8_linear_plan &plan, const RunArgs &a,
                  int64_t row0, int64_t rows, int64_t strip) {
  while (rows > 0) {
    int64_t done;
    if (rows >= 16)
      tileVnni<16>(plan, a, row0, strip), done = 16;
    else if (rows >= 8)
      tileVnni<8>(plan, a, row0, strip), done = 8;
    else if (rows >= 4)
      tileVnni<4>(plan, a, row0, strip), done = 4;
    else if (rows >= 2)
      tileVnni<2>(plan, a, row0, strip), done = 2;
    else
      tileVnni<1>(plan, a, row0, strip), done = 1;
    row0 += done;
    rows -= done;
  }
}
#endif

/// x + 128 into the tiled layout [tile][kBlocks][16 rows][4 bytes]; `out`
/// holds zeros (inputs past k, rows past m keep them).
void interleaveScalar(const int8_t *x, int64_t m, int64_t k, int64_t kBlocks,
                      uint8_t *out) {
  int64_t tileBytes = kBlocks * kBlockBytes;
  for (int64_t r = 0; r < m; ++r) {
    uint8_t *row =
        out + r / kTileRows * tileBytes + r % kTileRows * kBlockInputs;
    for (int64_t i = 0; i < k; ++i)
      row[i / kBlockInputs * kBlockBytes + i % kBlockInputs] =
          uint8_t(int32_t(x[r * k + i]) + 128);
  }
}

#if QB_HAVE_VNNI_KERNEL
/// interleaveScalar with 512-bit registers: per tile and 16 input blocks,
/// the 16 rows' 64 bytes are loaded and transposed as a 16 x 16 matrix of
/// 4-byte groups, so each output line is one block's 16 rows. Every byte of
/// `out` is written (rows past m as 0, inputs past k as 128: their weights
/// are 0).
QB_VNNI_TARGET void interleaveVnni(const int8_t *x, int64_t m, int64_t k,
                                   int64_t kBlocks, uint8_t *out) {
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  int64_t tileBytes = kBlocks * kBlockBytes;
  for (int64_t row0 = 0; row0 < m; row0 += kTileRows) {
    uint8_t *tile = out + row0 / kTileRows * tileBytes;
    for (int64_t block0 = 0; block0 < kBlocks; block0 += 16) {
      int64_t first = block0 * kBlockInputs;
      int64_t bytes = std::min<int64_t>(64, k - first);
      __mmask64 mask = bytes == 64 ? ~__mmask64(0)
                                   : (__mmask64(1) << bytes) - 1;
      __m512i r[16], t[16], u[16];
      for (int i = 0; i < 16; ++i)
        r[i] = row0 + i < m
                   ? _mm512_xor_si512(
                         _mm512_maskz_loadu_epi8(mask,
                                                 x + (row0 + i) * k + first),
                         flip)
                   : _mm512_setzero_si512();
      // Within each 128-bit lane L (groups 4L..4L+3): pairs of rows, then
      // quads, so u[4g + j] lane L = group 4L + j of rows 4g..4g+3.
      for (int p = 0; p < 8; ++p) {
        t[2 * p] = _mm512_unpacklo_epi32(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_epi32(r[2 * p], r[2 * p + 1]);
      }
      for (int g = 0; g < 4; ++g) {
        u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
      }
      // Group c = 4L + j takes lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
      __m512i o[16];
      for (int j = 0; j < 4; ++j) {
        __m512i lo = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
        __m512i hi = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
        __m512i lo2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
        __m512i hi2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
        o[j] = _mm512_shuffle_i32x4(lo, lo2, 0x88);
        o[4 + j] = _mm512_shuffle_i32x4(lo, lo2, 0xDD);
        o[8 + j] = _mm512_shuffle_i32x4(hi, hi2, 0x88);
        o[12 + j] = _mm512_shuffle_i32x4(hi, hi2, 0xDD);
      }
      int64_t lines = std::min<int64_t>(16, kBlocks - block0);
      for (int c = 0; c < lines; ++c)
        _mm512_storeu_si512(tile + (block0 + c) * kBlockBytes, o[c]);
    }
  }
}
#endif

/// Every tile of rows over strips [stripBegin, stripEnd).
void runStrips(const qbrt_sparse_int8_linear_plan &plan, const RunArgs &a,
               int64_t m, int64_t stripBegin, int64_t stripEnd) {
  for (int64_t row0 = 0; row0 < m; row0 += kTileRows) {
    int64_t rows = std::min(kTileRows, m - row0);
    for (int64_t s = stripBegin; s < stripEnd; ++s) {
#if QB_HAVE_VNNI_KERNEL
      if (plan.vnni) {
        tileVnniRows(plan, a, row0, rows, s);
        continue;
      }
#endif
      tileScalar(plan, a, row0, rows, s);
    }
  }
}

bool cpuHasVnni() {
#if QB_HAVE_VNNI_KERNEL
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") ||
      !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vnni"))
    return false;
  const char *forced = std::getenv("QBRT_SPARSE_INT8_KERNEL");
  return !(forced && std::strcmp(forced, "scalar") == 0);
#else
  return false;
#endif
}

/// The run both entry points make, after their checks.
qb_status run(qbrt_sparse_int8_linear_plan *plan, const int8_t *x_q, int64_t m,
              float x_scale, int32_t x_zero_point, const float *rowScales,
              float *y, const char *function) {
  qbrt_context *ctx = plan->ctx;
  int64_t padded = plan->strips * kStripChannels;
  Scratch &scratch = threadScratch;
  scratch.scales.resize(padded);
  scratch.compensation.resize(padded);
  for (int64_t j = 0; j < padded; ++j) {
    scratch.compensation[j] = (128 + x_zero_point) * plan->weightSums[j];
    scratch.scales[j] =
        rowScales ? plan->weightScales[j] : x_scale * plan->weightScales[j];
    if (j < plan->n && !rowScales &&
        (!(scratch.scales[j] >= FLT_MIN) || !std::isfinite(scratch.scales[j])))
      return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                         "%s: x_scale * w_scales[%lld] = %g is not a normal "
                         "f32",
                         function, static_cast<long long>(j),
                         static_cast<double>(scratch.scales[j]));
  }
  int64_t tileBytes = plan->kBlocks * kBlockBytes;
  // Rows [row0, row0 + rows) interleaved into `buffer`, and what a walk of
  // them over the strips needs.
  auto prepareRows = [&](std::vector<uint8_t> &buffer, int64_t row0,
                         int64_t rows) {
    int64_t bytes = (rows + kTileRows - 1) / kTileRows * tileBytes;
    const int8_t *x = x_q + row0 * plan->k;
#if QB_HAVE_VNNI_KERNEL
    if (plan->vnni) {
      buffer.resize(bytes);
      interleaveVnni(x, rows, plan->k, plan->kBlocks, buffer.data());
    } else
#endif
    {
      buffer.assign(bytes, 0);
      interleaveScalar(x, rows, plan->k, plan->kBlocks, buffer.data());
    }
    return RunArgs{buffer.data(),
                   tileBytes,
                   y + row0 * plan->n,
                   plan->n,
                   scratch.compensation.data(),
                   scratch.scales.data(),
                   plan->bias.data(),
                   rowScales ? rowScales + row0 : nullptr};
  };

  int64_t nonzero = plan->stripBegin.back();
  int64_t tiles = (m + kTileRows - 1) / kTileRows;
  int64_t parts = 1;
  if (m * nonzero * kBlockBytes >= kMinParallelMacs)
    parts = std::min<int64_t>(ctx->pool.size(),
                              std::max(tiles, plan->strips));
  if (parts == 1) {
    RunArgs args = prepareRows(scratch.x, 0, m);
    runStrips(*plan, args, m, 0, plan->strips);
    return QB_OK;
  }
  if (tiles >= parts) {
    // Split the rows, whole tiles per part: each part interleaves its own
    // rows into its thread's buffer and walks every strip (the weights are
    // read by all, the activations and outputs by one).
    ctx->pool.parallelFor(parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        int64_t row0 = tiles * p / parts * kTileRows;
        int64_t rows = std::min(m, tiles * (p + 1) / parts * kTileRows) - row0;
        RunArgs args = prepareRows(threadScratch.x, row0, rows);
        runStrips(*plan, args, rows, 0, plan->strips);
      }
    });
    return QB_OK;
  }
  // Fewer tiles than threads: split the strips. Part p gets the strips up to
  // where the running count of blocks (each strip counted one more, for its
  // epilogue) passes (p + 1) / parts.
  RunArgs args = prepareRows(scratch.x, 0, m);
  std::vector<int64_t> cut(parts + 1, plan->strips);
  cut[0] = 0;
  int64_t total = nonzero + plan->strips, seen = 0, part = 1;
  for (int64_t s = 0; s < plan->strips && part < parts; ++s) {
    seen += plan->stripBegin[s + 1] - plan->stripBegin[s] + 1;
    while (part < parts && seen * parts >= total * part)
      cut[part++] = s + 1;
  }
  ctx->pool.parallelFor(parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      runStrips(*plan, args, m, cut[p], cut[p + 1]);
  });
  return QB_OK;
}

} // namespace

namespace {

/// Builds a plan block by block, strip by strip, in K order: add() every
/// block of a strip (all-zero ones are counted in no sum and dropped), then
/// endStrip(); finish() hands the plan over.
struct PlanBuilder {
  std::unique_ptr<qbrt_sparse_int8_linear_plan> plan;
  std::vector<int8_t> packed;

  PlanBuilder(qbrt_context *ctx, const float *wScales, const float *bias,
              int64_t n, int64_t k)
      : plan(std::make_unique<qbrt_sparse_int8_linear_plan>()) {
    plan->ctx = ctx;
    plan->n = n;
    plan->k = k;
    plan->strips = (n + kStripChannels - 1) / kStripChannels;
    plan->kBlocks = (k + kBlockInputs - 1) / kBlockInputs;
    int64_t padded = plan->strips * kStripChannels;
    plan->weightSums.assign(padded, 0);
    plan->weightScales.assign(padded, 1.0f);
    plan->bias.assign(padded, 0.0f);
    std::copy(wScales, wScales + n, plan->weightScales.begin());
    if (bias)
      std::copy(bias, bias + n, plan->bias.begin());
    plan->stripBegin.push_back(0);
  }

  /// Block (strip, input block) with its 64 weights [channel][4 inputs].
  void add(int64_t strip, int64_t inputBlock, const int8_t *block) {
    bool nonzero = false;
    for (int64_t c = 0; c < kStripChannels; ++c)
      for (int64_t i = 0; i < kBlockInputs; ++i) {
        int8_t v = block[c * kBlockInputs + i];
        nonzero |= v != 0;
        plan->weightSums[strip * kStripChannels + c] += v;
      }
    if (!nonzero)
      return;
    packed.insert(packed.end(), block, block + kBlockBytes);
    plan->blockInput.push_back(static_cast<int32_t>(inputBlock));
  }

  void endStrip() {
    plan->stripBegin.push_back(int64_t(plan->blockInput.size()));
  }

  qbrt_sparse_int8_linear_plan *finish() {
    // At least one block's worth, so the allocation is never of size 0.
    size_t bytes = std::max<size_t>(packed.size(), kBlockBytes);
    plan->blocks.reset(static_cast<int8_t *>(std::aligned_alloc(64, bytes)));
    if (!plan->blocks)
      throw std::bad_alloc();
    std::memcpy(plan->blocks.get(), packed.data(), packed.size());
    plan->vnni = cpuHasVnni();
    return plan.release();
  }
};

} // namespace

extern "C" {

qb_status qbrt_sparse_int8_linear_prepare(qbrt_context *ctx, const int8_t *w_q,
                                          const float *w_scales,
                                          const float *bias, int64_t n,
                                          int64_t k,
                                          qbrt_sparse_int8_linear_plan **out) {
  const char *function = "qbrt_sparse_int8_linear_prepare";
  if (qb_status s = checkLinearPrepare(ctx, function, w_q, w_scales, n, k,
                                       kMaxK, out))
    return s;

  return guardedCall(ctx, function, [&] {
    PlanBuilder builder(ctx, w_scales, bias, n, k);
    // The weight of channel j, input i, 0 outside [0, n) x [0, k).
    auto weight = [&](int64_t j, int64_t i) -> int8_t {
      return j < n && i < k ? w_q[j * k + i] : 0;
    };
    for (int64_t s = 0; s < builder.plan->strips; ++s) {
      for (int64_t b = 0; b < builder.plan->kBlocks; ++b) {
        int8_t block[kBlockBytes];
        for (int64_t c = 0; c < kStripChannels; ++c)
          for (int64_t i = 0; i < kBlockInputs; ++i)
            block[c * kBlockInputs + i] =
                weight(s * kStripChannels + c, b * kBlockInputs + i);
        builder.add(s, b, block);
      }
      builder.endStrip();
    }
    *out = builder.finish();
    return QB_OK;
  });
}

qb_status qbrt_sparse_int8_linear_prepare_packed(
    qbrt_context *ctx, const uint8_t *mask, const int8_t *blocks,
    int64_t stored_blocks, const float *w_scales, const float *bias,
    int64_t n, int64_t k, qbrt_sparse_int8_linear_plan **out) {
  const char *function = "qbrt_sparse_int8_linear_prepare_packed";
  if (qb_status s =
          checkLinearPrepare(ctx, function, reinterpret_cast<const int8_t *>(mask),
                             w_scales, n, k, kMaxK, out, "mask"))
    return s;
  int64_t strips = (n + kStripChannels - 1) / kStripChannels;
  int64_t kBlocks = (k + kBlockInputs - 1) / kBlockInputs;
  int64_t maskRow = (kBlocks + 7) / 8;
  // Stored blocks: exactly the mask's set bits, none past kBlocks.
  int64_t set = 0;
  for (int64_t s = 0; s < strips; ++s)
    for (int64_t byte = 0; byte < maskRow; ++byte) {
      uint8_t bits = mask[s * maskRow + byte];
      int64_t valid = std::min<int64_t>(8, kBlocks - byte * 8);
      if (valid < 8 && (bits >> valid) != 0)
        return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                           "%s: mask row %lld sets bits past block %lld",
                           function, static_cast<long long>(s),
                           static_cast<long long>(kBlocks - 1));
      set += __builtin_popcount(bits);
    }
  if (stored_blocks != set)
    return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: stored_blocks is %lld but the mask sets %lld",
                       function, static_cast<long long>(stored_blocks),
                       static_cast<long long>(set));
  if (qb_status s = checkPointer(ctx, function, blocks, "blocks", set))
    return s;
  // Weights outside [0, n) x [0, k) must be the zero padding.
  int64_t index = 0;
  for (int64_t s = 0; s < strips; ++s)
    for (int64_t b = 0; b < kBlocks; ++b) {
      if (!(mask[s * maskRow + b / 8] >> (b % 8) & 1))
        continue;
      const int8_t *block = blocks + index++ * kBlockBytes;
      for (int64_t c = 0; c < kStripChannels; ++c)
        for (int64_t i = 0; i < kBlockInputs; ++i)
          if ((s * kStripChannels + c >= n || b * kBlockInputs + i >= k) &&
              block[c * kBlockInputs + i] != 0)
            return reportError(
                ctx, QB_ERR_INVALID_ARGUMENT,
                "%s: block %lld (channels %lld.., inputs %lld..) has a "
                "nonzero weight outside the %lld x %lld matrix",
                function, static_cast<long long>(index - 1),
                static_cast<long long>(s * kStripChannels),
                static_cast<long long>(b * kBlockInputs),
                static_cast<long long>(n), static_cast<long long>(k));
    }

  return guardedCall(ctx, function, [&] {
    PlanBuilder builder(ctx, w_scales, bias, n, k);
    int64_t next = 0;
    for (int64_t s = 0; s < strips; ++s) {
      for (int64_t b = 0; b < kBlocks; ++b)
        if (mask[s * maskRow + b / 8] >> (b % 8) & 1)
          builder.add(s, b, blocks + next++ * kBlockBytes);
      builder.endStrip();
    }
    *out = builder.finish();
    return QB_OK;
  });
}

qb_status qbrt_sparse_int8_linear_blocks(
    const qbrt_sparse_int8_linear_plan *plan, int64_t *nonzero_blocks,
    int64_t *total_blocks) {
  const char *function = "qbrt_sparse_int8_linear_blocks";
  if (qb_status s = checkPointer(nullptr, function, plan, "plan"))
    return s;
  if (nonzero_blocks)
    *nonzero_blocks = plan->stripBegin.back();
  if (total_blocks)
    *total_blocks = plan->strips * plan->kBlocks;
  return QB_OK;
}

qb_status qbrt_sparse_int8_linear_run(qbrt_sparse_int8_linear_plan *plan,
                                      const int8_t *x_q, int64_t m,
                                      float x_scale, int32_t x_zero_point,
                                      float *y) {
  const char *function = "qbrt_sparse_int8_linear_run";
  return checkedLinearRun(plan, function, x_q, m, y, /*perRow=*/false,
                          x_scale, x_zero_point, nullptr, [&] {
                            return run(plan, x_q, m, x_scale, x_zero_point,
                                       nullptr, y, function);
                          });
}

qb_status qbrt_sparse_int8_linear_run_rows(qbrt_sparse_int8_linear_plan *plan,
                                           const int8_t *x_q, int64_t m,
                                           const float *row_scales, float *y) {
  const char *function = "qbrt_sparse_int8_linear_run_rows";
  return checkedLinearRun(plan, function, x_q, m, y, /*perRow=*/true, 1.0f, 0,
                          row_scales, [&] {
                            return run(plan, x_q, m, 1.0f, 0, row_scales, y,
                                       function);
                          });
}

void qbrt_sparse_int8_linear_destroy(qbrt_sparse_int8_linear_plan *plan) {
  delete plan;
}

} // extern "C"
