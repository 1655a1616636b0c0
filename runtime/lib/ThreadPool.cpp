//===- ThreadPool.cpp - Fork-join worker pool for the runtime kernels -----===//
//
// Workers poll for a new loop (a new generation) for kSpinMicroseconds,
// then sleep on a condition variable until the owner publishes one; they take
// chunks from an atomic counter alongside the owner. The owner waits until every worker has left the loop before
// returning, so the body it passed stays alive for as long as it is used.
//
//===----------------------------------------------------------------------===//
#include "ThreadPool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QB_CPU_RELAX() _mm_pause()
#else
#define QB_CPU_RELAX() std::this_thread::yield()
#endif

using namespace quantbert;

ThreadPool::ThreadPool(int numThreads) {
  for (int i = 1; i < numThreads; ++i)
    workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(stateMutex);
    stopping = true;
  }
  wakeWorkers.notify_all();
  for (std::thread &worker : workers)
    worker.join();
}

void ThreadPool::runChunks() {
  for (int64_t chunk = nextChunk.fetch_add(1); chunk < numChunks;
       chunk = nextChunk.fetch_add(1)) {
    int64_t begin = chunk * chunkSize;
    (*loopBody)(begin, std::min(total, begin + chunkSize));
  }
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    using Clock = std::chrono::steady_clock;
    Clock::time_point deadline =
        Clock::now() + std::chrono::microseconds(kSpinMicroseconds);
    for (int64_t i = 1; generation.load(std::memory_order_acquire) == seen &&
                        !stopping.load(std::memory_order_acquire);
         ++i) {
      QB_CPU_RELAX();
      if (i % 256 == 0 && Clock::now() >= deadline)
        break;
    }
    {
      std::unique_lock<std::mutex> lock(stateMutex);
      wakeWorkers.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
    }
    runChunks();
    std::lock_guard<std::mutex> lock(stateMutex);
    if (--busyWorkers == 0)
      workersDone.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, const RangeFn &body) {
  if (n <= 0)
    return;
  grain = std::max<int64_t>(grain, 1);
  std::unique_lock<std::mutex> owner(ownerMutex, std::try_to_lock);
  if (workers.empty() || n <= grain || !owner.owns_lock()) {
    body(0, n);
    return;
  }
  // A few chunks per thread even out the load when the two cores are shared.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, 4 * size());
  loopBody = &body;
  total = n;
  chunkSize = (n + chunks - 1) / chunks;
  numChunks = (n + chunkSize - 1) / chunkSize;
  nextChunk.store(0);
  {
    std::lock_guard<std::mutex> lock(stateMutex);
    busyWorkers = static_cast<int>(workers.size());
    ++generation;
  }
  wakeWorkers.notify_all();
  runChunks();
  // The workers' last chunks usually end within microseconds of ours.
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(kSpinMicroseconds);
  for (int64_t i = 1; busyWorkers.load(std::memory_order_acquire) != 0; ++i) {
    QB_CPU_RELAX();
    if (i % 256 == 0 && Clock::now() >= deadline)
      break;
  }
  std::unique_lock<std::mutex> lock(stateMutex);
  workersDone.wait(lock, [&] { return busyWorkers == 0; });
}
