// Helpers shared by the host records of src/auth/ (users, clients, sessions):
// random identifiers, text checks and exception-free JSON field access.
// Internal to src/auth/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "habanero/status.h"

namespace habanero::auth::internal {

using Json = nlohmann::json;

// `bytes` random bytes as base64url without padding (16 -> 22 characters,
// 32 -> 43). Internal if the CSPRNG fails.
absl::StatusOr<std::string> randomToken(size_t bytes);

// Whether `s` is `bytes` random bytes as randomToken() writes them: the exact
// length, base64url characters only. Cheap; used to refuse junk before a
// storage lookup.
bool looksLikeToken(std::string_view s, size_t bytes);

// Valid UTF-8 without control characters (C0, DEL, C1), at most `max_bytes`.
bool isPlainText(std::string_view s, size_t max_bytes);

// Serialises without throwing: invalid UTF-8 (which callers should have
// refused already) is replaced by U+FFFD.
std::string dump(const Json& j);

// Parses without throwing; a discarded value (is_discarded()) on bad input.
Json parse(std::string_view text);

// Field readers: false (and `out` untouched) when the field is missing or of
// another type. Never throw.
bool readString(const Json& j, std::string_view key, std::string& out);
bool readBool(const Json& j, std::string_view key, bool& out);
bool readInt(const Json& j, std::string_view key, int64_t& out);
bool readStrings(const Json& j, std::string_view key, std::vector<std::string>& out);

}  // namespace habanero::auth::internal
