#include "support/move_crash_loop.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soci/soci.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "backend/session.h"
#include "libshard/config.h"
#include "libshard/store.h"
#include "records/record_table.h"
#include "router/rebalance_plan.h"
#include "support/children.h"

extern char** environ;

namespace libshard::testing {
namespace {

using Clock = std::chrono::steady_clock;

const char* const kSteps[] = {"copy", "catch-up", "switch", "cleanup"};

// The last `n` bytes of a file, for messages.
std::string Tail(const std::string& path, size_t n = 1500) {
  std::string s = Slurp(path);
  return s.size() > n ? "…" + s.substr(s.size() - n) : s;
}

std::string WTag(const Document& doc) {
  const Document* w = doc.is_object() ? doc.Find("w") : nullptr;
  return w != nullptr && w->is_string() ? w->as_string() : "";
}

Document MakeDoc(long long n, uint64_t r, const std::string& tag) {
  return Document::MakeObject({{"n", n},
                               {"tag", "t" + std::to_string(r % 16)},
                               {"grp", "g" + std::to_string((r >> 8) % 8)},
                               {"w", tag}});
}

// A writer thread in this process with an exact model of its records: it
// puts (with and without if_version) and deletes records d0…d{n-1}, which
// nothing else writes, so every successful call has one right answer
// (the next version; "deleted" exactly when the record existed) and no
// if_version can conflict. A call that fails leaves the record unknown
// until a read tells its state again.
class ModelWriter {
 public:
  struct Entry {
    bool known = true;
    uint64_t version = 0;  // 0: absent
    std::string tag;       // "w" of the last write
  };

  ModelWriter(Store& store, std::string entity, int ids, uint64_t seed)
      : store_(store), entity_(std::move(entity)), model_(ids), rng_(seed) {}
  ~ModelWriter() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::vector<Entry>& model() { return model_; }
  static std::string Id(size_t k) { return "d" + std::to_string(k); }
  long long ops() const { return ops_; }
  long long deletes() const { return deletes_; }
  std::vector<std::string> problems, failures;

 private:
  void Run() {
    std::uniform_int_distribution<size_t> pick(0, model_.size() - 1);
    std::uniform_int_distribution<int> roll(0, 9);
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      const size_t k = pick(rng_);
      Entry& e = model_[k];
      const std::string id = Id(k);
      if (!e.known) {
        auto got = store_.Get(entity_, id);
        if (got.ok()) {
          e = {true, got->version, WTag(got->doc)};
        } else if (got.status().code() == Code::kNotFound) {
          e = {true, 0, ""};
        } else {
          continue;  // still unreadable (a move holds the bucket): later
        }
      }
      const int r = roll(rng_);
      const long long op = ops_++;
      WriteOptions wo;
      if (r < 7) {  // put: 0-2 plain, 3-6 with if_version
        if (r >= 3) wo.if_version = e.version;
        const std::string tag = "m." + std::to_string(op);
        auto v = store_.Put(entity_, id, MakeDoc(op, rng_(), tag), wo);
        if (v.ok()) {
          if (*v != e.version + 1) {
            Problem("model: put " + id + " returned version " + std::to_string(*v) + " after " +
                    std::to_string(e.version));
          }
          e = {true, *v, tag};
        } else {
          Failed("put " + id + (wo.if_version ? " if_version " + std::to_string(e.version) : ""),
                 v.status(), &e);
        }
      } else {  // delete: 7 plain, 8-9 with if_version
        if (r >= 8) wo.if_version = e.version;
        auto d = store_.Delete(entity_, id, wo);
        if (d.ok()) {
          if (*d != (e.version > 0)) {
            Problem("model: delete " + id + " returned " + (*d ? "true" : "false") +
                    " for a record " + (e.version > 0 ? "at version " + std::to_string(e.version)
                                                      : "that was absent"));
          }
          if (*d) ++deletes_;
          e = {true, 0, ""};
        } else {
          Failed("delete " + id, d.status(), &e);
        }
      }
    }
  }

  void Failed(const std::string& what, const Status& s, Entry* e) {
    // Nobody else writes this record: a conflict means a write was lost or
    // applied twice.
    if (s.code() == Code::kVersionConflict) {
      Problem("model: " + what + ": " + s.ToString());
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      failures.push_back("model: failed: " + what + ": " + s.ToString());
    }
    e->known = false;
  }
  void Problem(const std::string& p) {
    std::lock_guard<std::mutex> lock(mu_);
    problems.push_back(p);
  }

  Store& store_;
  const std::string entity_;
  std::vector<Entry> model_;
  std::mt19937_64 rng_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> ops_{0}, deletes_{0};
  std::mutex mu_;
  std::thread thread_;
};

class Loop {
 public:
  explicit Loop(const MoveCrashOptions& o) : o_(o), rng_(o.seed) {}

  MoveCrashReport Run() {
    const auto began = Clock::now();
    r_.seed = o_.seed;
    Say("seed=" + std::to_string(o_.seed) + " kills=" + std::to_string(o_.kills));
    try {
      Prepare();
      Load();
      StartWriters();
      AddShards();
      Kills();
      Finish();
      StopWriters();
      Check();
    } catch (const std::exception& e) {
      r_.problems.push_back(std::string("aborted: ") + e.what());
    }
    if (model_) model_->Stop();
    r_.seconds = MsSince(began) / 1000.0;
    Say(Summary(r_));
    return r_;
  }

 private:
  struct Writer {
    pid_t pid = -1;
    std::string log, err;
  };
  struct Acked {
    uint64_t version = 0;
    std::string tag;
  };
  struct KillSpec {
    std::string step;  // one of kSteps, or "delay"
    int nth = 1;       // killed at the nth line of `step`
    int jitter_ms = 0; // …this long after seeing it
    double delay = 0;  // "delay": killed after start-up and this fraction
                       // of the time delay_moves moves take
  };

  void Say(const std::string& line) {
    if (o_.progress) o_.progress(line);
  }
  void Problem(const std::string& p) {
    if (++problem_count_ <= 40) r_.problems.push_back(p);
  }
  std::string Path(const std::string& name) const { return o_.work_dir + "/" + name; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, std::max(lo, hi))(rng_); }
  static std::string K(int k) { return "k" + std::to_string(k); }

  std::unique_ptr<Store> OpenStore(const ClusterConfig& config) {
    auto s = Store::Open(config);
    if (!s.ok()) throw std::runtime_error("Store::Open: " + s.status().ToString());
    return std::move(*s);
  }
  ClusterConfig LoadConfig() {
    auto c = ClusterConfig::Load(o_.config);
    if (!c.ok()) throw std::runtime_error(c.status().ToString());
    return *c;
  }

  // The store of this process (the model writer's) and the index ready.
  void Prepare() {
    store_ = OpenStore(LoadConfig());
    if (Status s = store_->BuildIndex(o_.entity, o_.index); !s.ok()) {
      throw std::runtime_error("index build: " + s.ToString());
    }
  }

  // Writes `ids` (new records) in batches; they are acknowledged writes
  // and never deleted.
  void Write(const std::vector<std::string>& ids, const std::string& what) {
    std::vector<PutItem> batch;
    auto flush = [&] {
      auto v = store_->PutMany(o_.entity, batch);
      if (!v.ok()) throw std::runtime_error(what + ": " + v.status().ToString());
      for (size_t i = 0; i < batch.size(); ++i) {
        acked_[batch[i].id] = {(*v)[i], WTag(batch[i].doc)};
      }
      batch.clear();
    };
    for (const std::string& id : ids) {
      PutItem item;
      item.id = id;
      item.doc = MakeDoc(static_cast<long long>(permanent_.size()), rng_(),
                         what + "." + std::to_string(permanent_.size()));
      permanent_.push_back(id);
      batch.push_back(std::move(item));
      if (batch.size() == 250) flush();
    }
    if (!batch.empty()) flush();
    r_.acked_writes += static_cast<long long>(ids.size());
  }

  void Load() {
    const auto t0 = Clock::now();
    std::vector<std::string> ids;
    for (int k = 0; k < o_.ids; ++k) ids.push_back(K(k));
    Write(ids, "load");
    r_.loaded = ids.size();
    Say("loaded " + std::to_string(ids.size()) + " records in " + std::to_string(MsSince(t0)) + " ms");
  }

  // Before each run: the buckets of the first `heavy_moves` moves the run
  // will plan get filler records "h…" up to `heavy_per_bucket`, so those
  // moves copy more than the mover's small-difference threshold in their
  // first pass and run a catch-up pass. (Each plan picks other buckets:
  // which ones leave a shard depends on what it owns.) The run first
  // finishes the recorded moves and then plans from the map they leave:
  // that plan is made here with the planner itself (router/), from the
  // catalog's map with the recorded moves applied.
  void TopUp() {
    std::unique_ptr<Store> store = OpenStore(LoadConfig());
    const ClusterConfig& config = store->config();
    auto moves = store->MoveStates();
    if (!moves.ok()) throw std::runtime_error("MoveStates: " + moves.status().ToString());
    std::vector<std::string> owner = ReadShards(config, /*shards=*/false).catalog_owner;
    for (const MoveState& m : *moves) owner[m.bucket] = m.to;
    std::vector<uint16_t> index(owner.size());
    for (size_t b = 0; b < owner.size(); ++b) {
      auto it = std::find(config.shards.begin(), config.shards.end(), owner[b]);
      if (it == config.shards.end()) throw std::runtime_error("bucket owner " + owner[b] + " unlisted");
      index[b] = static_cast<uint16_t>(it - config.shards.begin());
    }
    std::vector<router::ShardTarget> targets;
    for (size_t i = 0; i < config.shards.size(); ++i) targets.push_back({config.ShardWeight(i), false});
    std::string error;
    const std::vector<router::PlannedMove> plan = router::PlanRebalance(index, targets, &error);
    if (!error.empty()) throw std::runtime_error("PlanRebalance: " + error);
    if (r_.planned_moves == 0) r_.planned_moves = plan.size();
    std::unordered_map<uint32_t, int> want;  // bucket -> filler records to add
    for (size_t i = 0; i < plan.size() && static_cast<int>(i) < o_.heavy_moves; ++i) {
      const int add = o_.heavy_per_bucket - filler_[plan[i].bucket];
      if (add > 0) want[plan[i].bucket] = add;
    }
    size_t left = 0;
    for (const auto& [b, n] : want) left += static_cast<size_t>(n);
    std::vector<std::string> ids;
    while (left > 0) {  // ids hash evenly: each bucket gets one in ~1024
      const std::string id = "h" + std::to_string(next_filler_++);
      auto it = want.find(store->Locate(id).bucket);
      if (it == want.end() || it->second == 0) continue;
      --it->second;
      --left;
      ++filler_[it->first];
      ids.push_back(id);
    }
    if (!ids.empty()) Write(ids, "filler");
    r_.filler += ids.size();
  }

  void StartWriter(Writer* w) {
    const int n = r_.writer_runs++;
    w->log = Path("ack" + std::to_string(n) + ".log");
    w->err = Path("writer" + std::to_string(n) + ".err");
    w->pid = Spawn({o_.writer, "--config", o_.config, "--entity", o_.entity, "--log", w->log,
                    "--seed", std::to_string(rng_()), "--ids", std::to_string(o_.ids), "--ops",
                    std::to_string(o_.writer_ops)},
                   Path("writer" + std::to_string(n) + ".out"), w->err);
    children_.Add(w->pid);
    logs_.push_back(w->log);
    errs_.push_back(w->err);
  }

  void StartWriters() {
    writers_.resize(std::max(1, o_.writers));
    for (Writer& w : writers_) StartWriter(&w);
    model_ = std::make_unique<ModelWriter>(*store_, o_.entity, o_.model_ids, rng_());
    model_->Start();
  }

  // Reaps writers that ended (a run ends after writer_ops operations) and,
  // unless stopping, starts the next. True when none is running.
  bool TendWriters(bool restart) {
    bool none = true;
    for (Writer& w : writers_) {
      if (w.pid < 0) continue;
      std::optional<int> st = Poll(w.pid);
      if (!st) {
        none = false;
        continue;
      }
      children_.Remove(w.pid);
      w.pid = -1;
      // 1: some writes failed (counted from its stderr at the end).
      if (*st != 0 && *st != 1) {
        Problem("ack_writer exited " + std::to_string(*st) + ": " + Tail(w.err, 400));
      }
      if (restart) {
        StartWriter(&w);
        none = false;
      }
    }
    return none;
  }

  void AddShards() {
    const auto t0 = Clock::now();
    // Let the writers get going first, so the new shards are learned by
    // running processes.
    while (MsSince(t0) < 300) {
      TendWriters(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    o_.add_shards();
    Say("spare shards listed and initialized");
  }

  std::vector<KillSpec> Schedule() {
    std::vector<KillSpec> specs;
    for (const char* step : kSteps) {
      for (int i = 0; i < o_.kills_per_step && static_cast<int>(specs.size()) < o_.kills; ++i) {
        specs.push_back({step, Uniform(1, o_.max_step_repeat), Uniform(0, 4), 0});
      }
    }
    while (static_cast<int>(specs.size()) < o_.kills) {
      specs.push_back({"delay", 0, 0, std::uniform_real_distribution<double>(0, 1)(rng_)});
    }
    std::shuffle(specs.begin(), specs.end(), rng_);
    return specs;
  }

  static int Median(std::vector<int> v, int none) {
    if (v.empty()) return none;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

  // Runs the rebalancer until `spec` says to kill it (or it ends); tends
  // the writers meanwhile. Returns its exit status (128+9 when killed);
  // `*last` is the last progress line it printed, `*delay_ms` the delay
  // chosen for a "delay" kill.
  int RunRebalancer(const std::string& name, const std::optional<KillSpec>& spec,
                    std::string* last, int* delay_ms, int timeout_ms) {
    std::vector<std::string> argv = {o_.rebalancer, "--config", o_.config, "--chunk",
                                     std::to_string(o_.chunk), "--parallel",
                                     std::to_string(o_.parallel)};
    if (!spec) argv.push_back("--finish");
    const std::string out = Path(name + ".out"), err = Path(name + ".err");
    const auto t0 = Clock::now();
    const pid_t pid = Spawn(argv, out, err);
    children_.Add(pid);
    std::ifstream in;
    std::string partial;
    int seen = 0;
    std::optional<Clock::time_point> kill_at;
    if (spec && spec->step == "delay") {
      *delay_ms = Median(startup_ms_, 100) +
                  static_cast<int>(spec->delay * o_.delay_moves * Median(ms_per_move_, 10));
      kill_at = t0 + std::chrono::milliseconds(*delay_ms);
    }
    std::optional<int> first_step_ms;
    int done = 0;
    while (true) {
      TendWriters(true);
      // New complete lines of its output.
      if (!in.is_open()) in.open(out, std::ios::binary);
      if (in.is_open()) {
        char buf[4096];
        while (true) {
          in.read(buf, sizeof buf);
          const std::streamsize n = in.gcount();
          if (n <= 0) break;
          partial.append(buf, static_cast<size_t>(n));
        }
        in.clear();  // at EOF: read again later as it grows
      }
      for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
        const std::string line = partial.substr(0, nl);
        partial.erase(0, nl + 1);
        std::istringstream words(line);
        std::string kind, step;
        words >> kind >> step;
        if (kind != "step") continue;
        *last = line;
        ++r_.steps_seen[step];
        if (!first_step_ms) first_step_ms = MsSince(t0);
        if (step == "done") ++done;
        if (spec && !kill_at && step == spec->step && ++seen == spec->nth) {
          kill_at = Clock::now() + std::chrono::milliseconds(spec->jitter_ms);
        }
      }
      if (kill_at && Clock::now() >= *kill_at) {
        const int st = KillAndReap(pid);
        children_.Remove(pid);
        // The pace, for the delays of the runs to come.
        if (first_step_ms) {
          startup_ms_.push_back(*first_step_ms);
          if (done >= 2) ms_per_move_.push_back((MsSince(t0) - *first_step_ms) / done);
        }
        return st;
      }
      if (std::optional<int> st = Poll(pid)) {
        children_.Remove(pid);
        // Output written just before it ended.
        std::string rest = Slurp(out);
        for (size_t p = 0; (p = rest.find("step ", p)) != std::string::npos; ++p) {
          const size_t e = rest.find('\n', p);
          if (e != std::string::npos) *last = rest.substr(p, e - p);
        }
        return *st;
      }
      if (MsSince(t0) > timeout_ms) {
        KillAndReap(pid);
        children_.Remove(pid);
        throw std::runtime_error(name + " did not finish within " +
                                 std::to_string(timeout_ms / 1000) + " s (a hang?); last line: " +
                                 *last + "; stderr: " + Tail(err, 600));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void Kills() {
    const std::vector<KillSpec> specs = Schedule();
    for (size_t i = 0; i < specs.size(); ++i) {
      const KillSpec& spec = specs[i];
      const std::string name = "rebalance" + std::to_string(i);
      TopUp();
      const auto t0 = Clock::now();
      std::string last;
      int delay_ms = 0;
      const int st = RunRebalancer(name, spec, &last, &delay_ms, 180000);
      const std::string what =
          spec.step == "delay" ? "after " + std::to_string(delay_ms) + " ms"
                               : "at " + spec.step + " #" + std::to_string(spec.nth) + " (+" +
                                     std::to_string(spec.jitter_ms) + " ms)";
      if (st == 128 + SIGKILL) {
        ++r_.rebalancers_killed;
        ++r_.killed_at[spec.step];
        Say("rebalance " + std::to_string(i + 1) + "/" + std::to_string(specs.size()) +
            " killed " + what + " after " + std::to_string(MsSince(t0)) + " ms; last: " +
            (last.empty() ? "(no step yet)" : last));
        const auto c0 = Clock::now();
        CheckBetweenRuns("after kill " + std::to_string(i + 1) + " (" + what + ")");
        r_.between_ms = std::max(r_.between_ms, MsSince(c0));
      } else {
        ++r_.rebalancers_finished;
        Say("rebalance " + std::to_string(i + 1) + " to be killed " + what + " ended first, exit " +
            std::to_string(st));
        if (st != 0) {
          Problem(name + " (to be killed " + what + ") exited " + std::to_string(st) + ": " +
                  Tail(Path(name + ".out"), 600) + Tail(Path(name + ".err"), 600));
        }
      }
    }
  }

  void Finish() {
    const auto t0 = Clock::now();
    std::string last;
    int unused = 0;
    const int st = RunRebalancer("finish", std::nullopt, &last, &unused, 300000);
    r_.finish_ms = MsSince(t0);
    std::istringstream lines(Slurp(Path("finish.out")));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("step ", 0) != 0) r_.finish_report += (r_.finish_report.empty() ? "" : "; ") + line;
    }
    Say("rebalance --finish exited " + std::to_string(st) + " after " +
        std::to_string(r_.finish_ms) + " ms: " + r_.finish_report);
    if (st != 0) {
      Problem("rebalancer --finish exited " + std::to_string(st) + ": " + r_.finish_report + " " +
              Tail(Path("finish.err"), 600));
    }
  }

  void StopWriters() {
    const auto t0 = Clock::now();
    while (!TendWriters(false)) {
      if (MsSince(t0) > 180000) throw std::runtime_error("writers did not end within 180 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    model_->Stop();
    Say("writers stopped");
  }

  // The logs: id -> highest acknowledged version (and its tag).
  void ReadLogs() {
    for (const std::string& path : logs_) {
      const std::string text = Slurp(path);
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) {
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
        Acked& a = acked_[id];
        if (version == a.version && tag != a.tag) {
          Problem("two acknowledged writes of " + id + " got version " + std::to_string(version) +
                  ": " + a.tag + " and " + tag);
        } else if (version > a.version) {
          a = {version, tag};
        }
      }
    }
    for (const std::string& path : errs_) {
      std::istringstream lines(Slurp(path));
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("ack_writer: failed", 0) == 0) {
          if (++r_.failed_writes <= 8) r_.failed_samples.push_back(line);
        }
      }
    }
    for (const std::string& f : model_->failures) {
      if (++r_.failed_writes <= 8) r_.failed_samples.push_back(f);
    }
    for (const std::string& p : model_->problems) Problem(p);
    r_.model_ops = model_->ops();
    r_.model_deletes = model_->deletes();
  }

  void Check() {
    ReadLogs();
    std::unique_ptr<Store> store = OpenStore(LoadConfig());

    // (a) By key: every acknowledged write, at least its version.
    std::vector<Id> ids;
    for (const auto& [id, a] : acked_) ids.push_back(id);
    std::unordered_map<std::string, std::pair<uint64_t, std::string>> by_key;
    for (size_t i = 0; i < ids.size(); i += 1000) {
      std::vector<Id> part(ids.begin() + i, ids.begin() + std::min(ids.size(), i + 1000));
      auto got = store->GetMany(o_.entity, part);
      if (!got.ok()) throw std::runtime_error("GetMany: " + got.status().ToString());
      for (const Record& rec : *got) by_key[rec.id] = {rec.version, WTag(rec.doc)};
    }
    auto check_acked = [&](const char* how, const auto& stored) {
      int shown = 0;
      for (const auto& [id, a] : acked_) {
        auto it = stored.find(id);
        std::string p;
        if (it == stored.end()) {
          p = "acknowledged " + id + " version " + std::to_string(a.version) + " is missing";
        } else if (it->second.first < a.version) {
          p = "acknowledged " + id + " version " + std::to_string(a.version) + " but found version " +
              std::to_string(it->second.first);
        } else if (it->second.first == a.version && it->second.second != a.tag) {
          p = id + " version " + std::to_string(a.version) + " holds write " + it->second.second +
              ", acknowledged was " + a.tag;
        }
        if (!p.empty() && ++shown <= 10) Problem(std::string(how) + ": " + p);
      }
      if (shown > 10) Problem(std::string(how) + ": … " + std::to_string(shown) + " acknowledged writes wrong in all");
    };
    check_acked("get_many", by_key);

    // The model's records, exactly.
    uint64_t model_live = 0;
    for (size_t k = 0; k < model_->model().size(); ++k) {
      ModelWriter::Entry& e = model_->model()[k];
      const std::string id = ModelWriter::Id(k);
      auto got = store->Get(o_.entity, id);
      if (!got.ok() && got.status().code() != Code::kNotFound) {
        Problem("get " + id + ": " + got.status().ToString());
        continue;
      }
      const uint64_t v = got.ok() ? got->version : 0;
      if (v > 0) ++model_live;
      if (!e.known) continue;  // its last write failed: either outcome is right
      if (v != e.version || (v > 0 && WTag(got->doc) != e.tag)) {
        Problem("model record " + id + ": expected " +
                (e.version == 0 ? std::string("absent") : "version " + std::to_string(e.version) + " (" + e.tag + ")") +
                ", found " + (v == 0 ? std::string("absent") : "version " + std::to_string(v) + " (" + WTag(got->doc) + ")"));
      }
    }
    r_.live_expected = permanent_.size() + model_live;

    // (d) A full scan: no id twice; the acknowledged writes again.
    std::unordered_map<std::string, std::pair<uint64_t, std::string>> scanned;
    int dups = 0;
    Status s = store->Scan(o_.entity, nullptr, [&](Record&& rec) {
      ++r_.scanned;
      auto [it, fresh] = scanned.emplace(rec.id, std::make_pair(rec.version, WTag(rec.doc)));
      if (!fresh && ++dups <= 10) {
        Problem("scan returned " + rec.id + " twice (versions " + std::to_string(it->second.first) +
                " and " + std::to_string(rec.version) + ")");
      }
      return true;
    });
    if (!s.ok()) Problem("scan: " + s.ToString());
    check_acked("scan", scanned);
    if (r_.scanned != r_.live_expected) {
      Problem("scan returned " + std::to_string(r_.scanned) + " records; live are " +
              std::to_string(r_.live_expected) + " (" + std::to_string(o_.ids) + " k + " +
              std::to_string(r_.filler) + " h + " + std::to_string(model_live) + " d)");
    }
    auto stats = store->Stats();
    if (!stats.ok()) {
      Problem("stats: " + stats.status().ToString());
    } else {
      for (const EntityCount& c : *stats) {
        if (c.entity == o_.entity) r_.stats_total += c.records;
      }
      if (r_.stats_total != r_.live_expected) {
        Problem("Stats counts " + std::to_string(r_.stats_total) + " records; live are " +
                std::to_string(r_.live_expected));
      }
    }

    // (b) Nothing recorded, every shard at its share.
    auto moves = store->MoveStates();
    if (!moves.ok()) {
      Problem("MoveStates: " + moves.status().ToString());
    } else {
      for (const MoveState& m : *moves) {
        Problem("move of bucket " + std::to_string(m.bucket) + " " + m.from + " -> " + m.to +
                " still recorded, state " + m.state + (m.error.empty() ? "" : ": " + m.error));
      }
    }
    const ClusterConfig& config = store->config();
    const uint32_t lo = config.buckets / static_cast<uint32_t>(config.shards.size());
    const uint32_t hi = lo + (config.buckets % config.shards.size() == 0 ? 0 : 1);
    auto shares = store->BucketShares();
    if (!shares.ok()) {
      Problem("BucketShares: " + shares.status().ToString());
    } else {
      std::string all;
      for (const ShardShare& sh : *shares) all += " " + sh.shard + "=" + std::to_string(sh.buckets);
      for (const ShardShare& sh : *shares) {
        r_.buckets[sh.shard] = sh.buckets;
        if (sh.buckets < lo || sh.buckets > hi) {
          Problem("shard " + sh.shard + " owns " + std::to_string(sh.buckets) + " buckets, not " +
                  std::to_string(lo) + ".." + std::to_string(hi) + ":" + all);
        }
      }
    }

    CheckShardDatabases(config);
    if (r_.raw_total != r_.live_expected) {
      Problem("the shard databases hold " + std::to_string(r_.raw_total) + " rows; live are " +
              std::to_string(r_.live_expected));
    }

    // (e) The index.
    auto verify = store->VerifyIndex(o_.entity, o_.index);
    if (!verify.ok()) {
      Problem("VerifyIndex: " + verify.status().ToString());
    } else {
      r_.verify_missing = static_cast<long long>(verify->missing);
      r_.verify_dangling = static_cast<long long>(verify->dangling);
      // A write that failed after inserting index rows leaves dangling ones
      // (ARCHITECTURE.md): only then is dangling > 0 explained.
      if (verify->missing != 0 || (verify->dangling != 0 && r_.failed_writes == 0)) {
        Problem("VerifyIndex: " + std::to_string(verify->missing) + " missing, " +
                std::to_string(verify->dangling) + " dangling");
      }
    }
    if (problem_count_ > 40) {
      r_.problems.push_back("… and " + std::to_string(problem_count_ - 40) + " more");
    }
  }

  // What the shard databases say, read directly (not through the library).
  struct ShardView {
    std::vector<std::string> catalog_owner;       // per bucket, from ls_buckets
    std::vector<std::vector<std::string>> owners; // per bucket: shards whose ls_owner says owned
    std::vector<std::pair<std::string, int>> incoming;  // (shard, bucket) in state incoming
    uint64_t rows = 0;                            // rows of the entity, all shards
    // shard -> rows in buckets it does not own, and a few of those buckets
    std::map<std::string, std::pair<long long, std::string>> leftover;
  };

  // `shards` false: the catalog's map only.
  ShardView ReadShards(const ClusterConfig& config, bool shards = true) {
    backend::RegisterBackendsOnce();
    auto open = [&](const std::string& name) {
      const DatabaseConfig* db = config.FindDatabase(name);
      if (db == nullptr) throw std::runtime_error("no database " + name);
      backend::Session session = backend::OpenSession(db->backend, db->url, nullptr);
      // A bare session has no busy handler: a read that meets the WAL
      // recovery a killed process left behind (or a checkpoint) would fail
      // at once with "database is locked" instead of waiting for it.
      if (db->backend == Backend::kSqlite) *session.sql << "PRAGMA busy_timeout = 10000";
      return session;
    };
    ShardView v;
    v.catalog_owner.resize(config.buckets);
    v.owners.resize(config.buckets);
    std::string cluster_id;
    {
      backend::Session cat = open(config.catalog);
      *cat.sql << "SELECT value FROM ls_meta WHERE name = 'cluster_id'", soci::into(cluster_id);
      int bucket = 0;
      std::string shard;
      soci::statement st = (cat.sql->prepare << "SELECT bucket, shard FROM ls_buckets",
                            soci::into(bucket), soci::into(shard));
      st.execute();
      while (st.fetch()) {
        if (bucket >= 0 && static_cast<uint32_t>(bucket) < config.buckets) v.catalog_owner[bucket] = shard;
      }
    }
    if (!shards) return v;
    const std::string table = records::TableName(o_.entity);
    const std::string not_owned =
        " r WHERE NOT EXISTS (SELECT 1 FROM ls_owner o WHERE o.cluster_id = :c AND "
        "o.bucket = r.bucket AND o.state = 1)";
    for (const std::string& shard : config.shards) {
      backend::Session db = open(shard);
      soci::session& sql = *db.sql;
      long long rows = 0, leftover = 0;
      sql << "SELECT COUNT(*) FROM " + table, soci::into(rows);
      sql << "SELECT COUNT(*) FROM " + table + not_owned, soci::use(cluster_id), soci::into(leftover);
      v.rows += static_cast<uint64_t>(rows);
      if (leftover != 0) {
        std::string sample;
        soci::rowset<int> buckets = (sql.prepare << "SELECT DISTINCT r.bucket FROM " + table + not_owned,
                                     soci::use(cluster_id));
        int n = 0;
        for (int b : buckets) {
          if (++n <= 12) sample += " " + std::to_string(b);
        }
        v.leftover[shard] = {leftover, std::to_string(n) + " bucket(s):" + sample};
      }
      for (int state : {1, 2}) {
        soci::rowset<int> buckets =
            (sql.prepare << "SELECT bucket FROM ls_owner WHERE cluster_id = :c AND state = :s",
             soci::use(cluster_id), soci::use(state));
        for (int b : buckets) {
          if (state == 2) {
            v.incoming.emplace_back(shard, b);
          } else if (b >= 0 && static_cast<uint32_t>(b) < config.buckets) {
            v.owners[b].push_back(shard);
          }
        }
      }
    }
    return v;
  }

  static std::string OwnersText(const std::vector<std::string>& owners) {
    std::string on;
    for (const std::string& s : owners) on += " " + s;
    return "[" + on + " ]";
  }

  // After a kill, with no mover running: no bucket is owned by two shards;
  // one owned by none, or incoming somewhere, has a recorded move; a scan
  // returns no id twice and misses no record (the k and h ones are never
  // deleted) except in a bucket whose move is recorded (after the switch
  // and before the target takes over, nobody serves it).
  void CheckBetweenRuns(const std::string& after) {
    std::unique_ptr<Store> store = OpenStore(LoadConfig());
    auto moves = store->MoveStates();
    if (!moves.ok()) {
      Problem(after + ": MoveStates: " + moves.status().ToString());
      return;
    }
    std::unordered_set<uint32_t> moving;
    for (const MoveState& m : *moves) moving.insert(m.bucket);
    const ShardView v = ReadShards(store->config());
    for (uint32_t b = 0; b < v.owners.size(); ++b) {
      if (v.owners[b].size() > 1 || (v.owners[b].empty() && !moving.count(b))) {
        Problem(after + ": bucket " + std::to_string(b) + " is owned by " + OwnersText(v.owners[b]) +
                (moving.count(b) ? " during its move" : " and no move is recorded"));
      }
    }
    for (const auto& [shard, b] : v.incoming) {
      if (!moving.count(static_cast<uint32_t>(b))) {
        Problem(after + ": bucket " + std::to_string(b) + " is incoming on " + shard +
                " but no move is recorded");
      }
    }
    std::unordered_set<std::string> seen;
    int dups = 0;
    Status s = store->Scan(o_.entity, nullptr, [&](Record&& rec) {
      if (!seen.insert(rec.id).second && ++dups <= 5) {
        Problem(after + ": scan returned " + rec.id + " twice");
      }
      return true;
    });
    if (!s.ok()) {
      Problem(after + ": scan: " + s.ToString());
      return;
    }
    int missing = 0;
    for (const std::string& id : permanent_) {
      if (seen.count(id)) continue;
      const uint32_t b = store->Locate(id).bucket;
      if (!moving.count(b) && ++missing <= 5) {
        Problem(after + ": scan misses " + id + " (bucket " + std::to_string(b) + ", owned by " +
                OwnersText(v.owners[b]) + ", no move recorded)");
      }
    }
    ++r_.between_checks;
  }

  // (c) Each shard database read directly: rows only in buckets it owns,
  // no bucket left incoming, each bucket owned once, as the catalog says.
  void CheckShardDatabases(const ClusterConfig& config) {
    const ShardView v = ReadShards(config);
    r_.raw_total = v.rows;
    for (const auto& [shard, left] : v.leftover) {
      r_.leftover_rows += left.first;
      Problem("shard " + shard + " holds " + std::to_string(left.first) +
              " rows in buckets it does not own (not cleaned up), in " + left.second);
    }
    for (const auto& [shard, b] : v.incoming) {
      Problem("bucket " + std::to_string(b) + " is still incoming on " + shard);
    }
    int shown = 0;
    for (uint32_t b = 0; b < config.buckets; ++b) {
      if ((v.owners[b].size() != 1 || v.owners[b][0] != v.catalog_owner[b]) && ++shown <= 10) {
        Problem("bucket " + std::to_string(b) + " is owned by " + OwnersText(v.owners[b]) +
                " but the catalog names '" + v.catalog_owner[b] + "'");
      }
    }
  }

  const MoveCrashOptions& o_;
  std::mt19937_64 rng_;
  MoveCrashReport r_;
  Children children_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ModelWriter> model_;
  std::unordered_map<uint32_t, int> filler_;  // bucket -> filler records in it
  long long next_filler_ = 0;                  // the next "h…" id to try
  std::vector<Writer> writers_;
  std::vector<std::string> logs_, errs_;
  std::unordered_map<std::string, Acked> acked_;
  std::vector<int> startup_ms_, ms_per_move_;  // measured on killed runs
  std::vector<std::string> permanent_;  // loaded k and h ids: never deleted
  int problem_count_ = 0;
};

}  // namespace

MoveCrashReport RunMoveCrashLoop(const MoveCrashOptions& options) { return Loop(options).Run(); }

std::string Summary(const MoveCrashReport& r) {
  std::ostringstream s;
  s << "seed=" << r.seed << ": " << r.rebalancers_killed << " rebalancers killed (";
  bool first = true;
  for (const auto& [step, n] : r.killed_at) {
    s << (first ? "" : ", ") << step << " " << n;
    first = false;
  }
  s << "), " << r.rebalancers_finished << " ended first, " << r.between_checks
    << " checks between runs (longest " << r.between_ms << " ms); first plan " << r.planned_moves
    << " moves; steps seen:";
  for (const auto& [step, n] : r.steps_seen) s << " " << step << "=" << n;
  s << "; finish " << r.finish_ms << " ms (" << r.finish_report << "); " << r.loaded << " loaded + "
    << r.filler << " filler records, "
    << r.acked_writes << " acknowledged writes (" << r.writer_runs << " writer runs, " << r.cut_lines
    << " cut lines), model " << r.model_ops << " ops (" << r.model_deletes << " deletes), "
    << r.failed_writes << " failed writes; live " << r.live_expected << ", scanned " << r.scanned
    << ", stats " << r.stats_total << ", rows " << r.raw_total << ", leftover " << r.leftover_rows
    << "; buckets:";
  for (const auto& [shard, n] : r.buckets) s << " " << shard << "=" << n;
  s << "; verify missing=" << r.verify_missing << " dangling=" << r.verify_dangling << "; "
    << r.seconds << " s; "
    << (r.problems.empty() ? "OK" : std::to_string(r.problems.size()) + " problem(s)");
  return s.str();
}

}  // namespace libshard::testing
