// The UserInfo endpoint (OIDC Core §5.3) as an RFC 6750 / RFC 9449 protected resource: the
// access token comes in the Authorization header (Bearer, or DPoP with a DPoP proof whose
// ath and key match the token) or, for POST, in the form body (access_token), never both. A
// DPoP-bound token (cnf.jkt) is refused in any other form. Answers sub plus the claims of
// the token's scopes (and webid, as the token carries it).

#include "core/dpop.h"
#include "guest.h"
#include "dpop.h"
#include "handlers.h"
#include "tokens.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {

void handleUserinfo(const Config& config) {
  std::string method = sdk::method();
  if (method != "GET" && method != "POST") {
    sdk::addHeader("allow", "GET, POST");
    return respondBearerError(405, "invalid_request", "use GET or POST");
  }
  std::optional<std::string> header = sdk::header("authorization");
  std::optional<std::string> body_token;
  if (method == "POST" && isFormRequest()) {
    Params form(sdk::Source::Form);
    if (!form.get("access_token", body_token, kMaxTokenBytes)) {
      return respondBearerError(400, "invalid_request", form.error());
    }
  }
  std::string token;
  const bool dpop_scheme = header && isDpopAuth(*header);
  if (header && (isBearerAuth(*header) || dpop_scheme)) {
    if (body_token) {
      return respondBearerError(400, "invalid_request", "more than one access token");
    }
    auto t = dpop_scheme ? parseDpopAuthorization(*header) : parseBearer(*header);
    if (!t) {
      if (dpop_scheme) {
        sdk::addHeader("www-authenticate",
                       dpopChallenge("invalid_token", "malformed access token"));
        return respondOAuthError(401, "invalid_token", "malformed access token");
      }
      return respondBearerError(401, "invalid_token", "malformed access token");
    }
    token = std::string(*t);
  } else if (body_token) {
    token = *body_token;
  } else {
    // No credentials: challenge for both schemes (RFC 9449 §7.1), Bearer first.
    respondBearerError(401, "", "");
    sdk::addHeader("www-authenticate", dpopChallenge("", ""));
    return;
  }
  AccessTokenInfo info;
  switch (verifyAccessToken(config, token, nowSeconds(), info)) {
    case TokenCheck::Valid:
      break;
    case TokenCheck::Invalid:
      if (dpop_scheme) {
        sdk::addHeader("www-authenticate",
                       dpopChallenge("invalid_token", "the access token is invalid or expired"));
        return respondOAuthError(401, "invalid_token", "the access token is invalid or expired");
      }
      return respondBearerError(401, "invalid_token", "the access token is invalid or expired");
    case TokenCheck::Unavailable:
      return respondUnavailable();
  }
  if (!info.jkt.empty()) {
    // A DPoP-bound token is only accepted with the DPoP scheme and a proof of its key
    // (RFC 9449 §7.1, §7.2).
    if (!dpop_scheme) {
      sdk::addHeader("www-authenticate",
                     dpopChallenge("invalid_token", "the access token is DPoP-bound"));
      return respondOAuthError(401, "invalid_token", "the access token is DPoP-bound");
    }
    DpopCheck proof = checkDpopProof(config, "/userinfo", token);
    if (proof.outcome == DpopOutcome::Absent) {
      proof.outcome = DpopOutcome::Invalid;
      proof.description = "a DPoP proof is required";
    }
    if (proof.outcome != DpopOutcome::Valid) return respondDpopResourceError(proof);
    if (proof.jkt != info.jkt) {
      proof.outcome = DpopOutcome::Invalid;
      proof.description = "the DPoP proof's key is not the one the token is bound to";
      return respondDpopResourceError(proof);
    }
  } else if (dpop_scheme) {
    sdk::addHeader("www-authenticate",
                   dpopChallenge("invalid_token", "the access token is not DPoP-bound"));
    return respondOAuthError(401, "invalid_token", "the access token is not DPoP-bound");
  }
  if (!info.has_user || !hasScope(info.scopes, "openid")) {
    return respondBearerError(403, "insufficient_scope", "the token lacks the openid scope");
  }
  std::string text;
  switch (sdk::userGet(info.sub, text)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::NotFound:
      return respondBearerError(401, "invalid_token", "the user no longer exists");
    default:
      return respondUnavailable();
  }
  auto user = parseJsonObject(text);
  if (!user) return respondUnavailable();
  Json claims = claimsForScopes(*user, info.scopes);
  claims["sub"] = info.sub;
  if (auto webid = jsonString(info.claims, "webid"); webid && hasScope(info.scopes, "webid")) {
    claims["webid"] = *webid;
  }
  respondJson(200, claims);
}

}  // namespace habanero::oauth2
