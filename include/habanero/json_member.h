// Reading members of a JSON object (nlohmann) that a caller got from outside:
// absent and wrongly typed members are the same "not given".
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace habanero {

// The string member `key` of `j`, or nullopt (j not an object, `key` missing or
// not a string).
inline std::optional<std::string> jsonStringMember(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace habanero
