// counters.hh — fixed-window counters in the extension's kv, for rate limits and limits on
// wrong passwords or codes. Needs the capability "kv".
//
// A counter is "<count> <window start ms>" under its key, expiring with its window, updated
// by compare-and-set so concurrent requests never lose a count. An absent, expired or
// unreadable counter reads as zero (a new window).
//
//   sdk::Counter c;
//   if (sdk::readCounter("rate/ip/" + ip, now, windowMs, c) != sdk::Result::Ok) return fail();
//   if (c.count >= max) return tooMany(sdk::secondsLeft(c, now, windowMs));
//   sdk::bumpCounter("rate/ip/" + ip, now, windowMs);
#ifndef HABANERO_SDK_CPP_HABANERO_COUNTERS_HH_
#define HABANERO_SDK_CPP_HABANERO_COUNTERS_HH_

#include <habanero.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <habanero/text.hh>

namespace habanero::sdk {

struct Counter {
  int64_t count = 0;
  int64_t startMs = 0;  // when the window began
};

// The counter under `key` into `out`: a zero one if absent, expired or unreadable. `raw`
// (optional) gets the stored text for compare-and-set (nullopt if absent).
// Returns Ok or the kv error (Unavailable).
inline Result readCounter(std::string_view key, int64_t nowMs, int64_t windowMs, Counter& out,
                          std::optional<std::string>* raw = nullptr) {
  out = Counter{};
  if (raw) raw->reset();
  std::string text;
  Result r = kvGet(key, text);
  if (r == Result::NotFound) return Result::Ok;
  if (r != Result::Ok) return r;
  if (raw) *raw = text;
  std::string_view t(text);
  size_t space = t.find(' ');
  if (space == std::string_view::npos) return Result::Ok;
  std::optional<int64_t> count = parseInt(t.substr(0, space));
  std::optional<int64_t> start = parseInt(t.substr(space + 1));
  if (!count || !start || *count < 0 || *start > nowMs || nowMs - *start >= windowMs) {
    return Result::Ok;  // a new window starts
  }
  out = Counter{*count, *start};
  return Result::Ok;
}

// Adds one to the counter under `key`; `after` (optional) gets the new value.
// Returns Ok, Conflict (lost the race 16 times) or the kv error.
inline Result bumpCounter(std::string_view key, int64_t nowMs, int64_t windowMs,
                          Counter* after = nullptr) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    Counter c;
    std::optional<std::string> raw;
    Result r = readCounter(key, nowMs, windowMs, c, &raw);
    if (r != Result::Ok) return r;
    if (c.count == 0) c.startMs = nowMs;
    ++c.count;
    std::string next = std::to_string(c.count) + " " + std::to_string(c.startMs);
    int64_t ttl = c.startMs + windowMs - nowMs;
    if (ttl < 1) ttl = 1;
    std::optional<std::string_view> expected;
    if (raw) expected = *raw;
    r = kvCompareAndSet(key, expected, next, ttl);
    if (r == Result::Ok && after) *after = c;
    if (r != Result::Conflict) return r;
  }
  return Result::Conflict;
}

// When the counter's window ends (ms since the epoch).
inline int64_t windowEndMs(const Counter& c, int64_t windowMs) { return c.startMs + windowMs; }

// Seconds until the counter's window ends (at least 1), for Retry-After.
inline int64_t secondsLeft(const Counter& c, int64_t nowMs, int64_t windowMs) {
  int64_t s = (windowEndMs(c, windowMs) - nowMs + 999) / 1000;
  return s < 1 ? 1 : s;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_COUNTERS_HH_
