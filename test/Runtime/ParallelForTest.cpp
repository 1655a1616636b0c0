//===- ParallelForTest.cpp - qbrt_parallel_for and the current context ----===//
//
// The entry point generated parallel loops call: every iteration runs once,
// chunks respect the grain, the loop spreads over the pool of the calling
// thread's current context and runs inline without one, for short loops and
// for loops nested in a body.
//
//===----------------------------------------------------------------------===//
#include "TestSupport.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace quantbert::test;

namespace {

/// What the chunks of one loop did.
struct Record {
  std::vector<std::atomic<int>> visits;
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  std::set<std::thread::id> threads;
  int64_t pause = 0; // microseconds per chunk, so every worker gets one

  explicit Record(int64_t n) : visits(n) {}
};

void recordChunk(int64_t begin, int64_t end, void *captures) {
  auto *record = static_cast<Record *>(captures);
  for (int64_t i = begin; i < end; ++i)
    record->visits[i].fetch_add(1);
  if (record->pause)
    std::this_thread::sleep_for(std::chrono::microseconds(record->pause));
  std::lock_guard<std::mutex> lock(record->mutex);
  record->chunks.emplace_back(begin, end);
  record->threads.insert(std::this_thread::get_id());
}

void expectEveryIterationOnce(const Record &record) {
  for (size_t i = 0; i < record.visits.size(); ++i)
    ASSERT_EQ(record.visits[i].load(), 1) << "iteration " << i;
}

/// Makes a context current for one scope.
struct Current {
  qbrt_context *previous;
  explicit Current(qbrt_context *ctx)
      : previous(qbrt_context_make_current(ctx)) {}
  ~Current() { qbrt_context_make_current(previous); }
};

TEST(ParallelFor, WithoutCurrentContextRunsOneChunkInline) {
  Record record(100);
  qbrt_parallel_for(100, 1, recordChunk, &record);
  expectEveryIterationOnce(record);
  ASSERT_EQ(record.chunks.size(), 1u);
  EXPECT_EQ(record.chunks[0], std::make_pair(int64_t(0), int64_t(100)));
  EXPECT_EQ(*record.threads.begin(), std::this_thread::get_id());
}

TEST(ParallelFor, SpreadsOverTheCurrentContextsPool) {
  ContextPtr ctx = makeContext(3);
  Current current(ctx.get());
  Record record(1000);
  record.pause = 2000;
  qbrt_parallel_for(1000, 10, recordChunk, &record);
  expectEveryIterationOnce(record);
  EXPECT_GT(record.chunks.size(), 1u);
  for (auto [begin, end] : record.chunks) {
    if (end != 1000) {
      EXPECT_GE(end - begin, 10) << "chunk [" << begin << ", " << end << ")";
    }
  }
  EXPECT_EQ(record.threads.size(), 3u);
}

TEST(ParallelFor, ShortLoopRunsInline) {
  ContextPtr ctx = makeContext(2);
  Current current(ctx.get());
  Record record(8);
  qbrt_parallel_for(8, 8, recordChunk, &record);
  expectEveryIterationOnce(record);
  EXPECT_EQ(record.chunks.size(), 1u);
  EXPECT_EQ(*record.threads.begin(), std::this_thread::get_id());
}

TEST(ParallelFor, EmptyAndNegativeRangesDoNothing) {
  ContextPtr ctx = makeContext(2);
  Current current(ctx.get());
  Record record(1);
  qbrt_parallel_for(0, 1, recordChunk, &record);
  qbrt_parallel_for(-5, 1, recordChunk, &record);
  EXPECT_TRUE(record.chunks.empty());
}

/// A body that runs a loop of its own, as a generated body with a nested
/// scf.parallel would if it were outlined too.
struct Nested {
  Record outer{16};
  Record inner{16 * 32};
};

void nestedChunk(int64_t begin, int64_t end, void *captures) {
  auto *nested = static_cast<Nested *>(captures);
  for (int64_t i = begin; i < end; ++i) {
    Record slice(32);
    qbrt_parallel_for(32, 1, recordChunk, &slice);
    EXPECT_EQ(slice.chunks.size(), 1u) << "a nested loop runs inline";
    for (int64_t j = 0; j < 32; ++j)
      nested->inner.visits[i * 32 + j].fetch_add(slice.visits[j].load());
  }
  recordChunk(begin, end, &nested->outer);
}

TEST(ParallelFor, NestedLoopsRunInline) {
  ContextPtr ctx = makeContext(2);
  Current current(ctx.get());
  Nested nested;
  nested.outer.pause = 1000;
  qbrt_parallel_for(16, 1, nestedChunk, &nested);
  expectEveryIterationOnce(nested.outer);
  expectEveryIterationOnce(nested.inner);
}

TEST(ParallelFor, MakeCurrentReturnsThePreviousContext) {
  ContextPtr a = makeContext(1), b = makeContext(1);
  EXPECT_EQ(qbrt_context_make_current(a.get()), nullptr);
  EXPECT_EQ(qbrt_context_make_current(b.get()), a.get());
  qbrt_context *fromOtherThread = reinterpret_cast<qbrt_context *>(1);
  std::thread([&] { fromOtherThread = qbrt_context_make_current(nullptr); })
      .join();
  EXPECT_EQ(fromOtherThread, nullptr) << "the current context is per thread";
  EXPECT_EQ(qbrt_context_make_current(nullptr), b.get());
}

} // namespace
