//===- ThreadPool.cpp - Fork-join worker pool for the runtime kernels -----===//
//
// Workers poll for a new loop (a new generation) for kSpinMicroseconds,
// then sleep on a condition variable until the owner publishes one; each
// takes the chunks of its share from an atomic counter, then those left in
// the others' shares. The owner waits until every worker has left the loop before
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

ThreadPool::ThreadPool(int numThreads)
    : shares(new Share[std::max(numThreads, 1)]) {
  for (int i = 1; i < numThreads; ++i)
    workers.emplace_back([this, i] { workerLoop(i); });
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

void ThreadPool::runChunks(int self) {
  int participants = size();
  for (int i = 0; i < participants; ++i) {
    Share &share = shares[(self + i) % participants];
    for (int64_t chunk = share.next.fetch_add(1); chunk < share.end;
         chunk = share.next.fetch_add(1)) {
      int64_t begin = chunk * chunkSize;
      (*loopBody)(begin, std::min(total, begin + chunkSize));
    }
  }
}

void ThreadPool::workerLoop(int self) {
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
    runChunks(self);
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
  int64_t numChunks = (n + chunkSize - 1) / chunkSize;
  for (int p = 0; p < size(); ++p) {
    shares[p].next.store(numChunks * p / size(), std::memory_order_relaxed);
    shares[p].end = numChunks * (p + 1) / size();
  }
  {
    std::lock_guard<std::mutex> lock(stateMutex);
    busyWorkers = static_cast<int>(workers.size());
    ++generation;
  }
  wakeWorkers.notify_all();
  runChunks(0);
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
