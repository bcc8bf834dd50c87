#include "support/fill_gate.h"

#include <doctest/doctest.h>

#include <chrono>

namespace libshard::testing {

FillGate::FillGate(cluster::FaultEnv& env) : env_(env) {
  env_.SetBeforeCacheFill([this](std::string_view) {
    std::unique_lock<std::mutex> lock(mu_);
    if (used_) return;
    used_ = true;
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  });
}

FillGate::~FillGate() {
  Release();
  env_.SetBeforeCacheFill(nullptr);
}

void FillGate::WaitUntilPaused() {
  std::unique_lock<std::mutex> lock(mu_);
  REQUIRE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return waiting_; }));
}

void FillGate::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  cv_.notify_all();
}

}  // namespace libshard::testing
