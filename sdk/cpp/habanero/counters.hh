// counters.hh — fixed-window counters in the extension's kv, for rate limits and limits on
// wrong passwords or codes; and failure records with a growing delay (Backoff), for
// throttling guesses without ever locking anyone out (NIST SP 800-63B §5.2.2). Needs the
// capability "kv".
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

// ---- growing delays ------------------------------------------------------------------------
//
// A Failures record is "<count> <last failure ms>" under its key, kept for `memoryMs` after
// the last failure (each failure extends it), updated by compare-and-set. A Backoff policy
// lets `free` failures pass, then asks for a wait after each further one that doubles every
// `growEvery` failures, from `firstDelayMs` up to `maxDelayMs` — a delay, never a lock:
//
//   sdk::Failures f;
//   if (sdk::readFailures("fail/" + key, now, memoryMs, f) != sdk::Result::Ok) return fail();
//   if (int64_t wait = sdk::waitMs(f, policy, now)) return tooSoon(wait);
//   … check the secret; on a wrong one: sdk::recordFailure("fail/" + key, now, memoryMs);

struct Failures {
  int64_t count = 0;
  int64_t lastMs = 0;  // when the last failure was recorded
};

struct Backoff {
  int64_t free = 5;                // failures without any delay
  int64_t growEvery = 1;           // the delay doubles every this many further failures
  int64_t firstDelayMs = 1000;     // the delay after failure free+1
  int64_t maxDelayMs = 15 * 60'000;
};

// The record under `key` into `out`: zero if absent, forgotten (older than `memoryMs`) or
// unreadable. `raw` (optional) gets the stored text for compare-and-set.
// Returns Ok or the kv error (Unavailable).
inline Result readFailures(std::string_view key, int64_t nowMs, int64_t memoryMs, Failures& out,
                           std::optional<std::string>* raw = nullptr) {
  out = Failures{};
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
  std::optional<int64_t> last = parseInt(t.substr(space + 1));
  if (!count || !last || *count < 0 || *last > nowMs || nowMs - *last >= memoryMs) {
    return Result::Ok;
  }
  out = Failures{*count, *last};
  return Result::Ok;
}

// Records one failure now under `key`; `after` (optional) gets the new record.
// Returns Ok, Conflict (lost the race 16 times) or the kv error.
inline Result recordFailure(std::string_view key, int64_t nowMs, int64_t memoryMs,
                            Failures* after = nullptr) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    Failures f;
    std::optional<std::string> raw;
    Result r = readFailures(key, nowMs, memoryMs, f, &raw);
    if (r != Result::Ok) return r;
    ++f.count;
    f.lastMs = nowMs;
    std::string next = std::to_string(f.count) + " " + std::to_string(f.lastMs);
    std::optional<std::string_view> expected;
    if (raw) expected = *raw;
    r = kvCompareAndSet(key, expected, next, memoryMs < 1 ? 1 : memoryMs);
    if (r == Result::Ok && after) *after = f;
    if (r != Result::Conflict) return r;
  }
  return Result::Conflict;
}

// The delay the policy asks for after `count` failures (0 while they are free).
inline int64_t backoffDelayMs(int64_t count, const Backoff& b) {
  if (count < b.free || b.firstDelayMs <= 0) return 0;
  int64_t steps = (count - b.free) / (b.growEvery < 1 ? 1 : b.growEvery);
  int64_t delay = b.firstDelayMs;
  for (int64_t i = 0; i < steps && delay < b.maxDelayMs; ++i) delay *= 2;
  return delay < b.maxDelayMs ? delay : b.maxDelayMs;
}

// How long from `nowMs` until the next try is allowed (0: now).
inline int64_t waitMs(const Failures& f, const Backoff& b, int64_t nowMs) {
  int64_t until = f.lastMs + backoffDelayMs(f.count, b);
  return until > nowMs ? until - nowMs : 0;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_COUNTERS_HH_
