#include "auth/throttle.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace habanero::auth {
namespace {

ThrottleOptions sane(ThrottleOptions o) {
  o.refill_ms = std::max<int64_t>(o.refill_ms, 1);
  o.max_keys = std::max<size_t>(o.max_keys, 1);
  return o;
}

}  // namespace

Throttle::Throttle(const Clock& clock, ThrottleOptions options)
    : clock_(clock), options_(sane(options)) {}

Throttle::Bucket* Throttle::refill(std::string_view key, int64_t now) {
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return nullptr;
  Bucket& b = it->second;
  int64_t earned = std::max<int64_t>(now - b.refilled_ms, 0) / options_.refill_ms;
  if (b.tokens + earned >= options_.burst) {
    buckets_.erase(it);  // full again: no need to remember it
    return nullptr;
  }
  b.tokens += static_cast<uint32_t>(earned);
  b.refilled_ms += earned * options_.refill_ms;
  return &b;
}

int64_t Throttle::waitMs(const Bucket& b, int64_t now) const {
  if (b.tokens > 0) return 0;
  return std::max<int64_t>(b.refilled_ms + options_.refill_ms - now, 1);
}

int64_t Throttle::retryAfterMs(std::string_view key) {
  if (options_.burst == 0) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = clock_.nowMs();
  Bucket* b = refill(key, now);
  return b == nullptr ? 0 : waitMs(*b, now);
}

int64_t Throttle::take(std::string_view key) {
  if (options_.burst == 0) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = clock_.nowMs();
  Bucket* b = refill(key, now);
  if (b == nullptr) {
    if (buckets_.size() >= options_.max_keys) {
      std::erase_if(buckets_, [&](const auto& e) {
        return e.second.tokens + std::max<int64_t>(now - e.second.refilled_ms, 0) /
                                     options_.refill_ms >=
               options_.burst;
      });
      if (buckets_.size() >= options_.max_keys) {
        spdlog::warn("throttle: more than {} keys failing at once; forgetting them all",
                     options_.max_keys);
        buckets_.clear();
      }
    }
    b = &buckets_[std::string(key)];
    b->tokens = options_.burst;
    b->refilled_ms = now;
  }
  if (int64_t wait = waitMs(*b, now); wait > 0) return wait;
  --b->tokens;
  return 0;
}

void Throttle::refund(std::string_view key) {
  if (options_.burst == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return;  // full (or forgotten) already
  if (++it->second.tokens >= options_.burst) buckets_.erase(it);
}

}  // namespace habanero::auth
