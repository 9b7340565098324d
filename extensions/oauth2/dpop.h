// dpop.h — DPoP proofs (RFC 9449): checking the DPoP header of a request, server nonces,
// and the error responses of the token endpoint and of protected resources.
//
// A proof is valid for a request (RFC 9449 §4.3) when: the request has exactly one DPoP
// header holding a JWS; its header has typ "dpop+jwt", an alg from kDpopAlgs and a public
// "jwk" (no private members) that verifies the signature (the host's crypto_jws_verify_jwk);
// its claims have a jti (at most 256 bytes), htm equal to the request method, htu equal to
// the endpoint's URL built from the configured issuer (never from Host; compared after
// RFC 3986 normalisation, and a query or fragment in htu is refused), and iat within
// [now - dpop_proof_max_age, now + dpop_clock_skew]; with an access token, ath equals
// base64url(SHA-256(token)); with dpop_nonce = "required", nonce is a current server nonce;
// and the pair (key thumbprint, jti) was not seen before within the iat window (a replay
// cache in KV, written by compare-and-set so that of two concurrent uses exactly one wins).
//
// Server nonces are stateless: base64url(window || HMAC-SHA-256(k, window)) for the current
// 5-minute window, with k a random key the extension keeps in its KV (`dpop/nonce-key`); a
// nonce of the current or the previous window is accepted.
//
//   DpopProof proof;
//   DpopCheck c = checkDpopProof(config, "/token", "", proof);
//   if (c.outcome != DpopOutcome::Valid && c.outcome != DpopOutcome::Absent)
//     return respondDpopTokenError(config, c);
#ifndef HABANERO_EXTENSIONS_OAUTH2_DPOP_H_
#define HABANERO_EXTENSIONS_OAUTH2_DPOP_H_

#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace habanero::oauth2 {

// dpop_signing_alg_values_supported.
const std::vector<std::string>& dpopAlgs();

enum class DpopOutcome {
  Absent,       // no DPoP header
  Valid,        // `proof` is set
  Invalid,      // invalid_dpop_proof; `description` says why
  UseNonce,     // use_dpop_nonce: the proof lacks a (current) server nonce
  Unavailable,  // the host's store or crypto failed
};

struct DpopCheck {
  DpopOutcome outcome = DpopOutcome::Absent;
  std::string description;
  std::string jkt;  // Valid: the RFC 7638 thumbprint of the proof's key
};

// Checks the request's DPoP header for the endpoint `route` (e.g. "/token"), whose URL is
// config.endpoint(route). A non-empty `access_token` requires a matching ath.
DpopCheck checkDpopProof(const Config& config, std::string_view route,
                         std::string_view access_token);

// A fresh server nonce ("" if the host failed), for the DPoP-Nonce header.
std::string currentDpopNonce();

// At the token endpoint: 400 invalid_dpop_proof, or 400 use_dpop_nonce with DPoP-Nonce
// (RFC 9449 §8), or 503.
void respondDpopTokenError(const DpopCheck& check);

// At a protected resource: 401 with WWW-Authenticate: DPoP error="…", algs="…" (and
// DPoP-Nonce for use_dpop_nonce, RFC 9449 §9), or 503. `error` overrides the error code
// (e.g. "invalid_token"); empty means the check's own.
void respondDpopResourceError(const DpopCheck& check, std::string_view error = "");

// The value of a WWW-Authenticate: DPoP challenge with the given error and description
// (both may be empty).
std::string dpopChallenge(std::string_view error, std::string_view description);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_DPOP_H_
