// pkce.hh — Proof Key for Code Exchange (RFC 7636), S256 only.
//
// The syntax checks are pure; s256Challenge and pkceMatches hash through the host
// (capability "crypto").
//
//   if (!sdk::isS256Challenge(challenge)) return invalidRequest("malformed code_challenge");
//   …
//   if (!sdk::pkceMatches(verifier, record.code_challenge)) return invalidGrant();
#ifndef HABANERO_SDK_CPP_HABANERO_PKCE_HH_
#define HABANERO_SDK_CPP_HABANERO_PKCE_HH_

#include <habanero.hh>

#include <string>
#include <string_view>

#include <habanero/codec.hh>
#include <habanero/random.hh>

namespace habanero::sdk {

// A code_verifier: 43..128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
inline bool isPkceVerifier(std::string_view s) {
  if (s.size() < 43 || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

// An S256 code_challenge: BASE64URL(SHA-256(verifier)), i.e. exactly 43 base64url
// characters encoding 32 bytes.
inline bool isS256Challenge(std::string_view s) {
  if (s.size() != 43) return false;
  std::optional<std::string> decoded = base64urlDecode(s);
  return decoded && decoded->size() == 32;
}

// The S256 challenge of a verifier; "" if the host failed.
inline std::string s256Challenge(std::string_view verifier) { return sha256Base64url(verifier); }

// Whether `verifier` is a well-formed verifier whose S256 challenge is `challenge`
// (compared in constant time).
inline bool pkceMatches(std::string_view verifier, std::string_view challenge) {
  if (!isPkceVerifier(verifier) || challenge.empty()) return false;
  std::string computed = s256Challenge(verifier);
  return !computed.empty() && constantTimeEqual(computed, challenge);
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_PKCE_HH_
