#include "consent.h"

#include <habanero.hh>

#include "core/params.h"
#include "html.h"
#include "http.h"
#include "json.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {

ConsentNeed consentNeeded(const Config& config, const Client& client,
                          const PendingAuthorization& req, const Session& session) {
  if (req.prompt_consent) return ConsentNeed::Needed;
  if (client.first_party && config.first_party_skip_consent) return ConsentNeed::NotNeeded;
  std::vector<std::string> granted;
  switch (getConsent(session.sub, client.id, granted)) {
    case Store::Ok:
      return isSubset(req.scopes, granted) ? ConsentNeed::NotNeeded : ConsentNeed::Needed;
    case Store::NotFound:
      return ConsentNeed::Needed;
    default:
      return ConsentNeed::Unavailable;
  }
}

void showConsent(const Config& config, const Client& client, PendingAuthorization& req,
                 const Session& session) {
  auto csrf = randomToken();
  if (req.id.empty()) {
    auto id = randomId();
    if (!id) {
      respondErrorPage(503, "Try again", "The server could not start the consent step.");
      return;
    }
    req.id = *id;
    req.created = nowSeconds();
  }
  if (!csrf) {
    respondErrorPage(503, "Try again", "The server could not start the consent step.");
    return;
  }
  req.csrf = *csrf;
  req.consent_sub = session.sub;
  if (savePending(req) != Store::Ok) {
    respondErrorPage(503, "Try again", "The server could not save the request.");
    return;
  }
  ConsentView view;
  view.client_name = client.name;
  view.client_id = client.id;
  view.scopes = req.scopes;
  view.action = localPath("/consent");
  view.pending_id = req.id;
  view.csrf = req.csrf;
  std::string user_text;
  if (sdk::userGet(session.sub, user_text) == sdk::Result::Ok) {
    if (auto user = parseJsonObject(user_text)) {
      view.user = jsonString(*user, "email").value_or(jsonString(*user, "name").value_or(""));
    }
  }
  respondConsentPage(view);
}

void handleConsent(const Config& config) {
  if (sdk::method() != "POST") {
    sdk::addHeader("allow", "POST");
    respondErrorPage(405, "Method not allowed", "The consent form must be submitted with POST.");
    return;
  }
  if (!isFormRequest()) {
    respondErrorPage(400, "Bad request", "The consent form was not submitted as a form.");
    return;
  }
  Params form(sdk::Source::Form);
  std::optional<std::string> p, csrf, decision;
  if (!form.get("p", p, 64) || !form.get("csrf", csrf, 64) ||
      !form.get("decision", decision, 16)) {
    respondErrorPage(400, "Bad request", form.error());
    return;
  }
  if (!p || !csrf || !decision || (*decision != "approve" && *decision != "deny")) {
    respondErrorPage(400, "Bad request", "The consent form is incomplete.");
    return;
  }
  PendingAuthorization req;
  if (!loadPendingOrRespond(*p, req)) return;
  if (req.csrf.empty() || !sdk::constantTimeEqual(*csrf, req.csrf)) {
    respondErrorPage(400, "Bad request", "The consent form is not valid. Start again.");
    return;
  }
  Session session;
  SessionLookup sl = currentSession(session);
  if (sl == SessionLookup::Unavailable) {
    respondErrorPage(503, "Try again", "The server could not read your session.");
    return;
  }
  if (sl == SessionLookup::None || session.sub != req.consent_sub) {
    respondErrorPage(400, "Session changed",
                     "You are no longer signed in as the user who was asked. Start again from "
                     "the application.");
    return;
  }
  Client client;
  if (!loadPendingClientOrRespond(req, client)) return;
  PendingAuthorization taken;
  if (takePending(*p, taken) != Store::Ok || taken.csrf != req.csrf) {
    respondErrorPage(400, "Request already used",
                     "This sign-in request was already completed. Start again from the "
                     "application.");
    return;
  }
  if (*decision == "deny") {
    redirectError(config, req, "access_denied", "the user denied the request", 303);
    return;
  }
  std::vector<std::string> granted;
  Store g = getConsent(session.sub, client.id, granted);
  if (g == Store::Unavailable) {
    redirectError(config, req, "temporarily_unavailable", "try again", 303);
    return;
  }
  for (const auto& s : req.scopes) {
    if (!hasScope(granted, s)) granted.push_back(s);
  }
  if (putConsent(session.sub, client.id, granted) != Store::Ok) {
    sdk::logWarn("could not remember consent");
  }
  issueCode(config, req, session, 303);
}

}  // namespace habanero::oauth2
