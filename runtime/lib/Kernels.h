//===- Kernels.h - Shared definitions of the elementwise and row kernels --===//
//
// How the kernels vectorize and split work: inner loops are compiled for
// AVX-512, AVX2 and baseline x86-64 and picked at load time (GCC
// target_clones), so one libquantbert_rt runs anywhere and still uses the
// wide units of this machine; tensors big enough are split over the
// context's thread pool.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_RUNTIME_KERNELS_H
#define QUANTBERT_RUNTIME_KERNELS_H

#include <cstdint>

// Not under ThreadSanitizer: the clones' ifunc resolvers run while the
// dynamic loader relocates the library, before the TSan runtime is set up,
// and an instrumented resolver crashes there.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&         \
    !defined(__SANITIZE_THREAD__)
// Feature names, not "arch=" names: an "arch=skylake-avx512" clone is picked
// only on that CPU model, so an AMD Zen 5 would get the baseline clone.
#define QB_VECTOR_CLONES                                                       \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QB_VECTOR_CLONES
#endif

/// For helpers of QB_VECTOR_CLONES loops: GCC does not otherwise inline a
/// baseline function into a clone, and an out-of-line call stops
/// vectorization.
#define QB_ALWAYS_INLINE inline __attribute__((always_inline))

namespace quantbert {

/// Tensors at least this big are split over the thread pool; smaller ones
/// are not worth waking the workers for.
constexpr int64_t kParallelGrain = 1 << 14;

/// Rows per chunk so that one chunk holds about kParallelGrain elements.
inline int64_t rowGrain(int64_t cols) {
  return cols >= kParallelGrain ? 1 : kParallelGrain / cols;
}

} // namespace quantbert

#endif // QUANTBERT_RUNTIME_KERNELS_H
