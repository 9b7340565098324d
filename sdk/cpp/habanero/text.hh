// text.hh — text helpers every extension needs: HTML escaping, percent-encoding, UTF-8 and
// control-character checks, trimming, ASCII case, integers and media types.
//
// Pure functions of their arguments (no host calls, standard library only), so they compile
// for the wasm32 guest, for native tests and for the host alike.
//
//   page += "<p>" + sdk::htmlEscape(userText) + "</p>";       // the one HTML escaper
//   link += "?rt=" + sdk::percentEncode(rt);                  // a query value
//   if (sdk::hasControl(value) || !sdk::isValidUtf8(value)) …
#ifndef HABANERO_SDK_CPP_HABANERO_TEXT_HH_
#define HABANERO_SDK_CPP_HABANERO_TEXT_HH_

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace habanero::sdk {

// Escapes & < > " ' for HTML element content and quoted attribute values. Every value a page
// shows that did not come from the extension's own source goes through this.
inline std::string htmlEscape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 8);
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Percent-encodes everything but RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~), so the
// result is safe as a query component, form value or path segment.
inline std::string percentEncode(std::string_view in) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (char ch : in) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Whether `s` contains an ASCII control character (0x00-0x1f, 0x7f).
inline bool hasControl(std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
inline bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// `s` without leading and trailing spaces, tabs, CR and LF. The view points into `s`.
inline std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

inline char asciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `s` with A-Z lower-cased; other bytes unchanged.
inline std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

inline bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// A decimal integer (optional '-'), the whole of `s`; nullopt for anything else or overflow.
inline std::optional<int64_t> parseInt(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A non-negative decimal integer of at most `maxDigits` digits, no sign, no spaces.
inline std::optional<int64_t> parseNonNegative(std::string_view s, size_t maxDigits = 12) {
  if (s.empty() || s.size() > maxDigits || maxDigits > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Whether a Content-Type value names `mediaType` (case-insensitive, parameters ignored):
// mediaTypeIs("application/x-www-form-urlencoded; charset=UTF-8",
//             "application/x-www-form-urlencoded") is true.
inline bool mediaTypeIs(std::string_view contentType, std::string_view mediaType) {
  size_t semi = contentType.find(';');
  return equalsIgnoreCase(trim(contentType.substr(0, semi)), mediaType);
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_TEXT_HH_
