//===- ThreadPool.h - Fork-join worker pool for the runtime kernels -------===//
//
// A fixed set of worker threads that, together with the calling thread, split
// one loop at a time into chunks. Each thread first runs its own contiguous
// share of the chunks, the same share of every loop of the same size, so
// consecutive ops over the same rows find their data in that core's cache;
// a thread done with its share takes the remaining chunks of the others.
// Kernels call parallelFor for large tensors;
// a call made while the pool is busy (another thread's loop, or a nested
// call from inside a loop body) runs inline instead of waiting, so the pool
// can never deadlock. After a loop, workers spin for up to kSpinMicroseconds
// before they sleep: the loops of one forward pass (an int8 linear after the
// compiled attention, say) come well within that, and a sleeping worker
// costs a futex wake-up, 50-100 us, on every loop. Publishing a loop and
// waiting for its end take no lock while both sides are awake.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_RUNTIME_THREADPOOL_H
#define QUANTBERT_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace quantbert {

class ThreadPool {
public:
  /// Body of a loop over [begin, end); must not throw.
  using RangeFn = std::function<void(int64_t begin, int64_t end)>;

  /// How long an idle worker polls for the next loop before it sleeps.
  static constexpr int64_t kSpinMicroseconds = 1000;

  /// A pool of numThreads threads, the caller of parallelFor included.
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return static_cast<int>(workers.size()) + 1; }

  /// Runs body over [0, n) in chunks of at least grain iterations and returns
  /// when all are done.
  void parallelFor(int64_t n, int64_t grain, const RangeFn &body);

private:
  /// Worker `self` (1 to size() - 1; the owner of a loop is 0).
  void workerLoop(int self);
  /// Runs chunks of the current loop until none is left: participant
  /// `self`'s share first, then the others'.
  void runChunks(int self);

  /// The unclaimed chunks [next, end) of one participant's share, on its
  /// own cache line.
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };

  std::vector<std::thread> workers;
  /// Held by the thread whose loop the pool is running.
  std::mutex ownerMutex;

  /// Held only to sleep on, or to wake, the condition variables.
  std::mutex stateMutex;
  std::condition_variable wakeWorkers;
  std::condition_variable workersDone;
  /// Bumped by the owner to publish a loop.
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stopping{false};
  /// Workers still in the current loop.
  std::atomic<int> busyWorkers{0};
  /// Workers asleep on wakeWorkers, and whether the owner is asleep on
  /// workersDone: the waker takes the mutex only then.
  std::atomic<int> sleepingWorkers{0};
  std::atomic<bool> ownerSleeping{false};

  // The current loop; written by the owner before waking the workers.
  const RangeFn *loopBody = nullptr;
  int64_t total = 0;
  int64_t chunkSize = 0;
  std::unique_ptr<Share[]> shares;
};

} // namespace quantbert

#endif // QUANTBERT_RUNTIME_THREADPOOL_H
