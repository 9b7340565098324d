// The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) and its resumption after
// the host's login.
//
// Errors before the client and redirect_uri are established (unknown client, unregistered
// or malformed redirect_uri, unreadable query) are a 400 page and never a redirect; later
// errors go back to the client as ?error=…&state=…&iss=… — but for a client known only
// from its Client Identifier Document, only once the user has seen it (redirectError).

#include "authorization.h"
#include "clients.h"
#include "guest.h"
#include "handlers.h"
#include "html.h"
#include "tokens.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

// Saves the request and hands the browser to the host's login page; it comes back to
// /authorize/resume?p=<id>, where the session's auth_time must be at least now.
void requireLogin(const Config& config, PendingAuthorization& req, int status) {
  auto id = randomId();
  if (!id) {
    redirectError(config, req, "temporarily_unavailable", "try again", status);
    return;
  }
  req.id = *id;
  req.created = nowSeconds();
  req.login_after = req.created;
  if (savePending(req) != Store::Ok) {
    redirectError(config, req, "temporarily_unavailable", "try again", status);
    return;
  }
  std::string return_to = localPath("/authorize/resume?p=" + req.id);
  sdk::Result r = sdk::sessionRequireLogin(return_to, req.login_hint);
  if (r == sdk::Result::InvalidArgument && !req.login_hint.empty()) {
    r = sdk::sessionRequireLogin(return_to, "");
  }
  if (r != sdk::Result::Ok) {
    sdk::logError(std::string("session_require_login failed: ") +
                  std::string(sdk::resultName(r)));
    respondErrorPage(503, "Sign-in unavailable", "The server could not start the sign-in.");
  }
}

// Whether an id_token_hint names someone else than the signed-in user.
bool hintNamesOtherUser(const Config& config, std::string_view hint, const Session& session) {
  TokenCheck check;
  auto claims = verifyOwnJwt(config, hint, false, check);
  if (!claims) return false;
  auto sub = jsonString(*claims, "sub");
  return sub && *sub != session.sub;
}

}  // namespace

void handleAuthorize(const Config& config) {
  std::string method = sdk::method();
  if (method != "GET" && method != "POST") {
    sdk::addHeader("allow", "GET, POST");
    respondErrorPage(405, "Method not allowed", "Use GET or POST.");
    return;
  }
  const bool post = method == "POST";
  const int status = post ? 303 : 302;
  if (post && !isFormRequest()) {
    respondErrorPage(400, "Invalid request", "The request must be a form (x-www-form-urlencoded).");
    return;
  }
  Params in(post ? sdk::Source::Form : sdk::Source::Query);

  // 1. Client and redirect URI: failures here are shown, never redirected.
  std::optional<std::string> client_id, redirect_uri;
  if (!in.get("client_id", client_id, kMaxClientIdBytes) ||
      !in.get("redirect_uri", redirect_uri, kMaxRedirectUriBytes)) {
    respondErrorPage(400, "Invalid request", in.error());
    return;
  }
  if (!client_id || !isValidClientId(*client_id)) {
    respondErrorPage(400, "Invalid request", "client_id is missing or malformed.");
    return;
  }
  Client client;
  switch (loadClient(*client_id, client)) {
    case ClientLookup::Found:
      break;
    case ClientLookup::NotFound:
      respondErrorPage(400, "Unknown application",
                       "The application that sent you here is not registered.");
      return;
    case ClientLookup::Unavailable:
      respondErrorPage(503, "Try again", "The server could not read the application.");
      return;
  }
  if (!redirect_uri) {
    respondErrorPage(400, "Invalid request", "redirect_uri is missing.");
    return;
  }
  if (!redirectUriAllowed(client.redirect_uris, *redirect_uri)) {
    respondErrorPage(400, "Invalid redirect",
                     "The redirect address is not registered for this application.");
    return;
  }

  PendingAuthorization req;
  req.client_id = client.id;
  req.redirect_uri = *redirect_uri;
  req.from_document = client.from_document;

  // 2. Everything else is answered at the redirect URI.
  std::optional<std::string> state;
  if (!in.get("state", state, kMaxStateBytes)) {
    redirectError(config, req, "invalid_request", in.error(), status);
    return;
  }
  req.state = state.value_or("");

  std::optional<std::string> response_type, scope, nonce, challenge, challenge_method, prompt,
      max_age, login_hint, ui_locales, response_mode, request, request_uri, id_token_hint,
      claims, display, acr_values, resource, dpop_jkt;
  if (!in.get("response_type", response_type, 64) || !in.get("scope", scope, kMaxScopeBytes) ||
      !in.get("nonce", nonce, kMaxNonceBytes) ||
      !in.get("code_challenge", challenge, 128) ||
      !in.get("code_challenge_method", challenge_method, 16) ||
      !in.get("prompt", prompt, 64) || !in.get("max_age", max_age, 16) ||
      !in.get("login_hint", login_hint, kMaxHintBytes) ||
      !in.get("ui_locales", ui_locales, kMaxHintBytes) ||
      !in.get("response_mode", response_mode, 32) || !in.get("request", request, kMaxTokenBytes) ||
      !in.get("request_uri", request_uri, kMaxRedirectUriBytes) ||
      !in.get("id_token_hint", id_token_hint, kMaxTokenBytes) ||
      !in.get("claims", claims, kMaxTokenBytes) || !in.get("display", display, 32) ||
      !in.get("acr_values", acr_values, kMaxHintBytes) ||
      !in.get("resource", resource, kMaxRedirectUriBytes) ||
      !in.get("dpop_jkt", dpop_jkt, 64)) {
    redirectError(config, req, "invalid_request", in.error(), status);
    return;
  }
  if (!response_type) {
    redirectError(config, req, "invalid_request", "response_type is required", status);
    return;
  }
  if (*response_type != "code") {
    redirectError(config, req, "unsupported_response_type", "only response_type=code is supported",
                  status);
    return;
  }
  if (response_mode && *response_mode != "query") {
    redirectError(config, req, "invalid_request", "only response_mode=query is supported", status);
    return;
  }
  if (request) {
    redirectError(config, req, "request_not_supported", "request objects are not supported",
                  status);
    return;
  }
  if (request_uri) {
    redirectError(config, req, "request_uri_not_supported", "request_uri is not supported", status);
    return;
  }
  if (!client.allowsGrant("authorization_code")) {
    redirectError(config, req, "unauthorized_client",
                  "the client may not use the authorization code flow", status);
    return;
  }
  auto scopes = parseScope(scope.value_or(""));
  if (!scopes) {
    redirectError(config, req, "invalid_scope", "malformed scope", status);
    return;
  }
  if (!client.allowsScopes(*scopes)) {
    redirectError(config, req, "invalid_scope", "a requested scope is not allowed for this client",
                  status);
    return;
  }
  // offline_access only makes sense for clients that may refresh (OIDC Core §11).
  if (!client.allowsGrant("refresh_token")) {
    std::erase(*scopes, std::string("offline_access"));
  }
  req.scopes = std::move(*scopes);

  if (challenge_method && !challenge) {
    redirectError(config, req, "invalid_request", "code_challenge_method without code_challenge",
                  status);
    return;
  }
  if (challenge) {
    if (!challenge_method || *challenge_method != "S256") {
      redirectError(config, req, "invalid_request", "code_challenge_method must be S256", status);
      return;
    }
    if (!isS256Challenge(*challenge)) {
      redirectError(config, req, "invalid_request", "malformed code_challenge", status);
      return;
    }
    req.code_challenge = *challenge;
  } else if (client.is_public || config.require_pkce) {
    redirectError(config, req, "invalid_request", "PKCE (code_challenge, S256) is required",
                  status);
    return;
  }
  req.nonce = nonce.value_or("");
  if (prompt) {
    auto p = parsePrompt(*prompt);
    if (!p) {
      redirectError(config, req, "invalid_request", "unsupported prompt value", status);
      return;
    }
    req.prompt_none = p->none;
    req.prompt_login = p->login || p->select_account;
    req.prompt_consent = p->consent;
  }
  if (max_age) {
    auto v = parseNonNegative(*max_age, 10);
    if (!v) {
      redirectError(config, req, "invalid_request", "max_age must be a non-negative integer",
                    status);
      return;
    }
    req.max_age = *v;
  }
  req.login_hint = login_hint.value_or("");
  req.ui_locales = ui_locales.value_or("");
  if (dpop_jkt) {
    // RFC 9449 §10: a SHA-256 JWK thumbprint, base64url (43 characters).
    auto decoded = base64urlDecode(*dpop_jkt);
    if (dpop_jkt->size() != 43 || !decoded || decoded->size() != 32) {
      redirectError(config, req, "invalid_request", "malformed dpop_jkt", status);
      return;
    }
    req.dpop_jkt = *dpop_jkt;
  }

  // 3. The user.
  Session session;
  SessionLookup sl = currentSession(session);
  if (sl == SessionLookup::Unavailable) {
    redirectError(config, req, "temporarily_unavailable", "sessions are unavailable", status);
    return;
  }
  int64_t now = nowSeconds();
  bool other_user = sl == SessionLookup::Found && id_token_hint &&
                    hintNamesOtherUser(config, *id_token_hint, session);
  bool too_old = sl == SessionLookup::Found && req.max_age >= 0 &&
                 now - session.auth_time > req.max_age;
  if (sl == SessionLookup::None || other_user || too_old || req.prompt_login) {
    if (req.prompt_none) {
      redirectError(config, req, "login_required", "the user must sign in", status);
      return;
    }
    requireLogin(config, req, status);
    return;
  }
  continueAuthorization(config, client, req, session, status);
}

void handleAuthorizeResume(const Config& config) {
  if (sdk::method() != "GET") {
    sdk::addHeader("allow", "GET");
    respondErrorPage(405, "Method not allowed", "Use GET.");
    return;
  }
  Params in(sdk::Source::Query);
  std::string p;
  if (!in.getRequired("p", p, 64)) {
    respondErrorPage(400, "Invalid request", in.error());
    return;
  }
  PendingAuthorization req;
  if (!loadPendingOrRespond(p, req)) return;
  Client client;
  if (!loadPendingClientOrRespond(req, client)) return;
  req.from_document = req.from_document || client.from_document;
  if (!redirectUriAllowed(client.redirect_uris, req.redirect_uri)) {
    respondErrorPage(400, "Invalid redirect",
                     "The redirect address is no longer registered for this application.");
    return;
  }
  // Never send the browser round again: a login that did not produce a fresh session ends
  // the request with login_required.
  Session session;
  SessionLookup sl = currentSessionOrRespond(session);
  if (sl == SessionLookup::Unavailable) return;
  if (sl == SessionLookup::None || !sessionIsFresh(session, req.login_after)) {
    PendingAuthorization taken;
    takePending(req.id, taken);
    redirectError(config, req, "login_required", "the sign-in did not complete", 302);
    return;
  }
  // The login requirement is satisfied; a consent step may save the request again.
  req.prompt_login = false;
  continueAuthorization(config, client, req, session, 302);
}

}  // namespace habanero::oauth2
