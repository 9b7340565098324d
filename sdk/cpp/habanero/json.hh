// json.hh — JSON in the guest: nlohmann::json used so that nothing can abort.
//
// Guests build with JSON_NOEXCEPTION (habanero_add_extension(... NLOHMANN_JSON)): anything
// that would throw — a parse error from the throwing overload, get<>() of the wrong type,
// at() of a missing key, dump() of invalid UTF-8 with the default handler — aborts, which
// traps and answers 500. So extensions never call those directly; they use these helpers,
// which check types first, parse with the non-throwing overload behind a nesting-depth guard
// (the parser recurses, and the guest's shadow stack is small) and dump with invalid UTF-8
// replaced. This is the one JSON reader of every extension.
//
//   std::optional<sdk::Json> j = sdk::parseJsonObject(text);  // nullopt: not an object / too deep
//   std::string sub = sdk::jsonString(*j, "sub").value_or("");
//   sdk::respond(200, "application/json", sdk::dumpJson(out));
#ifndef HABANERO_SDK_CPP_HABANERO_JSON_HH_
#define HABANERO_SDK_CPP_HABANERO_JSON_HH_

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace habanero::sdk {

using Json = nlohmann::json;

// Nesting beyond this is refused before parsing.
inline constexpr int kMaxJsonDepth = 32;

// Whether JSON text nests arrays/objects at most `maxDepth` deep (strings are skipped,
// escapes honoured). A cheap guard before a recursive parser; it validates nothing else.
inline bool jsonDepthWithin(std::string_view text, int maxDepth) {
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
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// Parses `text` as JSON; nullopt if it is not JSON or nests deeper than kMaxJsonDepth.
inline std::optional<Json> parseJson(std::string_view text) {
  if (!jsonDepthWithin(text, kMaxJsonDepth)) return std::nullopt;
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// Parses `text` as a JSON object; nullopt for anything else.
inline std::optional<Json> parseJsonObject(std::string_view text) {
  std::optional<Json> j = parseJson(text);
  if (!j || !j->is_object()) return std::nullopt;
  return j;
}

// Compact JSON text; invalid UTF-8 in strings is replaced by U+FFFD instead of aborting.
inline std::string dumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The member `key` of object `j` if it exists and is a string.
inline std::optional<std::string> jsonString(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The member `key` of object `j` if it is an integer (or a float with an integral value).
inline std::optional<int64_t> jsonInt(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (d >= -9.0e15 && d <= 9.0e15 && static_cast<double>(static_cast<int64_t>(d)) == d) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

// The member `key` of object `j` if it is a boolean, else `fallback`.
inline bool jsonBool(const Json& j, std::string_view key, bool fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return fallback;
  return it->get<bool>();
}

// The string elements of the array member `key` (non-strings skipped); nullopt if the member
// is absent or not an array.
inline std::optional<std::vector<std::string>> jsonStrings(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : *it) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

// jsonStrings(), or an empty list when the member is absent or not an array.
inline std::vector<std::string> jsonStringList(const Json& j, std::string_view key) {
  return jsonStrings(j, key).value_or(std::vector<std::string>{});
}

// A JSON array of strings.
inline Json jsonArray(const std::vector<std::string>& values) {
  Json a = Json::array();
  for (const auto& v : values) a.push_back(v);
  return a;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_JSON_HH_
