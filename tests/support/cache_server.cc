#include "support/cache_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/process.h"
#include "support/test_cluster.h"

namespace libshard::testing {
namespace {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (ok) {
    const char ping[] = "PING\r\n";
    char reply[16] = {};
    ok = ::write(fd, ping, sizeof(ping) - 1) == static_cast<ssize_t>(sizeof(ping) - 1) &&
         ::read(fd, reply, sizeof(reply)) > 0 && std::string(reply).rfind("+PONG", 0) == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

FillGate::FillGate(cluster::FaultEnv& env) : env_(env) {
  env_.SetBeforeCacheFill([this](std::string_view) {
    std::unique_lock<std::mutex> lock(mu_);
    if (used_) return;
    used_ = true;
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  });
}

FillGate::~FillGate() {
  Release();
  env_.SetBeforeCacheFill(nullptr);
}

void FillGate::WaitUntilPaused() {
  std::unique_lock<std::mutex> lock(mu_);
  REQUIRE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return waiting_; }));
}

void FillGate::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  cv_.notify_all();
}

std::string SharedCacheUrl() {
  const char* url = std::getenv("LIBSHARD_CACHE_URL");
  if (url != nullptr && *url != '\0') return url;
#ifdef LIBSHARD_REQUIRE_CACHE_SERVER
  FAIL("LIBSHARD_CACHE_URL is not set: run scripts/servers.sh start and source its env.sh");
#endif
  return "";
}

PrivateRedis::PrivateRedis() : port_(FreePort()), dir_(MakeTempDir("redis")) { Start(); }

PrivateRedis::~PrivateRedis() { Stop(); }

std::string PrivateRedis::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

void PrivateRedis::Start() {
  if (pid_ > 0) return;
  const char* bin = std::getenv("LIBSHARD_REDIS_SERVER");
  std::string program = bin != nullptr && *bin != '\0' ? bin : "/usr/bin/redis-server";
  pid_ = Spawn(program,
               {"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", dir_, "--daemonize", "no"},
               dir_ + "/out.log", dir_ + "/err.log");
  REQUIRE(pid_ > 0);
  for (int i = 0; i < 500 && !Answers(port_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_MESSAGE(Answers(port_), "redis-server did not start: " << ReadFile(dir_ + "/out.log"));
}

void PrivateRedis::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  std::optional<int> rc = Wait(pid_, std::chrono::seconds(10));
  CHECK(rc.has_value());
  pid_ = -1;
}

}  // namespace libshard::testing
