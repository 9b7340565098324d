// RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0) at /logout.
//
// Parameters (GET query or POST form): id_token_hint, client_id, post_logout_redirect_uri,
// state, logout_hint, ui_locales. A post_logout_redirect_uri must be registered for the
// client named by client_id or by the hint's aud (the two must agree); otherwise a 400 page,
// never a redirect. The session ends at once when the hint is one of our ID tokens for the
// signed-in user (expired is fine); otherwise the user confirms on a page whose form is
// bound to the session (lo/<id> holds the session id), so another site cannot log the user
// out. The answer is a redirect to post_logout_redirect_uri?state=… or a "signed out" page.

#include "authorization.h"
#include "clients.h"
#include "guest.h"
#include "handlers.h"
#include "html.h"
#include "store.h"
#include "tokens.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

struct LogoutRequest {
  std::string client_id;
  std::string client_name;
  std::string redirect_uri;  // validated post_logout_redirect_uri; empty: none
  std::string state;
};

void finish(const LogoutRequest& req, int status) {
  if (req.redirect_uri.empty()) return respondSignedOutPage();
  std::vector<std::pair<std::string, std::string>> params;
  if (!req.state.empty()) params.emplace_back("state", req.state);
  if (sdk::redirect(status, appendQuery(req.redirect_uri, params)) != sdk::Result::Ok) {
    return respondSignedOutPage();
  }
  sdk::addHeader("cache-control", "no-store");
}

bool endSession() {
  if (sdk::sessionEnd() != sdk::Result::Ok) {
    respondErrorPage(503, "Try again", "The server could not end your session.");
    return false;
  }
  return true;
}

// The audience of an ID token: azp if present, else a single aud.
std::string idTokenClient(const Json& claims) {
  if (auto azp = jsonString(claims, "azp")) return *azp;
  if (auto aud = jsonString(claims, "aud")) return *aud;
  auto it = claims.find("aud");
  if (it != claims.end() && it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
    return (*it)[0].get<std::string>();
  }
  return "";
}

// POST /logout with l=<id>: the confirmation form.
void confirm(Params& form) {
  std::optional<std::string> l, decision;
  if (!form.get("l", l, 64) || !form.get("decision", decision, 16)) {
    return respondErrorPage(400, "Bad request", form.error());
  }
  if (!l || !decision) return respondErrorPage(400, "Bad request", "The form is incomplete.");
  Json rec;
  switch (getRecord("lo/" + std::string(*l), rec)) {
    case Store::Ok:
      break;
    case Store::Unavailable:
      return respondErrorPage(503, "Try again", "The server could not read the request.");
    default:
      return respondErrorPage(400, "Request expired", "This sign-out request has expired.");
  }
  Session session;
  SessionLookup sl = currentSession(session);
  if (sl == SessionLookup::Unavailable) {
    return respondErrorPage(503, "Try again", "The server could not read your session.");
  }
  std::string sid = jsonString(rec, "sid").value_or("");
  if (sl != SessionLookup::Found || sid.empty() || session.sid != sid) {
    return respondErrorPage(400, "Bad request", "This sign-out request is not for your session.");
  }
  // Only now, for the right session, is the confirmation used up (another browser posting
  // the form must not be able to spoil it).
  Json taken;
  if (takeRecord("lo/" + std::string(*l), taken) != Store::Ok) {
    return respondErrorPage(400, "Request expired", "This sign-out request was already used.");
  }
  LogoutRequest req;
  req.redirect_uri = jsonString(rec, "redirect_uri").value_or("");
  req.state = jsonString(rec, "state").value_or("");
  if (*decision != "logout") {
    return respondPage(200, "Still signed in", "<h1>You are still signed in</h1>");
  }
  if (!endSession()) return;
  finish(req, 303);
}

}  // namespace

void handleLogout(const Config& config) {
  std::string method = sdk::method();
  if (method != "GET" && method != "POST") {
    sdk::addHeader("allow", "GET, POST");
    return respondErrorPage(405, "Method not allowed", "Use GET or POST.");
  }
  const bool post = method == "POST";
  if (post && !isFormRequest()) {
    return respondErrorPage(400, "Bad request", "The request must be a form.");
  }
  Params in(post ? sdk::Source::Form : sdk::Source::Query);
  if (post) {
    std::optional<std::string> l;
    if (!in.get("l", l, 64)) return respondErrorPage(400, "Bad request", in.error());
    if (l) return confirm(in);
  }
  std::optional<std::string> hint, client_id, redirect_uri, state, logout_hint, ui_locales;
  if (!in.get("id_token_hint", hint, kMaxTokenBytes) ||
      !in.get("client_id", client_id, kMaxClientIdBytes) ||
      !in.get("post_logout_redirect_uri", redirect_uri, kMaxRedirectUriBytes) ||
      !in.get("state", state, kMaxStateBytes) ||
      !in.get("logout_hint", logout_hint, kMaxHintBytes) ||
      !in.get("ui_locales", ui_locales, kMaxHintBytes)) {
    return respondErrorPage(400, "Bad request", in.error());
  }
  LogoutRequest req;
  req.state = state.value_or("");
  std::optional<Json> hint_claims;
  if (hint) {
    TokenCheck check;
    hint_claims = verifyOwnJwt(config, *hint, /*typ_at_jwt=*/false, check);
    if (check == TokenCheck::Unavailable) {
      return respondErrorPage(503, "Try again", "The server could not check the request.");
    }
    if (!hint_claims) {
      return respondErrorPage(400, "Bad request", "The id_token_hint is not valid.");
    }
    req.client_id = idTokenClient(*hint_claims);
  }
  if (client_id) {
    if (!req.client_id.empty() && req.client_id != *client_id) {
      return respondErrorPage(400, "Bad request", "client_id does not match the id_token_hint.");
    }
    req.client_id = *client_id;
  }
  if (!req.client_id.empty()) {
    Client client;
    switch (loadClient(req.client_id, client)) {
      case ClientLookup::Found:
        req.client_name = client.displayName();
        if (redirect_uri) {
          if (!redirectUriAllowed(client.post_logout_redirect_uris, *redirect_uri)) {
            return respondErrorPage(400, "Invalid redirect",
                                    "The address to return to after signing out is not "
                                    "registered for this application.");
          }
          req.redirect_uri = *redirect_uri;
        }
        break;
      case ClientLookup::NotFound:
        return respondErrorPage(400, "Unknown application", "The application is not registered.");
      case ClientLookup::Unavailable:
        return respondErrorPage(503, "Try again", "The server could not read the application.");
    }
  } else if (redirect_uri) {
    return respondErrorPage(400, "Bad request",
                            "post_logout_redirect_uri needs client_id or id_token_hint.");
  }
  const int status = post ? 303 : 302;

  Session session;
  SessionLookup sl = currentSession(session);
  if (sl == SessionLookup::Unavailable) {
    return respondErrorPage(503, "Try again", "The server could not read your session.");
  }
  if (sl == SessionLookup::None) {
    sdk::sessionEnd();  // clears a stale cookie, if any
    return finish(req, status);
  }
  bool trusted = hint_claims && jsonString(*hint_claims, "sub").value_or("") == session.sub;
  if (trusted) {
    if (!endSession()) return;
    return finish(req, status);
  }
  // Ask the user, binding the confirmation to this session.
  if (session.sid.empty()) {
    // Without a host session id the confirmation cannot be bound; refuse rather than guess.
    return respondErrorPage(400, "Cannot sign out here",
                            "Sign out from the application that signed you in.");
  }
  auto id = randomId();
  if (!id) return respondErrorPage(503, "Try again", "The server could not start the sign-out.");
  Json rec = {{"sid", session.sid}, {"redirect_uri", req.redirect_uri}, {"state", req.state}};
  if (putRecord("lo/" + std::string(*id), rec, kPendingTtlSeconds) != Store::Ok) {
    return respondErrorPage(503, "Try again", "The server could not start the sign-out.");
  }
  respondLogoutConfirmPage(localPath("/logout"), *id, req.client_name);
}

}  // namespace habanero::oauth2
