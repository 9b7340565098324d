#include "url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "curl_util.h"
#include "habanero/strings.h"

namespace habanero::outbound::internal {
namespace {

constexpr size_t kMaxUrl = 8192;

// Reads one part; "" when absent. `flags` e.g. CURLU_URLDECODE.
bool getPart(CURLU* u, CURLUPart part, std::string& out, unsigned flags = 0) {
  char* value = nullptr;
  CURLUcode rc = curl_url_get(u, part, &value, flags);
  if (rc != CURLUE_OK) {
    out.clear();
    return rc == CURLUE_NO_USER || rc == CURLUE_NO_PASSWORD || rc == CURLUE_NO_PORT ||
           rc == CURLUE_NO_QUERY || rc == CURLUE_NO_FRAGMENT || rc == CURLUE_NO_ZONEID ||
           rc == CURLUE_NO_OPTIONS;
  }
  out = value;
  curl_free(value);
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

absl::StatusOr<UrlParts> splitUrl(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("URL is empty");
  if (text.size() > kMaxUrl) return absl::InvalidArgumentError("URL is longer than 8 KiB");
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError("URL contains a space, control or non-ASCII character");
    }
  }
  curlGlobalInit();
  CurlUrl u(curl_url());
  if (!u) return absl::ResourceExhaustedError("out of memory");
  std::string copy(text);
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, copy.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(
        strCat("not a valid absolute URL (", curl_url_strerror(rc), ")"));
  }
  UrlParts p;
  std::string raw_user, raw_password, options, zone, port, fragment;
  if (!getPart(u.get(), CURLUPART_SCHEME, p.scheme) ||
      !getPart(u.get(), CURLUPART_USER, raw_user) ||
      !getPart(u.get(), CURLUPART_PASSWORD, raw_password) ||
      !getPart(u.get(), CURLUPART_OPTIONS, options) || !getPart(u.get(), CURLUPART_HOST, p.host) ||
      !getPart(u.get(), CURLUPART_ZONEID, zone) || !getPart(u.get(), CURLUPART_PORT, port) ||
      !getPart(u.get(), CURLUPART_PATH, p.path) || !getPart(u.get(), CURLUPART_QUERY, p.query)) {
    return absl::InvalidArgumentError("not a valid absolute URL");
  }
  if (!zone.empty()) return absl::InvalidArgumentError("URL has an IPv6 zone id");
  if (!options.empty()) return absl::InvalidArgumentError("URL has login options (';')");
  // Any '@' in the authority (after "scheme:" and its slashes) counts, even
  // with an empty user, so "http://@host" is userinfo too.
  size_t start = text.find(':') + 1;
  while (start < text.size() && (text[start] == '/' || text[start] == '\\')) ++start;
  size_t end = text.find_first_of("/?#\\", start);
  std::string_view authority =
      text.substr(start, end == std::string_view::npos ? text.npos : end - start);
  p.has_userinfo =
      authority.find('@') != std::string_view::npos || !raw_user.empty() || !raw_password.empty();
  if (!raw_user.empty()) getPart(u.get(), CURLUPART_USER, p.user, CURLU_URLDECODE);
  if (!raw_password.empty()) getPart(u.get(), CURLUPART_PASSWORD, p.password, CURLU_URLDECODE);
  p.scheme = lower(p.scheme);
  p.host = lower(p.host);
  if (p.host.size() >= 2 && p.host.front() == '[' && p.host.back() == ']') {
    p.host = p.host.substr(1, p.host.size() - 2);
    p.host_is_ipv6 = true;
  }
  if (p.host.empty()) return absl::InvalidArgumentError("URL has no host");
  for (unsigned char c : p.host) {  // curl percent-decodes hosts: allow plain DNS/IP text only
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_' && c != ':') {
      return absl::InvalidArgumentError(
          "URL host has characters outside letters, digits, '-', '.'");
    }
  }
  if (!port.empty()) {
    int n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || n > 65535) return absl::InvalidArgumentError("URL has a bad port");
      n = n * 10 + (c - '0');
    }
    if (n <= 0 || n > 65535) return absl::InvalidArgumentError("URL has a bad port");
    p.port = n;
  }
  // The full URL without the fragment (never sent on the wire anyway).
  curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
  if (!getPart(u.get(), CURLUPART_URL, p.url, CURLU_NON_SUPPORT_SCHEME)) {
    return absl::InvalidArgumentError("not a valid absolute URL");
  }
  return p;
}

absl::StatusOr<UrlParts> parseFetchUrl(std::string_view text) {
  ASSIGN_OR_RETURN(UrlParts p, splitUrl(text));
  if (p.scheme != "http" && p.scheme != "https") {
    return absl::InvalidArgumentError("fetch: only http and https URLs are allowed");
  }
  if (p.has_userinfo) return absl::InvalidArgumentError("fetch: URLs with userinfo are refused");
  if (p.path.empty()) p.path = "/";
  return p;
}

absl::StatusOr<std::string> resolveReference(const std::string& base, std::string_view location) {
  if (location.empty() || location.size() > kMaxUrl) {
    return absl::InvalidArgumentError("redirect without a usable Location");
  }
  curlGlobalInit();
  CurlUrl u(curl_url());
  if (!u) return absl::ResourceExhaustedError("out of memory");
  if (curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError("bad base URL");
  }
  std::string loc(location);
  if (loc.find('\0') != std::string::npos ||
      curl_url_set(u.get(), CURLUPART_URL, loc.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return absl::InvalidArgumentError("redirect to an invalid Location");
  }
  std::string out;
  if (!getPart(u.get(), CURLUPART_URL, out, CURLU_NON_SUPPORT_SCHEME)) {
    return absl::InvalidArgumentError("redirect to an invalid Location");
  }
  return out;
}

bool isLoopbackHost(std::string_view host) {
  std::string h = lower(std::string(host));
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h == "localhost" || (h.size() > 10 && h.ends_with(".localhost"))) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    static const uint8_t kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a6.s6_addr, kLoop, 16) == 0) return true;
    return std::memcmp(a6.s6_addr, kMapped, 12) == 0 && a6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace habanero::outbound::internal
