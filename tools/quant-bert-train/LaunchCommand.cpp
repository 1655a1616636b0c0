//===- LaunchCommand.cpp - quant-bert-train launch -------------------------===//
//
// torchrun for quant-bert-train: starts --nproc-per-node copies of this
// binary running COMMAND, each with MASTER_ADDR, MASTER_PORT, WORLD_SIZE,
// RANK and LOCAL_RANK set (and OMP_NUM_THREADS=1 unless set, as torchrun
// does), waits for them, and when one fails stops the others (SIGTERM, then
// SIGKILL after a grace period) and exits 1 naming it. On several hosts run
// it once per host with --nnodes, --node-rank and a --master-addr the
// others reach.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace quantbert::train::cli {

namespace {

struct LaunchOptions {
  int64_t nprocPerNode = 1, nnodes = 1, nodeRank = 0, masterPort = 29500;
  std::string masterAddr = "127.0.0.1";
  std::vector<std::string> command;
};

/// A TCP port free on this host now (the kernel's pick for port 0).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fail("launch: cannot open a socket: " + std::string(std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length)) {
    ::close(fd);
    fail("launch: cannot find a free port: " +
         std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string describeStatus(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "stopped";
}

volatile std::sig_atomic_t forwardedSignal = 0;

void onSignal(int signal) { forwardedSignal = signal; }

void runLaunch(const LaunchOptions &o) {
  if (o.command.empty())
    fail("launch: give the command after --, e.g. launch --nproc-per-node 2 "
         "-- finetune --train train.tsv ...");
  if (o.command[0] != "finetune" && o.command[0] != "pretrain")
    fail("launch: only finetune and pretrain train data-parallel, got '" +
         o.command[0] + "'");
  if (o.nodeRank >= o.nnodes)
    fail("launch: --node-rank must be below --nnodes (" +
         std::to_string(o.nnodes) + "), got " + std::to_string(o.nodeRank));
  int port = int(o.masterPort);
  if (port == 0) {
    if (o.nnodes > 1)
      fail("launch: --master-port 0 (pick a free port) works on one host "
           "only");
    port = freePort();
  }
  int64_t worldSize = o.nnodes * o.nprocPerNode;

  std::vector<std::string> args{"/proc/self/exe"};
  args.insert(args.end(), o.command.begin(), o.command.end());
  std::vector<char *> argv;
  for (std::string &arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  std::map<pid_t, int64_t> rankOf;
  for (int64_t local = 0; local < o.nprocPerNode; ++local) {
    int64_t rank = o.nodeRank * o.nprocPerNode + local;
    pid_t pid = ::fork();
    if (pid < 0)
      fail("launch: fork failed: " + std::string(std::strerror(errno)));
    if (pid == 0) {
      ::setenv("MASTER_ADDR", o.masterAddr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(worldSize).c_str(), 1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);
      ::execv("/proc/self/exe", argv.data());
      std::cerr << "quant-bert-train launch: exec failed: "
                << std::strerror(errno) << "\n";
      ::_exit(127);
    }
    rankOf[pid] = rank;
  }

  // Wait for every rank; the first failure (or a signal to us) stops the
  // rest.
  std::string failure;
  auto stopAll = [&](int signal) {
    for (const auto &[pid, rank] : rankOf)
      ::kill(pid, signal);
  };
  auto deadline = std::chrono::steady_clock::time_point::max();
  bool killed = false;
  while (!rankOf.empty()) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      auto it = rankOf.find(pid);
      if (it == rankOf.end())
        continue;
      int64_t rank = it->second;
      rankOf.erase(it);
      bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && failure.empty()) {
        failure = "rank " + std::to_string(rank) + " " + describeStatus(status);
        stopAll(SIGTERM);
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      }
      continue;
    }
    if (pid < 0 && errno != EINTR && errno != ECHILD)
      fail("launch: waitpid failed: " + std::string(std::strerror(errno)));
    if (forwardedSignal && failure.empty()) {
      failure = std::string("stopped by ") + strsignal(forwardedSignal);
      stopAll(forwardedSignal);
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      stopAll(SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!failure.empty())
    fail("launch: " + failure + "; the other ranks were stopped");
}

} // namespace

void addLaunchCommand(CLI::App &app) {
  auto o = std::make_shared<LaunchOptions>();
  CLI::App *command = app.add_subcommand(
      "launch", "Run a training command as N data-parallel processes "
                "(torchrun-style; docs/training.md)");
  command->add_option("--nproc-per-node", o->nprocPerNode,
                      "Processes on this host")
      ->check(positive());
  command->add_option("--nnodes", o->nnodes, "Hosts in the run")
      ->check(positive());
  command->add_option("--node-rank", o->nodeRank, "This host's index")
      ->check(nonNegative());
  command->add_option("--master-addr", o->masterAddr,
                      "Address of rank 0's host");
  command->add_option("--master-port", o->masterPort,
                      "Rendezvous port (0: a free one, one host only)")
      ->check(CLI::Range(0, 65535));
  command->add_option("command", o->command,
                      "After --: the quant-bert-train command and its "
                      "options");
  command->callback([o] { runLaunch(*o); });
}

} // namespace quantbert::train::cli
