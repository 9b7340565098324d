// Throttling of failed attempts (issue 16): a token bucket per key, e.g. one
// per client id (and, in a second Throttle, one per source address) for client
// authentication.
//
// A bucket holds up to `burst` tokens and starts full. A try takes a token
// before the expensive check (an Argon2id run) and gives it back if the check
// succeeds, so only failures cost tokens and concurrent tries cannot overshoot
// the bucket; one token comes back every `refill_ms`. While a bucket is empty,
// tries under its key are refused at once and the answer says when the next
// token arrives.
//
//   Throttle throttle(clock, {.burst = 10, .refill_ms = 6000});
//   if (int64_t wait = throttle.take(key); wait > 0) return refuse(wait);
//   if (check()) throttle.refund(key);  // a failure keeps its token taken
//
// Memory is bounded (`max_keys`): a full table first forgets buckets that have
// refilled, then, under a flood of distinct keys, all of them (a reset favours
// availability over remembering every address). State is per process.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "habanero/clock.h"

namespace habanero::auth {

struct ThrottleOptions {
  uint32_t burst = 10;       // failures allowed at once (0 = throttle nothing)
  int64_t refill_ms = 6000;  // one more failure allowed per this long
  size_t max_keys = 100'000;
};

class Throttle {
 public:
  // `clock` must outlive the Throttle.
  explicit Throttle(const Clock& clock, ThrottleOptions options = {});

  // Takes a token for a try under `key`: 0 if it was taken (go ahead), else
  // how many ms until the bucket has one again (> 0; nothing was taken).
  int64_t take(std::string_view key);

  // Gives back a token take() took (the try succeeded, or was not judged).
  void refund(std::string_view key);

  // What take() would answer, taking nothing.
  int64_t retryAfterMs(std::string_view key);

 private:
  struct Bucket {
    uint32_t tokens = 0;
    int64_t refilled_ms = 0;  // when `tokens` was last brought up to date
  };
  // The bucket of `key` brought up to now; nullptr if it is full (not stored).
  Bucket* refill(std::string_view key, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t waitMs(const Bucket& b, int64_t now) const;

  const Clock& clock_;
  const ThrottleOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace habanero::auth
