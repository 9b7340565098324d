// Code redemption (§5.3, at both endpoints), refresh (§5.5), token introspection (§6,
// RFC 7662 with `me`), revocation (§7, RFC 7009; also the older action=revoke at the token
// endpoint) and userinfo (§9).
//
// Access tokens are opaque: 256 random bits, base64url, stored only as the hex SHA-256 of the
// token under at/<hash> with the grant (sub, me, client_id, scope, iat, exp) and a KV TTL equal
// to their lifetime. Revocation deletes the record, so a revoked or expired token is simply
// unknown everywhere at once. Refresh tokens work the same (rt/<hash>) and rotate on use.
#include "indieauth.h"
#include "rules/urls.h"

namespace habanero::indieauth {
namespace {


constexpr int64_t kCodeUseTtlSeconds = 3600;

bool hasScope(const std::vector<std::string>& scopes, std::string_view s) {
  for (const auto& x : scopes) {
    if (x == s) return true;
  }
  return false;
}

std::string joinScope(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

// The client_id of a token request: the form's, or the user part of a Basic header with an
// empty password (golang.org/x/oauth2 sends one). A Basic header with a secret is refused:
// IndieAuth clients are public. Returns false after answering with an error.
bool requestClientId(Params& f, std::optional<std::string>& client_id) {
  if (!f.get("client_id", client_id, kMaxUrlBytes)) {
    respondOAuthError(400, "invalid_request", f.error());
    return false;
  }
  auto authorization = sdk::header("authorization");
  if (!authorization) return true;
  if (!isBasicAuth(*authorization)) {
    respondOAuthError(400, "invalid_request", "unsupported Authorization scheme");
    return false;
  }
  auto creds = parseBasicAuth(*authorization);
  if (!creds || !creds->secret.empty()) {
    sdk::addHeader("www-authenticate", "Basic realm=\"indieauth\", charset=\"UTF-8\"");
    respondOAuthError(401, "invalid_client",
                      "IndieAuth clients are public: send client_id without a secret");
    return false;
  }
  if (client_id && *client_id != creds->client_id) {
    respondOAuthError(400, "invalid_request", "client_id differs from the Authorization header");
    return false;
  }
  client_id = creds->client_id;
  return true;
}

// Whether the request's client_id names the same client as `stored` (canonical).
bool sameClient(std::string_view requested, std::string_view stored) {
  UrlCheck c = parseClientId(requested);
  return c && c.url->str() == stored;
}

struct Issued {
  std::string access_token;
  std::string access_hash;
  std::string refresh_token;
  std::string refresh_hash;
};

// Mints an access token (and a refresh token when enabled) for the grant.
bool mintTokens(const Config& c, std::string_view sub, std::string_view me,
                std::string_view client_id, const std::vector<std::string>& access_scopes,
                const std::vector<std::string>& refresh_scopes, Issued& out) {
  auto at = randomToken();
  if (!at) return false;
  int64_t now = nowSeconds();
  out.access_token = *at;
  out.access_hash = tokenHash(*at);
  Json rec = {{"sub", sub},
              {"me", me},
              {"client_id", client_id},
              {"scope", joinScope(access_scopes)},
              {"iat", now},
              {"exp", now + c.access_token_ttl}};
  if (putRecord("at/" + out.access_hash, rec, c.access_token_ttl) != Store::Ok) return false;
  if (c.refresh_token_ttl > 0) {
    auto rt = randomToken();
    if (!rt) return false;
    out.refresh_token = *rt;
    out.refresh_hash = tokenHash(*rt);
    Json r = {{"sub", sub},
              {"me", me},
              {"client_id", client_id},
              {"scopes", jsonArray(refresh_scopes)},
              {"iat", now},
              {"exp", now + c.refresh_token_ttl}};
    if (putRecord("rt/" + out.refresh_hash, r, c.refresh_token_ttl) != Store::Ok) return false;
  }
  return true;
}

void respondTokens(const Config& c, const Issued& t, const std::vector<std::string>& scopes,
                   std::string_view me, const Identity* id) {
  Json body = {{"access_token", t.access_token},
               {"token_type", "Bearer"},
               {"scope", joinScope(scopes)},
               {"me", me},
               {"expires_in", c.access_token_ttl}};
  if (!t.refresh_token.empty()) body["refresh_token"] = t.refresh_token;
  if (id && hasScope(scopes, "profile")) body["profile"] = profileFor(*id, scopes);
  respondJson(200, body);
}

// A code's redemption found no code: if it was redeemed before, revoke what that issued.
void revokeReplayedCode(const std::string& hash) {
  Json use;
  if (takeRecord("cu/" + hash, use) != Store::Ok) return;
  if (auto at = jsonString(use, "at"); at && !at->empty()) deleteRecord("at/" + *at);
  if (auto rt = jsonString(use, "rt"); rt && !rt->empty()) deleteRecord("rt/" + *rt);
  sdk::logWarn("an authorization code was presented again; its tokens are revoked");
}

void refreshGrant(const Config& c, Params& f) {
  std::optional<std::string> refresh_token, client_id, scope;
  if (!f.get("refresh_token", refresh_token, kMaxTokenBytes) ||
      !f.get("scope", scope, kMaxScopeBytes)) {
    respondOAuthError(400, "invalid_request", f.error());
    return;
  }
  if (!requestClientId(f, client_id)) return;
  if (!refresh_token || !client_id) {
    respondOAuthError(400, "invalid_request", "refresh_token and client_id are required");
    return;
  }
  Json rec;
  switch (takeRecord("rt/" + tokenHash(*refresh_token), rec)) {
    case Store::Ok:
      break;
    case Store::NotFound:
      respondOAuthError(400, "invalid_grant", "invalid, expired or revoked refresh token");
      return;
    default:
      respondUnavailable();
      return;
  }
  std::string stored_client = jsonString(rec, "client_id").value_or("");
  if (!sameClient(*client_id, stored_client)) {
    respondOAuthError(400, "invalid_grant", "the refresh token was issued to another client");
    return;
  }
  if (jsonInt(rec, "exp").value_or(0) < nowSeconds()) {
    respondOAuthError(400, "invalid_grant", "invalid, expired or revoked refresh token");
    return;
  }
  std::vector<std::string> granted = jsonStringList(rec, "scopes");
  std::vector<std::string> scopes = granted;
  if (scope) {
    auto requested = parseScope(*scope);
    if (!requested || requested->empty()) {
      respondOAuthError(400, "invalid_scope", "malformed scope");
      return;
    }
    for (const auto& s : *requested) {
      if (!hasScope(granted, s)) {
        respondOAuthError(400, "invalid_scope", "scope " + s + " was not granted");
        return;
      }
    }
    scopes = std::move(*requested);
  }
  std::string sub = jsonString(rec, "sub").value_or("");
  std::string me = jsonString(rec, "me").value_or("");
  Identity id;
  Lookup l = resolveIdentity(c, sub, id);
  if (l == Lookup::NotFound) {
    respondOAuthError(400, "invalid_grant", "the user no longer exists");
    return;
  }
  if (l != Lookup::Found) {
    respondUnavailable();
    return;
  }
  Issued t;
  if (!mintTokens(c, sub, me, stored_client, scopes, granted, t)) {
    respondUnavailable();
    return;
  }
  respondTokens(c, t, scopes, me, &id);
}

// Looks up an access token's record; false when unknown or expired.
bool findAccessToken(std::string_view token, Json& rec, bool& unavailable) {
  unavailable = false;
  if (token.empty() || token.size() > kMaxTokenBytes) return false;
  switch (getRecord("at/" + tokenHash(token), rec)) {
    case Store::Ok:
      return jsonInt(rec, "exp").value_or(0) > nowSeconds();
    case Store::NotFound:
      return false;
    default:
      unavailable = true;
      return false;
  }
}

void revokeToken(std::string_view token) {
  std::string h = tokenHash(token);
  deleteRecord("at/" + h);
  deleteRecord("rt/" + h);
}

}  // namespace

void redeemCode(const Config& c, bool at_token_endpoint) {
  if (!isFormRequest()) {
    respondOAuthError(400, "invalid_request",
                      "the request must be application/x-www-form-urlencoded");
    return;
  }
  Params f(sdk::Source::Form);
  std::optional<std::string> grant_type, code, client_id, redirect_uri, verifier;
  if (!f.get("grant_type", grant_type, 64) || !f.get("code", code, kMaxTokenBytes) ||
      !f.get("redirect_uri", redirect_uri, kMaxUrlBytes) ||
      !f.get("code_verifier", verifier, 256)) {
    respondOAuthError(400, "invalid_request", f.error());
    return;
  }
  if (!grant_type) {
    respondOAuthError(400, "invalid_request", "grant_type is required");
    return;
  }
  if (*grant_type != "authorization_code") {
    respondOAuthError(400, "unsupported_grant_type",
                      at_token_endpoint
                          ? "use authorization_code or refresh_token"
                          : "the authorization endpoint redeems authorization codes only");
    return;
  }
  if (!requestClientId(f, client_id)) return;
  if (!code || !client_id || !redirect_uri) {
    respondOAuthError(400, "invalid_request", "code, client_id and redirect_uri are required");
    return;
  }
  std::string hash = tokenHash(*code);
  if (at_token_endpoint) {
    // §5.3.3: a code issued without scope yields no access token. Checked before the code is
    // taken, so the client can still redeem it at the authorization endpoint.
    Json peek;
    if (getRecord("c/" + hash, peek) == Store::Ok && jsonStringList(peek, "scopes").empty()) {
      respondOAuthError(400, "invalid_grant",
                        "the authorization request had no scope, so no access token can be "
                        "issued; redeem the code at the authorization endpoint for the profile "
                        "URL");
      return;
    }
  }
  Json rec;
  switch (takeRecord("c/" + hash, rec)) {
    case Store::Ok:
      break;
    case Store::NotFound:
      revokeReplayedCode(hash);
      respondOAuthError(400, "invalid_grant",
                        "invalid, expired or already used authorization code");
      return;
    default:
      respondUnavailable();
      return;
  }
  if (jsonInt(rec, "exp").value_or(0) < nowSeconds()) {
    respondOAuthError(400, "invalid_grant", "invalid, expired or already used authorization code");
    return;
  }
  std::string stored_client = jsonString(rec, "client_id").value_or("");
  if (!sameClient(*client_id, stored_client)) {
    respondOAuthError(400, "invalid_grant", "the code was issued to another client_id");
    return;
  }
  if (jsonString(rec, "redirect_uri").value_or("") != *redirect_uri) {
    respondOAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request");
    return;
  }
  std::string challenge = jsonString(rec, "code_challenge").value_or("");
  if (!verifier) {
    respondOAuthError(400, "invalid_grant", "code_verifier is required (PKCE)");
    return;
  }
  if (!isPkceVerifier(*verifier) || challenge.empty() ||
      !sdk::constantTimeEqual(s256Challenge(*verifier), challenge)) {
    respondOAuthError(400, "invalid_grant", "code_verifier does not match the code_challenge");
    return;
  }
  std::vector<std::string> scopes = jsonStringList(rec, "scopes");
  std::string sub = jsonString(rec, "sub").value_or("");
  std::string me = jsonString(rec, "me").value_or("");
  Identity id;
  Lookup l = resolveIdentity(c, sub, id);
  if (l == Lookup::NotFound || me.empty()) {
    respondOAuthError(400, "invalid_grant", "the user no longer exists");
    return;
  }
  if (l != Lookup::Found) {
    respondUnavailable();
    return;
  }
  if (!at_token_endpoint) {
    Json body = {{"me", me}};
    if (hasScope(scopes, "profile")) body["profile"] = profileFor(id, scopes);
    respondJson(200, body);
    return;
  }
  if (scopes.empty()) {  // a race with the peek above; still no access token
    respondOAuthError(400, "invalid_grant", "the authorization request had no scope");
    return;
  }
  Issued t;
  if (!mintTokens(c, sub, me, stored_client, scopes, scopes, t)) {
    respondUnavailable();
    return;
  }
  Json use = {{"at", t.access_hash}, {"rt", t.refresh_hash}};
  if (putRecord("cu/" + hash, use, kCodeUseTtlSeconds) != Store::Ok) {
    sdk::logWarn("could not record a code's use");
  }
  respondTokens(c, t, scopes, me, &id);
}

// The token verification of earlier IndieAuth revisions, still used by resource servers:
// GET the token endpoint with the token as a Bearer credential; 200 {me, client_id, scope}
// for a valid token, 401 otherwise. Presenting the token is the authorisation.
static void legacyTokenVerification() {
  auto authorization = sdk::header("authorization");
  auto bearer = authorization ? parseBearer(*authorization) : std::nullopt;
  if (!bearer) {
    respondBearerError(401, authorization ? "invalid_token" : "",
                       "a Bearer access token is required");
    return;
  }
  Json rec;
  bool unavailable = false;
  if (!findAccessToken(*bearer, rec, unavailable)) {
    if (unavailable) {
      respondUnavailable();
      return;
    }
    respondBearerError(401, "invalid_token", "the access token is invalid, expired or revoked");
    return;
  }
  respondJson(200, {{"me", jsonString(rec, "me").value_or("")},
                    {"client_id", jsonString(rec, "client_id").value_or("")},
                    {"scope", jsonString(rec, "scope").value_or("")},
                    {"issued_at", jsonInt(rec, "iat").value_or(0)},
                    {"exp", jsonInt(rec, "exp").value_or(0)}});
}

void handleToken(const Config& c) {
  if (sdk::method() == "GET") {
    legacyTokenVerification();
    return;
  }
  if (sdk::method() != "POST") {
    respondMethodNotAllowed("GET, POST", false);
    return;
  }
  if (!isFormRequest()) {
    respondOAuthError(400, "invalid_request",
                      "the request must be application/x-www-form-urlencoded");
    return;
  }
  Params f(sdk::Source::Form);
  std::optional<std::string> grant_type, action;
  if (!f.get("grant_type", grant_type, 64) || !f.get("action", action, 16)) {
    respondOAuthError(400, "invalid_request", f.error());
    return;
  }
  if (action) {
    // The older revocation form (a previous version of the standard): action=revoke&token=….
    std::optional<std::string> token;
    if (*action != "revoke" || !f.get("token", token, kMaxTokenBytes) || !token) {
      respondOAuthError(400, "invalid_request", "action=revoke needs a token");
      return;
    }
    revokeToken(*token);
    respondJson(200, Json::object());
    return;
  }
  if (!grant_type) {
    respondOAuthError(400, "invalid_request", "grant_type is required");
    return;
  }
  if (*grant_type == "authorization_code") {
    redeemCode(c, /*at_token_endpoint=*/true);
  } else if (*grant_type == "refresh_token" && c.refresh_token_ttl > 0) {
    refreshGrant(c, f);
  } else {
    respondOAuthError(400, "unsupported_grant_type", "use authorization_code or refresh_token");
  }
}

void handleIntrospect(const Config& c) {
  if (sdk::method() != "POST") {
    respondMethodNotAllowed("POST", false);
    return;
  }
  // §6.1: the caller must be authorised: the operator's introspection_token as a Bearer
  // token, or a confidential client registered with the host (HTTP Basic).
  bool authorised = false;
  if (auto authorization = sdk::header("authorization")) {
    if (auto bearer = parseBearer(*authorization)) {
      authorised =
          !c.introspection_token.empty() && sdk::constantTimeEqual(*bearer, c.introspection_token);
    } else if (auto creds = parseBasicAuth(*authorization)) {
      authorised = !creds->secret.empty() &&
                   sdk::clientAuthenticate(creds->client_id, creds->secret) == sdk::Result::Ok;
    }
  }
  if (!authorised) {
    sdk::addHeader("www-authenticate", "Bearer realm=\"indieauth\"");
    sdk::addHeader("www-authenticate", "Basic realm=\"indieauth\", charset=\"UTF-8\"");
    respondOAuthError(401, "invalid_client", "introspection requires authorisation");
    return;
  }
  if (!isFormRequest()) {
    respondOAuthError(400, "invalid_request",
                      "the request must be application/x-www-form-urlencoded");
    return;
  }
  Params f(sdk::Source::Form);
  std::string token;
  if (!f.getRequired("token", token, kMaxTokenBytes)) {
    respondOAuthError(400, "invalid_request", f.error());
    return;
  }
  Json rec;
  bool unavailable = false;
  if (!findAccessToken(token, rec, unavailable)) {
    if (unavailable) {
      respondUnavailable();
      return;
    }
    respondJson(200, {{"active", false}});
    return;
  }
  respondJson(200, {{"active", true},
                    {"me", jsonString(rec, "me").value_or("")},
                    {"client_id", jsonString(rec, "client_id").value_or("")},
                    {"scope", jsonString(rec, "scope").value_or("")},
                    {"token_type", "Bearer"},
                    {"iss", c.issuer},
                    {"exp", jsonInt(rec, "exp").value_or(0)},
                    {"iat", jsonInt(rec, "iat").value_or(0)}});
}

void handleRevoke(const Config& c) {
  (void)c;
  if (sdk::method() != "POST") {
    respondMethodNotAllowed("POST", false);
    return;
  }
  if (!isFormRequest()) {
    respondOAuthError(400, "invalid_request",
                      "the request must be application/x-www-form-urlencoded");
    return;
  }
  Params f(sdk::Source::Form);
  std::optional<std::string> token, hint;
  if (!f.get("token", token, kMaxTokenBytes) || !f.get("token_type_hint", hint, 64)) {
    respondOAuthError(400, "invalid_request", f.error());
    return;
  }
  if (!token) {
    respondOAuthError(400, "invalid_request", "token is required");
    return;
  }
  // RFC 7009 §2.2: 200 whether or not the token was known.
  revokeToken(*token);
  sdk::setStatus(200);
  sdk::addHeader("cache-control", "no-store");
}

void handleUserinfo(const Config& c) {
  std::string method = sdk::method();
  if (method != "GET" && method != "POST") {
    respondMethodNotAllowed("GET, POST", false);
    return;
  }
  auto authorization = sdk::header("authorization");
  if (!authorization) {
    respondBearerError(401, "", "");
    return;
  }
  auto bearer = parseBearer(*authorization);
  if (!bearer) {
    respondBearerError(401, "invalid_token", "a Bearer access token is required");
    return;
  }
  Json rec;
  bool unavailable = false;
  if (!findAccessToken(*bearer, rec, unavailable)) {
    if (unavailable) {
      respondUnavailable();
      return;
    }
    respondBearerError(401, "invalid_token", "the access token is invalid, expired or revoked");
    return;
  }
  auto scopes =
      parseScope(jsonString(rec, "scope").value_or("")).value_or(std::vector<std::string>{});
  if (!hasScope(scopes, "profile")) {
    respondBearerError(403, "insufficient_scope", "the token lacks the profile scope");
    return;
  }
  Identity id;
  Lookup l = resolveIdentity(c, jsonString(rec, "sub").value_or(""), id);
  if (l == Lookup::NotFound) {
    respondBearerError(401, "invalid_token", "the user no longer exists");
    return;
  }
  if (l != Lookup::Found) {
    respondUnavailable();
    return;
  }
  respondJson(200, profileFor(id, scopes));
}

}  // namespace habanero::indieauth
