// Public keys given as JWKs (RFC 7517): verifying a compact JWS with one and
// computing its RFC 7638 thumbprint. Used for DPoP proofs (RFC 9449) and
// client keys, whose public keys arrive in the token or a document rather than
// from the host's KeyStore (capability "crypto", design 0002).
#pragma once

#include <string>
#include <string_view>

#include "habanero/status.h"

namespace habanero::crypto {

// Verifies `jws` (compact serialisation) with the public key `jwk_json`.
// Supported: ES256 (EC P-256), ES384 (P-384), EdDSA (OKP Ed25519), RS256 and
// PS256 (RSA, ≥ 2048 bits). The header's alg must fit the key (and the JWK's
// "alg", if present); "none" and HMAC algorithms are refused. A JWK holding
// private members ("d", "p", …) is refused.
// Returns the decoded payload. Errors: InvalidArgument (malformed JWS or JWK,
// unsupported key), PermissionDenied (bad signature, alg/key mismatch).
absl::StatusOr<std::string> verifyJwsWithJwk(std::string_view jws, std::string_view jwk_json);

// The RFC 7638 SHA-256 thumbprint, base64url without padding.
// InvalidArgument if `jwk_json` is not a supported public JWK.
absl::StatusOr<std::string> jwkThumbprint(std::string_view jwk_json);

}  // namespace habanero::crypto
