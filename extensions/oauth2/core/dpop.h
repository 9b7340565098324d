// dpop.h — syntax helpers for DPoP (RFC 9449), WebIDs and client identifier URLs, free of
// host calls.
//
// Header-only and pure (the guest library's pure headers only), for the guest and host-side
// tests and fuzzers.
//
//   parseDpopAuthorization("DPoP eyJ...")             // "eyJ..." (RFC 9449 §7.1)
//   normalizeHttpUri("HTTPS://Op.Example:443/token")  // "https://op.example/token"
//   isClientIdUrl("https://app.example/id", false)      // true
#ifndef HABANERO_EXTENSIONS_OAUTH2_CORE_DPOP_H_
#define HABANERO_EXTENSIONS_OAUTH2_CORE_DPOP_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <habanero/oauth_params.hh>
#include <habanero/text.hh>

namespace habanero::oauth2 {

namespace sdk = habanero::sdk;

// Largest DPoP proof accepted (the header value).
inline constexpr size_t kMaxDpopProofBytes = 8192;
// Longest jti accepted in a proof.
inline constexpr size_t kMaxDpopJtiBytes = 256;

// Whether the Authorization header uses the DPoP scheme (case-insensitive).
inline bool isDpopAuth(std::string_view header) {
  auto parts = sdk::params_detail::splitScheme(header);
  return parts && parts->scheme.size() == 4 &&
         sdk::startsWithIgnoreCase(parts->scheme, "dpop");
}

// The token of "DPoP <token68>" (same token syntax as Bearer, RFC 9449 §7.1); nullopt for
// another scheme or a malformed token.
inline std::optional<std::string_view> parseDpopAuthorization(std::string_view header) {
  if (!isDpopAuth(header)) return std::nullopt;
  std::string_view token = sdk::params_detail::splitScheme(header)->rest;
  // Reuse the Bearer token68 check on an equivalent header.
  std::string as_bearer = "Bearer " + std::string(token);
  auto checked = sdk::parseBearer(as_bearer);
  if (!checked) return std::nullopt;
  return token;
}

// An absolute http(s) URI normalised for comparison (RFC 3986 §6.2.2-6.2.3): scheme and host
// lower-cased, a default port (:80 for http, :443 for https) removed, an empty path made
// "/". nullopt for anything that is not http(s) with a host, or that carries userinfo, a
// query or a fragment (a DPoP htu has neither, RFC 9449 §4.2).
inline std::optional<std::string> normalizeHttpUri(std::string_view uri) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = sdk::asciiLower(c);
    return out;
  };
  size_t colon = uri.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  std::string scheme = lower(uri.substr(0, colon));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = uri.substr(colon + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  for (char ch : uri) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority;
  std::string_view port;
  size_t port_colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (port_colon != std::string_view::npos &&
      (bracket == std::string_view::npos || port_colon > bracket)) {
    host = authority.substr(0, port_colon);
    port = authority.substr(port_colon + 1);
    if (port.size() > 5) return std::nullopt;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
    }
  }
  if (host.empty()) return std::nullopt;
  std::string out = scheme + "://" + lower(host);
  bool default_port = port.empty() || (scheme == "http" && port == "80") ||
                      (scheme == "https" && port == "443");
  if (!default_port) out += ":" + std::string(port);
  out += path.empty() ? "/" : std::string(path);
  return out;
}

// The host of an http(s) URL without userinfo ("" if there is none).
inline std::string urlHost(std::string_view url) {
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::string();
  std::string_view rest = url.substr(colon + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return std::string();
  size_t bracket = authority.rfind(']');
  size_t port_colon = authority.rfind(':');
  if (port_colon != std::string_view::npos &&
      (bracket == std::string_view::npos || port_colon > bracket)) {
    authority = authority.substr(0, port_colon);
  }
  std::string host(authority);
  for (char& c : host) c = sdk::asciiLower(c);
  return host;
}

// Whether `host` names this machine: localhost, *.localhost, 127.0.0.1 or [::1].
inline bool isLocalHostName(std::string_view host) {
  return host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" ||
         host == "[::1]";
}

// Whether a client_id is a Client Identifier Document URL (Solid-OIDC §5.1): https with a
// host and a path, no fragment, no userinfo; or http on a local host name (development; the
// host's fetch guard still refuses loopback unless the operator allowed it).
inline bool isClientIdUrl(std::string_view client_id) {
  if (client_id.size() > sdk::kMaxClientIdBytes || client_id.find('#') != std::string_view::npos) {
    return false;
  }
  bool https = client_id.starts_with("https://");
  bool http = client_id.starts_with("http://");
  if (!https && !http) return false;
  std::string host = urlHost(client_id);
  if (host.empty()) return false;
  if (http && !isLocalHostName(host)) return false;
  std::string_view rest = client_id.substr(client_id.find("://") + 3);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) return false;  // a path
  for (char ch : client_id) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// The IRI `webid` without its fragment: the profile document to fetch.
inline std::string_view withoutFragment(std::string_view iri) {
  return iri.substr(0, iri.find('#'));
}

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_CORE_DPOP_H_
