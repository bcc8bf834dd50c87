// Tests for cache/redis_url.h: what is accepted, what is refused, and that
// no refusal quotes the password.

#include "cache/redis_url.h"

#include <doctest/doctest.h>

#include <string>

namespace libshard::cache {
namespace {

RedisEndpoint Parse(std::string_view url) {
  Result<RedisEndpoint> r = ParseRedisUrl(url);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

// Refused as kInvalidConfig; returns the message.
std::string Refused(std::string_view url) {
  Result<RedisEndpoint> r = ParseRedisUrl(url);
  REQUIRE_MESSAGE(!r.ok(), "accepted: " << url);
  CHECK(r.status().code() == Code::kInvalidConfig);
  return r.status().message();
}

TEST_SUITE("redis url") {
  TEST_CASE("host alone gets the default port and database, no AUTH") {
    RedisEndpoint ep = Parse("redis://cache.example.com");
    CHECK(ep.host == "cache.example.com");
    CHECK(ep.port == 6379);
    CHECK(ep.db == 0);
    CHECK(ep.user.empty());
    CHECK(ep.password.empty());
  }

  TEST_CASE("password, port and database") {
    RedisEndpoint ep = Parse("redis://:s3cret@127.0.0.1:56379/7");
    CHECK(ep.host == "127.0.0.1");
    CHECK(ep.port == 56379);
    CHECK(ep.db == 7);
    CHECK(ep.user.empty());
    CHECK(ep.password == "s3cret");
  }

  TEST_CASE("an ACL user with its password") {
    RedisEndpoint ep = Parse("redis://app:pw@h:1/15");
    CHECK(ep.user == "app");
    CHECK(ep.password == "pw");
    CHECK(ep.port == 1);
    CHECK(ep.db == 15);
  }

  TEST_CASE("an IPv6 host in brackets, with and without a port") {
    RedisEndpoint ep = Parse("redis://[::1]:6380/2");
    CHECK(ep.host == "::1");
    CHECK(ep.port == 6380);
    CHECK(ep.db == 2);
    CHECK(Parse("redis://[fe80::1:2]").host == "fe80::1:2");
    CHECK(Parse("redis://[::ffff:127.0.0.1]").host == "::ffff:127.0.0.1");
  }

  TEST_CASE("percent-encoded and raw special characters in the password") {
    CHECK(Parse("redis://:p%40ss%2Fw%3ad@h").password == "p@ss/w:d");
    // The userinfo ends at the last '@', so a raw '@', '/' or '?' is kept.
    CHECK(Parse("redis://:a@b/c?d@h:7/1").password == "a@b/c?d");
    CHECK(Parse("redis://:a@b/c?d@h:7/1").port == 7);
    CHECK(Parse("redis://u%20x:pw@h").user == "u x");
    CHECK(Parse("redis://:%00z@h").password == std::string("\0z", 2));
  }

  TEST_CASE("port and database limits") {
    CHECK(Parse("redis://h:65535").port == 65535);
    CHECK(Parse("redis://h/0").db == 0);
    Refused("redis://h:0");
    Refused("redis://h:65536");
    Refused("redis://h:999999");
    Refused("redis://h:");
    Refused("redis://h:+80");
    Refused("redis://h:80x");
    Refused("redis://h/16");
    Refused("redis://h/-1");
    Refused("redis://h/");
    Refused("redis://h/1/2");
    Refused("redis://h/ 1");
    Refused("redis://h/007");
  }

  TEST_CASE("anything but the grammar is refused") {
    Refused("");
    Refused("redis:/h");
    Refused("rediss://h");          // TLS is not supported
    Refused("REDIS://h");
    Refused("memcached://h:11211");
    Refused("redis://");
    Refused("redis://:6379");
    Refused("redis://h?db=1");
    Refused("redis://h/1?timeout=5");
    Refused("redis://h#x");
    Refused("redis://h h");
    Refused("redis://[::1");
    Refused("redis://[]:1");
    Refused("redis://[zz::1]");
    Refused("redis://[::1]x");
    Refused("redis://user@h");      // a user without ':' and a password
    Refused("redis://user:@h");     // an empty password
    Refused("redis://:@h");
    Refused("redis://:p%4@h");      // a bad escape
    Refused("redis://:p%zz@h");
  }

  TEST_CASE("no refusal quotes the password") {
    const std::string pw = "Hunter2Secret";
    for (std::string url : {"redis://:" + pw + "@h:99999", "redis://:" + pw + "@h/99",
                            "redis://:" + pw + "@h?x=1", "redis://:" + pw + "%zz@h",
                            "redis://:" + pw,  // the '@' forgotten: the password is the port
                            "redis://u" + pw + "@h", "redis://:" + pw + "@[::1",
                            "redis://:" + pw + "@h:1/1/" + pw}) {
      std::string msg = Refused(url);
      CHECK_MESSAGE(msg.find(pw) == std::string::npos, msg);
      CHECK_MESSAGE(msg.find("Hunter") == std::string::npos, msg);
      CHECK(!msg.empty());
    }
  }
}

}  // namespace
}  // namespace libshard::cache
