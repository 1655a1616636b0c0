//===- ThreadPool.cpp - Fork-join worker pool for the runtime kernels -----===//
//
// The hot path takes no lock. The owner publishes a loop by bumping an
// atomic generation; workers polling it start at once, take the chunks of
// their share from an atomic counter, then those left in the others'
// shares, and count themselves out of busyWorkers; the owner polls that.
// Only a side that found the other asleep touches the mutex: a worker
// sleeps after kSpinMicroseconds without a loop, the owner after as long
// waiting for the workers. The sleeper announces itself (sleepingWorkers,
// ownerSleeping) before it re-checks the condition under the mutex, and the
// waker reads the announcement after it changed the condition, both
// sequentially consistent, so one of them always sees the other: no wake-up
// is lost. A lock taken by a worker the instant the owner published (the
// old design) put that worker to sleep on the mutex's futex, tens of
// microseconds on this VM, on a loop that takes five.
//
// The owner waits until every worker has left the loop before returning,
// so the body it passed stays alive for as long as it is used.
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

namespace {

/// Polls `done` for up to `microseconds`; true if it held in time.
template <typename Done>
bool spinUntil(Done done, int64_t microseconds) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(microseconds);
  for (int64_t i = 1;; ++i) {
    if (done())
      return true;
    QB_CPU_RELAX();
    if (i % 256 == 0 && Clock::now() >= deadline)
      return false;
  }
}

} // namespace

ThreadPool::ThreadPool(int numThreads)
    : shares(new Share[std::max(numThreads, 1)]) {
  for (int i = 1; i < numThreads; ++i)
    workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(stateMutex);
    stopping.store(true);
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
    auto published = [&] {
      return generation.load(std::memory_order_acquire) != seen ||
             stopping.load(std::memory_order_acquire);
    };
    if (!spinUntil(published, kSpinMicroseconds)) {
      std::unique_lock<std::mutex> lock(stateMutex);
      sleepingWorkers.fetch_add(1);
      wakeWorkers.wait(lock, [&] {
        return generation.load() != seen || stopping.load();
      });
      sleepingWorkers.fetch_sub(1);
    }
    if (stopping.load(std::memory_order_acquire))
      return;
    seen = generation.load(std::memory_order_acquire);
    runChunks(self);
    if (busyWorkers.fetch_sub(1) == 1 && ownerSleeping.load()) {
      std::lock_guard<std::mutex> lock(stateMutex);
      workersDone.notify_one();
    }
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
  busyWorkers.store(static_cast<int>(workers.size()),
                    std::memory_order_relaxed);
  // Sequentially consistent, like a sleeping worker's announcement in
  // workerLoop.
  generation.fetch_add(1);
  if (sleepingWorkers.load() != 0) {
    std::lock_guard<std::mutex> lock(stateMutex);
    wakeWorkers.notify_all();
  }
  runChunks(0);
  // The workers' last chunks usually end within microseconds of ours.
  auto finished = [&] {
    return busyWorkers.load(std::memory_order_acquire) == 0;
  };
  if (spinUntil(finished, kSpinMicroseconds))
    return;
  std::unique_lock<std::mutex> lock(stateMutex);
  ownerSleeping.store(true);
  workersDone.wait(lock, [&] { return busyWorkers.load() == 0; });
  ownerSleeping.store(false);
}
