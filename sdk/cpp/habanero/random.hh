// random.hh — identifiers and secrets from the host's CSPRNG, and the hashes under which
// secrets are stored. Needs the capability "crypto".
//
//   std::optional<std::string> code = sdk::randomToken();   // 43 base64url characters
//   sdk::kvPut("c/" + sdk::tokenHash(*code), record, ttlMs); // only the hash is stored
#ifndef HABANERO_SDK_CPP_HABANERO_RANDOM_HH_
#define HABANERO_SDK_CPP_HABANERO_RANDOM_HH_

#include <habanero.hh>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <habanero/codec.hh>

namespace habanero::sdk {

// `bytes` random bytes, base64url without padding; nullopt if the host's CSPRNG failed.
inline std::optional<std::string> randomBase64url(size_t bytes) {
  std::optional<std::string> raw = randomBytes(bytes);
  if (!raw) return std::nullopt;
  return base64urlEncode(*raw);
}

// A fresh random 256-bit value (43 characters): codes, tokens, CSRF tokens.
inline std::optional<std::string> randomToken() { return randomBase64url(32); }

// A fresh random 128-bit identifier (22 characters): request ids, jti, families.
inline std::optional<std::string> randomId() { return randomBase64url(16); }

// Lower-case hex SHA-256 of `data`; 64 zeros only if the host failed (a host bug; no value
// ever hashes to that).
inline std::string sha256Hex(std::string_view data) {
  std::optional<Digest> d = sha256(data);
  return d ? hex(std::string_view(reinterpret_cast<const char*>(d->data()), d->size()))
           : std::string(64, '0');
}

// The form in which a token is stored and looked up: its hex SHA-256.
inline std::string tokenHash(std::string_view token) { return sha256Hex(token); }

// BASE64URL(SHA-256(data)), as PKCE S256 and OIDC at_hash use it; "" if the host failed.
inline std::string sha256Base64url(std::string_view data) {
  std::optional<Digest> d = sha256(data);
  if (!d) return std::string();
  return base64urlEncode(std::string_view(reinterpret_cast<const char*>(d->data()), d->size()));
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_RANDOM_HH_
