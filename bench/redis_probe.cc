#include "bench/redis_probe.h"

#include <hiredis.h>

#include <chrono>
#include <vector>

#include "bench/stats.h"
#include "cache/redis_url.h"

namespace bench {

std::unique_ptr<RedisProbe> RedisProbe::Connect(const std::string& url, std::string* why) {
  auto endpoint = libshard::cache::ParseRedisUrl(url);
  if (!endpoint.ok() || endpoint->host.empty()) {
    *why = endpoint.ok() ? "no host in the cache URL" : endpoint.status().message();
    return nullptr;
  }
  const timeval timeout{1, 0};
  redisContext* c = redisConnectWithTimeout(endpoint->host.c_str(), endpoint->port, timeout);
  if (c == nullptr || c->err) {
    *why = c ? std::string("cannot connect: ") + c->errstr : "cannot connect";
    if (c) redisFree(c);
    return nullptr;
  }
  std::unique_ptr<RedisProbe> probe(new RedisProbe);
  probe->context_ = c;
  if (!endpoint->password.empty()) {
    redisReply* reply =
        endpoint->user.empty()
            ? static_cast<redisReply*>(redisCommand(c, "AUTH %s", endpoint->password.c_str()))
            : static_cast<redisReply*>(redisCommand(c, "AUTH %s %s", endpoint->user.c_str(),
                                                    endpoint->password.c_str()));
    const bool ok = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
    if (reply) freeReplyObject(reply);
    if (!ok) {
      *why = "AUTH refused";
      return nullptr;
    }
  }
  return probe;
}

RedisProbe::~RedisProbe() {
  if (context_) redisFree(static_cast<redisContext*>(context_));
}

double RedisProbe::MedianRoundTripMs(int n) {
  auto* c = static_cast<redisContext*>(context_);
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    const auto t1 = std::chrono::steady_clock::now();
    if (reply == nullptr) return -1;
    freeReplyObject(reply);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return Median(ms);
}

bool RedisProbe::DeleteMatching(const std::string& pattern) {
  auto* c = static_cast<redisContext*>(context_);
  std::string cursor = "0";
  do {
    auto* reply = static_cast<redisReply*>(
        redisCommand(c, "SCAN %s MATCH %b COUNT 1000", cursor.c_str(), pattern.data(), pattern.size()));
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      if (reply) freeReplyObject(reply);
      return false;
    }
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    const redisReply* keys = reply->element[1];
    if (keys->elements > 0) {
      std::vector<const char*> argv{"UNLINK"};
      std::vector<size_t> lens{6};
      for (size_t i = 0; i < keys->elements; ++i) {
        argv.push_back(keys->element[i]->str);
        lens.push_back(keys->element[i]->len);
      }
      auto* del = static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
      const bool ok = del != nullptr && del->type == REDIS_REPLY_INTEGER;
      if (del) freeReplyObject(del);
      if (!ok) {
        freeReplyObject(reply);
        return false;
      }
    }
    freeReplyObject(reply);
  } while (cursor != "0");
  return true;
}

}  // namespace bench
