// util.hh — small text, JSON and settings helpers shared by the magic-link authenticators
// (extensions/magic-email, extensions/magic-sms). Header-only; guest code only.
//
// JSON goes through nlohmann::json built with JSON_NOEXCEPTION (the extension's CMake asks
// for NLOHMANN_JSON): anything that would throw aborts, so these helpers check types first,
// parse with the non-throwing overload behind a depth guard, and dump with the replacing
// UTF-8 handler. Never call at(), get<>() or dump() directly.
//
//   std::optional<Json> j = parseJson(text);      // nullopt: not JSON, too deep
//   std::string rt = jsonString(*j, "rt").value_or("");
//   sdk::publish(topic, dumpJson(Json{{"rt", rt}}));
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_UTIL_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_UTIL_HH_

#include <charconv>
#include <cstdint>
#include <habanero.hh>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace habanero::magic {

namespace sdk = habanero::sdk;
using Json = nlohmann::json;

// ---- text --------------------------------------------------------------------------------

inline std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
inline std::string urlEncode(std::string_view s) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Control characters (C0 and DEL) anywhere in s.
inline bool hasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

inline std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline std::optional<int64_t> parseInt(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Lower-case hex of SHA-256(data); empty only if the host failed (a host bug).
inline std::string sha256Hex(std::string_view data) {
  std::optional<sdk::Digest> d = sdk::sha256(data);
  return d ? sdk::hex(*d) : std::string();
}

// ---- settings ----------------------------------------------------------------------------

// A positive integer setting, or `fallback` (logged) when it is absent or not one.
inline int64_t positiveSetting(std::string_view name, int64_t fallback) {
  std::optional<std::string> text = sdk::setting(name);
  if (!text) return fallback;
  std::optional<int64_t> v = parseInt(trim(*text));
  if (!v || *v <= 0 || *v > 1'000'000'000) {
    sdk::logWarn("setting " + std::string(name) + " is not a positive integer; using " +
                 std::to_string(fallback));
    return fallback;
  }
  return *v;
}

// A boolean setting ("true"/"false"; TOML booleans arrive as those words), else `fallback`.
inline bool boolSetting(std::string_view name, bool fallback) {
  std::optional<std::string> text = sdk::setting(name);
  if (!text) return fallback;
  std::string v = asciiLower(trim(*text));
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  sdk::logWarn("setting " + std::string(name) + " is not true or false; using " +
               (fallback ? "true" : "false"));
  return fallback;
}

// ---- JSON --------------------------------------------------------------------------------

inline constexpr int kMaxJsonDepth = 16;

// Whether brackets nest at most `max` deep outside strings (nlohmann's parser recurses).
inline bool jsonDepthWithin(std::string_view text, int max) {
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

// `text` as a JSON object; nullopt if it is not one (or nests too deep).
inline std::optional<Json> parseJson(std::string_view text) {
  if (!jsonDepthWithin(text, kMaxJsonDepth)) return std::nullopt;
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

inline std::optional<std::string> jsonString(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get_ref<const std::string&>();
}

inline std::optional<int64_t> jsonInt(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// Serialises without ever aborting: invalid UTF-8 is replaced by U+FFFD.
inline std::string dumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_UTIL_HH_
