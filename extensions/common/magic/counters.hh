// counters.hh — fixed-window counters in the extension's kv, for rate limits and wrong-code
// limits. A counter is "<count> <window start ms>" under its key, expiring with its window,
// updated by compare-and-set so concurrent requests never lose a count.
//
//   Counter c;
//   if (readCounter("rate/ip/" + ip, now, windowMs, c) == sdk::Result::Ok && c.count >= max) …
//   bumpCounter("rate/ip/" + ip, now, windowMs);
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_COUNTERS_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_COUNTERS_HH_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util.hh"

namespace habanero::magic {

struct Counter {
  int64_t count = 0;
  int64_t startMs = 0;
};

// The counter under `key`: a zero one if absent, expired or unreadable. `raw` (optional)
// gets the stored text for compare-and-set (nullopt if absent).
// Returns Ok or the kv error (Unavailable).
inline sdk::Result readCounter(std::string_view key, int64_t nowMs, int64_t windowMs, Counter& out,
                               std::optional<std::string>* raw = nullptr) {
  out = Counter{};
  if (raw) raw->reset();
  std::string text;
  sdk::Result r = sdk::kvGet(key, text);
  if (r == sdk::Result::NotFound) return sdk::Result::Ok;
  if (r != sdk::Result::Ok) return r;
  if (raw) *raw = text;
  std::string_view t(text);
  size_t space = t.find(' ');
  if (space == std::string_view::npos) return sdk::Result::Ok;
  std::optional<int64_t> count = parseInt(t.substr(0, space));
  std::optional<int64_t> start = parseInt(t.substr(space + 1));
  if (!count || !start || *count < 0 || *start > nowMs || nowMs - *start >= windowMs) {
    return sdk::Result::Ok;  // a new window starts
  }
  out = Counter{*count, *start};
  return sdk::Result::Ok;
}

// Adds one to the counter under `key`; `after` (optional) gets the new value.
// Returns Ok, Conflict (lost the race 16 times) or the kv error.
inline sdk::Result bumpCounter(std::string_view key, int64_t nowMs, int64_t windowMs,
                               Counter* after = nullptr) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    Counter c;
    std::optional<std::string> raw;
    sdk::Result r = readCounter(key, nowMs, windowMs, c, &raw);
    if (r != sdk::Result::Ok) return r;
    if (c.count == 0) c.startMs = nowMs;
    ++c.count;
    std::string next = std::to_string(c.count) + " " + std::to_string(c.startMs);
    int64_t ttl = c.startMs + windowMs - nowMs;
    if (ttl < 1) ttl = 1;
    std::optional<std::string_view> expected;
    if (raw) expected = *raw;
    r = sdk::kvCompareAndSet(key, expected, next, ttl);
    if (r == sdk::Result::Ok && after) *after = c;
    if (r != sdk::Result::Conflict) return r;
  }
  return sdk::Result::Conflict;
}

// Seconds until the counter's window ends (at least 1).
inline int64_t secondsLeft(const Counter& c, int64_t nowMs, int64_t windowMs) {
  int64_t s = (c.startMs + windowMs - nowMs + 999) / 1000;
  return s < 1 ? 1 : s;
}

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_COUNTERS_HH_
