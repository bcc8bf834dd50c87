#include "backend/statement_timeout.h"

#include <soci/soci.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace libshard::backend {
namespace {

using Clock = std::chrono::steady_clock;

// One thread for the whole process, started on first use; armed deadlines
// are kept in a map ordered by time.
class Watchdog {
 public:
  static Watchdog& Instance() {
    static Watchdog* w = new Watchdog();  // never destroyed: sessions may outlive statics
    return *w;
  }

  // Returns a ticket; `fired` is set (under the watchdog's lock) when the
  // socket was shut down.
  uint64_t Arm(int socket, Clock::time_point deadline, std::atomic<bool>* fired) {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t ticket = ++next_;
    armed_.emplace(std::make_pair(deadline, ticket), Entry{socket, fired});
    tickets_[ticket] = deadline;
    // Wake the thread only when it would sleep past this deadline. Every
    // statement arms one: a wake per statement (a futex wake, a context
    // switch and back) was ~11 µs of a PostgreSQL point get's 28.6 µs of
    // client CPU (shard-bench get: 17.5 µs without it). The same timeout on every
    // operation means a new deadline is almost always later than the one
    // the thread sleeps until, so it wakes about once per timeout.
    if (deadline < wake_at_) cv_.notify_one();
    return ticket;
  }

  // True when the deadline had already fired.
  bool Disarm(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    auto t = tickets_.find(ticket);
    if (t == tickets_.end()) return true;
    armed_.erase({t->second, ticket});
    tickets_.erase(t);
    return false;
  }

 private:
  struct Entry {
    int socket;
    std::atomic<bool>* fired;
  };

  Watchdog() {
    std::thread([this] { Run(); }).detach();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (armed_.empty()) {
        wake_at_ = Clock::time_point::max();
        cv_.wait(lock);
        continue;
      }
      auto first = armed_.begin();
      // A copy: the entry may be disarmed (erased) while we wait unlocked.
      const Clock::time_point deadline = first->first.first;
      if (Clock::now() < deadline) {
        wake_at_ = deadline;
        cv_.wait_until(lock, deadline);
        continue;
      }
      ::shutdown(first->second.socket, SHUT_RDWR);
      first->second.fired->store(true);
      tickets_.erase(first->first.second);
      armed_.erase(first);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ = 0;
  // When the thread, waiting, will next look at armed_ on its own (under
  // mu_: Arm reads it while the thread waits).
  Clock::time_point wake_at_ = Clock::time_point::max();
  std::map<std::pair<Clock::time_point, uint64_t>, Entry> armed_;
  std::map<uint64_t, Clock::time_point> tickets_;
};

class TimedOut : public soci::soci_error {
 public:
  explicit TimedOut(const std::string& msg) : soci::soci_error(msg) {}
  error_category get_error_category() const override { return connection_error; }
};

class StatementTimeoutHooks : public SessionHooks {
 public:
  explicit StatementTimeoutHooks(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  void Connected(int socket) override { socket_ = socket; }

  void Before(SqlOp op, std::string_view) override {
    // Connect has its own timeout. A fetch reads rows the execute already
    // received (SOCI's PostgreSQL and MySQL backends take the whole result
    // in execute; libshard never turns on PostgreSQL's single-row mode), so
    // it never waits on the server: no deadline to arm.
    if (socket_ < 0 || op == SqlOp::kConnect || op == SqlOp::kFetch) return;
    if (fired_) Throw(op);  // the socket is shut down: fail at once
    ticket_ = Watchdog::Instance().Arm(socket_, Clock::now() + timeout_, &fired_);
  }
  void After(SqlOp, std::string_view) override { Disarm(); }
  void Failed(SqlOp op, std::string_view) override {
    if (Disarm() || fired_) Throw(op);
  }

 private:
  // True when the watchdog fired for the armed operation.
  bool Disarm() {
    if (ticket_ == 0) return false;
    bool fired = Watchdog::Instance().Disarm(ticket_);
    ticket_ = 0;
    return fired;
  }
  [[noreturn]] void Throw(SqlOp op) {
    throw TimedOut(std::string(SqlOpName(op)) + " did not complete within " +
                   std::to_string(timeout_.count()) +
                   " ms (statement timeout): the server did not answer, the connection was "
                   "closed");
  }

  std::chrono::milliseconds timeout_;
  int socket_ = -1;
  uint64_t ticket_ = 0;
  std::atomic<bool> fired_{false};  // set by the watchdog thread
};

}  // namespace

bool IsStatementTimeout(const soci::soci_error& e) {
  return dynamic_cast<const TimedOut*>(&e) != nullptr;
}

std::shared_ptr<SessionHooks> MakeStatementTimeoutHooks(std::chrono::milliseconds timeout) {
  return std::make_shared<StatementTimeoutHooks>(timeout);
}

}  // namespace libshard::backend
