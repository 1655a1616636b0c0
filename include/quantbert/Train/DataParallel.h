//===- DataParallel.h - Data-parallel training on c10d Gloo ------*- C++ -*-===//
//
// Several processes train one model as PyTorch's DistributedDataParallel
// does, on LibTorch's own c10d engine (TCPStore rendezvous,
// ProcessGroupGloo collectives; no communication code of ours):
//  - the processes find each other through torchrun's environment
//    (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK); rank 0 hosts
//    the store, the others connect to it;
//  - rank 0's parameters and buffers are broadcast at the start;
//  - each rank computes the loss of its slice of every global batch, and the
//    gradients are summed across ranks in buckets of about 25 MB, each
//    bucket's all-reduce started from the autograd hooks as soon as its last
//    gradient is ready (so it overlaps the rest of the backward pass) and in
//    the same order on every rank; every rank then holds the global batch's
//    mean gradient and takes the same optimizer step;
//  - batch statistics the forward pass keeps (QAT's activation-range EMA)
//    are all-reduced (max) before use, so every rank quantizes identically.
//
// Failures: every collective waits at most `timeout`. A rank that dies
// closes its sockets and the others fail at their next collective; one
// that hangs makes them fail after the timeout. Either way the error names
// the rank that stopped, from the step counter each rank posts in the store
// before every step (or says that rank 0, the store's host, is gone), and a
// rank that fails with an error of its own posts it there for the others to
// quote.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_DATAPARALLEL_H
#define QUANTBERT_TRAIN_DATAPARALLEL_H

#include "quantbert/Support/Error.h"

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quantbert::train {

/// Where and who this process is in a data-parallel run.
struct DistributedEnv {
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  int worldSize = 1;
  int rank = 0;
  int localRank = 0;
  /// How long a collective (and the rendezvous) may wait.
  std::chrono::milliseconds timeout = std::chrono::minutes(30);
};

/// The run's environment from torchrun's variables: nullopt when WORLD_SIZE
/// is unset (a single process). RANK and WORLD_SIZE are required together,
/// MASTER_ADDR defaults to 127.0.0.1, MASTER_PORT to 29500, LOCAL_RANK to
/// RANK, QB_DIST_TIMEOUT (seconds) to 1800. A malformed or out-of-range
/// value is an error naming the variable.
Expected<std::optional<DistributedEnv>> readDistributedEnv(
    const std::function<const char *(const char *)> &getenv = ::getenv);

/// Checks the fields of `env` (ranges, a non-empty address).
Error validateDistributedEnv(const DistributedEnv &env);

/// One process's membership of a data-parallel group.
class DataParallel {
public:
  /// Joins the group `env` describes: rank 0 starts the store and waits for
  /// the others (up to the timeout), the others connect to it. Checks that
  /// every rank was started with the same WORLD_SIZE and that no two claim
  /// the same RANK.
  static Expected<std::unique_ptr<DataParallel>>
  connect(const DistributedEnv &env);
  ~DataParallel();

  int rank() const { return env_.rank; }
  int worldSize() const { return env_.worldSize; }
  const DistributedEnv &env() const { return env_; }

  /// Rank 0's parameters and buffers, on every rank.
  Error broadcast(torch::nn::Module &module);

  /// Installs the gradient hooks on `module`'s trainable parameters (once,
  /// before the first backward pass).
  Error attachGradientHooks(torch::nn::Module &module);
  /// Before this rank's backward pass: its gradients count `weight` (its
  /// share of the global batch's examples) in the sum.
  void beginBackward(double weight);
  /// After the backward pass (or instead of it, for a rank whose slice of
  /// the batch is empty): waits for every bucket and leaves the summed
  /// gradient in each parameter's grad.
  Error finishBackward();

  /// The element-wise max of `value` over the ranks; throws
  /// std::runtime_error (with the failure diagnosis) if a rank is gone.
  torch::Tensor allReduceMax(const torch::Tensor &value);
  /// The sum of `value` over the ranks.
  Expected<double> allReduceSum(double value);
  /// Every rank's `bytes`, by rank (all of the same size).
  Expected<std::vector<std::vector<uint8_t>>>
  allGather(const std::vector<uint8_t> &bytes);
  Error barrier();

  /// Posts this rank's step counter (before the step's collectives).
  void heartbeat(int64_t step);
  /// Posts this rank's own failure, for the other ranks' messages.
  void postFailure(const std::string &message);

  /// "rank R of W: WHAT: ..." with what the store says of the other ranks.
  std::string diagnose(const std::string &what, const std::string &detail);

private:
  struct Impl;
  DataParallel(DistributedEnv env, std::unique_ptr<Impl> impl);
  DistributedEnv env_;
  std::unique_ptr<Impl> impl_;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_DATAPARALLEL_H
