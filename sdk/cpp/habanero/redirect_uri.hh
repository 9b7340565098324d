// redirect_uri.hh — redirect URI checks and query building.
//
// Pure (no host calls, standard library only), for guests, native tests and fuzzers.
//
// Redirect URIs are compared as strings (RFC 6749 §3.1.2.3, OAuth 2.0 Security BCP
// RFC 9700 §4.1.3: exact matching), with one exception from RFC 8252 §7.3: for a registered
// loopback URI `http://127.0.0.1[:port]/…` or `http://[::1][:port]/…` any port matches, the
// rest must still be identical. `localhost` gets no such leniency (RFC 8252 §8.3).
//
//   sdk::redirectUriAllowed({"http://127.0.0.1/cb"}, "http://127.0.0.1:53121/cb")  // true
//   sdk::appendQuery("https://app/cb?x=1", {{"code", "abc"}})  // "https://app/cb?x=1&code=abc"
#ifndef HABANERO_SDK_CPP_HABANERO_REDIRECT_URI_HH_
#define HABANERO_SDK_CPP_HABANERO_REDIRECT_URI_HH_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <habanero/text.hh>

namespace habanero::sdk {

// Longest redirect URI (request or registration) the extension accepts.
inline constexpr size_t kMaxRedirectUriBytes = 2048;

// Whether `uri` is usable as a redirect target: an absolute URI (`scheme:` with an RFC 3986
// scheme), no fragment, no whitespace or control characters, non-ASCII bytes refused, at
// most kMaxRedirectUriBytes. Says nothing about registration.
inline bool isValidRedirectUri(std::string_view uri) {
  if (uri.empty() || uri.size() > kMaxRedirectUriBytes) return false;
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = uri[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return false;
  }
  if (colon + 1 >= uri.size()) return false;
  for (char ch : uri) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  return true;
}

namespace uri_detail {

// A loopback redirect URI split around its port: "http://127.0.0.1:8000/cb?x" ->
// host "127.0.0.1", rest "/cb?x". nullopt unless the scheme is http, the host is exactly
// 127.0.0.1 or [::1] and the port (if any) is 1..65535 in at most 5 digits.
struct LoopbackUri {
  std::string_view host;
  std::string_view rest;
};

inline std::optional<LoopbackUri> splitLoopback(std::string_view uri) {
  constexpr std::string_view kScheme = "http://";
  if (uri.size() < kScheme.size() || !equalsIgnoreCase(uri.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  std::string_view after = uri.substr(kScheme.size());
  size_t end = after.find_first_of("/?");
  std::string_view authority = after.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : after.substr(end);
  std::string_view host;
  std::string_view port;
  if (authority.starts_with("127.0.0.1")) {
    host = authority.substr(0, 9);
    port = authority.substr(9);
  } else if (authority.starts_with("[::1]")) {
    host = authority.substr(0, 5);
    port = authority.substr(5);
  } else {
    return std::nullopt;
  }
  if (!port.empty()) {
    if (port[0] != ':' || port.size() < 2 || port.size() > 6) return std::nullopt;
    unsigned value = 0;
    for (char c : port.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
  }
  return LoopbackUri{host, rest};
}

}  // namespace uri_detail

// Whether `requested` matches the registered URI `registered`: identical strings, or both
// loopback URIs (see above) differing at most in the port.
inline bool redirectUriMatches(std::string_view registered, std::string_view requested) {
  if (!isValidRedirectUri(requested)) return false;
  if (registered == requested) return true;
  auto r = uri_detail::splitLoopback(registered);
  if (!r) return false;
  auto q = uri_detail::splitLoopback(requested);
  if (!q) return false;
  return r->host == q->host && r->rest == q->rest;
}

// Whether `requested` matches any of the registered URIs.
template <class Range>
bool redirectUriAllowed(const Range& registered, std::string_view requested) {
  for (const auto& r : registered) {
    if (redirectUriMatches(r, requested)) return true;
  }
  return false;
}

// `uri` with the parameters appended to its query, each name and value percent-encoded.
// Parameters with an empty value are still added (`state=` is never sent empty by us, the
// caller leaves it out instead).
inline std::string appendQuery(std::string_view uri,
                               const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out(uri);
  if (params.empty()) return out;
  if (out.find('?') == std::string::npos) {
    out.push_back('?');
  } else if (out.back() != '?' && out.back() != '&') {
    out.push_back('&');
  }
  bool first = true;
  for (const auto& [name, value] : params) {
    if (!first) out.push_back('&');
    first = false;
    out += percentEncode(name);
    out.push_back('=');
    out += percentEncode(value);
  }
  return out;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_REDIRECT_URI_HH_
