// json.h — nlohmann::json used safely inside the guest (built with JSON_NOEXCEPTION, where a
// would-be throw aborts): parse with the non-throwing overload behind a depth guard, check
// types before reading, dump with invalid UTF-8 replaced.
#ifndef HABANERO_EXTENSIONS_INDIEAUTH_JSON_H_
#define HABANERO_EXTENSIONS_INDIEAUTH_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/codec.h"

namespace habanero::indieauth {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 32;

// A JSON object parsed from `text`; nullopt for anything else or nesting beyond the guard.
inline std::optional<Json> parseJsonObject(std::string_view text) {
  if (!habanero::oauth2::jsonDepthWithin(text, kMaxJsonDepth)) return std::nullopt;
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

inline std::string dumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

inline std::optional<std::string> jsonString(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

inline std::optional<int64_t> jsonInt(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// The string elements of array member `key` (others skipped); empty if absent.
inline std::vector<std::string> jsonStrings(const Json& j, std::string_view key) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

inline Json jsonArray(const std::vector<std::string>& values) {
  Json a = Json::array();
  for (const auto& v : values) a.push_back(v);
  return a;
}

}  // namespace habanero::indieauth

#endif  // HABANERO_EXTENSIONS_INDIEAUTH_JSON_H_
