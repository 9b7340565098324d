#include "fetch.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "curl_util.h"
#include "habanero/strings.h"
#include "url.h"

namespace habanero::outbound {
namespace {

using internal::CurlEasy;
using internal::CurlList;
using internal::UrlParts;

constexpr size_t kCacheEntries = 256;
constexpr size_t kCacheBytes = 32u << 20;
constexpr size_t kNegativeEntries = 4096;
constexpr char kUserAgent[] = "Habanero/0.1 (+fetch)";

// ---------------------------------------------------------------------------
// Address policy

bool inV4(uint32_t a, uint32_t net, int bits) {
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == net;
}

bool forbiddenV4(uint32_t a, bool allow_loopback) {
  if (inV4(a, 0x7f000000, 8)) return !allow_loopback;  // 127/8 loopback
  static constexpr struct {
    uint32_t net;
    int bits;
  } kRefused[] = {
      {0x00000000, 8},   // "this network", 0.0.0.0
      {0x0a000000, 8},   // 10/8 private
      {0x64400000, 10},  // 100.64/10 shared (CGN)
      {0xa9fe0000, 16},  // 169.254/16 link-local (cloud metadata)
      {0xac100000, 12},  // 172.16/12 private
      {0xc0000000, 24},  // 192.0.0/24 IETF protocol assignments
      {0xc0000200, 24},  // 192.0.2/24 TEST-NET-1
      {0xc0586300, 24},  // 192.88.99/24 6to4 relay anycast
      {0xc0a80000, 16},  // 192.168/16 private
      {0xc6120000, 15},  // 198.18/15 benchmarking
      {0xc6336400, 24},  // 198.51.100/24 TEST-NET-2
      {0xcb007100, 24},  // 203.0.113/24 TEST-NET-3
      {0xe0000000, 4},   // 224/4 multicast
      {0xf0000000, 4},   // 240/4 reserved, 255.255.255.255 broadcast
  };
  for (const auto& r : kRefused) {
    if (inV4(a, r.net, r.bits)) return true;
  }
  return false;
}

uint32_t v4At(const uint8_t* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

bool forbiddenV6(const uint8_t* b, bool allow_loopback) {
  static const uint8_t kZero[16] = {};
  // ::/96 — unspecified, loopback and the deprecated IPv4-compatible form.
  if (std::memcmp(b, kZero, 12) == 0) {
    if (std::memcmp(b, kZero, 15) == 0 && b[15] == 1) return !allow_loopback;  // ::1
    return true;
  }
  // ::ffff:0:0/96 IPv4-mapped: the IPv4 rules (a dual-stack socket reaches it).
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMapped, 12) == 0) return forbiddenV4(v4At(b + 12), allow_loopback);
  // 64:ff9b::/96 NAT64: the embedded IPv4 address, loopback never.
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kNat64, 12) == 0) return forbiddenV4(v4At(b + 12), false);
  // 2002::/16 6to4: the embedded IPv4 address.
  if (b[0] == 0x20 && b[1] == 0x02) return forbiddenV4(v4At(b + 2), false);
  // Only global unicast 2000::/3 beyond this point (refuses fc00::/7 unique-local,
  // fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast, 100::/64
  // discard, 64:ff9b:1::/48 local NAT64 and every reserved block).
  if ((b[0] & 0xe0) != 0x20) return true;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) return true;  // 2001::/23 IETF (Teredo…)
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // 2001:db8::/32
  if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) return true;  // 3fff::/20 documentation
  return false;
}

// ---------------------------------------------------------------------------
// Header helpers

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

std::string lowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Headers {
  std::vector<std::string> links;
  std::vector<std::string> cache_control;
  std::string expires, date, age;
  bool has_expires = false;
};

// How long a 200 response may be served from the cache, in ms; 0 = not at all.
int64_t freshnessMs(const Headers& h, const Clock& clock) {
  int64_t max_age = -1, s_maxage = -1;
  for (const std::string& line : h.cache_control) {
    size_t start = 0;
    while (start <= line.size()) {
      size_t comma = line.find(',', start);
      std::string item = trim(std::string_view(line).substr(
          start, comma == std::string::npos ? std::string::npos : comma - start));
      start = comma == std::string::npos ? line.size() + 1 : comma + 1;
      std::string name = lowerAscii(item.substr(0, item.find('=')));
      name = trim(name);
      if (name == "no-store" || name == "no-cache" || name == "private") return 0;
      if (name == "max-age" || name == "s-maxage") {
        size_t eq = item.find('=');
        if (eq == std::string::npos) return 0;
        std::string v = trim(item.substr(eq + 1));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        if (v.empty() || v.size() > 10 ||
            !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return 0;  // malformed: do not guess
        }
        (name == "max-age" ? max_age : s_maxage) = std::stoll(v);
      }
    }
  }
  int64_t lifetime_s = -1;
  if (s_maxage >= 0) {
    lifetime_s = s_maxage;
  } else if (max_age >= 0) {
    lifetime_s = max_age;
  } else if (h.has_expires) {
    time_t expires = curl_getdate(h.expires.c_str(), nullptr);
    if (expires < 0) return 0;  // invalid (e.g. "0") means already expired
    time_t date = h.date.empty() ? -1 : curl_getdate(h.date.c_str(), nullptr);
    int64_t now_s = date >= 0 ? static_cast<int64_t>(date) : clock.nowMs() / 1000;
    lifetime_s = static_cast<int64_t>(expires) - now_s;
  }
  if (lifetime_s <= 0) return 0;
  if (!h.age.empty() && h.age.size() <= 10 &&
      std::all_of(h.age.begin(), h.age.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    lifetime_s -= std::stoll(h.age);
  }
  if (lifetime_s <= 0) return 0;
  return std::min<int64_t>(lifetime_s, int64_t{365} * 86400) * 1000;
}

bool hostAllowed(const std::string& host, const FetchPolicy& policy) {
  if (policy.allowed_hosts.empty()) return true;
  std::string h = host;
  if (!h.empty() && h.back() == '.') h.pop_back();
  for (const std::string& allowed : policy.allowed_hosts) {
    std::string a = lowerAscii(allowed);
    if (!a.empty() && a.back() == '.') a.pop_back();
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    if (a == h) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// One hop

struct HopState {
  std::vector<std::string> vetted;  // addresses (inet_ntop text) we checked
  bool blocked = false;             // curl tried an address we did not vet
  std::string blocked_address;
  size_t max_bytes = 0;
  bool too_big = false;
  std::string body;
  Headers headers;
};

std::string addressText(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

curl_socket_t openSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* st = static_cast<HopState*>(clientp);
  std::string ip = (address->family == AF_INET || address->family == AF_INET6)
                       ? addressText(&address->addr)
                       : std::string();
  if (purpose != CURLSOCKTYPE_IPCXN || ip.empty() ||
      std::find(st->vetted.begin(), st->vetted.end(), ip) == st->vetted.end()) {
    st->blocked = true;
    st->blocked_address = ip;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t writeBody(char* data, size_t size, size_t n, void* userp) {
  auto* st = static_cast<HopState*>(userp);
  size_t len = size * n;
  if (st->body.size() + len > st->max_bytes) {
    st->too_big = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  st->body.append(data, len);
  return len;
}

size_t readHeader(char* data, size_t size, size_t n, void* userp) {
  auto* st = static_cast<HopState*>(userp);
  size_t len = size * n;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    st->headers = Headers{};  // a new response (after 1xx): forget the previous one
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name = lowerAscii(std::string(line.substr(0, colon)));
  std::string value = trim(line.substr(colon + 1));
  if (name == "link") {
    if (st->headers.links.size() < 64) st->headers.links.push_back(value);
  } else if (name == "cache-control") {
    st->headers.cache_control.push_back(value);
  } else if (name == "expires") {
    st->headers.expires = value;
    st->headers.has_expires = true;
  } else if (name == "date") {
    st->headers.date = value;
  } else if (name == "age") {
    st->headers.age = value;
  }
  return len;
}

struct Hop {
  int status = 0;
  std::string content_type;
  std::string location;  // absolute, for 3xx with a Location
  std::string body;
  Headers headers;
  std::vector<std::string> addresses;
};

absl::StatusOr<Hop> fetchHop(const UrlParts& url, const FetchRequest& request,
                             const FetchPolicy& policy) {
  if (!hostAllowed(url.host, policy)) {
    return absl::PermissionDeniedError(
        strCat("fetch: host '", url.host, "' is not among the allowed hosts"));
  }
  // Resolve ourselves and vet every answer.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = url.host_is_ipv6 ? AI_NUMERICHOST : 0;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(url.host.c_str(), nullptr, &hints, &res);
  if (gai != 0) {
    return absl::UnavailableError(
        strCat("fetch: cannot resolve '", url.host, "': ", gai_strerror(gai)));
  }
  HopState st;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    std::string ip = addressText(ai->ai_addr);
    if (ip.empty()) continue;
    if (isForbiddenAddress(ip, policy.allow_loopback)) {
      freeaddrinfo(res);
      return absl::PermissionDeniedError(
          strCat("fetch: '", url.host, "' resolves to ", ip, ", an address the policy refuses"));
    }
    if (std::find(st.vetted.begin(), st.vetted.end(), ip) == st.vetted.end())
      st.vetted.push_back(ip);
  }
  freeaddrinfo(res);
  if (st.vetted.empty()) {
    return absl::UnavailableError(strCat("fetch: '", url.host, "' has no IPv4/IPv6 address"));
  }

  CurlEasy easy = internal::newEasy();
  if (!easy) return absl::ResourceExhaustedError("fetch: out of memory");
  CURL* h = easy.get();
  int port = url.port != 0 ? url.port : (url.scheme == "https" ? 443 : 80);
  CurlList resolve;
  if (!url.host_is_ipv6) {
    std::string entry = strCat(url.host, ":", port, ":");
    for (size_t i = 0; i < st.vetted.size(); ++i) {
      if (i > 0) entry += ',';
      entry += st.vetted[i].find(':') != std::string::npos ? strCat("[", st.vetted[i], "]")
                                                           : st.vetted[i];
    }
    resolve.append(entry);
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());
  }
  CurlList headers;
  headers.append(strCat("Accept: ", request.accept.empty() ? std::string("*/*") : request.accept));
  st.max_bytes = policy.max_bytes;
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, url.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(policy.timeout_ms, 1)));
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(policy.max_bytes));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, writeBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, readHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, openSocket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &st);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);

  CURLcode rc = curl_easy_perform(h);
  if (st.blocked) {
    return absl::PermissionDeniedError(
        strCat("fetch: connection to unvetted address '", st.blocked_address, "' refused"));
  }
  if (st.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    return absl::ResourceExhaustedError(
        strCat("fetch: response body larger than ", policy.max_bytes, " bytes"));
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return absl::UnavailableError(
        strCat("fetch: ", url.host, ": timed out after ", policy.timeout_ms, " ms"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        strCat("fetch: ", url.host, ": ", errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc)));
  }
  // Defence in depth: the address actually connected must be one we vetted.
  char* primary = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &primary) == CURLE_OK && primary != nullptr &&
      *primary != 0 &&
      std::find(st.vetted.begin(), st.vetted.end(), std::string(primary)) == st.vetted.end()) {
    return absl::PermissionDeniedError(
        strCat("fetch: connected to unvetted address '", primary, "'"));
  }
  Hop hop;
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  hop.status = static_cast<int>(code);
  char* ct = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) {
    hop.content_type = ct;
  }
  char* redirect = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect != nullptr) {
    hop.location = redirect;
  }
  hop.body = std::move(st.body);
  hop.headers = std::move(st.headers);
  hop.addresses = std::move(st.vetted);
  return hop;
}

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

// ---------------------------------------------------------------------------
// Cache

struct Fetcher::Cache {
  struct Entry {
    FetchResponse response;
    int64_t expires_ms = 0;
    std::vector<std::string> hosts;      // every hop's host
    std::vector<std::string> addresses;  // every address vetted on the way
    std::list<std::string>::iterator lru;
  };
  std::mutex mu;
  std::list<std::string> order ABSL_GUARDED_BY(mu);  // front = most recently used
  std::unordered_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;

  static size_t sizeOf(const Entry& e) {
    size_t n =
        e.response.body.size() + e.response.url.size() + e.response.content_type.size() + 256;
    for (const auto& l : e.response.links) n += l.size();
    return n;
  }

  void eraseLocked(std::unordered_map<std::string, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bytes -= sizeOf(it->second);
    order.erase(it->second.lru);
    entries.erase(it);
  }

  // A fresh entry the policy would also have allowed to be fetched, or nothing.
  std::optional<FetchResponse> get(const std::string& key, const FetchPolicy& policy, int64_t now) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = entries.find(key);
    if (it == entries.end()) return std::nullopt;
    Entry& e = it->second;
    if (e.expires_ms <= now) {
      eraseLocked(it);
      return std::nullopt;
    }
    if (e.response.body.size() > policy.max_bytes ||
        static_cast<int>(e.hosts.size()) - 1 > policy.max_redirects) {
      return std::nullopt;
    }
    for (const auto& host : e.hosts) {
      if (!hostAllowed(host, policy)) return std::nullopt;
    }
    for (const auto& ip : e.addresses) {
      if (isForbiddenAddress(ip, policy.allow_loopback)) return std::nullopt;
    }
    order.splice(order.begin(), order, e.lru);
    FetchResponse r = e.response;
    r.from_cache = true;
    return r;
  }

  void put(const std::string& key, Entry entry) {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = entries.find(key); it != entries.end()) eraseLocked(it);
    size_t size = sizeOf(entry);
    if (size > kCacheBytes / 4) return;
    while (!order.empty() && (entries.size() >= kCacheEntries || bytes + size > kCacheBytes)) {
      eraseLocked(entries.find(order.back()));
    }
    order.push_front(key);
    entry.lru = order.begin();
    bytes += size;
    entries.emplace(key, std::move(entry));
  }
};

// ---------------------------------------------------------------------------
// Gate: concurrency bounds and the negative cache (FetchLimits)

struct Fetcher::Gate {
  std::mutex mu;
  size_t total ABSL_GUARDED_BY(mu) = 0;
  std::unordered_map<std::string, uint32_t> per_target ABSL_GUARDED_BY(mu);
  std::unordered_map<std::string, int64_t> failed_until ABSL_GUARDED_BY(mu);  // by target

  // Releases its slot when destroyed.
  class Slot {
   public:
    Slot(Gate* gate, std::string target) : gate_(gate), target_(std::move(target)) {}
    Slot(Slot&& other) noexcept
        : gate_(std::exchange(other.gate_, nullptr)), target_(std::move(other.target_)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (gate_ != nullptr) gate_->release(target_);
    }

   private:
    Gate* gate_;
    std::string target_;
  };

  absl::StatusOr<Slot> acquire(const std::string& target, const FetchLimits& limits, int64_t now) {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = failed_until.find(target); it != failed_until.end()) {
      if (it->second > now) {
        return absl::UnavailableError(strCat("fetch: ", target, " failed recently; not tried again for ",
                                             it->second - now, " ms (outbound.fetch_negative_cache_ms)"));
      }
      failed_until.erase(it);
    }
    if (limits.max_total != 0 && total >= limits.max_total) {
      return absl::UnavailableError(strCat("fetch: ", total,
                                           " fetches in flight already (outbound.fetch_max_total = ",
                                           limits.max_total, "); not fetching ", target));
    }
    uint32_t& n = per_target[target];
    if (limits.max_per_host != 0 && n >= limits.max_per_host) {
      return absl::UnavailableError(strCat("fetch: ", n, " fetches to ", target,
                                           " in flight already (outbound.fetch_max_per_host = ",
                                           limits.max_per_host, ")"));
    }
    ++n;
    ++total;
    return Slot(this, target);
  }

  void release(const std::string& target) {
    std::lock_guard<std::mutex> lock(mu);
    --total;
    auto it = per_target.find(target);
    if (it != per_target.end() && --it->second == 0) per_target.erase(it);
  }

  void failed(const std::string& target, const FetchLimits& limits, int64_t now) {
    if (limits.negative_cache_ms <= 0) return;
    std::lock_guard<std::mutex> lock(mu);
    // Bounded: expired entries go first, then (a flood of distinct hosts) all of them.
    if (failed_until.size() >= kNegativeEntries) {
      std::erase_if(failed_until, [now](const auto& e) { return e.second <= now; });
      if (failed_until.size() >= kNegativeEntries) failed_until.clear();
    }
    failed_until[target] = now + limits.negative_cache_ms;
  }
};

Fetcher::Fetcher(const Clock& clock, FetchLimits limits)
    : clock_(clock),
      limits_(limits),
      cache_(std::make_unique<Cache>()),
      gate_(std::make_unique<Gate>()) {
  internal::curlGlobalInit();
}

size_t Fetcher::inFlight() const {
  std::lock_guard<std::mutex> lock(gate_->mu);
  return gate_->total;
}

Fetcher::~Fetcher() = default;

absl::StatusOr<FetchResponse> Fetcher::fetch(const FetchRequest& request,
                                             const FetchPolicy& policy) {
  absl::StatusOr<UrlParts> first = internal::parseFetchUrl(request.url);
  if (!first.ok()) return first.status();
  if (request.accept.find_first_of("\r\n") != std::string::npos || request.accept.size() > 1024) {
    return absl::InvalidArgumentError("fetch: bad Accept value");
  }
  const std::string key = strCat(first->url, "\n", request.accept);
  if (auto hit = cache_->get(key, policy, clock_.nowMs())) return *std::move(hit);

  UrlParts url = *std::move(first);
  std::vector<std::string> hosts, addresses;
  for (int hops = 0;; ++hops) {
    const std::string target =
        strCat(url.host, ":", url.port != 0 ? url.port : (url.scheme == "https" ? 443 : 80));
    absl::StatusOr<Hop> hop = [&]() -> absl::StatusOr<Hop> {
      ASSIGN_OR_RETURN(Gate::Slot slot, gate_->acquire(target, limits_, clock_.nowMs()));
      absl::StatusOr<Hop> h = fetchHop(url, request, policy);
      if (!h.ok() && h.status().code() == absl::StatusCode::kUnavailable) {
        gate_->failed(target, limits_, clock_.nowMs());
      }
      return h;
    }();
    if (!hop.ok()) return hop.status();
    hosts.push_back(url.host);
    addresses.insert(addresses.end(), hop->addresses.begin(), hop->addresses.end());
    if (isRedirect(hop->status) && !hop->location.empty()) {
      if (hops >= policy.max_redirects) {
        return absl::UnavailableError(
            strCat("fetch: more than ", policy.max_redirects, " redirects from ", request.url));
      }
      absl::StatusOr<UrlParts> next = internal::parseFetchUrl(hop->location);
      if (!next.ok()) {
        return absl::PermissionDeniedError(strCat(
            "fetch: ", url.url, " redirects to a refused URL: ", sv(next.status().message())));
      }
      url = *std::move(next);
      continue;
    }
    FetchResponse response;
    response.status = hop->status;
    response.url = url.url;
    response.content_type = std::move(hop->content_type);
    response.links = std::move(hop->headers.links);
    response.body = std::move(hop->body);
    if (response.status == 200) {
      int64_t fresh = freshnessMs(hop->headers, clock_);
      if (fresh > 0) {
        Cache::Entry entry;
        entry.response = response;
        entry.expires_ms = clock_.nowMs() + fresh;
        entry.hosts = std::move(hosts);
        entry.addresses = std::move(addresses);
        cache_->put(key, std::move(entry));
      }
    }
    return response;
  }
}

bool isForbiddenAddress(std::string_view ip, bool allow_loopback) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty() || ip.size() > 64) return true;
  std::string text(ip);
  if (text.find('\0') != std::string::npos || text.find('%') != std::string::npos) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1)
    return forbiddenV4(ntohl(a4.s_addr), allow_loopback);
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) return forbiddenV6(a6.s6_addr, allow_loopback);
  return true;  // not an address: refuse
}

}  // namespace habanero::outbound
