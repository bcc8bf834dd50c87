// Tests for libshard/id.h and libshard/status.h.

#include "libshard/id.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "libshard/status.h"

namespace libshard {
namespace {

uint64_t NowMillis() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch())
          .count());
}

uint64_t TimestampOf(const Id& id) {
  uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | static_cast<uint8_t>(id[i]);
  return ms;
}

TEST_SUITE("status") {
  TEST_CASE("ToString names the code and the message") {
    CHECK(Status::OK().ToString() == "OK");
    CHECK(Status::NotFound("users/42 does not exist").ToString() ==
          "not found: users/42 does not exist");
    CHECK(Status::VersionConflict("v3").ToString() == "version conflict: v3");
    CHECK(Status::Corruption("").ToString() == "corruption");
  }

  TEST_CASE("every code has a distinct name") {
    std::set<std::string> names;
    for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
      names.insert(CodeName(static_cast<Code>(c)));
    }
    CHECK(names.size() == 9);
    CHECK(std::string(CodeName(Code::kInvalidArgument)) == "invalid argument");
  }

  TEST_CASE("Result holds a value or an error") {
    Result<int> good = 7;
    REQUIRE(good.ok());
    CHECK(*good == 7);
    CHECK(good.status().ok());
    Result<int> bad = Status::Unavailable("s1 down");
    CHECK_FALSE(bad.ok());
    CHECK(bad.status().IsUnavailable());
    CHECK(Status::UniqueViolation("x").IsConflict());
    CHECK(Status::VersionConflict("x").IsConflict());
  }
}

TEST_SUITE("ids") {
  TEST_CASE("FromU64 is 8 big-endian bytes and round-trips") {
    CHECK(ids::FromU64(0x0102030405060708) ==
          std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256},
                       std::numeric_limits<uint64_t>::max()}) {
      Result<uint64_t> back = ids::ToU64(ids::FromU64(v));
      REQUIRE(back.ok());
      CHECK(*back == v);
    }
  }

  TEST_CASE("FromU64 byte order equals numeric order") {
    std::mt19937_64 rng(42);
    for (int i = 0; i < 10000; ++i) {
      // Mix full-range values with small ones, where lengths of decimal
      // text would sort wrongly.
      uint64_t a = i % 2 ? rng() : rng() % 1000;
      uint64_t b = i % 3 ? rng() : rng() % 1000;
      CHECK((a < b) == (ids::FromU64(a) < ids::FromU64(b)));
    }
  }

  TEST_CASE("ToU64 rejects ids that are not 8 bytes") {
    CHECK(ids::ToU64("1234567").status().code() == Code::kInvalidArgument);
    CHECK(ids::ToU64("123456789").status().code() == Code::kInvalidArgument);
    CHECK(ids::ToU64("").status().code() == Code::kInvalidArgument);
  }

  TEST_CASE("ParseUuid accepts hyphenated or plain, any case") {
    const std::string canonical = "0190a0c2-7b1e-7c3d-8e4f-0123456789ab";
    Result<Id> a = ids::ParseUuid(canonical);
    Result<Id> b = ids::ParseUuid("0190A0C27B1E7C3D8E4F0123456789AB");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->size() == 16);
    CHECK(*a == *b);
    CHECK(static_cast<uint8_t>((*a)[0]) == 0x01);
    CHECK(static_cast<uint8_t>((*a)[15]) == 0xab);
    Result<std::string> text = ids::FormatUuid(*b);
    REQUIRE(text.ok());
    CHECK(*text == canonical);
  }

  TEST_CASE("ParseUuid rejects malformed text") {
    for (const char* bad : {
             "",
             "0190a0c2-7b1e-7c3d-8e4f-0123456789a",    // 35 chars
             "0190a0c2-7b1e-7c3d-8e4f-0123456789abc",  // 37 chars
             "0190a0c27b1e7c3d8e4f0123456789a",        // 31 digits
             "0190a0c27b1e7c3d8e4f0123456789abc",      // 33 digits
             "0190a0c2-7b1e-7c3d-8e4f-0123456789ag",   // non-hex
             "0190a0c27b1e7c3d8e4f0123456789a-",       // hyphen as a digit
             "0190a0c2a7b1e-7c3d-8e4f-0123456789a",    // misplaced hyphen
             "{0190a0c2-7b1e-7c3d-8e4f-0123456789}",   // braces
         }) {
      CAPTURE(bad);
      Result<Id> id = ids::ParseUuid(bad);
      CHECK(id.status().code() == Code::kInvalidArgument);
    }
  }

  TEST_CASE("FormatUuid needs exactly 16 bytes") {
    CHECK(ids::FormatUuid(std::string(15, 'x')).status().code() ==
          Code::kInvalidArgument);
    CHECK(ids::FormatUuid(std::string(17, 'x')).status().code() ==
          Code::kInvalidArgument);
    ids::Uuid zero{};
    CHECK(*ids::FormatUuid(ids::FromUuid(zero)) ==
          "00000000-0000-0000-0000-000000000000");
  }

  TEST_CASE("ToHex and FromHex round-trip any bytes") {
    const std::string bytes("\x00\x01\x7f\x80\xff", 5);
    CHECK(ids::ToHex(bytes) == "00017f80ff");
    CHECK(*ids::FromHex("00017F80ff") == bytes);
    CHECK(ids::FromHex("").ok());
    CHECK(ids::FromHex("abc").status().code() == Code::kInvalidArgument);
    CHECK(ids::FromHex("zz").status().code() == Code::kInvalidArgument);
  }

  TEST_CASE("NewUuidV7 has version 7, variant 10 and the current time") {
    const uint64_t before = NowMillis();
    const Id id = ids::NewUuidV7();
    const uint64_t after = NowMillis();
    REQUIRE(id.size() == 16);
    CHECK((static_cast<uint8_t>(id[6]) >> 4) == 7);
    CHECK((static_cast<uint8_t>(id[8]) >> 6) == 0b10);
    // The counter may borrow a few milliseconds ahead under heavy load.
    CHECK(TimestampOf(id) >= before);
    CHECK(TimestampOf(id) <= after + 1000);
    CHECK(ids::FormatUuid(id)->at(14) == '7');
  }

  TEST_CASE("NewUuidV7 is strictly increasing in one thread") {
    Id previous = ids::NewUuidV7();
    for (int i = 0; i < 100000; ++i) {
      Id next = ids::NewUuidV7();
      REQUIRE(previous < next);
      previous = std::move(next);
    }
  }

  TEST_CASE("NewUuidV7 is unique and per-thread increasing across threads") {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 10000;
    std::vector<std::vector<Id>> made(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&made, t] {
        made[t].reserve(kPerThread);
        for (int i = 0; i < kPerThread; ++i) {
          made[t].push_back(ids::NewUuidV7());
        }
      });
    }
    for (auto& thread : threads) thread.join();

    std::set<Id> all;
    for (const auto& sequence : made) {
      CHECK(std::is_sorted(sequence.begin(), sequence.end()));
      CHECK(std::adjacent_find(sequence.begin(), sequence.end()) ==
            sequence.end());
      all.insert(sequence.begin(), sequence.end());
    }
    CHECK(all.size() == static_cast<std::size_t>(kThreads * kPerThread));
    // The guarantee is process-wide: an id made after all threads finished
    // sorts after every one of theirs.
    CHECK(*all.rbegin() < ids::NewUuidV7());
  }

  TEST_CASE("NewUuidV7 in a forked child does not repeat the parent") {
    ids::NewUuidV7();  // make sure this thread's generator exists pre-fork
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const Id id = ids::NewUuidV7();
      const bool written = write(fds[1], id.data(), id.size()) == 16;
      _exit(written ? 0 : 1);
    }
    const Id parent_id = ids::NewUuidV7();
    std::string child_id(16, '\0');
    const ssize_t n = read(fds[0], child_id.data(), child_id.size());
    int wait_status = 0;
    waitpid(pid, &wait_status, 0);
    close(fds[0]);
    close(fds[1]);
    REQUIRE(n == 16);
    // The random tail (bytes 8..15) must differ even if the timestamp and
    // counter happen to coincide.
    CHECK(parent_id.substr(8) != child_id.substr(8));
  }
}

}  // namespace
}  // namespace libshard
