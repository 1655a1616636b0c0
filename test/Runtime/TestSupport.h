//===- TestSupport.h - Helpers shared by the runtime tests ----------------===//
//
// Owning wrappers for runtime objects and seeded random tensors, so every
// test is reproducible and frees what it creates.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_TEST_RUNTIME_TESTSUPPORT_H
#define QUANTBERT_TEST_RUNTIME_TESTSUPPORT_H

#include "quantbert/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace quantbert::test {

struct ContextDeleter {
  void operator()(qbrt_context *ctx) const { qbrt_context_destroy(ctx); }
};
using ContextPtr = std::unique_ptr<qbrt_context, ContextDeleter>;

inline ContextPtr makeContext(int numThreads) {
  qbrt_context *ctx = nullptr;
  EXPECT_EQ(qbrt_context_create(numThreads, &ctx), QB_OK)
      << qbrt_last_error(nullptr);
  return ContextPtr(ctx);
}

inline std::vector<float> randomFloats(std::mt19937 &rng, int64_t n,
                                       float mean = 0.0f, float stddev = 1.0f) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

inline std::vector<int8_t> randomInt8(std::mt19937 &rng, int64_t n) {
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<int8_t> v(n);
  for (int8_t &x : v)
    x = static_cast<int8_t>(dist(rng));
  return v;
}

/// Shapes at and around the vector widths (16 floats, 64 bytes).
inline const std::vector<int64_t> &edgeSizes() {
  static const std::vector<int64_t> sizes = {1,  2,  15, 16, 17, 31,
                                             32, 33, 63, 64, 65, 100};
  return sizes;
}

} // namespace quantbert::test

#endif // QUANTBERT_TEST_RUNTIME_TESTSUPPORT_H
