// Tests for cache/breaker.h: the circuit breaker's states, on a fake clock.

#include "cache/breaker.h"

#include <doctest/doctest.h>

namespace libshard::cache {
namespace {

using namespace std::chrono_literals;
using Admit = CircuitBreaker::Admit;

TEST_SUITE("circuit breaker") {
  TEST_CASE("closed until a failure, open for the window, then one probe") {
    CircuitBreaker b(2000ms);
    const auto t0 = CircuitBreaker::Clock::time_point{} + 1h;
    CHECK(b.TryAdmit(t0) == Admit::kGo);
    CHECK(!b.open(t0));
    b.Failed(t0);
    CHECK(b.open(t0));
    CHECK(b.TryAdmit(t0) == Admit::kBypass);
    CHECK(b.TryAdmit(t0 + 1999ms) == Admit::kBypass);
    CHECK(b.TryAdmit(t0 + 2000ms) == Admit::kProbe);
    // While the probe is out, every other call is still bypassed.
    CHECK(b.TryAdmit(t0 + 2001ms) == Admit::kBypass);
    CHECK(b.open(t0 + 2001ms));
    b.Succeeded();
    CHECK(!b.open(t0 + 2001ms));
    CHECK(b.TryAdmit(t0 + 2001ms) == Admit::kGo);
  }

  TEST_CASE("a failed probe opens a new window from its failure") {
    CircuitBreaker b(100ms);
    const auto t0 = CircuitBreaker::Clock::time_point{} + 1h;
    b.Failed(t0);
    REQUIRE(b.TryAdmit(t0 + 150ms) == Admit::kProbe);
    b.Failed(t0 + 400ms);  // the probe's connect timed out
    CHECK(b.TryAdmit(t0 + 450ms) == Admit::kBypass);
    CHECK(b.TryAdmit(t0 + 500ms) == Admit::kProbe);
  }
}

}  // namespace
}  // namespace libshard::cache
