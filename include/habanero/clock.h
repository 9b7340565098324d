// Time as the host sees it. Injected everywhere time matters (token expiry,
// KV TTLs) so tests can control it.
#pragma once

#include <cstdint>

namespace habanero {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch. Thread-safe.
  virtual int64_t nowMs() const = 0;
};

// The real clock (CLOCK_REALTIME).
class SystemClock final : public Clock {
 public:
  int64_t nowMs() const override;
  static const SystemClock& instance();
};

}  // namespace habanero
