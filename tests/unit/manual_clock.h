// A clock tests move by hand. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "habanero/clock.h"

namespace habanero::testing {

class ManualClock final : public Clock {
 public:
  int64_t nowMs() const override { return now_ms_.load(); }
  void advance(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
};

}  // namespace habanero::testing
