// base64url (RFC 4648 §5) without padding, as JOSE uses it (RFC 7515 §2).
//
//   std::string text = crypto::base64UrlEncode(bytes);     // "Zm9vYg"
//   ASSIGN_OR_RETURN(std::string bytes, crypto::base64UrlDecode(text));
#pragma once

#include <string>
#include <string_view>

#include "habanero/status.h"

namespace habanero::crypto {

// Encodes with the URL-safe alphabet and no '=' padding.
std::string base64UrlEncode(std::string_view bytes);

// Strict inverse of base64UrlEncode: accepts only [A-Za-z0-9_-], no padding,
// no whitespace, and only the canonical encoding (unused trailing bits must
// be zero), so every byte string has exactly one accepted text.
// InvalidArgument otherwise. "" decodes to "".
absl::StatusOr<std::string> base64UrlDecode(std::string_view text);

}  // namespace habanero::crypto
