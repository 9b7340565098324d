// json.h — safe use of nlohmann::json inside the guest.
//
// The guest builds with JSON_NOEXCEPTION: anything that would throw (a parse error from the
// throwing overload, get<>() of the wrong type, at() of a missing key, dump() of invalid
// UTF-8 with the default handler) aborts, which traps and answers 500. So the extension never
// calls those directly; it uses these helpers, which check types first and parse with the
// non-throwing overload behind a nesting-depth guard (the parser recurses, and the shadow
// stack is small).
//
//   auto j = parseJson(text);                  // nullopt: not JSON, or too deep
//   std::string sub = jsonString(*j, "sub").value_or("");
//   respond(200, "application/json", dumpJson(out));
#ifndef HABANERO_EXTENSIONS_OAUTH2_JSON_H_
#define HABANERO_EXTENSIONS_OAUTH2_JSON_H_

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/codec.h"

namespace habanero::oauth2 {

using Json = nlohmann::json;

// Nesting beyond this is refused before parsing.
inline constexpr int kMaxJsonDepth = 32;

// Parses `text` as JSON; nullopt if it is not JSON or nests deeper than kMaxJsonDepth.
inline std::optional<Json> parseJson(std::string_view text) {
  if (!jsonDepthWithin(text, kMaxJsonDepth)) return std::nullopt;
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// Parses `text` as a JSON object; nullopt for anything else.
inline std::optional<Json> parseJsonObject(std::string_view text) {
  auto j = parseJson(text);
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

// The string elements of the array member `key` (non-strings skipped); nullopt if the
// member is absent or not an array.
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

// A JSON array of strings.
inline Json jsonArray(const std::vector<std::string>& values) {
  Json a = Json::array();
  for (const auto& v : values) a.push_back(v);
  return a;
}

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_JSON_H_
