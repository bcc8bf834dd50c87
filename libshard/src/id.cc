#include "libshard/id.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>

namespace libshard::ids {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// 0..15 for a hex digit of either case, -1 otherwise.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quotes user input for an error message without echoing megabytes.
std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  if (text.size() <= kMaxShown) return "\"" + std::string(text) + "\"";
  return "\"" + std::string(text.substr(0, kMaxShown)) + "...\"";
}

// Decodes pairs of hex digits (hex.size() must be even); false on a
// non-hex character.
bool DecodeHexDigits(std::string_view hex, std::string* out) {
  out->clear();
  out->reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

// --- UUIDv7 generator state ----------------------------------------------
//
// Ordering comes from (unix_ms, 12-bit counter in rand_a), assigned under one
// process-wide mutex, so IDs are strictly increasing in the order the lock
// is taken, whatever the thread. rand_b (62 bits) is drawn outside the lock
// from a per-thread generator and only adds uniqueness across processes.

constexpr uint32_t kCounterMax = 0xFFF;  // rand_a is 12 bits
// A fresh millisecond seeds the counter with 11 random bits, leaving at
// least 2048 increments before it spills into the timestamp.
constexpr uint32_t kCounterSeedMask = 0x7FF;
constexpr uint64_t kTimestampMask = (uint64_t{1} << 48) - 1;

struct V7Clock {
  std::mutex mu;
  uint64_t last_ms = 0;
  uint32_t last_counter = 0;
};

V7Clock g_clock;
// Bumped in a forked child so every thread-local generator reseeds: a child
// that kept its parent's random state would repeat the parent's IDs.
std::atomic<uint64_t> g_fork_generation{0};

// Keeps the generator usable across fork(): the mutex is held over the
// fork so the child never inherits it locked by a thread that no longer
// exists there.
void RegisterForkHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork([] { g_clock.mu.lock(); }, [] { g_clock.mu.unlock(); },
                   [] {
                     g_clock.mu.unlock();
                     g_fork_generation.fetch_add(1, std::memory_order_relaxed);
                   });
  });
}

std::mt19937_64 NewSeededGenerator() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device(),
                     device(), device(), device(), device()};
  return std::mt19937_64(seed);
}

std::mt19937_64& ThreadGenerator() {
  thread_local std::mt19937_64 generator = NewSeededGenerator();
  thread_local uint64_t generation = g_fork_generation.load();
  const uint64_t current = g_fork_generation.load(std::memory_order_relaxed);
  if (generation != current) {
    generator = NewSeededGenerator();
    generation = current;
  }
  return generator;
}

uint64_t UnixMillis() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  const auto ms =
      duration_cast<milliseconds>(system_clock::now().time_since_epoch())
          .count();
  return ms < 0 ? 0 : static_cast<uint64_t>(ms);
}

// Picks the next (ms, counter) pair, strictly greater than the previous one
// even when the wall clock stands still or steps back.
void NextTimestamp(uint32_t counter_seed, uint64_t* ms, uint32_t* counter) {
  std::lock_guard<std::mutex> lock(g_clock.mu);
  const uint64_t now = UnixMillis() & kTimestampMask;
  if (now > g_clock.last_ms) {
    *ms = now;
    *counter = counter_seed;
  } else if (g_clock.last_counter < kCounterMax) {
    *ms = g_clock.last_ms;
    *counter = g_clock.last_counter + 1;
  } else {
    // Counter exhausted: borrow the next millisecond (RFC 9562 §6.2).
    *ms = g_clock.last_ms + 1;
    *counter = counter_seed;
  }
  g_clock.last_ms = *ms;
  g_clock.last_counter = *counter;
}

}  // namespace

Id FromU64(uint64_t v) {
  Id id(8, '\0');
  for (int i = 7; i >= 0; --i) {
    id[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return id;
}

Result<uint64_t> ToU64(std::string_view id) {
  if (id.size() != 8) {
    return Status::InvalidArgument("a u64 id is 8 bytes, got " +
                                   std::to_string(id.size()));
  }
  uint64_t v = 0;
  for (char c : id) v = v << 8 | static_cast<uint8_t>(c);
  return v;
}

Id FromUuid(const Uuid& uuid) {
  return Id(reinterpret_cast<const char*>(uuid.data()), uuid.size());
}

Result<Id> ParseUuid(std::string_view text) {
  std::string digits;
  if (text.size() == 36) {
    // Canonical 8-4-4-4-12: hyphens exactly at these offsets.
    for (std::size_t pos : {8, 13, 18, 23}) {
      if (text[pos] != '-') {
        return Status::InvalidArgument("invalid UUID " + Quote(text) +
                                       ": expected '-' at offset " +
                                       std::to_string(pos));
      }
    }
    digits.reserve(32);
    for (char c : text) {
      if (c != '-') digits += c;
    }
  } else if (text.size() == 32) {
    digits.assign(text);
  } else {
    return Status::InvalidArgument(
        "invalid UUID " + Quote(text) +
        ": expected 32 hex digits, optionally hyphenated 8-4-4-4-12");
  }
  Id id;
  if (!DecodeHexDigits(digits, &id)) {
    return Status::InvalidArgument("invalid UUID " + Quote(text) +
                                   ": contains a non-hex character");
  }
  return id;
}

Result<std::string> FormatUuid(std::string_view id) {
  if (id.size() != 16) {
    return Status::InvalidArgument("a UUID id is 16 bytes, got " +
                                   std::to_string(id.size()));
  }
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    const auto b = static_cast<uint8_t>(id[i]);
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xF];
  }
  return out;
}

Id NewUuidV7() {
  RegisterForkHandlers();
  std::mt19937_64& generator = ThreadGenerator();
  const uint64_t rand_b = generator();
  const auto counter_seed =
      static_cast<uint32_t>(generator() & kCounterSeedMask);

  uint64_t ms = 0;
  uint32_t counter = 0;
  NextTimestamp(counter_seed, &ms, &counter);

  Uuid uuid;
  for (int i = 0; i < 6; ++i) {
    uuid[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  }
  uuid[6] = static_cast<uint8_t>(0x70 | (counter >> 8));  // version 7
  uuid[7] = static_cast<uint8_t>(counter);
  uuid[8] = static_cast<uint8_t>(0x80 | ((rand_b >> 56) & 0x3F));  // variant 10
  for (int i = 9; i < 16; ++i) {
    uuid[i] = static_cast<uint8_t>(rand_b >> (8 * (15 - i)));
  }
  return FromUuid(uuid);
}

std::string ToHex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xF];
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument("hex string " + Quote(hex) +
                                   " has an odd number of digits");
  }
  std::string out;
  if (!DecodeHexDigits(hex, &out)) {
    return Status::InvalidArgument("hex string " + Quote(hex) +
                                   " contains a non-hex character");
  }
  return out;
}

}  // namespace libshard::ids
