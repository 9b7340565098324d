// oauth_params.hh — syntax of OAuth 2.0 / OIDC request values: scopes, prompt, client
// credentials in Authorization headers, token shapes, and the size limits of request values.
//
// Pure (no host calls, standard library only), for guests, native tests and fuzzers. Each
// function checks one value's syntax and returns nullopt/false for anything malformed; none
// looks anything up (registrations, tokens). PKCE is in pkce.hh, redirect URIs in
// redirect_uri.hh.
//
//   auto scopes = sdk::parseScope("openid email");          // {"openid", "email"}
//   auto creds = sdk::parseBasicAuth("Basic YSUzQWI6cw=="); // {"a:b", "s"} (RFC 6749 §2.3.1)
#ifndef HABANERO_SDK_CPP_HABANERO_OAUTH_PARAMS_HH_
#define HABANERO_SDK_CPP_HABANERO_OAUTH_PARAMS_HH_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <habanero/codec.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

// Largest accepted sizes of request values (bytes). Larger values are invalid_request.
inline constexpr size_t kMaxClientIdBytes = 256;
inline constexpr size_t kMaxStateBytes = 2048;
inline constexpr size_t kMaxNonceBytes = 1024;
inline constexpr size_t kMaxScopeBytes = 2048;
inline constexpr size_t kMaxScopeTokens = 64;
inline constexpr size_t kMaxHintBytes = 512;    // login_hint, ui_locales, logout_hint
inline constexpr size_t kMaxSecretBytes = 1024;
inline constexpr size_t kMaxTokenBytes = 8192;  // access/refresh tokens, codes, id_token_hint

namespace params_detail {

// Splits an HTTP Authorization value into scheme and credentials ("Basic  abc " ->
// {"Basic", "abc"}); nullopt without a space after the scheme.
struct SchemeAndRest {
  std::string_view scheme;
  std::string_view rest;
};
inline std::optional<SchemeAndRest> splitScheme(std::string_view header) {
  header = trim(header);
  size_t sp = header.find(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  return SchemeAndRest{header.substr(0, sp), trim(header.substr(sp + 1))};
}

}  // namespace params_detail

// Whether every byte is a VSCHAR (%x20-7E), as client_id, state and similar values must
// be (RFC 6749 Appendix A).
inline bool isVsChars(std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// A client_id: 1..kMaxClientIdBytes VSCHARs.
inline bool isValidClientId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxClientIdBytes && isVsChars(s);
}

// A scope token: 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
inline bool isScopeToken(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

// The tokens of a space-delimited scope value, duplicates removed, order kept. Runs of
// spaces are tolerated; an empty value gives an empty list. nullopt for a bad token, more
// than kMaxScopeTokens tokens, or a value over kMaxScopeBytes.
inline std::optional<std::vector<std::string>> parseScope(std::string_view value) {
  if (value.size() > kMaxScopeBytes) return std::nullopt;
  std::vector<std::string> out;
  size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = value.find(' ', i);
    if (end == std::string_view::npos) end = value.size();
    std::string_view token = value.substr(i, end - i);
    if (!isScopeToken(token)) return std::nullopt;
    if (std::find(out.begin(), out.end(), token) == out.end()) {
      if (out.size() == kMaxScopeTokens) return std::nullopt;
      out.emplace_back(token);
    }
    i = end;
  }
  return out;
}

// Scope tokens joined by single spaces.
inline std::string joinScope(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

inline bool hasScope(const std::vector<std::string>& scopes, std::string_view s) {
  return std::find(scopes.begin(), scopes.end(), s) != scopes.end();
}

// Whether every element of `sub` is in `super`.
inline bool isSubset(const std::vector<std::string>& sub, const std::vector<std::string>& super) {
  for (const auto& s : sub) {
    if (!hasScope(super, s)) return false;
  }
  return true;
}

// The OIDC `prompt` parameter (Core §3.1.2.1): space-delimited none, login, consent,
// select_account. nullopt for unknown values or `none` combined with another value.
struct Prompt {
  bool none = false;
  bool login = false;
  bool consent = false;
  bool select_account = false;
};
inline std::optional<Prompt> parsePrompt(std::string_view value) {
  Prompt p;
  int count = 0;
  size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = value.find(' ', i);
    if (end == std::string_view::npos) end = value.size();
    std::string_view v = value.substr(i, end - i);
    if (v == "none") {
      p.none = true;
    } else if (v == "login") {
      p.login = true;
    } else if (v == "consent") {
      p.consent = true;
    } else if (v == "select_account") {
      p.select_account = true;
    } else {
      return std::nullopt;
    }
    ++count;
    i = end;
  }
  if (p.none && (p.login || p.consent || p.select_account)) return std::nullopt;
  (void)count;
  return p;
}

// Client credentials from an HTTP Basic Authorization header (RFC 7617), each of
// client_id and secret form-urlencoded inside as RFC 6749 §2.3.1 requires.
struct BasicCredentials {
  std::string client_id;
  std::string secret;
};

// Whether the Authorization header uses the Basic scheme (case-insensitive).
inline bool isBasicAuth(std::string_view header) {
  auto parts = params_detail::splitScheme(header);
  return parts && parts->scheme.size() == 5 && startsWithIgnoreCase(parts->scheme, "basic");
}

// nullopt unless the header is "Basic <base64>" whose decoded text has a ':' and whose
// two parts decode to UTF-8 without control characters, the client_id valid.
inline std::optional<BasicCredentials> parseBasicAuth(std::string_view header) {
  if (!isBasicAuth(header)) return std::nullopt;
  auto parts = params_detail::splitScheme(header);
  if (parts->rest.size() > 4 * (kMaxClientIdBytes * 3 + kMaxSecretBytes * 3)) return std::nullopt;
  auto decoded = base64Decode(parts->rest);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto id = formUrlDecode(std::string_view(*decoded).substr(0, colon));
  auto secret = formUrlDecode(std::string_view(*decoded).substr(colon + 1));
  if (!id || !secret) return std::nullopt;
  if (!isValidUtf8(*id) || !isValidUtf8(*secret) || hasControl(*id) || hasControl(*secret)) {
    return std::nullopt;
  }
  if (!isValidClientId(*id) || secret->size() > kMaxSecretBytes) return std::nullopt;
  return BasicCredentials{std::move(*id), std::move(*secret)};
}

// Whether the Authorization header uses the Bearer scheme (case-insensitive).
inline bool isBearerAuth(std::string_view header) {
  auto parts = params_detail::splitScheme(header);
  return parts && parts->scheme.size() == 6 && startsWithIgnoreCase(parts->scheme, "bearer");
}

// The token of "Bearer <b64token>" (RFC 6750 §2.1); nullopt for another scheme or a token
// outside 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
inline std::optional<std::string_view> parseBearer(std::string_view header) {
  if (!isBearerAuth(header)) return std::nullopt;
  std::string_view token = params_detail::splitScheme(header)->rest;
  if (token.empty() || token.size() > kMaxTokenBytes) return std::nullopt;
  size_t i = 0;
  for (; i < token.size(); ++i) {
    char c = token[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return std::nullopt;
  for (size_t k = i; k < token.size(); ++k) {
    if (token[k] != '=') return std::nullopt;
  }
  return token;
}

// Whether `s` has the shape of a compact JWS: three non-empty-header base64url parts
// separated by two dots (the signature part may not be empty). Nothing is decoded.
inline bool looksLikeJws(std::string_view s) {
  if (s.empty() || s.size() > kMaxTokenBytes) return false;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
      continue;
    }
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  if (dots != 2) return false;
  size_t first = s.find('.');
  size_t last = s.rfind('.');
  return first > 0 && last + 1 < s.size();
}

// Whether `s` has the shape of a token this server issues opaquely (authorization codes,
// refresh tokens, opaque access tokens): 43 base64url characters (256 bits).
inline bool looksLikeOpaqueToken(std::string_view s) {
  if (s.size() != 43) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The protected header segment of a compact JWS, base64url-decoded; nullopt if malformed.
inline std::optional<std::string> jwsHeader(std::string_view jws) {
  size_t dot = jws.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  return base64urlDecode(jws.substr(0, dot));
}

// Whether a JWT `typ` header value means "at+jwt" (RFC 9068 §2.1: case-insensitive, with
// or without the "application/" prefix).
inline bool isAccessTokenTyp(std::string_view typ) {
  if (startsWithIgnoreCase(typ, "application/")) typ.remove_prefix(12);
  return typ.size() == 6 && startsWithIgnoreCase(typ, "at+jwt");
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_OAUTH_PARAMS_HH_
