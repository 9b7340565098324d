// The authorization endpoint (§5.2): the authorization request, the host's login, the
// consent screen and the redirect back with code, state and iss; a POST with grant_type is
// the code redemption of §5.3.2 (token.cc).
//
// Errors before the client and its redirect URI are established (a bad client_id, a
// metadata document contradicting it, a redirect URI neither on the client's origin nor
// published by it) are an error page and never a redirect. Every IndieAuth client is
// discovered, never registered: anyone can name any URL as client_id, so errors go back to
// the client as ?error=…&state=…&iss=… only once the signed-in user has seen it on the
// consent page (a denial, a failure after approval); before that they are a page on our
// own origin too (RFC 9700 §4.11.2: no open redirector).
//
//   GET /auth ──validate, discover client──▶ session? ──no──▶ save p, host /login
//                                              │ yes                 │
//                                              ▼                     ▼
//                                   consent page (csrf) ◀── GET /auth/resume?p
//                                              │ POST /consent
//                                              ▼
//                            302/303 redirect_uri?code&state&iss
#include "indieauth.h"
#include "rules/urls.h"

namespace habanero::indieauth {
namespace {


struct Pending {
  std::string id;
  std::string client_id;  // canonical
  std::string client_name;
  std::string client_uri;
  bool client_fetched = false;
  std::string redirect_uri;
  std::string state;
  std::string code_challenge;
  std::vector<std::string> scopes;
  std::string me_hint;  // canonical, "" if none
  int64_t created = 0;
  int64_t login_after = 0;
  std::string csrf;
  std::string consent_sub;
  bool client_seen = false;  // the user decided on the consent page (not stored)

  Json toJson() const {
    return {{"client_id", client_id},
            {"client_name", client_name},
            {"client_uri", client_uri},
            {"client_fetched", client_fetched},
            {"redirect_uri", redirect_uri},
            {"state", state},
            {"code_challenge", code_challenge},
            {"scopes", jsonArray(scopes)},
            {"me_hint", me_hint},
            {"created", created},
            {"login_after", login_after},
            {"csrf", csrf},
            {"consent_sub", consent_sub}};
  }
  static Pending fromJson(std::string id, const Json& j) {
    auto text = [&j](std::string_view key) { return jsonString(j, key).value_or(""); };
    auto number = [&j](std::string_view key) { return jsonInt(j, key).value_or(0); };
    Pending p;
    p.id = std::move(id);
    p.client_id = text("client_id");
    p.client_name = text("client_name");
    p.client_uri = text("client_uri");
    p.client_fetched = jsonBool(j, "client_fetched", false);
    p.redirect_uri = text("redirect_uri");
    p.state = text("state");
    p.code_challenge = text("code_challenge");
    p.scopes = jsonStringList(j, "scopes");
    p.me_hint = text("me_hint");
    p.created = number("created");
    p.login_after = number("login_after");
    p.csrf = text("csrf");
    p.consent_sub = text("consent_sub");
    return p;
  }
};

// Redirects the browser to the client with `params` plus state and iss (RFC 9207).
void redirectToClient(const Config& c, const Pending& p,
                      std::vector<std::pair<std::string, std::string>> params, int status) {
  if (!p.state.empty()) params.emplace_back("state", p.state);
  params.emplace_back("iss", c.issuer);
  sdk::addHeader("cache-control", "no-store");
  sdk::addHeader("referrer-policy", "no-referrer");
  sdk::redirect(status, appendQuery(p.redirect_uri, params));
}

void redirectError(const Config& c, const Pending& p, std::string_view error,
                   std::string_view description, int status) {
  if (!p.client_seen) {
    sdk::logInfo("error " + std::string(error) + " for client " + p.client_id.substr(0, 256) +
                 " shown, not redirected (not yet seen by the user)");
    respondAuthorizationErrorPage(error, description);
    return;
  }
  std::vector<std::pair<std::string, std::string>> params = {{"error", std::string(error)}};
  if (!description.empty()) params.emplace_back("error_description", std::string(description));
  redirectToClient(c, p, std::move(params), status);
}

Store savePending(const Pending& p) {
  return putRecord("p/" + p.id, p.toJson(), kPendingTtlSeconds);
}

// Loads a pending request for a browser; on failure answers with the page and returns false.
bool loadPendingOrRespond(std::string_view id, Pending& out) {
  if (id.empty() || id.size() > 64) {
    respondErrorPage(400, "Request expired", "This sign-in request is unknown or has expired.");
    return false;
  }
  Json j;
  switch (getRecord("p/" + std::string(id), j)) {
    case Store::Ok:
      break;
    case Store::NotFound:
      respondErrorPage(400, "Request expired",
                       "This sign-in request is unknown, expired or already completed. Start "
                       "again from the application.");
      return false;
    default:
      respondErrorPage(503, "Try again", "The server could not read the request.");
      return false;
  }
  out = Pending::fromJson(std::string(id), j);
  if (out.client_id.empty() || out.redirect_uri.empty()) {
    respondErrorPage(400, "Request expired", "This sign-in request is unknown or has expired.");
    return false;
  }
  return true;
}

void requireLogin(const Config& c, Pending& p) {
  auto id = randomId();
  if (!id) {
    redirectError(c, p, "temporarily_unavailable", "try again", 302);
    return;
  }
  p.id = *id;
  p.created = nowSeconds();
  p.login_after = p.created;
  if (savePending(p) != Store::Ok) {
    redirectError(c, p, "temporarily_unavailable", "try again", 302);
    return;
  }
  sdk::Result r = sdk::sessionRequireLogin(c.localPath("/auth/resume?p=" + p.id), "");
  if (r != sdk::Result::Ok) {
    sdk::logError("session_require_login failed: " + std::string(sdk::resultName(r)));
    respondErrorPage(503, "Sign-in unavailable", "The server could not start the sign-in.");
  }
}

void showConsent(const Config& c, Pending& p, const Session& session) {
  Identity id;
  switch (resolveIdentity(c, session.sub, id)) {
    case Lookup::Found:
      break;
    case Lookup::NotFound:
      respondErrorPage(400, "Unknown user", "Your account no longer exists. Sign in again.");
      return;
    default:
      respondErrorPage(503, "Try again", "The server could not read your account.");
      return;
  }
  if (!startConsent(p.id, p.created, p.csrf, nowSeconds())) return;
  p.consent_sub = session.sub;
  if (savePending(p) != Store::Ok) {
    respondErrorPage(503, "Try again", "The server could not save the request.");
    return;
  }
  std::string app = p.client_name;
  if (app.empty()) {
    UrlCheck u = parseHttpUrl(p.client_id);
    app = u ? u.url->host : p.client_id;
  }
  ConsentPage page;
  page.title = "Sign in to " + app + "?";
  page.leadHtml = "The application <strong>" + htmlEscape(app) + "</strong> at <code>" +
                  htmlEscape(p.client_id) + "</code>";
  if (p.scopes.empty()) {
    page.leadHtml += " wants to know who you are. It gets no access to anything else.";
  } else {
    page.leadHtml += " would like to:";
    page.asks.push_back("Know who you are");
    for (const auto& s : p.scopes) page.asks.push_back(scopeDescription(s));
  }
  auto note = [&](std::string_view cls, std::string html) {
    page.notesHtml.push_back("<p class=\"" + std::string(cls) + "\">" + html + "</p>");
  };
  if (!p.client_uri.empty() && p.client_uri != p.client_id) {
    note("muted", "About the application: <code>" + htmlEscape(p.client_uri) + "</code>");
  }
  if (!p.client_fetched) {
    note("muted", "The application published no information about itself; check the address "
                  "above.");
  }
  if (!sameOrigin(p.redirect_uri, p.client_id)) {
    note("muted", "Afterwards you will be sent to <code>" + htmlEscape(p.redirect_uri) +
                      "</code>.");
  }
  page.notesHtml.push_back("<p>You will sign in as <code>" + htmlEscape(id.me) + "</code>.</p>");
  if (!id.website.empty() && !id.website_verified) {
    note("warn", "Your website <code>" + htmlEscape(id.website) + "</code> is not used: " +
                     htmlEscape(id.website_problem) +
                     ". Add <code>&lt;link rel=\"indieauth-metadata\" href=\"" +
                     htmlEscape(c.metadataUrl()) + "\"&gt;</code> to it.");
  }
  if (!p.me_hint.empty() && p.me_hint != id.me && p.me_hint != id.hosted) {
    note("muted", "The application expected <code>" + htmlEscape(p.me_hint) + "</code>.");
  }
  page.action = c.localPath("/consent");
  page.pendingId = p.id;
  page.csrf = p.csrf;
  respondConsentPage(page);
}

void issueCode(const Config& c, const Pending& p, const Identity& id, int status) {
  auto code = randomToken();
  if (!code) {
    redirectError(c, p, "temporarily_unavailable", "try again", status);
    return;
  }
  int64_t now = nowSeconds();
  Json rec = {{"client_id", p.client_id},
              {"redirect_uri", p.redirect_uri},
              {"code_challenge", p.code_challenge},
              {"scopes", jsonArray(p.scopes)},
              {"sub", id.sub},
              {"me", id.me},
              {"iat", now},
              {"exp", now + c.code_ttl}};
  if (putRecord("c/" + tokenHash(*code), rec, c.code_ttl) != Store::Ok) {
    redirectError(c, p, "temporarily_unavailable", "try again", status);
    return;
  }
  redirectToClient(c, p, {{"code", *code}}, status);
}

}  // namespace

void handleAuthorization(const Config& c) {
  std::string method = sdk::method();
  if (method == "POST") {
    redeemCode(c, /*at_token_endpoint=*/false);
    return;
  }
  if (method != "GET" && method != "HEAD") {
    respondMethodNotAllowed("GET, POST", true);
    return;
  }
  Params in(sdk::Source::Query);

  // 1. The client and its redirect URI: failures here are shown, never redirected.
  std::optional<std::string> client_id, redirect_uri;
  if (!in.get("client_id", client_id, kMaxUrlBytes) ||
      !in.get("redirect_uri", redirect_uri, kMaxUrlBytes)) {
    respondErrorPage(400, "Invalid request", in.error());
    return;
  }
  if (!client_id) {
    respondErrorPage(400, "Invalid request", "client_id is missing.");
    return;
  }
  UrlCheck cid = parseClientId(*client_id);
  if (!cid) {
    respondErrorPage(400, "Invalid application",
                     "The client_id " + *client_id + " " + cid.error + ".");
    return;
  }
  if (!redirect_uri || !isValidRedirectUri(*redirect_uri)) {
    respondErrorPage(400, "Invalid request", "redirect_uri is missing or not an absolute URL.");
    return;
  }
  ClientInfo client;
  std::string problem;
  if (discoverClient(cid.url->str(), *client_id, client, problem) != Discovery::Ok) {
    respondErrorPage(400, "Application not recognised", problem);
    return;
  }
  if (!client.note.empty()) sdk::logInfo("client " + client.client_id + ": " + client.note);
  if (!redirectUriAllowed(client, *redirect_uri)) {
    respondErrorPage(400, "Invalid redirect",
                     "The redirect address " + *redirect_uri +
                         " is not on the application's host (" +
                         originOf(client.client_id).value_or(client.client_id) +
                         ") and the application does not list it among its redirect URIs.");
    return;
  }

  Pending p;
  p.client_id = client.client_id;
  p.client_name = client.name;
  p.client_uri = client.uri;
  p.client_fetched = client.fetched;
  p.redirect_uri = *redirect_uri;

  // 2. Everything else is answered at the redirect URI.
  std::optional<std::string> state;
  if (!in.get("state", state, kMaxStateBytes)) {
    redirectError(c, p, "invalid_request", in.error(), 302);
    return;
  }
  p.state = state.value_or("");
  std::optional<std::string> response_type, scope, challenge, method_param, me;
  if (!in.get("response_type", response_type, 64) || !in.get("scope", scope, kMaxScopeBytes) ||
      !in.get("code_challenge", challenge, 128) ||
      !in.get("code_challenge_method", method_param, 16) || !in.get("me", me, kMaxUrlBytes)) {
    redirectError(c, p, "invalid_request", in.error(), 302);
    return;
  }
  if (!response_type) {
    redirectError(c, p, "invalid_request", "response_type is required", 302);
    return;
  }
  if (*response_type != "code") {
    redirectError(c, p, "unsupported_response_type", "only response_type=code is supported", 302);
    return;
  }
  if (!state) {
    redirectError(c, p, "invalid_request", "state is required", 302);
    return;
  }
  if (!challenge) {
    redirectError(c, p, "invalid_request", "PKCE is required: send code_challenge (S256)", 302);
    return;
  }
  if (!method_param || *method_param != "S256") {
    redirectError(c, p, "invalid_request", "code_challenge_method must be S256", 302);
    return;
  }
  if (!isS256Challenge(*challenge)) {
    redirectError(c, p, "invalid_request", "malformed code_challenge", 302);
    return;
  }
  p.code_challenge = *challenge;
  auto scopes = parseScope(scope.value_or(""));
  if (!scopes) {
    redirectError(c, p, "invalid_scope", "malformed scope", 302);
    return;
  }
  // §5.3.4: email only together with profile.
  bool has_profile = false;
  for (const auto& s : *scopes) has_profile = has_profile || s == "profile";
  if (!has_profile) std::erase(*scopes, std::string("email"));
  p.scopes = std::move(*scopes);
  if (me) {
    UrlCheck m = parseProfileUrl(*me, c.allow_loopback_profiles);
    if (!m) {
      redirectError(c, p, "invalid_request", "me " + m.error, 302);
      return;
    }
    p.me_hint = m.url->str();
  }

  // 3. The user.
  Session session;
  switch (currentSession(session)) {
    case SessionLookup::Unavailable:
      redirectError(c, p, "temporarily_unavailable", "sessions are unavailable", 302);
      return;
    case SessionLookup::None:
      requireLogin(c, p);
      return;
    case SessionLookup::Found:
      break;
  }
  showConsent(c, p, session);
}

void handleAuthorizationResume(const Config& c) {
  if (sdk::method() != "GET") {
    respondMethodNotAllowed("GET", true);
    return;
  }
  Params in(sdk::Source::Query);
  std::optional<std::string> id;
  if (!in.get("p", id, 64)) {
    respondErrorPage(400, "Invalid request", in.error());
    return;
  }
  Pending p;
  if (!loadPendingOrRespond(id.value_or(""), p)) return;
  Session session;
  SessionLookup sl = currentSessionOrRespond(session);
  if (sl == SessionLookup::Unavailable) return;
  if (sl == SessionLookup::None || !sessionIsFresh(session, p.login_after)) {
    Json ignored;
    takeRecord("p/" + p.id, ignored);
    redirectError(c, p, "access_denied", "the sign-in did not complete", 302);
    return;
  }
  showConsent(c, p, session);
}

void handleConsent(const Config& c) {
  Pending p;
  Session session;
  auto take = [](const Pending& r) {
    Json taken;
    return takeRecord("p/" + r.id, taken) == Store::Ok && jsonString(taken, "csrf") == r.csrf;
  };
  std::optional<bool> approve = consentDecision(p, session, loadPendingOrRespond, take);
  if (!approve) return;
  p.client_seen = true;
  if (!*approve) {
    redirectError(c, p, "access_denied", "the user denied the request", 303);
    return;
  }
  Identity ident;
  switch (resolveIdentity(c, session.sub, ident)) {
    case Lookup::Found:
      break;
    case Lookup::NotFound:
      redirectError(c, p, "access_denied", "the user no longer exists", 303);
      return;
    default:
      redirectError(c, p, "temporarily_unavailable", "try again", 303);
      return;
  }
  issueCode(c, p, ident, 303);
}

}  // namespace habanero::indieauth
