// CircuitBreaker: after a connection error, calls fail at once for a
// window (no connect attempt, so a dead cache server costs one connect
// timeout per window, not one per call); after the window ONE call probes
// the server while the others keep failing fast, and the probe's outcome
// closes the breaker or opens it for another window.
//
// Not thread-safe: the owner calls it under its own mutex. Time is passed
// in, so the state machine is tested without waiting.
#pragma once

#include <chrono>

namespace libshard::cache {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Admit {
    kGo,      // closed: call the server
    kProbe,   // the window is over: this call is the one probe
    kBypass,  // open (or another call is probing): do not call the server
  };

  explicit CircuitBreaker(std::chrono::milliseconds window) : window_(window) {}

  Admit TryAdmit(Clock::time_point now) {
    if (!tripped_) return Admit::kGo;
    if (now < open_until_ || probing_) return Admit::kBypass;
    probing_ = true;
    return Admit::kProbe;
  }
  // A connection error, a timeout, or a failed connect (by any call).
  void Failed(Clock::time_point now) {
    tripped_ = true;
    probing_ = false;
    open_until_ = now + window_;
  }
  // The server answered (even with an error reply): closed again.
  void Succeeded() { tripped_ = probing_ = false; }

  // Open now: calls would be bypassed (the window runs, or a probe is out).
  bool open(Clock::time_point now) const { return tripped_ && (now < open_until_ || probing_); }

 private:
  std::chrono::milliseconds window_;
  Clock::time_point open_until_{};
  bool tripped_ = false;
  bool probing_ = false;
};

}  // namespace libshard::cache
