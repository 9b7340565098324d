// The UserInfo endpoint (OIDC Core §5.3) as an RFC 6750 protected resource: the access
// token comes in the Authorization header (Bearer) or, for POST, in the form body
// (access_token), never both. Answers sub plus the claims of the token's scopes.
#include <habanero.hh>

#include "core/params.h"
#include "handlers.h"
#include "http.h"
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
  if (header && isBearerAuth(*header)) {
    if (body_token) {
      return respondBearerError(400, "invalid_request", "more than one access token");
    }
    auto t = parseBearer(*header);
    if (!t) return respondBearerError(401, "invalid_token", "malformed access token");
    token = std::string(*t);
  } else if (body_token) {
    token = *body_token;
  } else {
    return respondBearerError(401, "", "");
  }
  AccessTokenInfo info;
  switch (verifyAccessToken(config, token, nowSeconds(), info)) {
    case TokenCheck::Valid:
      break;
    case TokenCheck::Invalid:
      return respondBearerError(401, "invalid_token", "the access token is invalid or expired");
    case TokenCheck::Unavailable:
      return respondUnavailable();
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
  respondJson(200, claims);
}

}  // namespace habanero::oauth2
