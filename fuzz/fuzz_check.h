// Helpers shared by the libFuzzer targets.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "libshard/document.h"

// A property that must hold for every input. Aborting (rather than
// returning) makes libFuzzer save the input as a crash and stop.
#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace libshard_fuzz {

// NaN != NaN, so a document holding one never compares equal to its own
// round trip; such documents are compared by their encoding instead.
inline bool HasNaN(const libshard::Document& d) {
  switch (d.type()) {
    case libshard::Document::Type::kDouble: return std::isnan(d.as_double());
    case libshard::Document::Type::kArray:
      for (const libshard::Document& item : d.as_array()) {
        if (HasNaN(item)) return true;
      }
      return false;
    case libshard::Document::Type::kObject:
      for (const auto& member : d.as_object()) {
        if (HasNaN(member.second)) return true;
      }
      return false;
    default: return false;
  }
}

}  // namespace libshard_fuzz
