#include "authorization.h"


#include "consent.h"
#include "guest.h"
#include "html.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {

namespace {

Json pendingJson(const PendingAuthorization& p) {
  return Json{{"client_id", p.client_id},       {"redirect_uri", p.redirect_uri},
              {"scopes", jsonArray(p.scopes)},  {"state", p.state},
              {"nonce", p.nonce},               {"code_challenge", p.code_challenge},
              {"login_hint", p.login_hint},     {"ui_locales", p.ui_locales},
              {"max_age", p.max_age},           {"prompt_none", p.prompt_none},
              {"prompt_login", p.prompt_login}, {"prompt_consent", p.prompt_consent},
              {"created", p.created},           {"login_after", p.login_after},
              {"csrf", p.csrf},                 {"consent_sub", p.consent_sub},
              {"dpop_jkt", p.dpop_jkt},         {"from_document", p.from_document}};
}

Store pendingFrom(Store s, std::string_view id, const Json& j, PendingAuthorization& out) {
  if (s != Store::Ok) return s;
  PendingAuthorization p;
  p.id = std::string(id);
  p.client_id = jsonString(j, "client_id").value_or("");
  p.redirect_uri = jsonString(j, "redirect_uri").value_or("");
  p.scopes = jsonStringList(j, "scopes");
  p.state = jsonString(j, "state").value_or("");
  p.nonce = jsonString(j, "nonce").value_or("");
  p.code_challenge = jsonString(j, "code_challenge").value_or("");
  p.login_hint = jsonString(j, "login_hint").value_or("");
  p.ui_locales = jsonString(j, "ui_locales").value_or("");
  p.max_age = jsonInt(j, "max_age").value_or(-1);
  p.prompt_none = jsonBool(j, "prompt_none", false);
  p.prompt_login = jsonBool(j, "prompt_login", false);
  p.prompt_consent = jsonBool(j, "prompt_consent", false);
  p.created = jsonInt(j, "created").value_or(0);
  p.login_after = jsonInt(j, "login_after").value_or(0);
  p.csrf = jsonString(j, "csrf").value_or("");
  p.consent_sub = jsonString(j, "consent_sub").value_or("");
  p.dpop_jkt = jsonString(j, "dpop_jkt").value_or("");
  p.from_document = jsonBool(j, "from_document", false);
  if (p.client_id.empty() || p.redirect_uri.empty()) return Store::NotFound;
  out = std::move(p);
  return Store::Ok;
}

bool validPendingId(std::string_view id) { return !id.empty() && id.size() <= 64; }

}  // namespace

Store savePending(const PendingAuthorization& p) {
  return putRecord("p/" + std::string(p.id), pendingJson(p), kPendingTtlSeconds);
}

bool loadPendingOrRespond(std::string_view id, PendingAuthorization& out) {
  switch (loadPending(id, out)) {
    case Store::Ok:
      return true;
    case Store::Unavailable:
      respondErrorPage(503, "Try again", "The server could not read the request.");
      return false;
    default:
      respondErrorPage(400, "Request expired",
                       "This sign-in request has expired or was already completed. Start again "
                       "from the application.");
      return false;
  }
}

bool loadPendingClientOrRespond(const PendingAuthorization& req, Client& out) {
  switch (loadClient(req.client_id, out)) {
    case ClientLookup::Found:
      return true;
    case ClientLookup::NotFound:
      respondErrorPage(400, "Unknown application", "The application is no longer registered.");
      return false;
    case ClientLookup::Unavailable:
      respondErrorPage(503, "Try again", "The server could not read the application.");
      return false;
  }
  return false;
}

Store loadPending(std::string_view id, PendingAuthorization& out) {
  if (!validPendingId(id)) return Store::NotFound;
  Json j;
  Store s = getRecord("p/" + std::string(id), j);
  return pendingFrom(s, id, j, out);
}

Store takePending(std::string_view id, PendingAuthorization& out) {
  if (!validPendingId(id)) return Store::NotFound;
  Json j;
  Store s = takeRecord("p/" + std::string(id), j);
  return pendingFrom(s, id, j, out);
}

void redirectToClient(const Config& config, const PendingAuthorization& req,
                      std::vector<std::pair<std::string, std::string>> params, int status) {
  if (!req.state.empty()) params.emplace_back("state", req.state);
  params.emplace_back("iss", config.issuer);
  std::string url = appendQuery(req.redirect_uri, params);
  if (sdk::redirect(status, url) != sdk::Result::Ok) {
    respondErrorPage(400, "Cannot return to the application",
                     "The application's redirect address cannot be used.");
    return;
  }
  sdk::addHeader("cache-control", "no-store");
  sdk::addHeader("referrer-policy", "no-referrer");
}

void redirectError(const Config& config, const PendingAuthorization& req, std::string_view error,
                   std::string_view description, int status) {
  if (req.from_document && !req.client_seen) {
    sdk::logInfo("error " + std::string(error) + " for document client " +
                 req.client_id.substr(0, 256) + " shown, not redirected (not yet seen by a user)");
    respondAuthorizationErrorPage(error, description);
    return;
  }
  std::vector<std::pair<std::string, std::string>> params = {{"error", std::string(error)}};
  if (!description.empty()) params.emplace_back("error_description", std::string(description));
  redirectToClient(config, req, std::move(params), status);
}

void issueCode(const Config& config, const PendingAuthorization& req, const Session& session,
               int status) {
  auto code = randomToken();
  if (!code) {
    redirectError(config, req, "temporarily_unavailable", "try again", status);
    return;
  }
  int64_t now = nowSeconds();
  CodeRecord rec;
  rec.client_id = req.client_id;
  rec.redirect_uri = req.redirect_uri;
  rec.code_challenge = req.code_challenge;
  rec.nonce = req.nonce;
  rec.scopes = req.scopes;
  rec.sub = session.sub;
  rec.auth_time = session.auth_time;
  rec.amr = session.amr;
  rec.sid = session.sid;
  rec.exp = now + config.code_ttl;
  rec.dpop_jkt = req.dpop_jkt;
  if (putCode(tokenHash(*code), rec, config.code_ttl) != Store::Ok) {
    redirectError(config, req, "temporarily_unavailable", "try again", status);
    return;
  }
  redirectToClient(config, req, {{"code", *code}}, status);
}

void continueAuthorization(const Config& config, const Client& client, PendingAuthorization& req,
                           const Session& session, int status) {
  switch (consentNeeded(config, client, req, session)) {
    case ConsentNeed::NotNeeded:
      req.client_seen = true;  // approved before (or first party)
      break;
    case ConsentNeed::Needed:
      if (req.prompt_none) {
        redirectError(config, req, "consent_required", "the user has not consented", status);
        return;
      }
      showConsent(config, client, req, session);
      return;
    case ConsentNeed::Unavailable:
      redirectError(config, req, "temporarily_unavailable", "try again", status);
      return;
  }
  if (!req.id.empty()) {
    // The saved request is used up by this code.
    PendingAuthorization taken;
    if (takePending(req.id, taken) != Store::Ok) {
      respondErrorPage(400, "Request already used",
                       "This sign-in request was already completed. Start again from the "
                       "application.");
      return;
    }
  }
  issueCode(config, req, session, status);
}

}  // namespace habanero::oauth2
