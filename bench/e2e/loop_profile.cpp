//===- loop_profile.cpp - Where a compiled model's time goes, per call ----===//
//
// Runs one of bench/e2e's compiled models with 1 and with N threads, the two
// alternating run by run so a slow phase of the shared machine hits both,
// and times every runtime call of its forward pass: each outermost parallel
// loop (the generated code calls qbrt_parallel_for) and each int8 matmul
// (qbrt_int8_linear_run and _run_rows). This executable defines those entry
// points itself, so the model objects linked into it call these, which
// forward to libquantbert_rt's (dlsym RTLD_NEXT) and time the call; for a
// loop also each thread's time inside the body, which tells an uneven split
// (one thread waits) from a split whose halves are each slow (memory moving
// between the cores). What no call covers is the generated code running on
// the calling thread alone (allocation, the pooler).
//
//   loop-profile [--model sensimix_3_6] [--threads 2] [--seq 128]
//                [--batch 1] [--runs 50] [--warmup 3] [--calls]
//
// Prints, per group of calls (int8 matmuls; loops by their time on one
// thread), the median over the runs of the group's time, and the mean time
// each thread spent inside the group's loop bodies; --calls lists every
// call's median.
//
//===----------------------------------------------------------------------===//

#include <quantbert/runtime.h>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#define QB_E2E_MODEL(name) extern const qbrt_model_descriptor name##_descriptor;
QB_E2E_MODELS
#undef QB_E2E_MODEL

namespace {

constexpr int kMaxThreads = 64;

using Clock = std::chrono::steady_clock;

double microsecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start)
      .count();
}

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "loop-profile: error: %s\n", message.c_str());
  std::exit(1);
}

/// One runtime call of a forward pass.
struct Call {
  bool int8 = false;
  const void *body = nullptr; // the loop's outlined body
  int64_t n = 0;              // iterations, or rows of the matmul
  double wall = 0;
  double busy[kMaxThreads] = {};
};

/// The calls of the forward pass being timed; only the thread that called
/// qbrt_model_run records (a call nested in a loop body is part of it).
std::vector<Call> *recording = nullptr;
thread_local bool insideCall = false;

int threadIndex() {
  static std::atomic<int> next{0};
  thread_local int index = next.fetch_add(1);
  return index;
}

template <typename F> F realFunction(const char *name) {
  void *symbol = dlsym(RTLD_NEXT, name);
  if (!symbol)
    fail(std::string("no ") + name + " in libquantbert_rt");
  return reinterpret_cast<F>(symbol);
}

/// Wraps a loop body to add each chunk's time to its thread's slot.
struct TimedBody {
  qbrt_parallel_body body;
  void *captures;
  Call *call;
};

void timedChunk(int64_t begin, int64_t end, void *wrapped) {
  auto *timed = static_cast<TimedBody *>(wrapped);
  Clock::time_point start = Clock::now();
  timed->body(begin, end, timed->captures);
  int index = threadIndex();
  if (index < kMaxThreads)
    timed->call->busy[index] += microsecondsSince(start);
}

/// Runs `run` as one recorded call of `call`'s kind, unless nested.
template <typename Run> auto recorded(Call call, Run run) {
  if (!recording || insideCall)
    return run(static_cast<Call *>(nullptr));
  insideCall = true;
  Clock::time_point start = Clock::now();
  auto result = run(&call);
  call.wall = microsecondsSince(start);
  insideCall = false;
  recording->push_back(call);
  return result;
}

} // namespace

extern "C" {

void qbrt_parallel_for(int64_t n, int64_t grain, qbrt_parallel_body body,
                       void *captures) {
  static auto real = realFunction<void (*)(int64_t, int64_t,
                                           qbrt_parallel_body, void *)>(
      "qbrt_parallel_for");
  Call call;
  call.body = reinterpret_cast<const void *>(body);
  call.n = n;
  recorded(call, [&](Call *recorded) {
    if (!recorded) {
      real(n, grain, body, captures);
      return 0;
    }
    TimedBody timed{body, captures, recorded};
    real(n, grain, timedChunk, &timed);
    return 0;
  });
}

qb_status qbrt_int8_linear_run(qbrt_int8_linear_plan *plan, const int8_t *x_q,
                               int64_t m, float x_scale, int32_t x_zero_point,
                               float *y) {
  static auto real =
      realFunction<qb_status (*)(qbrt_int8_linear_plan *, const int8_t *,
                                 int64_t, float, int32_t, float *)>(
          "qbrt_int8_linear_run");
  Call call;
  call.int8 = true;
  call.n = m;
  return recorded(call, [&](Call *) {
    return real(plan, x_q, m, x_scale, x_zero_point, y);
  });
}

qb_status qbrt_int8_linear_run_rows(qbrt_int8_linear_plan *plan,
                                    const int8_t *x_q, int64_t m,
                                    const float *row_scales, float *y) {
  static auto real =
      realFunction<qb_status (*)(qbrt_int8_linear_plan *, const int8_t *,
                                 int64_t, const float *, float *)>(
          "qbrt_int8_linear_run_rows");
  Call call;
  call.int8 = true;
  call.n = m;
  return recorded(call, [&](Call *) {
    return real(plan, x_q, m, row_scales, y);
  });
}

} // extern "C"

namespace {

struct Options {
  std::string model = "sensimix_3_6";
  int threads = 2, seq = 128, batch = 1, runs = 50, warmup = 3;
  bool calls = false;
};

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--calls") {
      o.calls = true;
      continue;
    }
    if (i + 1 >= argc)
      fail("option '" + arg + "' needs a value");
    const char *value = argv[++i];
    if (arg == "--model") {
      o.model = value;
      continue;
    }
    std::map<std::string, int *> numbers = {
        {"--threads", &o.threads}, {"--seq", &o.seq},     {"--batch", &o.batch},
        {"--runs", &o.runs},       {"--warmup", &o.warmup}};
    auto it = numbers.find(arg);
    if (it == numbers.end())
      fail("unknown option '" + arg + "'");
    char *end = nullptr;
    long number = std::strtol(value, &end, 10);
    if (*end || number < 0 || number > 100000)
      fail(arg + " must be a whole number, got '" + value + "'");
    *it->second = static_cast<int>(number);
  }
  if (o.threads < 2 || o.threads > kMaxThreads || o.runs < 1 || o.batch < 1 ||
      o.seq < 1 || o.seq > 512)
    fail("--threads must be 2 to 64, --runs and --batch positive, --seq 1 "
         "to 512");
  return o;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// One thread count's model and its recorded runs.
struct Runner {
  int threads;
  qbrt_context *ctx = nullptr;
  qbrt_model *model = nullptr;
  std::vector<std::vector<Call>> runs;
  std::vector<double> totals;
};

const char *symbolName(const void *address) {
  Dl_info info;
  if (address && dladdr(address, &info) && info.dli_sname)
    return info.dli_sname;
  return "?";
}

} // namespace

int main(int argc, char **argv) {
  Options options = parse(argc, argv);
  const qbrt_model_descriptor *descriptor = nullptr;
#define QB_E2E_MODEL(name)                                                     \
  if (options.model == #name)                                                  \
    descriptor = &name##_descriptor;
  QB_E2E_MODELS
#undef QB_E2E_MODEL
  if (!descriptor)
    fail("no model '" + options.model + "' in this build");

  int64_t tokens = int64_t(options.batch) * options.seq;
  std::vector<int32_t> ids(tokens), types(tokens, 0), mask(tokens, 1);
  uint32_t state = 12345;
  for (int32_t &id : ids) {
    state = state * 1664525u + 1013904223u;
    id = 1000 + static_cast<int32_t>(state % 20000u);
  }
  std::vector<float> logits(options.batch * descriptor->num_labels);

  std::vector<Runner> runners{{1}, {options.threads}};
  for (Runner &runner : runners) {
    if (qbrt_context_create(runner.threads, &runner.ctx) != QB_OK)
      fail("qbrt_context_create failed");
    if (qbrt_model_create(runner.ctx, descriptor, &runner.model) != QB_OK)
      fail(qbrt_last_error(runner.ctx));
  }
  for (int run = 0; run < options.warmup + options.runs; ++run)
    for (Runner &runner : runners) {
      std::vector<Call> calls;
      // No reallocation while timing.
      calls.reserve(runners[0].runs.empty() ? 4096 : runners[0].runs[0].size());
      recording = &calls;
      Clock::time_point start = Clock::now();
      if (qbrt_model_run(runner.model, ids.data(), types.data(), mask.data(),
                         options.batch, options.seq, logits.data()) != QB_OK)
        fail(qbrt_last_error(runner.ctx));
      double total = microsecondsSince(start);
      recording = nullptr;
      if (run < options.warmup)
        continue;
      if (!runner.runs.empty() && calls.size() != runner.runs[0].size())
        fail("the forward pass made a different number of runtime calls");
      runner.runs.push_back(std::move(calls));
      runner.totals.push_back(total);
    }

  // Medians per call, for each thread count.
  size_t callCount = runners[0].runs[0].size();
  if (runners[1].runs[0].size() != callCount)
    fail("1 and N threads made different numbers of runtime calls");
  struct CallSummary {
    bool int8;
    const void *body;
    int64_t n;
    double wall[2];
    std::vector<double> busy; // N threads
  };
  std::vector<CallSummary> summary(callCount);
  for (size_t i = 0; i < callCount; ++i) {
    CallSummary &s = summary[i];
    const Call &first = runners[0].runs[0][i];
    s.int8 = first.int8;
    s.body = first.body;
    s.n = first.n;
    for (int r = 0; r < 2; ++r) {
      std::vector<double> walls;
      for (const std::vector<Call> &calls : runners[r].runs)
        walls.push_back(calls[i].wall);
      s.wall[r] = median(walls);
    }
    for (int t = 0; t < options.threads; ++t) {
      std::vector<double> busy;
      for (const std::vector<Call> &calls : runners[1].runs)
        busy.push_back(calls[i].busy[t]);
      s.busy.push_back(median(busy));
    }
  }

  int n = options.threads;
  std::printf("# %s, seq %d, batch %d: medians of %d runs, 1 and %d threads "
              "alternating\n",
              descriptor->name, options.seq, options.batch, options.runs, n);
  if (options.calls) {
    std::printf("call,kind,n,1_thread_us,%d_threads_us,speedup", n);
    for (int t = 0; t < n; ++t)
      std::printf(",busy_thread%d_us", t);
    std::printf("\n");
    for (size_t i = 0; i < callCount; ++i) {
      const CallSummary &s = summary[i];
      std::printf("%zu,%s,%lld,%.1f,%.1f,%.2f", i,
                  s.int8 ? "int8 matmul" : symbolName(s.body),
                  static_cast<long long>(s.n), s.wall[0], s.wall[1],
                  s.wall[0] / s.wall[1]);
      for (double busy : s.busy)
        std::printf(",%.1f", busy);
      std::printf("\n");
    }
  }

  // Groups: int8 matmuls, then loops by their one-thread time (median per
  // call on 1 thread). A group's time is its calls' sum in each run, then
  // the median over the runs; "outside the calls" is the forward pass less
  // all its calls, per run.
  const char *groupNames[] = {"int8 matmuls", "loops >= 100 us on 1 thread",
                              "loops 20-100 us", "loops < 20 us",
                              "outside the calls", "forward pass"};
  constexpr int kGroups = 6, kOutside = 4, kTotal = 5;
  auto groupOf = [&](size_t i) {
    const CallSummary &s = summary[i];
    return s.int8 ? 0 : s.wall[0] >= 100.0 ? 1 : s.wall[0] >= 20.0 ? 2 : 3;
  };
  int groupCalls[kGroups] = {};
  for (size_t i = 0; i < callCount; ++i)
    ++groupCalls[groupOf(i)];
  groupCalls[kTotal] = static_cast<int>(callCount);
  double groupTime[2][kGroups];
  double groupBusy[kGroups] = {}; // per thread, N threads
  for (int r = 0; r < 2; ++r) {
    std::vector<std::vector<double>> perRun(kGroups);
    for (size_t run = 0; run < runners[r].runs.size(); ++run) {
      double sums[kGroups] = {};
      double busy[kGroups] = {};
      for (size_t i = 0; i < callCount; ++i) {
        const Call &call = runners[r].runs[run][i];
        sums[groupOf(i)] += call.wall;
        sums[kOutside] -= call.wall;
        for (int t = 0; t < runners[r].threads; ++t)
          busy[groupOf(i)] += call.busy[t] / runners[r].threads;
      }
      sums[kOutside] += runners[r].totals[run];
      sums[kTotal] = runners[r].totals[run];
      for (int g = 0; g < kGroups; ++g) {
        perRun[g].push_back(sums[g]);
        if (r == 1)
          groupBusy[g] += busy[g] / runners[r].runs.size();
      }
    }
    for (int g = 0; g < kGroups; ++g)
      groupTime[r][g] = median(perRun[g]);
  }
  std::printf("group,calls,1_thread_us,%d_threads_us,speedup,"
              "excess_over_ideal_us,mean_busy_per_thread_us\n",
              n);
  for (int g = 0; g < kGroups; ++g) {
    std::printf("%s,%d,%.0f,%.0f,%.2f,%.0f,", groupNames[g], groupCalls[g],
                groupTime[0][g], groupTime[1][g],
                groupTime[0][g] / groupTime[1][g],
                groupTime[1][g] - groupTime[0][g] / n);
    if (groupBusy[g] > 0)
      std::printf("%.0f", groupBusy[g]);
    std::printf("\n");
  }
  for (Runner &runner : runners) {
    qbrt_model_destroy(runner.model);
    qbrt_context_destroy(runner.ctx);
  }
  return 0;
}
