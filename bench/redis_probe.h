// RedisProbe: the bare network round trip to the shared cache server
// (PING on one hiredis connection), so a shared-tier row can say how much
// of a hit is the round trip itself — what an uncached get on a server
// database also pays once (issue 10: "where a target is missed, measure
// why").
#pragma once

#include <memory>
#include <string>

namespace bench {

class RedisProbe {
 public:
  // Null (with *why set, never the password) when it cannot connect.
  static std::unique_ptr<RedisProbe> Connect(const std::string& url, std::string* why);
  ~RedisProbe();
  // Median of `n` PING round trips, in milliseconds; < 0 on an error.
  double MedianRoundTripMs(int n);
  // Deletes every key matching the SCAN pattern; false on an error.
  bool DeleteMatching(const std::string& pattern);

 private:
  RedisProbe() = default;
  void* context_ = nullptr;  // redisContext (hiredis stays out of headers)
};

}  // namespace bench
