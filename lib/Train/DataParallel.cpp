//===- DataParallel.cpp - Data-parallel training on c10d Gloo -------------===//
//
// DataParallel.h's group. The gradient reducer keeps each bucket as one flat
// f32 tensor: the weighted gradients of its parameters, then one flag per
// parameter (1 where this rank produced a gradient). After the sum over the
// ranks a zero flag means no rank touched that parameter this step, and its
// grad is left as zero_grad() left it, as in a single process; the others
// get the summed gradient.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/DataParallel.h"

#include "quantbert/Train/Trainer.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace quantbert::train {

namespace {

/// Gradient bytes per bucket (DDP's default bucket_cap_mb).
constexpr int64_t kBucketBytes = 25 << 20;

/// How long a diagnosis may wait on the store of a run that has failed.
constexpr std::chrono::milliseconds kDiagnosisTimeout{3000};

Expected<int64_t> parseInteger(const char *name, const char *text, int64_t lo,
                               int64_t hi) {
  errno = 0;
  char *end = nullptr;
  long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || value < lo ||
      value > hi)
    return Error::failure(std::string(name) + " must be an integer in [" +
                          std::to_string(lo) + ", " + std::to_string(hi) +
                          "], got '" + text + "'");
  return int64_t(value);
}

std::string key(const char *what, int rank) {
  return std::string("qb/") + what + "/" + std::to_string(rank);
}

std::vector<uint8_t> bytesOf(const std::string &text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

std::string textOf(const std::vector<uint8_t> &bytes) {
  return std::string(bytes.begin(), bytes.end());
}

bool isLoopback(const std::string &address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 ||
         address == "::1";
}

} // namespace

Error validateDistributedEnv(const DistributedEnv &env) {
  if (env.worldSize < 1)
    return Error::failure("WORLD_SIZE must be at least 1, got " +
                          std::to_string(env.worldSize));
  if (env.rank < 0 || env.rank >= env.worldSize)
    return Error::failure("RANK must be in [0, WORLD_SIZE) = [0, " +
                          std::to_string(env.worldSize) + "), got " +
                          std::to_string(env.rank));
  if (env.localRank < 0)
    return Error::failure("LOCAL_RANK must not be negative, got " +
                          std::to_string(env.localRank));
  if (env.masterAddr.empty())
    return Error::failure("MASTER_ADDR is empty");
  if (env.masterPort < 1 || env.masterPort > 65535)
    return Error::failure("MASTER_PORT must be in [1, 65535], got " +
                          std::to_string(env.masterPort));
  if (env.timeout.count() <= 0)
    return Error::failure("the timeout must be positive");
  return Error::success();
}

Expected<std::optional<DistributedEnv>>
readDistributedEnv(const std::function<const char *(const char *)> &getenv) {
  const char *worldSize = getenv("WORLD_SIZE");
  const char *rank = getenv("RANK");
  if (!worldSize) {
    if (rank)
      return Error::failure("RANK is set but WORLD_SIZE is not");
    return std::optional<DistributedEnv>();
  }
  if (!rank)
    return Error::failure("WORLD_SIZE is set but RANK is not");
  DistributedEnv env;
  Expected<int64_t> size = parseInteger("WORLD_SIZE", worldSize, 1, 65536);
  if (!size)
    return size.error();
  env.worldSize = int(*size);
  Expected<int64_t> r = parseInteger("RANK", rank, 0, env.worldSize - 1);
  if (!r)
    return r.error();
  env.rank = int(*r);
  env.localRank = env.rank;
  if (const char *local = getenv("LOCAL_RANK")) {
    Expected<int64_t> value = parseInteger("LOCAL_RANK", local, 0, 65535);
    if (!value)
      return value.error();
    env.localRank = int(*value);
  }
  if (const char *addr = getenv("MASTER_ADDR"))
    env.masterAddr = addr;
  if (const char *port = getenv("MASTER_PORT")) {
    Expected<int64_t> value = parseInteger("MASTER_PORT", port, 1, 65535);
    if (!value)
      return value.error();
    env.masterPort = int(*value);
  }
  if (const char *timeout = getenv("QB_DIST_TIMEOUT")) {
    Expected<int64_t> value =
        parseInteger("QB_DIST_TIMEOUT", timeout, 1, 7 * 24 * 3600);
    if (!value)
      return value.error();
    env.timeout = std::chrono::seconds(*value);
  }
  if (Error err = validateDistributedEnv(env))
    return err;
  return std::optional<DistributedEnv>(env);
}

//===----------------------------------------------------------------------===//
// The group
//===----------------------------------------------------------------------===//

/// One bucket of the gradient reducer.
struct Bucket {
  std::vector<size_t> params;
  /// Offsets of the parameters' gradients in `flat`; the flags follow.
  std::vector<int64_t> offsets;
  int64_t flagsOffset = 0;
  torch::Tensor flat;
  int64_t pending = 0;
  bool launched = false;
  c10::intrusive_ptr<c10d::Work> work;
};

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  // The gradient reducer.
  std::mutex mutex;
  std::vector<torch::Tensor> params;
  std::vector<std::string> names;
  /// Per parameter: its bucket, its index in the bucket, and whether its
  /// gradient arrived this step.
  std::vector<size_t> bucketOf, slotOf;
  std::vector<bool> seen;
  std::vector<Bucket> buckets;
  size_t nextLaunch = 0;
  double weight = 1.0;
  std::string hookError;

  void launchReady();
  void onGradient(size_t index, const torch::Tensor &grad);
};

void DataParallel::Impl::launchReady() {
  // Buckets go out in index order only, so every rank issues its
  // all-reduces in the same order.
  while (nextLaunch < buckets.size() && buckets[nextLaunch].pending == 0) {
    Bucket &bucket = buckets[nextLaunch++];
    std::vector<at::Tensor> tensors{bucket.flat};
    bucket.work = group->allreduce(tensors, c10d::AllreduceOptions());
    bucket.launched = true;
  }
}

void DataParallel::Impl::onGradient(size_t index, const torch::Tensor &grad) {
  torch::NoGradGuard noGrad;
  std::lock_guard<std::mutex> lock(mutex);
  Bucket &bucket = buckets[bucketOf[index]];
  size_t slot = slotOf[index];
  torch::Tensor slice =
      bucket.flat.narrow(0, bucket.offsets[slot], params[index].numel());
  if (bucket.launched) {
    if (hookError.empty())
      hookError = "the gradient of " + names[index] +
                  " arrived twice in one backward pass";
    return;
  }
  torch::Tensor dense = grad.is_sparse() ? grad.to_dense() : grad;
  if (seen[index]) {
    slice.add_(dense.reshape({-1}), weight);
    return;
  }
  slice.copy_(dense.reshape({-1})).mul_(weight);
  bucket.flat[bucket.flagsOffset + int64_t(slot)] = 1.0f;
  seen[index] = true;
  if (--bucket.pending == 0)
    launchReady();
}

DataParallel::DataParallel(DistributedEnv env, std::unique_ptr<Impl> impl)
    : env_(std::move(env)), impl_(std::move(impl)) {}

DataParallel::~DataParallel() = default;

Expected<std::unique_ptr<DataParallel>>
DataParallel::connect(const DistributedEnv &env) {
  if (Error err = validateDistributedEnv(env))
    return err;
  auto impl = std::make_unique<Impl>();
  std::string where = env.masterAddr + ":" + std::to_string(env.masterPort);
  std::string self = "rank " + std::to_string(env.rank) + " of " +
                     std::to_string(env.worldSize);
  try {
    c10d::TCPStoreOptions options;
    options.port = uint16_t(env.masterPort);
    options.isServer = env.rank == 0;
    options.numWorkers = size_t(env.worldSize);
    options.waitWorkers = true;
    options.timeout = env.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.masterAddr, options);
  } catch (const std::exception &e) {
    return Error::failure(
        self + ": " +
        (env.rank == 0
             ? "cannot serve the rendezvous at " + where +
                   ", or not every rank of WORLD_SIZE=" +
                   std::to_string(env.worldSize) + " joined within " +
                   std::to_string(env.timeout.count() / 1000) + " s"
             : "cannot reach the master at " + where + " within " +
                   std::to_string(env.timeout.count() / 1000) + " s") +
        ": " + exceptionText(e));
  }
  std::unique_ptr<DataParallel> parallel(new DataParallel(env, std::move(impl)));
  Impl &joined = *parallel->impl_;
  auto refuse = [&](const std::string &what) {
    parallel->postFailure(what);
    return Error::failure(self + ": " + what);
  };
  try {
    // Every rank must agree on WORLD_SIZE and hold a RANK of its own.
    c10d::Store &store = *joined.store;
    if (store.add(key("claimed", env.rank), 1) != 1)
      return refuse("another process also has RANK=" +
                    std::to_string(env.rank));
    store.set(key("world_size", env.rank),
              bytesOf(std::to_string(env.worldSize)));
    std::string masterSize = textOf(store.get(key("world_size", 0)));
    if (masterSize != std::to_string(env.worldSize))
      return refuse("WORLD_SIZE is " + std::to_string(env.worldSize) +
                    " here but " + masterSize + " on rank 0");

    auto options = c10d::ProcessGroupGloo::Options::create(env.timeout);
    if (const char *ifname = std::getenv("GLOO_SOCKET_IFNAME"))
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (isLoopback(env.masterAddr))
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDefaultDevice());
    joined.group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        joined.store, env.rank, env.worldSize, options);
  } catch (const std::exception &e) {
    return Error::failure(parallel->diagnose(
        "joining the group at " + where + " failed", exceptionText(e)));
  }
  return parallel;
}

std::string DataParallel::diagnose(const std::string &what,
                                   const std::string &detail) {
  std::string message = "rank " + std::to_string(rank()) + " of " +
                        std::to_string(worldSize()) + ": " + what;
  std::vector<std::string> findings;
  try {
    // Every rank that sees the failure says so in the store; a rank that
    // neither says so nor posted an error of its own within the grace
    // period died or hangs.
    c10d::Store &store = *impl_->store;
    store.setTimeout(kDiagnosisTimeout);
    store.set(key("saw_failure", rank()), bytesOf(what));
    auto deadline = std::chrono::steady_clock::now() + kDiagnosisTimeout;
    std::vector<int> silent;
    for (;;) {
      silent.clear();
      for (int r = 0; r < worldSize(); ++r)
        if (r != rank() && !store.check({key("failed", r)}) &&
            !store.check({key("saw_failure", r)}))
          silent.push_back(r);
      if (silent.empty() || std::chrono::steady_clock::now() > deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (int r = 0; r < worldSize(); ++r)
      if (r != rank() && store.check({key("failed", r)}))
        findings.push_back("rank " + std::to_string(r) + " failed: " +
                           textOf(store.get(key("failed", r))));
    for (int r : silent) {
      std::string finding = "rank " + std::to_string(r) + " is gone (it died or hangs";
      if (store.check({key("step", r)}))
        finding += "; it last began step " +
                   std::to_string(
                       std::stoll(textOf(store.get(key("step", r)))) + 1);
      findings.push_back(finding + ")");
    }
  } catch (const std::exception &) {
    if (rank() != 0)
      findings.push_back("rank 0, which hosts the rendezvous store at " +
                         env_.masterAddr + ":" +
                         std::to_string(env_.masterPort) + ", is gone");
  }
  if (findings.empty())
    findings.push_back("another rank failed or did not answer within " +
                       std::to_string(env_.timeout.count() / 1000) + " s");
  for (const std::string &finding : findings)
    message += "; " + finding;
  if (!detail.empty())
    message += " (" + detail + ")";
  return message;
}

namespace {

/// Runs `collective` and waits for it, turning a failure into an Error that
/// says which rank stopped.
template <typename F>
Error runCollective(DataParallel &parallel, const char *what, F &&collective) {
  try {
    collective();
    return Error::success();
  } catch (const std::exception &e) {
    return Error::failure(
        parallel.diagnose(std::string(what) + " failed", exceptionText(e)));
  }
}

} // namespace

Error DataParallel::broadcast(torch::nn::Module &module) {
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> tensors;
  for (const torch::Tensor &p : module.parameters())
    tensors.push_back(p);
  for (const torch::Tensor &b : module.buffers())
    tensors.push_back(b);
  return runCollective(*this, "broadcasting rank 0's parameters", [&] {
    for (torch::Tensor &t : tensors) {
      // Gloo sends contiguous CPU tensors; a parameter always is one.
      torch::Tensor buffer = t.is_contiguous() ? t : t.contiguous();
      std::vector<at::Tensor> list{buffer};
      impl_->group->broadcast(list, c10d::BroadcastOptions())->wait();
      if (!t.is_contiguous())
        t.copy_(buffer);
    }
  });
}

Error DataParallel::attachGradientHooks(torch::nn::Module &module) {
  Impl &impl = *impl_;
  if (!impl.params.empty())
    return Error::failure("the gradient hooks are already attached");
  for (auto &item : module.named_parameters())
    if (item.value().requires_grad()) {
      impl.params.push_back(item.value());
      impl.names.push_back(item.key());
    }
  if (impl.params.empty())
    return Error::failure("no trainable parameter to synchronize");
  for (const torch::Tensor &p : impl.params)
    if (p.scalar_type() != torch::kFloat32)
      return Error::failure("data-parallel training needs f32 parameters");
  // Buckets in reverse registration order, which is roughly the order the
  // backward pass produces the gradients in.
  impl.bucketOf.assign(impl.params.size(), 0);
  impl.slotOf.assign(impl.params.size(), 0);
  impl.seen.assign(impl.params.size(), false);
  Bucket current;
  int64_t bytes = 0;
  auto close = [&] {
    current.flagsOffset = bytes / 4;
    current.flat = torch::zeros({current.flagsOffset +
                                 int64_t(current.params.size())});
    impl.buckets.push_back(std::move(current));
    current = Bucket();
    bytes = 0;
  };
  for (size_t i = impl.params.size(); i-- > 0;) {
    int64_t size = impl.params[i].numel() * 4;
    if (!current.params.empty() && bytes + size > kBucketBytes)
      close();
    impl.bucketOf[i] = impl.buckets.size();
    impl.slotOf[i] = current.params.size();
    current.params.push_back(i);
    current.offsets.push_back(bytes / 4);
    bytes += size;
  }
  close();
  for (size_t i = 0; i < impl.params.size(); ++i)
    impl.params[i].register_hook([this, i](torch::Tensor grad) {
      impl_->onGradient(i, grad);
    });
  beginBackward(1.0);
  return Error::success();
}

void DataParallel::beginBackward(double weight) {
  Impl &impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.mutex);
  impl.weight = weight;
  impl.nextLaunch = 0;
  impl.hookError.clear();
  std::fill(impl.seen.begin(), impl.seen.end(), false);
  for (Bucket &bucket : impl.buckets) {
    bucket.flat.zero_();
    bucket.pending = int64_t(bucket.params.size());
    bucket.launched = false;
    bucket.work.reset();
  }
}

Error DataParallel::finishBackward() {
  Impl &impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.mutex);
  if (impl.buckets.empty())
    return Error::failure("finishBackward before attachGradientHooks");
  if (!impl.hookError.empty())
    return Error::failure(impl.hookError);
  Error err = runCollective(*this, "the gradient all-reduce", [&] {
    // Parameters this rank gave no gradient contribute zeros (their slices
    // are still zero) and a zero flag.
    for (Bucket &bucket : impl.buckets)
      bucket.pending = 0;
    impl.launchReady();
    for (Bucket &bucket : impl.buckets)
      bucket.work->wait();
  });
  if (err)
    return err;
  torch::NoGradGuard noGrad;
  for (Bucket &bucket : impl.buckets)
    for (size_t slot = 0; slot < bucket.params.size(); ++slot) {
      if (bucket.flat[bucket.flagsOffset + int64_t(slot)].item<float>() == 0)
        continue;
      torch::Tensor &param = impl.params[bucket.params[slot]];
      torch::Tensor sum =
          bucket.flat.narrow(0, bucket.offsets[slot], param.numel())
              .view(param.sizes());
      if (param.grad().defined())
        param.mutable_grad().copy_(sum);
      else
        param.mutable_grad() = sum.clone();
    }
  return Error::success();
}

torch::Tensor DataParallel::allReduceMax(const torch::Tensor &value) {
  torch::Tensor buffer = value.detach().to(torch::kFloat32).contiguous().clone();
  Error err = runCollective(*this, "the activation-range all-reduce", [&] {
    std::vector<at::Tensor> list{buffer};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    impl_->group->allreduce(list, options)->wait();
  });
  if (err)
    throw std::runtime_error(err.message());
  return buffer.to(value.scalar_type());
}

Expected<double> DataParallel::allReduceSum(double value) {
  torch::Tensor buffer = torch::full({1}, value, torch::kFloat64);
  if (Error err = runCollective(*this, "the loss all-reduce", [&] {
        std::vector<at::Tensor> list{buffer};
        impl_->group->allreduce(list, c10d::AllreduceOptions())->wait();
      }))
    return err;
  return buffer.item<double>();
}

Expected<std::vector<std::vector<uint8_t>>>
DataParallel::allGather(const std::vector<uint8_t> &bytes) {
  torch::Tensor input = torch::empty({int64_t(bytes.size())}, torch::kUInt8);
  std::copy(bytes.begin(), bytes.end(), input.data_ptr<uint8_t>());
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < worldSize(); ++r)
    outputs[0].push_back(torch::empty_like(input));
  std::vector<at::Tensor> inputs{input};
  if (Error err = runCollective(*this, "gathering the ranks' states", [&] {
        impl_->group->allgather(outputs, inputs)->wait();
      }))
    return err;
  std::vector<std::vector<uint8_t>> result;
  for (const torch::Tensor &t : outputs[0])
    result.emplace_back(t.data_ptr<uint8_t>(),
                        t.data_ptr<uint8_t>() + t.numel());
  return result;
}

Error DataParallel::barrier() {
  return runCollective(*this, "the barrier",
                       [&] { impl_->group->barrier()->wait(); });
}

void DataParallel::heartbeat(int64_t step) {
  try {
    impl_->store->set(key("step", rank()), bytesOf(std::to_string(step)));
  } catch (const std::exception &) {
    // The next collective reports the failure, with its diagnosis.
  }
}

void DataParallel::postFailure(const std::string &message) {
  try {
    impl_->store->setTimeout(kDiagnosisTimeout);
    impl_->store->set(key("failed", rank()), bytesOf(message));
  } catch (const std::exception &) {
  }
}

} // namespace quantbert::train
