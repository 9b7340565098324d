// store.h — the extension's records in its KV namespace: codes, tokens, revocations,
// remembered consent and short-lived requests.
//
// Key layout (values are JSON objects; every token is looked up by the hex SHA-256 of its
// value, so the store never holds a usable code or token):
//   p/<id>          pending authorization request (login, consent)     TTL 10 min
//   lo/<id>         logout awaiting confirmation                       TTL 10 min
//   c/<hash>        authorization code                                 TTL code_ttl
//   cu/<hash>       "code used": what the code's redemption issued, so a replay can revoke it
//   rt/<hash>       refresh token                                      TTL refresh_token_ttl
//   f/<family>      refresh-token family: current token, revoked flag, access-token ids
//   at/<hash>       opaque access token                                TTL access_token_ttl
//   rv/<jti>        revoked access token id, kept until the token would expire
//   cs/<hash(sub,client)>  remembered consent (scopes), no expiry
//   dj/<hash(jkt,jti)>  DPoP proof seen (replay cache)                 TTL proof window
//   dpop/nonce-key  the key of DPoP server nonces                      no expiry
//   wv/<hash>       verdict on an external WebID                       TTL webid_cache_ttl
//   cid/<hash>      a fetched client identifier document               TTL 5 min (refused: 1)
//
// Every function returns Store::Ok, NotFound (absent, expired or unreadable), Conflict
// (compare-and-set lost) or Unavailable (the host's store failed; it logged why).
#ifndef HABANERO_EXTENSIONS_OAUTH2_STORE_H_
#define HABANERO_EXTENSIONS_OAUTH2_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guest.h"

namespace habanero::oauth2 {

// Store, randomToken, randomId, tokenHash and the generic putRecord/getRecord/takeRecord/
// deleteRecord come from the guest library (<habanero/records.hh>, <habanero/random.hh>).

// The authorization code's grant.
struct CodeRecord {
  std::string client_id;
  std::string redirect_uri;
  std::string code_challenge;  // empty: issued without PKCE
  std::string nonce;
  std::vector<std::string> scopes;
  std::string sub;
  int64_t auth_time = 0;
  std::vector<std::string> amr;
  std::string sid;
  int64_t exp = 0;  // seconds
  std::string dpop_jkt;  // RFC 9449 §10: the code may only be redeemed with this DPoP key
};
Store putCode(const std::string& hash, const CodeRecord& code, int64_t ttl_s);
// Atomically takes the code: of concurrent redemptions exactly one gets Ok.
Store takeCode(const std::string& hash, CodeRecord& out);

// What a code's redemption issued.
struct CodeUse {
  std::string jti;
  int64_t jti_exp = 0;
  std::string family;  // empty: no refresh token
};
Store putCodeUse(const std::string& hash, const CodeUse& use, int64_t ttl_s);
Store getCodeUse(const std::string& hash, CodeUse& out);

// A refresh token. Rotated tokens keep their record until they expire so that a replay is
// recognised (its hash is no longer the family's current one).
struct RefreshRecord {
  std::string family;
  std::string client_id;
  std::string sub;
  std::vector<std::string> scopes;
  int64_t auth_time = 0;
  std::vector<std::string> amr;
  std::string sid;
  int64_t iat = 0;
  int64_t exp = 0;
  std::string jkt;  // a public client's DPoP key the token is bound to (RFC 9449 §5)
};
Store putRefresh(const std::string& hash, const RefreshRecord& rec, int64_t ttl_s);
Store getRefresh(const std::string& hash, RefreshRecord& out);

// A refresh-token family: all tokens rotated from one grant.
struct Family {
  std::string current;  // hash of the only refresh token that may be used
  std::string client_id;
  bool revoked = false;
  std::vector<std::pair<std::string, int64_t>> access_tokens;  // (jti, exp) still alive
  int64_t exp = 0;
};
// `raw` receives the stored text, for compare-and-set.
Store getFamily(const std::string& id, Family& out, std::string& raw);
// Writes the family if its stored text still equals `expected_raw` (absent when nullopt).
Store casFamily(const std::string& id, const std::optional<std::string>& expected_raw,
                const Family& family, int64_t ttl_s);
// Marks the family revoked and revokes its live access tokens. Ok also when absent.
Store revokeFamily(const std::string& id, int64_t now);

// An opaque access token's claims (the same as a JWT access token's).
Store putOpaqueAccess(const std::string& hash, const Json& claims, int64_t ttl_s);
Store getOpaqueAccess(const std::string& hash, Json& claims);
Store deleteOpaqueAccess(const std::string& hash);

// Access-token revocation by jti, kept until `exp` (+ a minute).
Store revokeAccessToken(std::string_view jti, int64_t exp, int64_t now);
// Ok: revoked; NotFound: not revoked.
Store isAccessTokenRevoked(std::string_view jti);

// Remembered consent of `sub` for `client_id`.
Store getConsent(std::string_view sub, std::string_view client_id, std::vector<std::string>& out);
Store putConsent(std::string_view sub, std::string_view client_id,
                 const std::vector<std::string>& scopes);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_STORE_H_
