#include "bench/callgrind.h"

#include <cstdio>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND 1
#else
#define BENCH_HAVE_CALLGRIND 0
#endif

namespace bench {
namespace {
std::string g_label = "unnamed";
}  // namespace

void CallgrindSide(const std::string& label) { g_label = label; }

void CallgrindBegin() {
#if BENCH_HAVE_CALLGRIND
  if (RUNNING_ON_VALGRIND) CALLGRIND_ZERO_STATS;
#endif
}

void CallgrindEnd(double units) {
#if BENCH_HAVE_CALLGRIND
  if (RUNNING_ON_VALGRIND) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s units=%.0f", g_label.c_str(), units);
    CALLGRIND_DUMP_STATS_AT(buf);
  }
#else
  (void)units;
#endif
}

}  // namespace bench
