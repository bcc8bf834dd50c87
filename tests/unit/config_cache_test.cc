// The cache parts of the config: `caches:` servers and an entity's `cache:`
// (README "Caching"): values, defaults, every error with its location, and
// passwords never printed.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "config_internal.h"
#include "libshard/config.h"
#include "support/scoped_env.h"

namespace libshard {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kHead =
    "databases:\n"
    "  cat: \"sqlite3://db=cat.db\"\n"
    "  s0: \"sqlite3://db=s0.db\"\n"
    "catalog: cat\n"
    "shards: [s0]\n";

Result<ClusterConfig> ParseYaml(const std::string& tail) {
  return ClusterConfig::Parse(std::string(kHead) + tail, "test.yaml", "/base");
}

void ExpectError(const std::string& tail, std::string_view fragment) {
  Result<ClusterConfig> c = ParseYaml(tail);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidConfig);
  CHECK_MESSAGE(c.status().message().find(fragment) != std::string::npos,
                c.status().message());
  CHECK_MESSAGE(c.status().message().find("test.yaml:") != std::string::npos,
                c.status().message());
}

TEST_CASE("config cache: the issue's example parses; either tier alone; defaults") {
  Result<ClusterConfig> c = ParseYaml(
      "caches:\n"
      "  hot: \"redis://127.0.0.1:6379\"\n"
      "entities:\n"
      "  - name: users\n"
      "    cache: {memory: 64MiB, shared: hot, ttl: 60s}\n"
      "  - name: orders\n"
      "    cache: {shared: hot, ttl: 500ms}\n"
      "  - name: carts\n"
      "    cache: {memory: 4096, ttl: 2m, memory_ttl: 5s}\n"
      "  - name: plain\n");
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE(c->caches.size() == 1);
  CHECK(c->caches[0].name == "hot");
  CHECK(c->caches[0].url == "redis://127.0.0.1:6379");
  const EntityCacheConfig& users = c->FindEntity("users")->cache;
  CHECK(users.memory_bytes == 64ull << 20);
  CHECK(users.shared == "hot");
  CHECK(users.ttl == milliseconds(60000));
  CHECK(users.MemoryTtl() == milliseconds(60000));
  const EntityCacheConfig& orders = c->FindEntity("orders")->cache;
  CHECK(orders.memory_bytes == 0);
  CHECK(orders.ttl == milliseconds(500));
  const EntityCacheConfig& carts = c->FindEntity("carts")->cache;
  CHECK(carts.memory_bytes == 4096);
  CHECK(carts.shared.empty());
  CHECK(carts.ttl == milliseconds(120000));
  CHECK(carts.MemoryTtl() == milliseconds(5000));
  CHECK_FALSE(c->FindEntity("plain")->cache.enabled());
  CHECK(c->FindEntity("plain")->cache.ttl == milliseconds(60000));
}

TEST_CASE("config cache: sizes and durations") {
  uint64_t n = 0;
  CHECK(config_internal::ParseByteSize("64MiB", &n));
  CHECK(n == 64ull << 20);
  CHECK(config_internal::ParseByteSize("1 GiB", &n));
  CHECK(n == 1ull << 30);
  CHECK(config_internal::ParseByteSize("10KB", &n));
  CHECK(n == 10000);
  for (const char* bad : {"", "MiB", "64 mib", "-1", "1.5GiB", "64MiBs", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(config_internal::ParseByteSize(bad, &n));
  }
  milliseconds d{0};
  CHECK(config_internal::ParseDurationMs("250ms", &d));
  CHECK(d == milliseconds(250));
  CHECK(config_internal::ParseDurationMs("1h", &d));
  CHECK(d == milliseconds(3600000));
  for (const char* bad : {"", "60", "1d", "s", "1.5s", "-3s"}) {
    CAPTURE(bad);
    CHECK_FALSE(config_internal::ParseDurationMs(bad, &d));
  }
}

TEST_CASE("config cache: every mistake is one located InvalidConfig") {
  const std::string hot = "caches:\n  hot: \"redis://127.0.0.1:6379\"\n";
  ExpectError(hot + "entities:\n  - name: u\n    cache: {shared: cold}\n",
              "names shared server 'cold', which is not under caches:");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {ttl: 5s}\n",
              "needs 'memory', 'shared' or both");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {memory: lots}\n",
              "memory must be a size such as 64MiB");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {memory: 0}\n",
              "memory must be a size such as 64MiB");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {shared: hot, ttl: 60}\n",
              "ttl must be a duration such as 60s");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {shared: hot, ttl: 25h}\n",
              "ttl must be from 1ms to 24h");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {memory: 1MiB, ttl: 1s, memory_ttl: 2s}\n",
              "memory_ttl must be from 1ms to ttl");
  ExpectError(hot + "entities:\n  - name: u\n    cache: {shared: hot, tll: 5s}\n",
              "unknown cache key 'tll'");
  ExpectError("caches:\n  Hot: \"redis://127.0.0.1\"\n", "cache server name 'Hot'");
  ExpectError("caches:\n  hot: [1]\n", "the connection string must be a string");
  ExpectError("caches: [redis]\n", "caches must map names to connection strings");
  ExpectError("caches:\n  hot: \"memcached://127.0.0.1\"\n", "cache server 'hot'");
}

TEST_CASE("config cache: ${VAR} in a cache URL; the password is never printed") {
  testing::ScopedEnv pw("LS_TEST_CACHE_PW", "s3cr3t-pw");
  Result<ClusterConfig> ok =
      ParseYaml("caches:\n  hot: \"redis://:${LS_TEST_CACHE_PW}@127.0.0.1:6380/2\"\n");
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(ok->caches[0].url == "redis://:s3cr3t-pw@127.0.0.1:6380/2");
  CHECK(ok->caches[0].RedactedUrl().find("s3cr3t-pw") == std::string::npos);
  Result<ClusterConfig> bad =
      ParseYaml("caches:\n  hot: \"redis://:${LS_TEST_CACHE_PW}@127.0.0.1:99999\"\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("s3cr3t-pw") == std::string::npos);
  CHECK(bad.status().message().find("cache server 'hot'") != std::string::npos);
}

}  // namespace
}  // namespace libshard
