#include "cluster/env.h"

#include <thread>

namespace libshard::cluster {

int64_t Env::WallMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SteadyTime Env::SteadyNow() const { return std::chrono::steady_clock::now(); }

void Env::SleepFor(std::chrono::microseconds d) const { std::this_thread::sleep_for(d); }

backend::Session Env::OpenSession(const DatabaseConfig& db, const std::string& url,
                                  std::shared_ptr<backend::SessionHooks> hooks) {
  return backend::OpenSession(db.backend, url, std::move(hooks));
}

std::shared_ptr<Env> Env::Default() {
  static const std::shared_ptr<Env> env = std::make_shared<Env>();
  return env;
}

}  // namespace libshard::cluster
