// Outbound HTTP GET for extensions (capability "fetch", design 0002): libcurl,
// http(s) only, with an SSRF guard, size and time limits, and a cache that
// honours Cache-Control.
//
// The SSRF guard resolves the name itself and connects only to the addresses
// it checked (CURLOPT_RESOLVE / CURLOPT_OPENSOCKETFUNCTION), so a DNS answer
// that changes between check and connect cannot slip through. Refused:
// loopback (unless allow_loopback), unspecified, private (10/8, 172.16/12,
// 192.168/16, 100.64/10), link-local (169.254/16, fe80::/10), unique-local
// (fc00::/7), multicast, broadcast, reserved, IPv4-mapped/NAT64 forms of
// those. Redirects are followed by this code (not curl), each hop checked
// again, at most `max_redirects`.
//
// Cache: final 200 responses keyed by the request URL and Accept value, fresh
// for s-maxage / max-age (minus Age) or Expires - Date; no-store, no-cache and
// private responses, and responses without such headers, are not cached. At
// most 256 entries / 32 MiB, least recently used evicted. A hit is served only
// if the caller's policy would have allowed every hop (hosts, addresses,
// max_bytes, max_redirects); otherwise the request goes to the network.
// Time comes from the injected Clock (Date/Expires headers only for lifetime).
//
// Slow upstreams (FetchLimits): at most `max_per_host` fetches to one target
// (host and port) and `max_total` in all are in flight at once; a fetch over
// either limit fails at once (Unavailable, the message names the limit)
// instead of waiting, so a slow or hostile host ties up a bounded number of
// request threads. A target whose connection failed (DNS, connect, TLS,
// timeout) is refused at once for `negative_cache_ms` afterwards (Unavailable,
// "failed recently"); cache hits are served regardless.
//
// Thread-safe; one Fetcher serves the whole process.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "habanero/clock.h"
#include "habanero/status.h"

namespace habanero::outbound {

struct FetchPolicy {
  bool allow_loopback = false;            // development switch ([outbound] allow_loopback)
  std::vector<std::string> allowed_hosts; // empty = any public host; else exact host names
  size_t max_bytes = 1 << 20;             // response body limit
  int64_t timeout_ms = 5'000;             // whole request, per hop
  int max_redirects = 5;
};

// Process-wide bounds on concurrent fetches ([outbound] fetch_max_per_host,
// fetch_max_total, fetch_negative_cache_ms). 0 = no limit / no negative cache.
struct FetchLimits {
  uint32_t max_per_host = 4;
  uint32_t max_total = 32;
  int64_t negative_cache_ms = 5'000;
};

struct FetchRequest {
  std::string url;
  std::string accept;  // Accept header ("" = "*/*")
};

struct FetchResponse {
  int status = 0;
  std::string url;           // final URL after redirects
  std::string content_type;  // "" if absent
  std::vector<std::string> links;  // every Link header value, in order
  std::string body;
  bool from_cache = false;
};

// Errors of fetch(): InvalidArgument (not an absolute http(s) URL, userinfo in
// the URL), PermissionDenied (an address or host the policy refuses, on any
// hop), ResourceExhausted (body larger than max_bytes), Unavailable (DNS,
// connect, TLS, timeout, too many redirects; and at once, without touching
// the network: over a FetchLimits bound, or a target that failed recently).
class Fetcher {
 public:
  explicit Fetcher(const Clock& clock = SystemClock::instance(), FetchLimits limits = {});
  ~Fetcher();
  absl::StatusOr<FetchResponse> fetch(const FetchRequest& request, const FetchPolicy& policy);

  // Fetches on the network right now (for tests and metrics).
  size_t inFlight() const;

 private:
  struct Cache;
  struct Gate;
  const Clock& clock_;
  const FetchLimits limits_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<Gate> gate_;
};

// Whether an address (IPv4 or IPv6 text) is one the guard refuses.
bool isForbiddenAddress(std::string_view ip, bool allow_loopback);

}  // namespace habanero::outbound
