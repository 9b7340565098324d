// Token introspection (RFC 7662) and revocation (RFC 7009).
//
// Introspection is for confidential (authenticated) clients. An access token (JWT or opaque)
// is reported only to the client it was issued to, to a resource server its `aud` names,
// and to the clients the operator lists in the setting `introspectors` (RFC 7662 §4: the
// server decides who may learn what), with token_type "DPoP" and cnf.jkt when DPoP-bound
// (RFC 9449 §6.2); a refresh token only to the client it was issued to.
// Anything invalid, expired, revoked, unknown or not the caller's to see is
// {"active":false}, the same answer byte for byte.
//
// Revocation accepts public clients by client_id. A refresh token revokes its whole family
// (and the family's access tokens); an access token is revoked by jti. A token that is
// unknown, invalid or another client's is ignored: the answer is always 200 for a valid
// client (RFC 7009 §2.2).

#include "clients.h"
#include "guest.h"
#include "handlers.h"
#include "store.h"
#include "tokens.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

// Reads the form and authenticates the client; false when it already answered.
bool prepare(bool allow_public, ClientAuth& auth, std::optional<std::string>& token,
             std::optional<std::string>& hint) {
  if (sdk::method() != "POST") {
    respondMethodNotAllowed("POST");
    return false;
  }
  if (!isFormRequest()) {
    respondOAuthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
    return false;
  }
  Params form(sdk::Source::Form);
  if (!form.get("token", token, kMaxTokenBytes) ||
      !form.get("token_type_hint", hint, 64)) {
    respondOAuthError(400, "invalid_request", form.error());
    return false;
  }
  auth = authenticateClient(allow_public);
  if (!auth.ok) {
    respondOAuthError(auth.status, auth.error, auth.description,
                      auth.basic_challenge ? kRealm : std::string_view());
    return false;
  }
  if (!token) {
    respondOAuthError(400, "invalid_request", "token is required");
    return false;
  }
  return true;
}

void respondInactive() { respondJson(200, Json{{"active", false}}); }

// Whether `caller` may read the claims of an access token: its own client, an audience it
// names (a resource server), or an operator-listed introspector.
bool mayIntrospect(const Config& config, const Json& claims, std::string_view caller) {
  if (jsonString(claims, "client_id").value_or("") == caller) return true;
  if (config.isIntrospector(caller)) return true;
  auto aud = claims.find("aud");
  if (aud == claims.end()) return false;
  if (aud->is_string()) return aud->get<std::string>() == caller;
  if (aud->is_array()) {
    for (const auto& a : *aud) {
      if (a.is_string() && a.get<std::string>() == caller) return true;
    }
  }
  return false;
}

// An active refresh token's record, if `token` is one issued to `client_id`.
Store activeRefresh(std::string_view token, std::string_view client_id, int64_t now,
                    RefreshRecord& rec, std::string& hash) {
  if (!looksLikeOpaqueToken(token)) return Store::NotFound;
  hash = tokenHash(token);
  Store s = getRefresh(hash, rec);
  if (s != Store::Ok) return s;
  if (rec.client_id != client_id || rec.exp <= now) return Store::NotFound;
  Family family;
  std::string raw;
  s = getFamily(rec.family, family, raw);
  if (s != Store::Ok) return s;
  if (family.revoked || family.current != hash) return Store::NotFound;
  return Store::Ok;
}

}  // namespace

void handleIntrospect(const Config& config) {
  ClientAuth auth;
  std::optional<std::string> token, hint;
  if (!prepare(/*allow_public=*/false, auth, token, hint)) return;
  int64_t now = nowSeconds();

  AccessTokenInfo info;
  switch (verifyAccessToken(config, *token, now, info)) {
    case TokenCheck::Valid: {
      if (!mayIntrospect(config, info.claims, auth.client.id)) {
        sdk::logInfo("introspection of another client's access token by " +
                     auth.client.id.substr(0, 128) + " answered inactive");
        return respondInactive();
      }
      Json out = info.claims;
      out["active"] = true;
      out["token_type"] = info.jkt.empty() ? "Bearer" : "DPoP";
      return respondJson(200, out);
    }
    case TokenCheck::Unavailable:
      return respondUnavailable();
    case TokenCheck::Invalid:
      break;
  }
  RefreshRecord rec;
  std::string hash;
  switch (activeRefresh(*token, auth.client.id, now, rec, hash)) {
    case Store::Ok: {
      Json out = {{"active", true},       {"scope", joinScope(rec.scopes)},
                  {"client_id", rec.client_id}, {"sub", rec.sub},
                  {"iss", config.issuer}, {"iat", rec.iat},
                  {"exp", rec.exp},       {"token_type", "refresh_token"}};
      if (!rec.jkt.empty()) out["cnf"] = Json{{"jkt", rec.jkt}};
      return respondJson(200, out);
    }
    case Store::Unavailable:
      return respondUnavailable();
    default:
      return respondInactive();
  }
}

void handleRevoke(const Config& config) {
  ClientAuth auth;
  std::optional<std::string> token, hint;
  if (!prepare(/*allow_public=*/true, auth, token, hint)) return;
  int64_t now = nowSeconds();
  auto done = [] {
    sdk::setStatus(200);
    sdk::addHeader("cache-control", "no-store");
  };

  // Refresh tokens (also rotated ones: revoking any token of a family ends the family).
  if (looksLikeOpaqueToken(*token)) {
    std::string hash = tokenHash(*token);
    RefreshRecord rec;
    switch (getRefresh(hash, rec)) {
      case Store::Ok:
        if (rec.client_id == auth.client.id) {
          if (revokeFamily(rec.family, now) != Store::Ok) return respondUnavailable();
        }
        return done();
      case Store::Unavailable:
        return respondUnavailable();
      default:
        break;
    }
    Json claims;
    switch (getOpaqueAccess(hash, claims)) {
      case Store::Ok:
        if (jsonString(claims, "client_id").value_or("") == auth.client.id) {
          int64_t exp = jsonInt(claims, "exp").value_or(now);
          if (revokeAccessToken(jsonString(claims, "jti").value_or(""), exp, now) != Store::Ok ||
              deleteOpaqueAccess(hash) != Store::Ok) {
            return respondUnavailable();
          }
        }
        return done();
      case Store::Unavailable:
        return respondUnavailable();
      default:
        return done();
    }
  }
  // JWT access tokens: revoke by jti if the signature is ours and it is the caller's.
  TokenCheck check;
  auto claims = verifyOwnJwt(config, *token, /*typ_at_jwt=*/true, check);
  if (check == TokenCheck::Unavailable) return respondUnavailable();
  if (claims && jsonString(*claims, "client_id").value_or("") == auth.client.id) {
    int64_t exp = jsonInt(*claims, "exp").value_or(now);
    if (exp > now &&
        revokeAccessToken(jsonString(*claims, "jti").value_or(""), exp, now) != Store::Ok) {
      return respondUnavailable();
    }
  }
  done();
}

}  // namespace habanero::oauth2
