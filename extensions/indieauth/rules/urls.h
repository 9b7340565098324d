// urls.h — the URL rules of IndieAuth (living standard of 11 July 2024), free of host calls.
//
// Header-only (standard library only), so the guest and host-side unit tests
// (tests/unit/indieauth/) compile the same code. Every function is total: malformed input
// gives nullopt or false with a reason, never an exception.
//
//   auto me = parseProfileUrl("https://Example.com");      // ok: "https://example.com/"
//   auto bad = parseProfileUrl("https://example.com:8443/"); // error: "must not contain a port"
//   auto id = parseClientId("http://127.0.0.1:8080/app");    // ok: loopback allowed for clients
//   resolveReference("https://a.example/x/y", "../z")        // "https://a.example/z"
//
// What the rules are (§3.2 user profile URL, §3.3 client identifier, §3.4 canonicalisation):
//   both: scheme http or https; a path ("/" is added when missing); no "." or ".." path
//         segments (also percent-encoded); a query is allowed; no fragment; no user or
//         password; the host is lower-cased.
//   profile URL: no port; the host is a domain name, never an IPv4 or IPv6 address.
//   client_id:   a port is allowed; the host is a domain name or the loopback 127.0.0.1 or
//                [::1], never another address.
// Stricter than the standard on purpose: only printable ASCII (internationalised names must
// arrive as punycode), at most kMaxUrlBytes, and no percent-encoding in the host. A host
// whose last label is numeric (e.g. "127.1", "0x7f.1") is an address, as the WHATWG URL
// parser would read it.
//
// `allow_loopback_profiles` (development only) lets profile URLs on 127.0.0.1, [::1] and
// localhost carry a port; every other host still follows the rules.
#ifndef HABANERO_EXTENSIONS_INDIEAUTH_RULES_URLS_H_
#define HABANERO_EXTENSIONS_INDIEAUTH_RULES_URLS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <habanero/text.hh>

namespace habanero::indieauth {

namespace sdk = habanero::sdk;

// Longest URL (profile, client_id, redirect_uri, link target) the extension accepts.
inline constexpr size_t kMaxUrlBytes = 2048;

// An absolute http(s) URL split into its parts. `host` is lower-case; an IPv6 literal keeps
// its brackets. `port` is the digits after ':' ("" when absent or equal to the scheme's
// default, which canonicalisation drops). `path` always starts with '/'.
struct Url {
  std::string scheme;  // "http" or "https"
  bool has_userinfo = false;
  std::string host;
  std::string port;
  std::string path;
  bool has_query = false;
  std::string query;  // without '?'
  bool has_fragment = false;
  std::string fragment;

  // The canonical text: scheme://host[:port]path[?query][#fragment].
  std::string str() const {
    std::string out = scheme + "://" + host;
    if (!port.empty()) out += ":" + port;
    out += path;
    if (has_query) out += "?" + query;
    if (has_fragment) out += "#" + fragment;
    return out;
  }
  // scheme://host[:port] — what §10.1 compares.
  std::string origin() const {
    std::string out = scheme + "://" + host;
    if (!port.empty()) out += ":" + port;
    return out;
  }
};

// The outcome of a rule: the canonical URL, or the reason it was refused.
struct UrlCheck {
  std::optional<Url> url;
  std::string error;  // set when url is empty: "must not contain a fragment", ...
  explicit operator bool() const { return url.has_value(); }
};

namespace url_detail {

using sdk::asciiLower;
inline bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

using sdk::equalsIgnoreCase;

// RFC 3986 unreserved / sub-delims / ':' '@' — what a path segment, query or fragment may
// hold besides percent-encodings ('/' and '?' are added by the callers).
inline bool isPchar(char c) {
  if (isAlpha(c) || isDigit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':  // sub-delims
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
      return true;
    default:
      return false;
  }
}

// Whether `s` consists of pchars, `extra` characters and well-formed %XX escapes.
inline bool isEncodedText(std::string_view s, std::string_view extra) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !isHex(s[i + 1]) || !isHex(s[i + 2])) return false;
      i += 2;
      continue;
    }
    if (!isPchar(c) && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// A path segment that means "." or ".." once percent-decoded (".", "%2e", ".%2E", ...).
inline bool isDotSegment(std::string_view seg) {
  std::string decoded;
  for (size_t i = 0; i < seg.size(); ++i) {
    if (seg[i] == '%' && i + 2 < seg.size() && seg[i + 1] == '2' && asciiLower(seg[i + 2]) == 'e') {
      decoded.push_back('.');
      i += 2;
    } else {
      decoded.push_back(seg[i]);
    }
  }
  return decoded == "." || decoded == "..";
}

inline bool hasDotSegment(std::string_view path) {
  size_t i = 0;
  while (i <= path.size()) {
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    if (isDotSegment(path.substr(i, end - i))) return true;
    i = end + 1;
  }
  return false;
}

// An IPv4 dotted quad ("127.0.0.1"), each part 0..255 without leading zeros.
inline bool isIpv4(std::string_view h) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t end = h.find('.', i);
    if (end == std::string_view::npos) end = h.size();
    std::string_view p = h.substr(i, end - i);
    if (p.empty() || p.size() > 3) return false;
    int v = 0;
    for (char c : p) {
      if (!isDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255 || (p.size() > 1 && p[0] == '0')) return false;
    ++parts;
    if (end == h.size()) break;
    i = end + 1;
  }
  return parts == 4;
}

// Whether the last label looks like a number (decimal, or 0x hex): WHATWG URL parsing turns
// such hosts into IPv4 addresses ("127.1", "0x7f.0.0.1", "2130706433").
inline bool endsInNumber(std::string_view h) {
  size_t dot = h.rfind('.');
  std::string_view last = dot == std::string_view::npos ? h : h.substr(dot + 1);
  if (last.empty()) return false;
  if (last.size() >= 2 && last[0] == '0' && asciiLower(last[1]) == 'x') {
    for (char c : last.substr(2)) {
      if (!isHex(c)) return false;
    }
    return true;
  }
  for (char c : last) {
    if (!isDigit(c)) return false;
  }
  return true;
}

// A DNS name: labels of 1..63 letters, digits and '-', not starting or ending with '-',
// at most 253 characters, no trailing dot.
inline bool isDomainName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  size_t i = 0;
  while (true) {
    size_t end = h.find('.', i);
    if (end == std::string_view::npos) end = h.size();
    std::string_view label = h.substr(i, end - i);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!isAlpha(c) && !isDigit(c) && c != '-') return false;
    }
    if (end == h.size()) break;
    i = end + 1;
  }
  return !endsInNumber(h);
}

}  // namespace url_detail

// Parses an absolute http(s) URL without judging it by IndieAuth's rules (see
// parseProfileUrl / parseClientId for that). Canonicalises: lower-case scheme and host,
// "/" for an empty path, the default port dropped. nullopt with `error` set for anything
// that is not such a URL.
inline UrlCheck parseHttpUrl(std::string_view text) {
  using namespace url_detail;
  UrlCheck out;
  auto fail = [&](std::string why) {
    out.url.reset();
    out.error = std::move(why);
    return out;
  };
  if (text.empty()) return fail("is empty");
  if (text.size() > kMaxUrlBytes) return fail("is too long");
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return fail("contains spaces, control or non-ASCII characters");
    if (c == '\\' || c == '<' || c == '>' || c == '"' || c == '`' || c == '{' || c == '}' ||
        c == '|' || c == '^') {
      return fail("contains a character URLs do not allow");
    }
  }
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return fail("has no scheme");
  Url u;
  u.scheme = asciiLower(text.substr(0, colon));
  if (u.scheme != "http" && u.scheme != "https") return fail("must use the http or https scheme");
  std::string_view rest = text.substr(colon + 1);
  if (!rest.starts_with("//")) return fail("has no host");
  rest.remove_prefix(2);

  // Fragment and query first, so '#' or '?' inside them do not confuse the authority.
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    u.has_fragment = true;
    u.fragment = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
    if (!isEncodedText(u.fragment, "/?")) return fail("has a malformed fragment");
  }
  size_t qm = rest.find('?');
  if (qm != std::string_view::npos) {
    u.has_query = true;
    u.query = std::string(rest.substr(qm + 1));
    rest = rest.substr(0, qm);
    if (!isEncodedText(u.query, "/?")) return fail("has a malformed query");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    u.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  std::string_view host, port;
  bool has_port_colon = false;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("has a malformed IPv6 address");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail("has a malformed host");
      has_port_colon = true;
      port = after.substr(1);
    }
    std::string_view inside = host.substr(1, host.size() - 2);
    if (inside.empty()) return fail("has a malformed IPv6 address");
    for (char c : inside) {
      if (!isHex(c) && c != ':' && c != '.') return fail("has a malformed IPv6 address");
    }
  } else {
    size_t pc = authority.rfind(':');
    if (pc != std::string_view::npos) {
      has_port_colon = true;
      port = authority.substr(pc + 1);
      host = authority.substr(0, pc);
    } else {
      host = authority;
    }
    if (host.empty()) return fail("has no host");
    for (char c : host) {
      if (!isAlpha(c) && !isDigit(c) && c != '-' && c != '.') {
        return fail("has a host with characters a domain name cannot contain");
      }
    }
  }
  if (has_port_colon) {
    if (port.empty() || port.size() > 5) return fail("has a malformed port");
    unsigned v = 0;
    for (char c : port) {
      if (!isDigit(c)) return fail("has a malformed port");
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) return fail("has a port out of range");
    std::string p = std::to_string(v);  // drops leading zeros
    bool is_default = (u.scheme == "http" && v == 80) || (u.scheme == "https" && v == 443);
    u.port = is_default ? "" : p;
  }
  u.host = asciiLower(host);
  if (!isEncodedText(path, "/")) return fail("has a malformed path");
  u.path = path.empty() ? "/" : std::string(path);
  out.url = std::move(u);
  return out;
}

// Whether the host is one of the loopback forms the standard names (127.0.0.1, [::1]).
inline bool isLoopbackAddress(std::string_view host) {
  return host == "127.0.0.1" || host == "[::1]";
}

// Whether the host is an IP address literal (IPv6 in brackets, an IPv4 quad, or a name that
// URL parsers read as an IPv4 number).
inline bool isAddressHost(std::string_view host) {
  if (host.starts_with("[")) return true;
  if (url_detail::isIpv4(host)) return true;
  return url_detail::endsInNumber(host);
}

namespace url_detail {

// The checks §3.2 and §3.3 share.
inline UrlCheck commonRules(std::string_view text) {
  UrlCheck c = parseHttpUrl(text);
  if (!c) return c;
  const Url& u = *c.url;
  auto fail = [&](std::string why) {
    c.url.reset();
    c.error = std::move(why);
    return c;
  };
  if (u.has_fragment) return fail("must not contain a fragment");
  if (u.has_userinfo) return fail("must not contain a username or password");
  if (hasDotSegment(u.path)) return fail("must not contain single-dot or double-dot path segments");
  return c;
}

}  // namespace url_detail

// §3.2: a user profile URL (`me`), canonicalised. See the header comment for
// `allow_loopback_profiles`.
inline UrlCheck parseProfileUrl(std::string_view text, bool allow_loopback_profiles = false) {
  UrlCheck c = url_detail::commonRules(text);
  if (!c) return c;
  const Url& u = *c.url;
  bool dev_loopback =
      allow_loopback_profiles && (isLoopbackAddress(u.host) || u.host == "localhost");
  if (dev_loopback) return c;
  if (!u.port.empty()) {
    c.url.reset();
    c.error = "must not contain a port";
    return c;
  }
  if (isAddressHost(u.host) || !url_detail::isDomainName(u.host)) {
    c.url.reset();
    c.error = isAddressHost(u.host) ? "must use a domain name, not an IP address"
                                    : "must use a valid domain name";
    return c;
  }
  return c;
}

// §3.3: a client identifier (`client_id`), canonicalised.
inline UrlCheck parseClientId(std::string_view text) {
  UrlCheck c = url_detail::commonRules(text);
  if (!c) return c;
  const Url& u = *c.url;
  if (isLoopbackAddress(u.host)) return c;
  if (isAddressHost(u.host)) {
    c.url.reset();
    c.error = "must use a domain name; the only addresses allowed are 127.0.0.1 and [::1]";
    return c;
  }
  if (!url_detail::isDomainName(u.host)) {
    c.url.reset();
    c.error = "must use a valid domain name";
    return c;
  }
  return c;
}

// A redirect_uri: an absolute URL (any scheme: native apps use custom ones) without a
// fragment, printable ASCII, at most kMaxUrlBytes. http(s) URIs must also parse as such.
inline bool isValidRedirectUri(std::string_view uri) {
  if (uri.empty() || uri.size() > kMaxUrlBytes) return false;
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= uri.size()) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = uri[i];
    bool ok = url_detail::isAlpha(c) ||
              (i > 0 && (url_detail::isDigit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok) return false;
  }
  for (char ch : uri) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  std::string scheme = url_detail::asciiLower(uri.substr(0, colon));
  if (scheme == "http" || scheme == "https") return parseHttpUrl(uri).url.has_value();
  return true;
}

// The scheme://host[:port] of an http(s) URL, canonical; nullopt for anything else (a
// custom-scheme redirect URI has no origin to compare).
inline std::optional<std::string> originOf(std::string_view uri) {
  UrlCheck c = parseHttpUrl(uri);
  if (!c) return std::nullopt;
  return c.url->origin();
}

// §10.1: whether the redirect URI has the client_id's scheme, host and port.
inline bool sameOrigin(std::string_view a, std::string_view b) {
  auto oa = originOf(a);
  auto ob = originOf(b);
  return oa && ob && *oa == *ob;
}

namespace url_detail {

// RFC 3986 §5.2.4.
inline std::string removeDotSegments(std::string_view in) {
  std::string input(in);
  std::string output;
  while (!input.empty()) {
    if (input.starts_with("../")) {
      input.erase(0, 3);
    } else if (input.starts_with("./")) {
      input.erase(0, 2);
    } else if (input.starts_with("/./")) {
      input.erase(0, 2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.starts_with("/../")) {
      input.erase(0, 3);
      size_t last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "/..") {
      input = "/";
      size_t last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {
      input.clear();
    } else {
      size_t start = input[0] == '/' ? 1 : 0;
      size_t next = input.find('/', start);
      if (next == std::string::npos) next = input.size();
      output += input.substr(0, next);
      input.erase(0, next);
    }
  }
  return output;
}

}  // namespace url_detail

// Resolves `ref` (absolute, network-path, absolute-path, relative-path or query/fragment
// only) against the absolute http(s) URL `base` (RFC 3986 §5.2). nullopt if `base` is not
// such a URL, `ref` contains characters URLs may not hold, or the result is not one.
inline std::optional<std::string> resolveReference(std::string_view base, std::string_view ref) {
  using namespace url_detail;
  // Trim the ASCII whitespace HTML allows around attribute URLs.
  while (!ref.empty() && (ref.front() == ' ' || ref.front() == '\t' || ref.front() == '\n' ||
                          ref.front() == '\r' || ref.front() == '\f')) {
    ref.remove_prefix(1);
  }
  while (!ref.empty() && (ref.back() == ' ' || ref.back() == '\t' || ref.back() == '\n' ||
                          ref.back() == '\r' || ref.back() == '\f')) {
    ref.remove_suffix(1);
  }
  UrlCheck b = parseHttpUrl(base);
  if (!b) return std::nullopt;
  const Url& bu = *b.url;
  // An absolute reference: scheme ':' before any '/', '?' or '#'.
  size_t colon = ref.find(':');
  size_t first_delim = ref.find_first_of("/?#");
  if (colon != std::string_view::npos && colon > 0 &&
      (first_delim == std::string_view::npos || colon < first_delim)) {
    bool scheme_ok = isAlpha(ref[0]);
    for (size_t i = 1; i < colon && scheme_ok; ++i) {
      char c = ref[i];
      scheme_ok = isAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.';
    }
    if (scheme_ok) {
      UrlCheck r = parseHttpUrl(ref);
      if (!r) return std::nullopt;
      Url u = *r.url;
      u.path = removeDotSegments(u.path);
      if (u.path.empty()) u.path = "/";
      return u.str();
    }
  }
  std::string target;
  if (ref.starts_with("//")) {
    target = bu.scheme + ":" + std::string(ref);
    UrlCheck r = parseHttpUrl(target);
    if (!r) return std::nullopt;
    Url u = *r.url;
    u.path = removeDotSegments(u.path);
    if (u.path.empty()) u.path = "/";
    return u.str();
  }
  // Split the reference into path, query and fragment.
  std::string_view rpath = ref, rquery, rfrag;
  bool has_q = false, has_f = false;
  size_t h = rpath.find('#');
  if (h != std::string_view::npos) {
    has_f = true;
    rfrag = rpath.substr(h + 1);
    rpath = rpath.substr(0, h);
  }
  size_t q = rpath.find('?');
  if (q != std::string_view::npos) {
    has_q = true;
    rquery = rpath.substr(q + 1);
    rpath = rpath.substr(0, q);
  }
  Url u = bu;
  u.has_fragment = has_f;
  u.fragment = std::string(rfrag);
  if (rpath.empty()) {
    if (has_q) {
      u.has_query = true;
      u.query = std::string(rquery);
    }
  } else {
    u.has_query = has_q;
    u.query = std::string(rquery);
    if (rpath.starts_with("/")) {
      u.path = removeDotSegments(rpath);
    } else {
      std::string merged = bu.path.substr(0, bu.path.rfind('/') + 1) + std::string(rpath);
      u.path = removeDotSegments(merged);
    }
    if (u.path.empty() || u.path[0] != '/') u.path.insert(u.path.begin(), '/');
  }
  UrlCheck check = parseHttpUrl(u.str());
  if (!check) return std::nullopt;
  return check.url->str();
}

}  // namespace habanero::indieauth

#endif  // HABANERO_EXTENSIONS_INDIEAUTH_RULES_URLS_H_
