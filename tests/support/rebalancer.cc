// rebalancer — a mover process for the move crash loop
// (tests/support/move_crash_loop.h): opens the store from a YAML file and
// runs Store::Rebalance, printing every progress step as it happens so that
// the parent can SIGKILL it at a chosen step.
//
//   rebalancer --config FILE [--chunk N] [--parallel N] [--finish]
//
// One line per progress report, written with one write(2) on stdout (no
// user-space buffering, so the parent sees it at once and a kill cannot
// hold it back):
//   step <step> <bucket> <from> <to> <records> <moves_done>/<moves_total>
// then, when Rebalance returns:
//   report moved=<n> copied=<n> planned=<n> failed=<n>
//   failed <bucket> <from> <to> <error>          (one per failed move)
// and with --finish, what is left afterwards (both should be 0):
//   after recorded_moves=<n> planned_moves=<n>
//
// Exit status: 0 when Rebalance returned and report.failed is empty, 1 when
// moves failed (or, with --finish, the catalog could not be read
// afterwards), 2 on usage or open errors, 3 when Rebalance itself failed.

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

#include "libshard/config.h"
#include "libshard/store.h"

namespace {

struct Args {
  std::string config;
  int chunk = 50;
  int parallel = 2;
  bool finish = false;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "rebalancer: " << why << "\n"
            << "usage: rebalancer --config FILE [--chunk N] [--parallel N] [--finish]\n";
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--finish") {
      a.finish = true;
      continue;
    }
    if (i + 1 >= argc) Usage("missing value for " + k);
    const std::string v = argv[++i];
    try {
      if (k == "--config") a.config = v;
      else if (k == "--chunk") a.chunk = std::stoi(v);
      else if (k == "--parallel") a.parallel = std::stoi(v);
      else Usage("unknown option " + k);
    } catch (const std::exception&) {
      Usage("bad value for " + k + ": " + v);
    }
  }
  if (a.config.empty()) Usage("--config is required");
  if (a.chunk < 1 || a.parallel < 1) Usage("--chunk and --parallel must be >= 1");
  return a;
}

// One write(2) per line (the parent reads the file as it grows).
void Emit(const std::string& line) {
  const std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(1, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(2);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  auto config = libshard::ClusterConfig::Load(args.config);
  if (!config.ok()) {
    std::cerr << "rebalancer: " << config.status().ToString() << "\n";
    return 2;
  }
  auto opened = libshard::Store::Open(*config);
  if (!opened.ok()) {
    std::cerr << "rebalancer: " << opened.status().ToString() << "\n";
    return 2;
  }
  libshard::Store& store = **opened;

  libshard::RebalanceOptions options;
  options.chunk = args.chunk;
  options.parallel = args.parallel;
  options.progress = [](const libshard::MoveProgress& p) {
    std::string line = "step " + p.step + " " + std::to_string(p.bucket) + " " + p.from + " " +
                       p.to + " " + std::to_string(p.records) + " " +
                       std::to_string(p.moves_done) + "/" + std::to_string(p.moves_total);
    if (!p.error.empty()) line += " " + p.error;
    Emit(line);
  };
  auto report = store.Rebalance(options);
  if (!report.ok()) {
    Emit("error " + report.status().ToString());
    std::cerr << "rebalancer: " << report.status().ToString() << "\n";
    return 3;
  }
  Emit("report moved=" + std::to_string(report->moved) +
       " copied=" + std::to_string(report->records_copied) +
       " planned=" + std::to_string(report->plan.size()) +
       " failed=" + std::to_string(report->failed.size()));
  for (const libshard::MoveState& f : report->failed) {
    Emit("failed " + std::to_string(f.bucket) + " " + f.from + " " + f.to + " " + f.error);
  }
  int rc = report->failed.empty() ? 0 : 1;
  if (args.finish) {
    auto recorded = store.MoveStates();
    auto planned = store.PlanRebalance();
    if (!recorded.ok() || !planned.ok()) {
      Emit("after error " + (recorded.ok() ? planned.status() : recorded.status()).ToString());
      return 1;
    }
    Emit("after recorded_moves=" + std::to_string(recorded->size()) +
         " planned_moves=" + std::to_string(planned->size()));
  }
  return rc;
}
