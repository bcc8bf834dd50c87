#include "bench/data.h"

#include <cstdio>

namespace bench {
namespace {

uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                        "golf", "hotel", "india", "juliet", "kilo", "lima"};
const char* kCountries[] = {"DE", "FR", "GB", "US", "JP", "BR", "IN", "NG"};

}  // namespace

uint64_t Rng::Next() {
  s_ += 0x9e3779b97f4a7c15ULL;
  return Mix(s_);
}

libshard::Id MakeId(uint64_t stream, uint64_t i) {
  // Bijective in i for a fixed stream (Mix is a bijection), so no collisions.
  uint64_t hi = Mix(stream * 0x100000001b3ULL + 0x51ed);
  uint64_t lo = Mix(i ^ (stream << 40));
  return libshard::ids::FromU64(hi) + libshard::ids::FromU64(lo);
}

std::vector<libshard::Id> MakeIds(uint64_t stream, size_t n) {
  std::vector<libshard::Id> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(MakeId(stream, i));
  return out;
}

std::string CityName(uint64_t c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "city-%06llu", static_cast<unsigned long long>(c));
  return buf;
}

libshard::Document MakeDoc(uint64_t i, size_t cities) {
  using libshard::Document;
  uint64_t r = Mix(i * 7919 + 17);
  char name[48], email[48], bio[96];
  std::snprintf(name, sizeof name, "User %08llu %s", static_cast<unsigned long long>(i),
                kWords[r % 12]);
  std::snprintf(email, sizeof email, "user%08llu@example.com", static_cast<unsigned long long>(i));
  std::snprintf(bio, sizeof bio,
                "Writes about %s and %s; joined via %s. Record %llu of the benchmark set.",
                kWords[(r >> 8) % 12], kWords[(r >> 16) % 12], kWords[(r >> 24) % 12],
                static_cast<unsigned long long>(i));
  Document d = Document::MakeObject({
      {"name", name},
      {"email", email},
      {"city", CityName(i % (cities ? cities : 1))},
      {"age", static_cast<int64_t>(18 + r % 70)},
      {"created", kCreatedBase + static_cast<int64_t>(i) * kCreatedStep},
      {"score", static_cast<double>(r % 100000) / 100.0},
      {"active", (r & 1) != 0},
      {"tags", Document::MakeArray({kWords[(r >> 32) % 12], kWords[(r >> 40) % 12]})},
      {"bio", bio},
      {"country", kCountries[(r >> 48) % 8]},
  });
  return d;
}

}  // namespace bench
