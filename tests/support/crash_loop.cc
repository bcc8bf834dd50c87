#include "support/crash_loop.h"

#include "support/children.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

extern char** environ;

namespace libshard::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

off_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

struct Ran {
  int exit_code = -1;
  std::string out, err;
  int ms = 0;
};


class Loop {
 public:
  explicit Loop(const CrashLoopOptions& o) : o_(o), rng_(o.seed) {}

  CrashLoopReport Run() {
    const auto began = Clock::now();
    r_.seed = o_.seed;
    Say("seed=" + std::to_string(o_.seed) + " kills=" + std::to_string(o_.kills) +
        " index_cycles=" + std::to_string(o_.index_cycles));
    try {
      Prepare();
      MeasureStartup();
      Churn();
      Check();
    } catch (const std::exception& e) {
      r_.problems.push_back(std::string("aborted: ") + e.what());
    }
    r_.seconds = MsSince(began) / 1000.0;
    Say(Summary(r_));
    return r_;
  }

 private:
  struct Writer {
    pid_t pid = -1;
    std::string log, err;
    Clock::time_point started, kill_at;
    bool acked = false;  // its log has a line
  };
  enum class Phase { kDropKilled, kDrop, kBuildKilled, kBuild };
  struct IndexRun {
    pid_t pid = -1;
    Phase phase;
    bool killed_run = false;
    Clock::time_point started, kill_at;
    std::string out, err;
  };

  void Say(const std::string& line) {
    if (o_.progress) o_.progress(line);
  }
  std::string Path(const std::string& name) const { return o_.work_dir + "/" + name; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, std::max(lo, hi))(rng_); }

  Ran Shardctl(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(600)) {
    std::vector<std::string> argv = {o_.shardctl, "-c", o_.config};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string base = Path("cmd" + std::to_string(++commands_));
    const auto t0 = Clock::now();
    const pid_t pid = Spawn(argv, base + ".out", base + ".err");
    children_.Add(pid);
    Ran r;
    while (true) {
      if (auto st = Poll(pid)) {
        r.exit_code = *st;
        break;
      }
      if (Clock::now() - t0 > timeout) {
        r.exit_code = KillAndReap(pid);
        children_.Remove(pid);
        throw std::runtime_error("shardctl " + args[0] + " timed out");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    children_.Remove(pid);
    r.ms = MsSince(t0);
    r.out = Slurp(base + ".out");
    r.err = Slurp(base + ".err");
    return r;
  }

  std::vector<std::string> WriterArgs(uint64_t seed, const std::string& log, long long ops) const {
    return {o_.writer, "--config", o_.config, "--entity", o_.entity, "--log", log,
            "--seed", std::to_string(seed), "--ids", std::to_string(o_.ids),
            "--batch", std::to_string(o_.batch), "--ops", std::to_string(ops)};
  }

  // Every index ready before the loop (`init` on a live cluster registers
  // new indexes write_only); a no-op for ready ones.
  void Prepare() {
    std::vector<std::string> indexes = o_.stable_indexes;
    indexes.push_back(o_.index);
    for (const std::string& index : indexes) {
      Ran built = Shardctl({"index", "build", o_.entity, index, "-q"});
      if (built.exit_code != 0) {
        throw std::runtime_error("index build " + index + " before the loop exited " +
                                 std::to_string(built.exit_code) + ": " + built.err);
      }
    }
  }

  // How long a writer takes to open the store and make its first write
  // (connections are opened lazily): kills are timed from there, so they
  // land while it writes on any backend and build. The median of three.
  void MeasureStartup() {
    std::vector<int> ms;
    for (int i = 0; i < 3; ++i) {
      const std::string base = Path("startup" + std::to_string(i));
      const auto t0 = Clock::now();
      const pid_t pid = Spawn(WriterArgs(rng_(), base + ".log", 1), base + ".out", base + ".err");
      children_.Add(pid);
      int status = -1;
      while (true) {
        if (auto st = Poll(pid)) {
          status = *st;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      children_.Remove(pid);
      if (status != 0) {
        throw std::runtime_error("ack_writer does not start (exit " + std::to_string(status) +
                                 "): " + Slurp(base + ".err"));
      }
      ms.push_back(MsSince(t0));
      first_ack_ms_.push_back(ms.back());
      logs_.push_back(base + ".log");  // its write is acknowledged too
    }
    std::sort(ms.begin(), ms.end());
    r_.writer_startup_ms = ms[1];
    Say("writer start-up and first write: " + std::to_string(ms[1]) + " ms");
  }

  void StartWriter(Writer* w) {
    const int n = r_.writers_started++;
    w->log = Path("ack" + std::to_string(n) + ".log");
    w->err = Path("writer" + std::to_string(n) + ".err");
    const uint64_t seed = rng_();
    // --ops bounds a writer that a failed kill would leave running.
    w->pid = Spawn(WriterArgs(seed, w->log, 1000000), Path("writer" + std::to_string(n) + ".out"), w->err);
    children_.Add(w->pid);
    w->started = Clock::now();
    w->acked = false;
    w->kill_at = w->started + std::chrono::milliseconds(StartupEstimate() +
                                                        Uniform(o_.min_kill_ms, o_.max_kill_ms));
    logs_.push_back(w->log);
    errs_.push_back(w->err);
  }

  // The median of the last start-up times (to the first acknowledged
  // write) seen: follows the machine's load, which changes during a run.
  int StartupEstimate() const {
    std::vector<int> last(first_ack_ms_.end() - std::min<size_t>(9, first_ack_ms_.size()),
                          first_ack_ms_.end());
    std::sort(last.begin(), last.end());
    return last.empty() ? r_.writer_startup_ms : last[last.size() / 2];
  }

  // Returns true when the writer ended (killed or by itself).
  bool TendWriter(Writer* w, bool kill_now) {
    if (!w->acked && FileSize(w->log) > 0) {
      w->acked = true;
      first_ack_ms_.push_back(MsSince(w->started));
    }
    if (auto st = Poll(w->pid)) {
      children_.Remove(w->pid);
      ++r_.writers_exited;
      if (*st == 2) throw std::runtime_error("ack_writer failed: " + Slurp(w->err));
      return true;
    }
    if (!kill_now && Clock::now() < w->kill_at) return false;
    const bool acked = FileSize(w->log) > 0;
    // Killed before its first write: its start-up took at least this long.
    if (!acked) first_ack_ms_.push_back(MsSince(w->started));
    const int st = KillAndReap(w->pid);
    children_.Remove(w->pid);
    if (st == 128 + SIGKILL) {
      ++r_.writers_killed;
      if (acked) ++r_.killed_after_acks;
    } else {
      ++r_.writers_exited;
      if (st == 2) throw std::runtime_error("ack_writer failed: " + Slurp(w->err));
    }
    return true;
  }

  bool IndexKnown() {
    Ran st = Shardctl({"index", "status", o_.entity});
    if (st.exit_code != 0) throw std::runtime_error("index status failed: " + st.err);
    std::istringstream lines(st.out);
    for (std::string line; std::getline(lines, line);) {
      Json j = Json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("index", "") == o_.index) return true;
    }
    return false;
  }

  // Starts the run of `phase`; false when there is nothing to do (the
  // killed drop before it had finished the drop).
  bool StartIndexRun(Phase phase, IndexRun* run) {
    const bool drop = phase == Phase::kDropKilled || phase == Phase::kDrop;
    if (phase == Phase::kDrop && !IndexKnown()) {
      ++r_.index_skipped;
      return false;
    }
    std::vector<std::string> argv = {o_.shardctl, "-c", o_.config, "index"};
    if (drop) {
      argv.insert(argv.end(), {"drop", o_.entity, o_.index});
    } else {
      argv.insert(argv.end(), {"build", o_.entity, o_.index, "-q", "--chunk",
                               std::to_string(o_.build_chunk)});
    }
    const std::string base = Path("index" + std::to_string(r_.index_runs++));
    run->phase = phase;
    run->killed_run = phase == Phase::kDropKilled || phase == Phase::kBuildKilled;
    run->out = base + ".out";
    run->err = base + ".err";
    run->started = Clock::now();
    // Killed within the first 90% of the time a whole run took last (of
    // 4 s before the first: every run waits out the ~3.5 s lease first), so
    // the kill lands in the lease wait, the backfill or the table drop, and
    // almost never after the run ended.
    const int whole = drop ? drop_ms_ : build_ms_;
    run->kill_at = run->started + std::chrono::milliseconds(Uniform(20, whole * 9 / 10));
    run->pid = Spawn(argv, run->out, run->err);
    children_.Add(run->pid);
    Say(std::string(drop ? "index drop" : "index build") +
        (run->killed_run ? " (to be killed)" : "") + " started");
    return true;
  }

  // True when the run ended.
  bool TendIndexRun(IndexRun* run, bool stop) {
    std::optional<int> st = Poll(run->pid);
    if (!st && run->killed_run && (stop || Clock::now() >= run->kill_at)) {
      st = KillAndReap(run->pid);
    }
    if (!st && stop) throw std::runtime_error("an index run is still going at the end");
    if (!st) {
      if (MsSince(run->started) > 600000) throw std::runtime_error("an index run took over 10 min");
      return false;
    }
    children_.Remove(run->pid);
    const bool drop = run->phase == Phase::kDropKilled || run->phase == Phase::kDrop;
    const std::string what = drop ? "index drop" : "index build";
    if (*st == 128 + SIGKILL) {
      ++r_.index_kills;
      Say(what + " killed after " + std::to_string(MsSince(run->started)) + " ms");
    } else if (*st != 0) {
      // A full run must succeed; so must a to-be-killed run that finished first.
      throw std::runtime_error(what + " exited " + std::to_string(*st) + ": " + Slurp(run->err));
    } else {
      if (!run->killed_run) (drop ? drop_ms_ : build_ms_) = std::max(200, MsSince(run->started));
      Say(what + " finished in " + std::to_string(MsSince(run->started)) + " ms");
    }
    return true;
  }

  // Writers killed over and over while the index is dropped and rebuilt.
  void Churn() {
    std::vector<Phase> phases;
    for (int c = 0; c < o_.index_cycles; ++c) {
      phases.insert(phases.end(), {Phase::kDropKilled, Phase::kDrop, Phase::kBuildKilled, Phase::kBuild});
    }
    size_t next_phase = 0;
    std::optional<IndexRun> run;
    std::vector<Writer> writers(std::max(1, o_.writers));
    for (Writer& w : writers) StartWriter(&w);
    int reported = 0;
    while (true) {
      if (run && TendIndexRun(&*run, false)) run.reset();
      while (!run && next_phase < phases.size()) {
        IndexRun fresh;
        if (StartIndexRun(phases[next_phase++], &fresh)) run = fresh;
      }
      const bool done = r_.writers_killed >= o_.kills && !run && next_phase == phases.size();
      for (Writer& w : writers) {
        if (w.pid < 0) continue;
        if (TendWriter(&w, done)) {
          w.pid = -1;
          if (!done) StartWriter(&w);
        }
      }
      if (done) break;
      if (r_.writers_killed / 25 > reported) {
        reported = r_.writers_killed / 25;
        Say(std::to_string(r_.writers_killed) + " writers killed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Say("churn over: " + std::to_string(r_.writers_killed) + " writers killed (" +
        std::to_string(r_.killed_after_acks) + " after acknowledging writes), " +
        std::to_string(r_.index_kills) + " of " + std::to_string(r_.index_runs) +
        " index runs killed");
  }

  void Problem(const std::string& p) {
    if (++problem_count_ <= 30) r_.problems.push_back(p);
  }

  void Check() {
    // The index is ready after the last cycle; a build now finishes any
    // build that is not (and must print ready).
    Ran build = Shardctl({"index", "build", o_.entity, o_.index, "-q"});
    if (build.exit_code != 0) Problem("final index build exited " + std::to_string(build.exit_code) + ": " + build.err);

    // The writers' logs: id -> version -> tag.
    std::unordered_map<std::string, std::map<uint64_t, std::string>> acked;
    for (const std::string& path : logs_) {
      const std::string text = Slurp(path);
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) {  // cut by the kill during write(2)
          ++r_.cut_lines;
          break;
        }
        std::istringstream line(text.substr(pos, nl - pos));
        pos = nl + 1;
        std::string id, tag;
        uint64_t version = 0;
        if (!(line >> id >> version >> tag) || version == 0) {
          Problem(path + ": malformed line");
          continue;
        }
        ++r_.acked_writes;
        auto [it, fresh] = acked[id].emplace(version, tag);
        if (!fresh && it->second != tag) {
          Problem("two acknowledged writes of " + id + " got version " + std::to_string(version) +
                  ": " + it->second + " and " + tag);
        }
      }
    }
    r_.acked_ids = acked.size();
    for (const std::string& path : errs_) {
      std::istringstream lines(Slurp(path));
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("ack_writer: failed", 0) == 0) {
          if (++r_.failed_writes <= 5) r_.failed_samples.push_back(line);
        }
      }
    }

    // Every acknowledged write is in the export with at least its version.
    Ran exported = Shardctl({"export", o_.entity});
    if (exported.exit_code != 0) throw std::runtime_error("export failed: " + exported.err);
    std::unordered_map<std::string, std::pair<uint64_t, std::string>> stored;
    std::istringstream lines(exported.out);
    for (std::string line; std::getline(lines, line);) {
      Json j = Json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("id") || !j.contains("version")) {
        Problem("export: not a record line: " + line.substr(0, 200));
        continue;
      }
      const Json& doc = j["doc"];
      stored[j["id"].get<std::string>()] = {j["version"].get<uint64_t>(),
                                            doc.is_object() ? doc.value("w", "") : ""};
    }
    r_.exported = stored.size();
    for (const auto& [id, versions] : acked) {
      const auto& [top, tag] = *versions.rbegin();
      auto it = stored.find(id);
      if (it == stored.end()) {
        Problem("acknowledged " + id + " version " + std::to_string(top) + " is not in the export");
      } else if (it->second.first < top) {
        Problem("acknowledged " + id + " version " + std::to_string(top) + " but the export has version " +
                std::to_string(it->second.first));
      } else if (it->second.first == top && it->second.second != tag) {
        Problem(id + " version " + std::to_string(top) + " holds the body of write " +
                it->second.second + ", acknowledged was " + tag);
      }
    }

    // Indexes: all ready, none missing a row.
    std::vector<std::string> indexes = o_.stable_indexes;
    indexes.push_back(o_.index);
    Ran status = Shardctl({"index", "status", o_.entity});
    for (const std::string& index : indexes) {
      bool ready = false;
      std::istringstream st(status.out);
      for (std::string line; std::getline(st, line);) {
        Json j = Json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("index", "") == index) ready = j.value("state", "") == "ready";
      }
      if (!ready) Problem("index " + index + " is not ready at the end: " + status.out);
      Ran verify = Shardctl({"index", "verify", o_.entity, index});
      Json counts = Json::parse(verify.out.substr(0, verify.out.find('\n')), nullptr, false);
      if (counts.is_discarded() || !counts.contains("missing")) {
        Problem("index verify " + index + " exited " + std::to_string(verify.exit_code) + ": " + verify.err);
        continue;
      }
      const long long missing = counts["missing"].get<long long>();
      const long long dangling = counts["dangling"].get<long long>();
      r_.verify[index] = {missing, dangling};
      if (missing != 0) Problem("index " + index + ": " + std::to_string(missing) + " rows missing");
      if (verify.exit_code != (missing == 0 && dangling == 0 ? 0 : 1)) {
        Problem("index verify " + index + " exited " + std::to_string(verify.exit_code) + " for " + counts.dump());
      }
      if (missing != 0 || dangling != 0) {
        Ran repair = Shardctl({"index", "repair", o_.entity, index});
        Ran again = Shardctl({"index", "verify", o_.entity, index});
        if (repair.exit_code != 0 || again.exit_code != 0) {
          Problem("index " + index + " after repair: " + again.out + again.err);
        }
      }
    }
    if (problem_count_ > 30) r_.problems.push_back("… and " + std::to_string(problem_count_ - 30) + " more");
  }

  const CrashLoopOptions& o_;
  std::mt19937_64 rng_;
  CrashLoopReport r_;
  Children children_;
  std::vector<std::string> logs_, errs_;
  std::vector<int> first_ack_ms_;
  int commands_ = 0;
  int drop_ms_ = 4000, build_ms_ = 4000;
  int problem_count_ = 0;
};

}  // namespace

CrashLoopReport RunCrashLoop(const CrashLoopOptions& options) { return Loop(options).Run(); }

std::string Summary(const CrashLoopReport& r) {
  std::ostringstream s;
  s << "seed=" << r.seed << ": " << r.writers_killed << " writers killed (" << r.killed_after_acks
    << " after acknowledging writes, " << r.writers_exited << " ended on their own), "
    << r.index_kills << " of " << r.index_runs << " index build/drop runs killed ("
    << r.index_skipped << " drops left nothing to do); " << r.acked_writes
    << " acknowledged writes of " << r.acked_ids << " ids checked against " << r.exported
    << " exported records (" << r.cut_lines << " cut log lines), " << r.failed_writes
    << " failed writes; verify:";
  for (const auto& [index, counts] : r.verify) {
    s << " " << index << " missing=" << counts.first << " dangling=" << counts.second;
  }
  s << "; " << r.seconds << " s; " << (r.problems.empty() ? "OK" : std::to_string(r.problems.size()) + " problem(s)");
  return s.str();
}

}  // namespace libshard::testing
