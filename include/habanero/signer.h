// JWS signing with keys the host holds. Extensions ask the host to sign; the
// private keys never leave the host process (they never enter guest memory).
//
//   ASSIGN_OR_RETURN(std::string jws, signer.sign(R"({"typ":"at+jwt"})", payload));
//   ASSIGN_OR_RETURN(std::string payload, signer.verify(jws));
#pragma once

#include <string>
#include <string_view>

#include "habanero/status.h"

namespace habanero {

class Signer {
 public:
  virtual ~Signer() = default;

  // Returns a compact JWS over `payload`, signed with the active key.
  // `header_json` is a JSON object of extra protected-header members, or ""
  // for none; "alg" and "kid" are always set by the signer and override the
  // caller's. InvalidArgument if header_json is not a JSON object.
  // Thread-safe.
  virtual absl::StatusOr<std::string> sign(std::string_view header_json,
                                           std::string_view payload) const = 0;

  // Verifies a compact JWS against the active and retained keys (by "kid",
  // and "alg" must match the key's) and returns the decoded payload.
  // PermissionDenied for a bad signature, an unknown kid or "alg":"none";
  // InvalidArgument for a malformed JWS. Thread-safe.
  virtual absl::StatusOr<std::string> verify(std::string_view jws) const = 0;

  // The public keys (active first, then retained) as a JWKS JSON document.
  virtual std::string jwks() const = 0;
};

}  // namespace habanero
