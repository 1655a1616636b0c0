//===- ThreadPool.cpp - Fork-join worker pool for the runtime kernels -----===//
//
// Workers sleep on a condition variable until the owner publishes a loop
// (a new generation), then take chunks from an atomic counter alongside the
// owner. The owner waits until every worker has left the loop before
// returning, so the body it passed stays alive for as long as it is used.
//
//===----------------------------------------------------------------------===//
#include "ThreadPool.h"

#include <algorithm>

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
  std::unique_lock<std::mutex> lock(stateMutex);
  workersDone.wait(lock, [&] { return busyWorkers == 0; });
}
