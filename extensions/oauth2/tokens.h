// tokens.h — minting and checking access tokens and ID tokens.
//
// Access tokens are JWTs per RFC 9068 (header typ "at+jwt"; claims iss, sub, aud, exp, iat,
// jti, client_id, scope, and for a user's token auth_time and amr), signed by the host's
// active key (jws_sign). A client registered with token_format "opaque" gets a random
// 256-bit token instead, whose claims are stored under its hash. Either kind is revoked by
// jti (store.h). A token "has a user" when it carries auth_time; client_credentials tokens
// have sub = client_id and no auth_time.
//
// ID tokens follow OIDC Core §2 and §3.1.3.6: iss, sub, aud (the client), azp, exp, iat,
// auth_time, nonce (when the request had one), amr, at_hash, sid, plus the user's claims
// for the granted scopes.
#ifndef HABANERO_EXTENSIONS_OAUTH2_TOKENS_H_
#define HABANERO_EXTENSIONS_OAUTH2_TOKENS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients.h"
#include "config.h"
#include "guest.h"

namespace habanero::oauth2 {

// Who and what a set of tokens is for.
struct Grant {
  std::string client_id;
  std::string sub;          // the user, or the client for client_credentials
  bool has_user = false;
  std::vector<std::string> scopes;
  int64_t auth_time = 0;
  std::vector<std::string> amr;
  std::string sid;
  std::string nonce;        // ID token only; empty: none
  std::string webid;        // Solid-OIDC: the verified WebID (webid scope); empty: none
  std::string jkt;          // DPoP: thumbprint of the key the access token is bound to
};

struct IssuedAccessToken {
  std::string token;
  std::string jti;
  int64_t exp = 0;
};

enum class Mint { Ok, Unavailable };

// Mints an access token for `grant` with the given jti (JWT, or opaque per the client).
// With grant.jkt the token is DPoP-bound (cnf.jkt, RFC 9449 §6). With grant.webid it is a
// Solid-OIDC access token: webid claim, aud [audience, solid_audience, client_id].
Mint mintAccessToken(const Config& config, const Client& client, const Grant& grant,
                     std::string_view jti, int64_t now, IssuedAccessToken& out);

// Mints an ID token; `user` is the host's user record (claims are taken from it by scope).
Mint mintIdToken(const Config& config, const Grant& grant, std::string_view access_token,
                 const Json& user, int64_t now, std::string& out);

// The user's claims the scopes allow (OIDC Core §5.4), without sub.
Json claimsForScopes(const Json& user, const std::vector<std::string>& scopes);

// at_hash: base64url of the left half of SHA-256(access token) (for ES256/RS256/… with
// SHA-256; OIDC Core §3.1.3.6).
std::string atHash(std::string_view access_token);

// A verified access token.
struct AccessTokenInfo {
  Json claims;  // iss, sub, aud, exp, iat, jti, client_id, scope, …
  std::string jti;
  std::string client_id;
  std::string sub;
  std::vector<std::string> scopes;
  bool has_user = false;
  int64_t exp = 0;
  bool opaque = false;
  std::string opaque_hash;  // for opaque tokens: the store key
  std::string jkt;          // cnf.jkt: the token is DPoP-bound to that key; empty: Bearer
};

enum class TokenCheck { Valid, Invalid, Unavailable };

// Checks an access token: signature (or stored record), typ at+jwt, iss, aud, exp, and
// revocation.
TokenCheck verifyAccessToken(const Config& config, std::string_view token, int64_t now,
                             AccessTokenInfo& out);

// Verifies the signature and issuer of a JWS this server issued (expiry not checked) and
// returns its payload; nullopt otherwise. `typ_at_jwt` selects access tokens (true) or
// anything but access tokens (false: ID tokens).
std::optional<Json> verifyOwnJwt(const Config& config, std::string_view jws, bool typ_at_jwt,
                                 TokenCheck& check);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_TOKENS_H_
