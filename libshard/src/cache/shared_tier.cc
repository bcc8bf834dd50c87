// SharedTier on Redis (see shared_tier.h for the contract and
// shared_tier_scripts.h for the scripts that make it atomic).
//
// Every call: (1) the fault hook, (2) the breaker, (3) a pooled or new
// connection, (4) the replay of queued invalidations, (5) its one command.
// A link error anywhere (connect, timeout, EOF) frees that connection and
// every idle one (they lead to the same server) and opens the breaker; an
// error reply (OOM, a script error) fails only that call.
#include "cache/shared_tier.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <random>
#include <unordered_set>
#include <utility>

#include "cache/breaker.h"
#include "cache/redis_conn.h"
#include "cache/redis_url.h"
#include "cache/shared_tier_scripts.h"

namespace libshard::cache {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kLookup = 0;  // script indexes in RedisConn
constexpr size_t kFill = 1;
constexpr size_t kInvalidate = 2;
constexpr size_t kDropKeepFloor = 3;
constexpr size_t kDelChunk = 1000;  // keys per DEL or keep-floor command


template <typename T>
bool ParseDecimal(const redisReply* r, T* out) {
  if (r == nullptr || r->type != REDIS_REPLY_STRING) return false;
  auto [p, ec] = std::from_chars(r->str, r->str + r->len, *out);
  return ec == std::errc() && p == r->str + r->len;
}

uint64_t RandomTokenBase() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return v ^ static_cast<uint64_t>(Clock::now().time_since_epoch().count());
}

}  // namespace

class SharedTier::Impl {
 public:
  // A connection for one call; `probe` when this call is the breaker's probe.
  struct Session {
    std::unique_ptr<RedisConn> conn;
    bool probe = false;
  };

  Impl(SharedTierOptions options, RedisEndpoint endpoint)
      : opt_(std::move(options)),
        ep_(std::move(endpoint)),
        breaker_(opt_.breaker),
        token_base_(RandomTokenBase()) {
    const bool v6 = ep_.host.find(':') != std::string::npos;
    where_ = "cache '" + opt_.name + "' at " + (v6 ? "[" + ep_.host + "]" : ep_.host) + ":" +
             std::to_string(ep_.port) + "/" + std::to_string(ep_.db);
  }

  void LookupMany(const std::vector<std::string>& keys, std::chrono::milliseconds ttl,
                  std::vector<LookupResult>* out);
  void FillMany(const std::vector<FillItem>& items, std::vector<Outcome>* out);
  bool Invalidate(const std::vector<std::string>& keys, Floors floors);
  InFlightPtr BeginInvalidate(std::vector<std::string> keys, const std::vector<uint64_t>& versions,
                              std::chrono::milliseconds ttl);
  bool FinishInvalidate(InFlight* f);
  void AbandonInvalidate(InFlight* f);

  size_t pending() const {
    std::lock_guard lock(mu_);
    return pending_.size() + replaying_;
  }
  bool breaker_open() const {
    std::lock_guard lock(mu_);
    return breaker_.open(Clock::now());
  }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }
  const std::string& name() const { return opt_.name; }

 private:
  enum class RunResult { kOk, kLinkError, kErrorReply };

  // Steps 2-4 above. kHit (as "go") with `s` ready, or the outcome to report.
  Outcome Acquire(Session* s);
  // Gives the connection back (or frees it when broken; then the breaker opens).
  void Release(Session* s, const std::string& error);
  bool Faulted(std::string_view op);
  void Fail(const std::string& error);
  void LinkFailed(const std::string& error);
  void AddPending(const std::vector<std::string>& keys);
  void AddPendingLocked(const std::vector<std::string>& keys);  // mu_ held
  // Deletes queued keys on `s` before anything else; false when it failed.
  bool Replay(Session* s, std::string* error);
  // EVALSHA of script `script` with `args` after the sha; on NOSCRIPT, loads
  // the script again and retries once.
  RunResult RunScript(Session* s, size_t script, const Command& args, ReplyPtr* reply,
                      std::string* error);

  const SharedTierOptions opt_;
  const RedisEndpoint ep_;
  std::string where_;  // "cache 'hot' at host:port/db": no password
  // Deletes `keys` on `s` (kKeep: their floors stay); false (with `error`)
  // when the link or the server failed.
  bool DeleteKeys(Session* s, const std::vector<std::string>& keys, Floors floors,
                  std::string* error);

  const std::vector<std::string_view> scripts_{kLookupScript, kFillScript, kInvalidateScript,
                                               kDropKeepFloorScript};

  mutable std::mutex mu_;  // guards the members from here to last_error_
  CircuitBreaker breaker_;
  std::vector<std::unique_ptr<RedisConn>> idle_;
  std::unordered_set<std::string> pending_;  // a set: a hot key queues once
  size_t replaying_ = 0;                     // keys taken out by a replay in flight
  Clock::time_point reads_suspended_until_{};
  std::string last_error_;

  // Held for a whole replay: a call that starts after an invalidation was
  // queued waits for the replay in flight instead of reading before it.
  std::mutex replay_mu_;

  const uint64_t token_base_;
  std::atomic<uint64_t> calls_{0};
};

bool SharedTier::Impl::Faulted(std::string_view op) {
  if (!opt_.fault || !opt_.fault(op)) return false;
  Fail(where_ + ": " + std::string(op) + " failed (injected fault)");
  return true;
}

void SharedTier::Impl::Fail(const std::string& error) {
  std::lock_guard lock(mu_);
  last_error_ = error;
}

void SharedTier::Impl::LinkFailed(const std::string& error) {
  std::vector<std::unique_ptr<RedisConn>> dead;
  {
    std::lock_guard lock(mu_);
    last_error_ = error;
    breaker_.Failed(Clock::now());
    dead.swap(idle_);
  }
  // `dead` closes its sockets here, outside the lock.
}

void SharedTier::Impl::AddPending(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  AddPendingLocked(keys);
}

void SharedTier::Impl::AddPendingLocked(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    if (pending_.size() + replaying_ >= opt_.max_pending && !pending_.contains(k)) {
      // Overflow: this key's invalidation is lost. Every entry it could
      // leave stale expires within max_ttl, and until then this process
      // does not read from the tier at all.
      reads_suspended_until_ = Clock::now() + opt_.max_ttl;
      continue;
    }
    pending_.insert(k);
  }
}

Outcome SharedTier::Impl::Acquire(Session* s) {
  {
    std::lock_guard lock(mu_);
    switch (breaker_.TryAdmit(Clock::now())) {
      case CircuitBreaker::Admit::kBypass:
        return Outcome::kBypassed;
      case CircuitBreaker::Admit::kProbe:
        s->probe = true;
        break;
      case CircuitBreaker::Admit::kGo:
        if (!idle_.empty()) {
          s->conn = std::move(idle_.back());
          idle_.pop_back();
        }
        break;
    }
  }
  std::string error;
  if (s->conn == nullptr) {
    s->conn = RedisConn::Open(ep_, opt_.timeout, scripts_, &error);
    if (s->conn == nullptr) {
      LinkFailed(where_ + ": " + error);
      return Outcome::kError;
    }
  }
  if (!Replay(s, &error)) {
    Release(s, error);
    return Outcome::kError;
  }
  return Outcome::kHit;
}

void SharedTier::Impl::Release(Session* s, const std::string& error) {
  if (s->conn == nullptr) return;
  if (s->conn->broken()) {
    s->conn.reset();
    LinkFailed(error);
    return;
  }
  std::unique_ptr<RedisConn> extra;
  std::lock_guard lock(mu_);
  if (!error.empty()) last_error_ = error;
  if (s->probe) breaker_.Succeeded();  // the server answered
  if (idle_.size() < static_cast<size_t>(std::max(opt_.pool_size, 1))) {
    idle_.push_back(std::move(s->conn));
  } else {
    extra = std::move(s->conn);  // freed after the lock is released
  }
}

bool SharedTier::Impl::Replay(Session* s, std::string* error) {
  {
    std::lock_guard lock(mu_);
    if (pending_.empty() && replaying_ == 0) return true;
  }
  std::lock_guard replay(replay_mu_);
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mu_);
    keys.reserve(pending_.size());
    for (auto it = pending_.begin(); it != pending_.end();) {
      keys.push_back(std::move(pending_.extract(it++).value()));
    }
    replaying_ = keys.size();
  }
  if (keys.empty()) return true;
  // Floors stay: a queued invalidation may reach the server long after a
  // later writer's early one.
  std::string why;
  const bool ok = DeleteKeys(s, keys, Floors::kKeep, &why);
  {
    // Back in the queue in the same step that ends the replay, so no call
    // sees neither a queue nor a replay while these keys are not deleted.
    std::lock_guard lock(mu_);
    replaying_ = 0;
    if (!ok) AddPendingLocked(keys);
  }
  if (!ok) {
    *error = where_ + ": replaying " + std::to_string(keys.size()) +
             " queued invalidations failed (" + why + ")";
  }
  return ok;
}

SharedTier::Impl::RunResult SharedTier::Impl::RunScript(Session* s, size_t script,
                                                        const Command& args, ReplyPtr* reply,
                                                        std::string* error) {
  for (int attempt = 0;; ++attempt) {
    Command cmd{"EVALSHA", s->conn->sha(script)};
    cmd.insert(cmd.end(), args.begin(), args.end());
    std::vector<ReplyPtr> replies;
    if (!s->conn->Run({cmd}, &replies, error)) {
      *error = where_ + ": " + *error;
      return RunResult::kLinkError;
    }
    std::string_view err = ErrorReplyText(replies[0].get());
    if (err.empty()) {
      *reply = std::move(replies[0]);
      return RunResult::kOk;
    }
    if (attempt == 0 && err.starts_with("NOSCRIPT")) {
      // The server's script cache was flushed (SCRIPT FLUSH, a restart
      // behind a proxy): load it again on this connection, once.
      if (!s->conn->Reload(script, error)) {
        *error = where_ + ": " + *error;
        return s->conn->broken() ? RunResult::kLinkError : RunResult::kErrorReply;
      }
      continue;
    }
    *error = where_ + ": " + std::string(err);
    return RunResult::kErrorReply;
  }
}

void SharedTier::Impl::LookupMany(const std::vector<std::string>& keys,
                                  std::chrono::milliseconds ttl, std::vector<LookupResult>* out) {
  out->assign(keys.size(), LookupResult{});
  if (keys.empty()) return;
  auto fail_all = [&](Outcome o) {
    for (LookupResult& r : *out) r.outcome = o;
  };
  {
    std::lock_guard lock(mu_);
    if (Clock::now() < reads_suspended_until_) return fail_all(Outcome::kBypassed);
  }
  if (Faulted("lookup")) return fail_all(Outcome::kError);
  Session s;
  if (Outcome o = Acquire(&s); o != Outcome::kHit) return fail_all(o);

  // The token prefix: unique to this process (random) and call (counter).
  char prefix[48];
  std::snprintf(prefix, sizeof prefix, "%016llx:%llu",
                static_cast<unsigned long long>(token_base_),
                static_cast<unsigned long long>(calls_.fetch_add(1, std::memory_order_relaxed)));
  const std::string numkeys = std::to_string(keys.size());
  const std::string ttl_ms = std::to_string(std::max<int64_t>(ttl.count(), 1));
  Command args{numkeys};
  for (const std::string& k : keys) args.push_back(k);
  args.push_back(prefix);
  args.push_back(ttl_ms);

  ReplyPtr reply;
  std::string error;
  RunResult rr = RunScript(&s, kLookup, args, &reply, &error);
  if (rr != RunResult::kOk) {
    Release(&s, error);
    return fail_all(Outcome::kError);
  }
  const redisReply* r = reply.get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != keys.size()) {
    Release(&s, where_ + ": the lookup script gave an unexpected reply");
    return fail_all(Outcome::kError);
  }
  bool malformed = false;
  for (size_t i = 0; i < keys.size(); ++i) {
    const redisReply* e = r->element[i];
    LookupResult& res = (*out)[i];
    res.outcome = Outcome::kError;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_INTEGER) {
      malformed = true;
      continue;
    }
    if (e->element[0]->integer == 1 && e->elements == 4 &&
        ParseDecimal(e->element[1], &res.value.version) &&
        ParseDecimal(e->element[2], &res.value.updated_us) &&
        e->element[3]->type == REDIS_REPLY_STRING) {
      res.value.body.assign(e->element[3]->str, e->element[3]->len);
      res.outcome = Outcome::kHit;
    } else if (e->element[0]->integer == 0 && e->element[1]->type == REDIS_REPLY_STRING) {
      res.lease.assign(e->element[1]->str, e->element[1]->len);
      res.outcome = Outcome::kMiss;
    } else {
      malformed = true;  // e.g. an entry written by something else
    }
  }
  Release(&s, malformed ? where_ + ": a cached entry is malformed" : std::string());
}

void SharedTier::Impl::FillMany(const std::vector<FillItem>& items, std::vector<Outcome>* out) {
  out->assign(items.size(), Outcome::kError);
  // Items without a lease may not fill: stale without asking the server.
  std::vector<size_t> sent;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].lease.empty()) {
      (*out)[i] = Outcome::kStale;
    } else {
      sent.push_back(i);
    }
  }
  if (sent.empty()) return;
  auto fail_sent = [&](Outcome o) {
    for (size_t i : sent) (*out)[i] = o;
  };
  if (Faulted("fill")) return fail_sent(Outcome::kError);
  Session s;
  if (Outcome o = Acquire(&s); o != Outcome::kHit) return fail_sent(o);

  std::vector<std::string> numbers;  // reserved: the views below stay valid
  numbers.reserve(1 + 3 * sent.size());
  numbers.push_back(std::to_string(sent.size()));
  Command args{numbers.back()};
  for (size_t i : sent) args.push_back(items[i].key);
  for (size_t i : sent) {
    const FillItem& it = items[i];
    args.push_back(it.lease);
    args.push_back(numbers.emplace_back(std::to_string(it.version)));
    args.push_back(numbers.emplace_back(std::to_string(it.updated_us)));
    args.push_back(it.body);
    args.push_back(numbers.emplace_back(std::to_string(std::max<int64_t>(it.ttl.count(), 0))));
  }

  ReplyPtr reply;
  std::string error;
  if (RunScript(&s, kFill, args, &reply, &error) != RunResult::kOk) {
    Release(&s, error);
    return fail_sent(Outcome::kError);
  }
  const redisReply* r = reply.get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != sent.size()) {
    Release(&s, where_ + ": the fill script gave an unexpected reply");
    return fail_sent(Outcome::kError);
  }
  for (size_t j = 0; j < sent.size(); ++j) {
    const redisReply* e = r->element[j];
    Outcome o = Outcome::kError;
    if (e->type == REDIS_REPLY_INTEGER) {
      o = e->integer == 1 ? Outcome::kStored : e->integer == 2 ? Outcome::kKept : Outcome::kStale;
    }
    (*out)[sent[j]] = o;
  }
  Release(&s, {});
}

bool SharedTier::Impl::DeleteKeys(Session* s, const std::vector<std::string>& keys, Floors floors,
                                  std::string* error) {
  // kDrop: DEL; kKeep: the script. Chunks of kDelChunk keys (a replay can
  // carry 100 000), pipelined in one round trip.
  std::vector<std::string> counts;  // reserved: the views below stay valid
  counts.reserve(keys.size() / kDelChunk + 1);
  std::vector<Command> cmds;
  for (size_t i = 0; i < keys.size(); i += kDelChunk) {
    const size_t n = std::min(kDelChunk, keys.size() - i);
    Command cmd = floors == Floors::kDrop
                      ? Command{"DEL"}
                      : Command{"EVALSHA", s->conn->sha(kDropKeepFloor),
                                counts.emplace_back(std::to_string(n))};
    cmd.insert(cmd.end(), keys.begin() + static_cast<std::ptrdiff_t>(i),
               keys.begin() + static_cast<std::ptrdiff_t>(i + n));
    cmds.push_back(std::move(cmd));
  }
  for (int attempt = 0;; ++attempt) {
    std::vector<ReplyPtr> replies;
    if (!s->conn->Run(cmds, &replies, error)) {
      *error = where_ + ": invalidate: " + *error;
      return false;
    }
    std::string_view err;
    for (const ReplyPtr& r : replies) {
      if (err.empty()) err = ErrorReplyText(r.get());
    }
    if (err.empty()) return true;
    // The script cache was flushed: load it again, once, and run all the
    // chunks again (deleting a key twice is harmless).
    if (attempt == 0 && err.starts_with("NOSCRIPT") && s->conn->Reload(kDropKeepFloor, error)) {
      for (Command& cmd : cmds) cmd[1] = s->conn->sha(kDropKeepFloor);
      continue;
    }
    *error = where_ + ": invalidate: " + std::string(err);
    return false;
  }
}

bool SharedTier::Impl::Invalidate(const std::vector<std::string>& keys, Floors floors) {
  if (keys.empty()) return true;
  if (Faulted("invalidate")) {
    AddPending(keys);
    return false;
  }
  Session s;
  if (Acquire(&s) != Outcome::kHit) {
    AddPending(keys);
    return false;
  }
  std::string error;
  const bool ok = DeleteKeys(&s, keys, floors, &error);
  if (!ok) AddPending(keys);
  Release(&s, error);
  return ok;
}

// --- Early invalidation ------------------------------------------------------

struct SharedTier::InFlight {
  Impl::Session session;           // conn null: the send failed (or was not tried)
  std::vector<std::string> keys;
  Clock::time_point sent;
  std::chrono::milliseconds ttl{0};
};

void SharedTier::InFlightDelete::operator()(InFlight* f) const {
  // Dropped unconfirmed (an exception between the halves): its answer is
  // unread, so the connection cannot go back to the pool.
  delete f;
}

SharedTier::InFlightPtr SharedTier::Impl::BeginInvalidate(std::vector<std::string> keys,
                                                          const std::vector<uint64_t>& versions,
                                                          std::chrono::milliseconds ttl) {
  InFlightPtr f(new InFlight);
  f->keys = std::move(keys);
  f->ttl = std::max(ttl, std::chrono::milliseconds(1));
  if (f->keys.empty() || Faulted("invalidate") || Acquire(&f->session) != Outcome::kHit) {
    f->session.conn.reset();
    return f;
  }
  std::vector<std::string> numbers;  // reserved: the views below stay valid
  numbers.reserve(f->keys.size() + 2);
  numbers.push_back(std::to_string(f->keys.size()));
  Command cmd{"EVALSHA", f->session.conn->sha(kInvalidate), numbers.back()};
  for (const std::string& k : f->keys) cmd.push_back(k);
  for (uint64_t v : versions) cmd.push_back(numbers.emplace_back(std::to_string(v)));
  cmd.push_back(numbers.emplace_back(std::to_string(f->ttl.count())));
  std::string error;
  f->sent = Clock::now();
  if (!f->session.conn->Send({cmd}, &error)) {
    Release(&f->session, where_ + ": invalidate: " + error);  // frees it, opens the breaker
    f->session.conn.reset();
  }
  return f;
}

bool SharedTier::Impl::FinishInvalidate(InFlight* f) {
  if (f->keys.empty()) return true;
  if (f->session.conn == nullptr) {
    AddPending(f->keys);  // after the COMMIT: replaying them is safe now
    return false;
  }
  std::vector<ReplyPtr> replies;
  std::string error;
  bool ok = f->session.conn->Receive(1, &replies, &error);
  if (!ok) {
    error = where_ + ": invalidate: " + error;
  } else if (std::string_view err = ErrorReplyText(replies[0].get()); !err.empty()) {
    // NOSCRIPT (the script cache was flushed) or OOM: the keys were not
    // touched; delete them now, after the COMMIT, which is always safe.
    if (err.starts_with("NOSCRIPT")) (void)f->session.conn->Reload(kInvalidate, &error);
    ok = !f->session.conn->broken() && DeleteKeys(&f->session, f->keys, Floors::kKeep, &error);
  } else if (Clock::now() - f->sent > f->ttl / 2) {
    // The floor lives ttl from when the server ran the script; a COMMIT
    // that may have ended later needs a delete after it.
    ok = DeleteKeys(&f->session, f->keys, Floors::kKeep, &error);
  }
  if (!ok) AddPending(f->keys);
  Release(&f->session, ok ? std::string() : error);
  return ok;
}

void SharedTier::Impl::AbandonInvalidate(InFlight* f) {
  if (f->session.conn == nullptr) return;
  std::vector<ReplyPtr> replies;
  std::string error;
  if (!f->session.conn->Receive(1, &replies, &error)) error = where_ + ": invalidate: " + error;
  Release(&f->session, error);
}

// --- SharedTier -------------------------------------------------------------

Result<std::unique_ptr<SharedTier>> SharedTier::Create(SharedTierOptions options) {
  Result<RedisEndpoint> ep = ParseRedisUrl(options.url);
  if (!ep.ok()) {
    return Status::InvalidConfig("caches: '" + options.name + "': " + ep.status().message());
  }
  if (options.timeout.count() < 1) options.timeout = std::chrono::milliseconds(1);
  auto impl = std::make_unique<Impl>(std::move(options), std::move(ep).value());
  return std::unique_ptr<SharedTier>(new SharedTier(std::move(impl)));
}

SharedTier::SharedTier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SharedTier::~SharedTier() = default;

void SharedTier::LookupMany(const std::vector<std::string>& keys, std::chrono::milliseconds ttl,
                            std::vector<LookupResult>* out) {
  impl_->LookupMany(keys, ttl, out);
}
void SharedTier::FillMany(const std::vector<FillItem>& items, std::vector<Outcome>* out) {
  impl_->FillMany(items, out);
}
bool SharedTier::Invalidate(const std::vector<std::string>& keys, Floors floors) {
  return impl_->Invalidate(keys, floors);
}
SharedTier::InFlightPtr SharedTier::BeginInvalidate(std::vector<std::string> keys,
                                                    const std::vector<uint64_t>& versions,
                                                    std::chrono::milliseconds ttl) {
  return impl_->BeginInvalidate(std::move(keys), versions, ttl);
}
bool SharedTier::FinishInvalidate(InFlightPtr in_flight) {
  return in_flight == nullptr || impl_->FinishInvalidate(in_flight.get());
}
void SharedTier::AbandonInvalidate(InFlightPtr in_flight) {
  if (in_flight != nullptr) impl_->AbandonInvalidate(in_flight.get());
}
size_t SharedTier::pending() const { return impl_->pending(); }
bool SharedTier::breaker_open() const { return impl_->breaker_open(); }
const std::string& SharedTier::name() const { return impl_->name(); }
std::string SharedTier::last_error() const { return impl_->last_error(); }

}  // namespace libshard::cache
