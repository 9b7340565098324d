#include "consent.h"

#include "guest.h"
#include "html.h"

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
  if (!startConsent(req.id, req.created, req.csrf, nowSeconds())) return;
  req.consent_sub = session.sub;
  if (savePending(req) != Store::Ok) {
    respondErrorPage(503, "Try again", "The server could not save the request.");
    return;
  }
  std::string who = client.name.empty() ? client.id : client.name;
  ConsentPage page;
  page.title = "Allow access?";
  page.leadHtml = "<strong>" + htmlEscape(who) + "</strong>";
  if (!client.name.empty()) {
    page.leadHtml += " <span class=\"muted\">(" + htmlEscape(client.id) + ")</span>";
  }
  page.leadHtml += " would like to:";
  for (const auto& s : req.scopes) page.asks.push_back(scopeDescription(s));
  if (page.asks.empty()) page.asks.push_back("Access your account");
  Json user;
  if (userRecord(session.sub, user) == Lookup::Found) {
    std::string me = jsonString(user, "email").value_or(jsonString(user, "name").value_or(""));
    if (!me.empty()) {
      page.notesHtml.push_back("<p class=\"muted\">Signed in as " + htmlEscape(me) + ".</p>");
    }
  }
  page.action = localPath("/consent");
  page.pendingId = req.id;
  page.csrf = req.csrf;
  respondConsentPage(page);
}

void handleConsent(const Config& config) {
  PendingAuthorization req;
  Client client;
  Session session;
  std::optional<bool> approve = consentDecision(
      req, session,
      [&](std::string_view id, PendingAuthorization& r) {
        return loadPendingOrRespond(id, r) && loadPendingClientOrRespond(r, client);
      },
      [](const PendingAuthorization& r) {
        PendingAuthorization taken;
        return takePending(r.id, taken) == Store::Ok && taken.csrf == r.csrf;
      });
  if (!approve) return;
  req.client_seen = true;  // the user has just decided about this client
  if (!*approve) {
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
