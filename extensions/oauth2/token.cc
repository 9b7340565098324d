// The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; RFC 7636 §4.5-4.6; OIDC Core §3.1.3).
//
// Grants: authorization_code (single use; a replay revokes what the code issued),
// refresh_token (rotated on every use; presenting a rotated token revokes the family) and
// client_credentials (confidential clients). Refresh tokens are issued only for the
// offline_access scope, to clients allowed the refresh_token grant.
//
// DPoP (RFC 9449): a request with a valid DPoP proof gets token_type "DPoP" and an access
// token bound to the proof's key (cnf.jkt). A public client's refresh token issued that way
// is bound too: refreshing needs a proof with the same key (§5). A code requested with
// dpop_jkt needs a proof with that key (§10). Solid-OIDC: with the webid scope, the verified
// WebID (webid.h) goes into the ID token and the access token; if it cannot be verified the
// scope is not granted.

#include <algorithm>

#include "clients.h"
#include "dpop.h"
#include "guest.h"
#include "handlers.h"
#include "store.h"
#include "tokens.h"
#include "webid.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

// Live access tokens remembered per refresh-token family (for revoking them with it).
constexpr size_t kMaxFamilyAccessTokens = 64;

void invalidGrant(std::string_view description) {
  respondOAuthError(400, "invalid_grant", description);
}

void respondTokens(const Config& config, const IssuedAccessToken& at,
                   const std::vector<std::string>& scopes, const std::string& refresh_token,
                   const std::string& id_token, const std::string& jkt) {
  if (!jkt.empty() && config.dpop_nonce_required) {
    std::string nonce = currentDpopNonce();
    if (!nonce.empty()) sdk::addHeader("dpop-nonce", nonce);
  }
  Json body = {{"access_token", at.token}, {"token_type", jkt.empty() ? "Bearer" : "DPoP"},
               {"expires_in", config.access_token_ttl}, {"scope", joinScope(scopes)}};
  if (!refresh_token.empty()) body["refresh_token"] = refresh_token;
  if (!id_token.empty()) body["id_token"] = id_token;
  respondJson(200, body);
}

// Resolves the WebID for a grant with the webid scope; drops the scope when there is none.
void resolveWebid(const Config& config, const Json& user, Grant& grant) {
  if (!hasScope(grant.scopes, "webid")) return;
  grant.webid = webidForUser(config, user);
  if (grant.webid.empty()) std::erase(grant.scopes, std::string("webid"));
}

// Revokes what a code's first redemption issued.
void revokeCodeTokens(const CodeUse& use, int64_t now) {
  revokeAccessToken(use.jti, use.jti_exp, now);
  if (!use.family.empty()) revokeFamily(use.family, now);
}

void authorizationCodeGrant(const Config& config, const Client& client, Params& form,
                            const std::string& jkt) {
  std::optional<std::string> code, redirect_uri, verifier;
  if (!form.get("code", code, kMaxTokenBytes) ||
      !form.get("redirect_uri", redirect_uri, 4096) ||
      !form.get("code_verifier", verifier, 256)) {
    return respondOAuthError(400, "invalid_request", form.error());
  }
  if (!code) return respondOAuthError(400, "invalid_request", "code is required");
  if (!looksLikeOpaqueToken(*code)) return invalidGrant("invalid authorization code");
  int64_t now = nowSeconds();
  std::string hash = tokenHash(*code);
  CodeRecord rec;
  switch (takeCode(hash, rec)) {
    case Store::Ok:
      break;
    case Store::Unavailable:
      return respondUnavailable();
    default: {
      CodeUse use;
      if (getCodeUse(hash, use) == Store::Ok) {
        revokeCodeTokens(use, now);
        sdk::logWarn("authorization code replayed by client " + client.id +
                     "; revoked the tokens it issued");
        return invalidGrant("authorization code was already used");
      }
      return invalidGrant("invalid or expired authorization code");
    }
  }
  if (rec.client_id != client.id) return invalidGrant("code was issued to another client");
  if (rec.exp < now) return invalidGrant("authorization code expired");
  if (!redirect_uri || *redirect_uri != rec.redirect_uri) {
    return invalidGrant("redirect_uri does not match the authorization request");
  }
  if (!rec.code_challenge.empty()) {
    if (!verifier) return invalidGrant("code_verifier is required");
    if (!pkceMatches(*verifier, rec.code_challenge)) {
      return invalidGrant("code_verifier does not match the code_challenge");
    }
  } else if (verifier) {
    // PKCE downgrade: a verifier for a code issued without a challenge.
    return invalidGrant("code_verifier sent for a code issued without code_challenge");
  }
  if (!rec.dpop_jkt.empty() && rec.dpop_jkt != jkt) {
    return invalidGrant("the code is bound to another DPoP key (dpop_jkt)");
  }

  Grant grant;
  grant.client_id = client.id;
  grant.sub = rec.sub;
  grant.has_user = true;
  grant.scopes = rec.scopes;
  grant.auth_time = rec.auth_time;
  grant.amr = rec.amr;
  grant.sid = rec.sid;
  grant.nonce = rec.nonce;
  grant.jkt = jkt;
  const bool openid = hasScope(grant.scopes, "openid");
  const bool refresh = hasScope(grant.scopes, "offline_access") && client.allowsGrant("refresh_token");

  Json user;
  switch (userRecord(grant.sub, user)) {
    case Lookup::Found:
      break;
    case Lookup::NotFound:
      return invalidGrant("the user no longer exists");
    case Lookup::Unavailable:
      return respondUnavailable();
  }
  resolveWebid(config, user, grant);
  auto jti = randomId();
  std::optional<std::string> family = refresh ? randomId() : std::optional<std::string>("");
  if (!jti || !family) return respondUnavailable();

  // Record the redemption first: a replay from now on revokes these tokens.
  CodeUse use{*jti, now + config.access_token_ttl, *family};
  int64_t use_ttl = std::max(config.access_token_ttl, refresh ? config.refresh_token_ttl : 0) + 60;
  if (putCodeUse(hash, use, use_ttl) != Store::Ok) return respondUnavailable();

  IssuedAccessToken at;
  if (mintAccessToken(config, client, grant, *jti, now, at) != Mint::Ok) {
    return respondUnavailable();
  }
  std::string refresh_token;
  if (refresh) {
    auto token = randomToken();
    if (!token) return respondUnavailable();
    std::string rh = tokenHash(*token);
    RefreshRecord rr;
    rr.family = *family;
    rr.client_id = client.id;
    rr.sub = grant.sub;
    rr.scopes = grant.scopes;
    rr.auth_time = grant.auth_time;
    rr.amr = grant.amr;
    rr.sid = grant.sid;
    rr.iat = now;
    rr.exp = now + config.refresh_token_ttl;
    if (client.is_public) rr.jkt = jkt;
    Family f;
    f.current = rh;
    f.client_id = client.id;
    f.access_tokens.emplace_back(at.jti, at.exp);
    f.exp = rr.exp;
    if (putRefresh(rh, rr, config.refresh_token_ttl) != Store::Ok ||
        casFamily(*family, std::nullopt, f, config.refresh_token_ttl) != Store::Ok) {
      return respondUnavailable();
    }
    refresh_token = std::move(*token);
  }
  std::string id_token;
  if (openid && mintIdToken(config, grant, at.token, user, now, id_token) != Mint::Ok) {
    return respondUnavailable();
  }
  respondTokens(config, at, grant.scopes, refresh_token, id_token, jkt);
}

void refreshTokenGrant(const Config& config, const Client& client, Params& form,
                       const std::string& jkt) {
  std::optional<std::string> token, scope;
  if (!form.get("refresh_token", token, kMaxTokenBytes) ||
      !form.get("scope", scope, kMaxScopeBytes)) {
    return respondOAuthError(400, "invalid_request", form.error());
  }
  if (!token) return respondOAuthError(400, "invalid_request", "refresh_token is required");
  if (!looksLikeOpaqueToken(*token)) return invalidGrant("invalid refresh token");
  int64_t now = nowSeconds();
  std::string hash = tokenHash(*token);
  RefreshRecord rec;
  switch (getRefresh(hash, rec)) {
    case Store::Ok:
      break;
    case Store::Unavailable:
      return respondUnavailable();
    default:
      return invalidGrant("invalid or expired refresh token");
  }
  if (rec.client_id != client.id) return invalidGrant("refresh token was issued to another client");
  if (rec.exp <= now) return invalidGrant("refresh token expired");
  if (!rec.jkt.empty() && rec.jkt != jkt) {
    return invalidGrant(jkt.empty() ? "the refresh token is DPoP-bound: a DPoP proof is required"
                                    : "the refresh token is bound to another DPoP key");
  }
  Family family;
  std::string raw;
  switch (getFamily(rec.family, family, raw)) {
    case Store::Ok:
      break;
    case Store::Unavailable:
      return respondUnavailable();
    default:
      return invalidGrant("invalid or expired refresh token");
  }
  if (family.revoked) return invalidGrant("refresh token was revoked");
  if (family.current != hash) {
    revokeFamily(rec.family, now);
    sdk::logWarn("rotated refresh token reused by client " + client.id +
                 "; revoked its whole family");
    return invalidGrant("refresh token was already used; the grant is revoked");
  }
  std::vector<std::string> scopes = rec.scopes;
  if (scope) {
    auto requested = parseScope(*scope);
    if (!requested || !isSubset(*requested, rec.scopes)) {
      return respondOAuthError(400, "invalid_scope", "scope exceeds the original grant");
    }
    scopes = std::move(*requested);
  }
  Json user;
  switch (userRecord(rec.sub, user)) {
    case Lookup::Found:
      break;
    case Lookup::NotFound:
      revokeFamily(rec.family, now);
      return invalidGrant("the user no longer exists");
    case Lookup::Unavailable:
      return respondUnavailable();
  }

  Grant grant;
  grant.client_id = client.id;
  grant.sub = rec.sub;
  grant.has_user = true;
  grant.scopes = scopes;
  grant.auth_time = rec.auth_time;
  grant.amr = rec.amr;
  grant.sid = rec.sid;
  grant.jkt = jkt;
  resolveWebid(config, user, grant);
  auto jti = randomId();
  auto next = randomToken();
  if (!jti || !next) return respondUnavailable();
  IssuedAccessToken at;
  if (mintAccessToken(config, client, grant, *jti, now, at) != Mint::Ok) {
    return respondUnavailable();
  }
  std::string id_token;
  if (hasScope(scopes, "openid") && mintIdToken(config, grant, at.token, user, now, id_token) != Mint::Ok) {
    return respondUnavailable();
  }

  // Rotate: the new token becomes the family's only usable one.
  std::string next_hash = tokenHash(*next);
  RefreshRecord rotated = rec;
  rotated.iat = now;
  rotated.exp = now + config.refresh_token_ttl;
  Family updated = family;
  updated.current = next_hash;
  std::erase_if(updated.access_tokens, [&](const auto& e) { return e.second <= now; });
  if (updated.access_tokens.size() >= kMaxFamilyAccessTokens) {
    updated.access_tokens.erase(updated.access_tokens.begin());
  }
  updated.access_tokens.emplace_back(at.jti, at.exp);
  updated.exp = rotated.exp;
  if (putRefresh(next_hash, rotated, config.refresh_token_ttl) != Store::Ok) {
    revokeAccessToken(at.jti, at.exp, now);
    return respondUnavailable();
  }
  switch (casFamily(rec.family, raw, updated, config.refresh_token_ttl)) {
    case Store::Ok:
      break;
    case Store::Conflict:
      // Another request rotated this very token at the same moment: a reuse.
      revokeAccessToken(at.jti, at.exp, now);
      revokeFamily(rec.family, now);
      sdk::logWarn("refresh token used concurrently by client " + client.id +
                   "; revoked its whole family");
      return invalidGrant("refresh token was already used; the grant is revoked");
    default:
      revokeAccessToken(at.jti, at.exp, now);
      return respondUnavailable();
  }
  respondTokens(config, at, grant.scopes, *next, id_token, jkt);
}

void clientCredentialsGrant(const Config& config, const ClientAuth& auth, Params& form,
                            const std::string& jkt) {
  if (!auth.authenticated) {
    return respondOAuthError(400, "unauthorized_client",
                             "public clients cannot use client_credentials");
  }
  std::optional<std::string> scope;
  if (!form.get("scope", scope, kMaxScopeBytes)) {
    return respondOAuthError(400, "invalid_request", form.error());
  }
  auto scopes = parseScope(scope.value_or(""));
  // A client acting for a WebID (setting webid_clients) is a Solid client: such clients
  // ask for "openid offline_access webid" whatever the grant, so those two are dropped
  // from the grant (and the response's scope says so) rather than refused.
  std::string webid;
  bool solid_client = false;
  for (const auto& entry : config.webid_clients) {
    solid_client = solid_client || entry.first == auth.client.id;
  }
  if (scopes && solid_client) {
    std::erase(*scopes, std::string("openid"));
    std::erase(*scopes, std::string("offline_access"));
  }
  if (!scopes || hasScope(*scopes, "openid") || hasScope(*scopes, "offline_access") ||
      !auth.client.allowsScopes(*scopes)) {
    return respondOAuthError(400, "invalid_scope", "a requested scope is not allowed");
  }
  if (hasScope(*scopes, "webid")) {
    webid = webidForClient(config, auth.client.id);
    if (webid.empty()) std::erase(*scopes, std::string("webid"));
  }
  Grant grant;
  grant.client_id = auth.client.id;
  grant.sub = auth.client.id;
  grant.has_user = false;
  grant.scopes = std::move(*scopes);
  grant.webid = webid;
  grant.jkt = jkt;
  auto jti = randomId();
  if (!jti) return respondUnavailable();
  IssuedAccessToken at;
  if (mintAccessToken(config, auth.client, grant, *jti, nowSeconds(), at) != Mint::Ok) {
    return respondUnavailable();
  }
  respondTokens(config, at, grant.scopes, "", "", jkt);
}

}  // namespace

void handleToken(const Config& config) {
  if (sdk::method() != "POST") return respondMethodNotAllowed("POST");
  if (!isFormRequest()) {
    return respondOAuthError(400, "invalid_request",
                             "the body must be application/x-www-form-urlencoded");
  }
  Params form(sdk::Source::Form);
  std::optional<std::string> grant_type;
  if (!form.get("grant_type", grant_type, 128)) {
    return respondOAuthError(400, "invalid_request", form.error());
  }
  ClientAuth auth = authenticateClient(/*allow_public=*/true);
  if (!auth.ok) {
    return respondOAuthError(auth.status, auth.error, auth.description,
                             auth.basic_challenge ? kRealm : std::string_view());
  }
  if (!grant_type) return respondOAuthError(400, "invalid_request", "grant_type is required");
  const std::string& g = *grant_type;
  if (g != "authorization_code" && g != "refresh_token" && g != "client_credentials") {
    return respondOAuthError(400, "unsupported_grant_type", "unsupported grant_type");
  }
  if (!auth.client.allowsGrant(g)) {
    return respondOAuthError(400, "unauthorized_client", "the client may not use this grant");
  }
  DpopCheck dpop = checkDpopProof(config, "/token", "");
  if (dpop.outcome != DpopOutcome::Valid && dpop.outcome != DpopOutcome::Absent) {
    return respondDpopTokenError(dpop);
  }
  if (g == "authorization_code") return authorizationCodeGrant(config, auth.client, form, dpop.jkt);
  if (g == "refresh_token") return refreshTokenGrant(config, auth.client, form, dpop.jkt);
  return clientCredentialsGrant(config, auth, form, dpop.jkt);
}

}  // namespace habanero::oauth2
