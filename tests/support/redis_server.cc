#include "support/redis_server.h"

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "cache/redis_url.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace libshard::testing {
namespace {

std::optional<std::string> FromEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return std::string(v);
  if (ServerTestsRequired()) {
    FAIL(std::string(name) << " is not set but LIBSHARD_REQUIRE_SERVERS=1: run `scripts/servers.sh start` "
                 "and `source /tmp/libshard-servers/env.sh` (or $LIBSHARD_RUN_DIR/env.sh)");
  } else {
    MESSAGE("skipped: needs " << std::string(name) << " (scripts/servers.sh start; source its env.sh)");
  }
  return std::nullopt;
}

// A port nothing listens on now (the kernel's pick for port 0).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

bool ServerTestsRequired() {
  const char* v = std::getenv("LIBSHARD_REQUIRE_SERVERS");
  return v != nullptr && std::string(v) == "1";
}

std::optional<std::string> CacheUrlFromEnv() { return FromEnv("LIBSHARD_CACHE_URL"); }
std::optional<std::string> RedisServerBinary() { return FromEnv("LIBSHARD_REDIS_SERVER"); }

RedisServer::RedisServer(std::string binary, std::string password)
    : binary_(std::move(binary)), password_(std::move(password)) {
  dir_ = MakeTempDir("redis");
  port_ = FreePort();
  Start();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait(pid_, std::chrono::seconds(10));
  }
}

std::string RedisServer::url() const {
  return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") + "127.0.0.1:" +
         std::to_string(port_) + "/0";
}

void RedisServer::Start() {
  REQUIRE(pid_ < 0);
  std::vector<std::string> args = {"--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", dir_,
                                   "--daemonize", "no"};
  if (!password_.empty()) {
    args.push_back("--requirepass");
    args.push_back(password_);
  }
  pid_ = Spawn(binary_, args, dir_ + "/out.log", dir_ + "/err.log");
  // Ready when it answers PING (a few ms; 10 s allows a loaded machine).
  Result<cache::RedisEndpoint> ep = cache::ParseRedisUrl(url());
  REQUIRE(ep.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::string error;
    auto conn = cache::RedisConn::Open(*ep, std::chrono::milliseconds(500), {}, &error);
    std::vector<cache::ReplyPtr> replies;
    if (conn != nullptr && conn->Run({{"PING"}}, &replies, &error) &&
        replies[0]->type == REDIS_REPLY_STATUS) {
      return;
    }
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                    "redis-server did not answer on port " << port_ << " within 10 s: "
                                                           << error << "; see " << dir_);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void RedisServer::Stop() {
  REQUIRE(pid_ > 0);
  kill(pid_, SIGKILL);
  Wait(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

RawRedis::RawRedis(const std::string& url) {
  Result<cache::RedisEndpoint> ep = cache::ParseRedisUrl(url);
  REQUIRE(ep.ok());
  std::string error;
  conn_ = cache::RedisConn::Open(*ep, std::chrono::seconds(5), {}, &error);
  REQUIRE_MESSAGE(conn_ != nullptr, "RawRedis: " << error);
}

std::string RawRedis::Run(const std::vector<std::string>& args) {
  cache::Command cmd(args.begin(), args.end());
  std::vector<cache::ReplyPtr> replies;
  std::string error;
  REQUIRE_MESSAGE(conn_->Run({cmd}, &replies, &error), "RawRedis: " << error);
  const redisReply* r = replies[0].get();
  switch (r->type) {
    case REDIS_REPLY_STRING: return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "(nil)";
    case REDIS_REPLY_ERROR: return "-" + std::string(r->str, r->len);
    case REDIS_REPLY_STATUS: return "+" + std::string(r->str, r->len);
    default: return "(array of " + std::to_string(r->elements) + ")";
  }
}

}  // namespace libshard::testing
