// Redis for the shared cache tier's tests.
//
// RedisServer: a throwaway redis-server the test owns, on a free port of
// 127.0.0.1, so it can stop and restart it (the server that
// scripts/servers.sh starts is shared by every test and never stopped).
// The binary is $LIBSHARD_REDIS_SERVER (env.sh sets it).
//
// RawRedis: a plain connection to look behind the tier (EXISTS, PTTL, SET,
// SCRIPT FLUSH…), built on the tier's own RedisConn.
//
// ServerTestsRequired / CacheUrlFromEnv: the convention of the tests that
// need a server inside the unit binary: without LIBSHARD_CACHE_URL they
// are skipped with a message, unless LIBSHARD_REQUIRE_SERVERS=1 (set by
// CMake when LIBSHARD_SERVER_TESTS=ON, as scripts/test.sh builds), where a
// missing server fails the test.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/redis_conn.h"

namespace libshard::testing {

bool ServerTestsRequired();
// $LIBSHARD_CACHE_URL; nullopt (after a MESSAGE, or a FAIL when servers
// are required) when unset.
std::optional<std::string> CacheUrlFromEnv();
// $LIBSHARD_REDIS_SERVER, same convention.
std::optional<std::string> RedisServerBinary();

class RedisServer {
 public:
  // Starts `binary` with `password` ("" = none) on a free port.
  RedisServer(std::string binary, std::string password);
  ~RedisServer();  // kills it
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void Start();  // again on the same port, after Stop (fresh, empty data)
  void Stop();   // SIGKILL, as a crash or a pulled cable would
  int port() const { return port_; }
  // redis://:password@127.0.0.1:port/0
  std::string url() const;

 private:
  std::string binary_;
  std::string password_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class RawRedis {
 public:
  explicit RawRedis(const std::string& url);
  // One command; the reply as text: a string as is, an integer in decimal,
  // nil as "(nil)", an error as "-" + its text, status as "+" + it.
  std::string Run(const std::vector<std::string>& args);

 private:
  std::unique_ptr<cache::RedisConn> conn_;
};

}  // namespace libshard::testing
