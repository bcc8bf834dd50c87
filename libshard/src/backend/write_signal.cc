#include "backend/write_signal.h"

#include <map>

namespace libshard::backend {

std::shared_ptr<WriteSignal> WriteSignal::For(const std::string& path) {
  // Taken once per new connection, never per write. Entries die with the
  // last connection to their file (weak_ptr); expired ones are swept here.
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<WriteSignal>>* signals =
      new std::map<std::string, std::weak_ptr<WriteSignal>>();  // outlives static sessions
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = signals->begin(); it != signals->end();) {
    it = it->second.expired() ? signals->erase(it) : std::next(it);
  }
  std::weak_ptr<WriteSignal>& slot = (*signals)[path];
  std::shared_ptr<WriteSignal> s = slot.lock();
  if (!s) {
    s = std::make_shared<WriteSignal>();
    slot = s;
  }
  return s;
}

void WriteSignal::Released() {
  generation_.fetch_add(1);  // seq_cst: ordered before the waiters_ load
  // The mutex only when someone waits: an uncontended commit pays one
  // atomic increment and one load.
  if (waiters_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
}

bool WriteSignal::WaitFor(uint64_t seen, std::chrono::microseconds max) {
  if (generation() != seen) return true;
  std::unique_lock<std::mutex> lock(mu_);
  waiters_.fetch_add(1);  // seq_cst: ordered before the generation load
  // Re-checked under the mutex after announcing the wait: Released()
  // either saw the waiter (and notifies under the mutex, after this wait
  // began) or bumped the generation before this check.
  const bool released =
      cv_.wait_for(lock, max, [&] { return generation() != seen; });
  waiters_.fetch_sub(1);
  return released;
}

}  // namespace libshard::backend
