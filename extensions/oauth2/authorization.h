// authorization.h — the state of an authorization request between its steps.
//
// An authorization request (OAuth 2.0 §4.1.1, OIDC Core §3.1.2.1) is validated once, at
// /authorize. If the user must log in or consent first, it is saved in KV under a random id
// `p` (10 minutes) and continued by /authorize/resume?p=… (after the host's login) or POST
// /consent. Each continuation re-reads the browser session from the host.
//
//   /authorize ──validate──▶ session? ──no / prompt=login / max_age──▶ save p, host login
//                               │ yes                                     │
//                               ▼                                         ▼
//                           consent? ◀────────────── /authorize/resume?p (auth_time fresh?)
//                        yes │    │ no (first party, remembered)
//             save csrf, page ▼    ▼
//                POST /consent ──▶ code ──▶ 302/303 redirect_uri?code&state&iss
#ifndef HABANERO_EXTENSIONS_OAUTH2_AUTHORIZATION_H_
#define HABANERO_EXTENSIONS_OAUTH2_AUTHORIZATION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clients.h"
#include "config.h"
#include "store.h"

namespace habanero::oauth2 {

// The browser session is sdk::Session (<habanero/session.hh>).

struct PendingAuthorization {
  std::string id;  // "p"; empty until saved
  std::string client_id;
  std::string redirect_uri;
  std::vector<std::string> scopes;
  std::string state;
  std::string nonce;
  std::string code_challenge;
  std::string login_hint;
  std::string ui_locales;
  int64_t max_age = -1;  // -1: none
  bool prompt_none = false;
  bool prompt_login = false;
  bool prompt_consent = false;
  int64_t created = 0;      // seconds
  int64_t login_after = 0;  // > 0: the session's auth_time must be at least this
  std::string csrf;         // the consent form's token, once the page was shown
  std::string consent_sub;  // who the consent page was shown to
  std::string dpop_jkt;     // RFC 9449 §10: the DPoP key the code is bound to; empty: none
  // The client is known only from its Client Identifier Document: anyone may publish one, so
  // its redirect URIs are not trusted with errors until the user has seen the client.
  bool from_document = false;
  // The signed-in user has seen the client on the consent page (approved or denied) or
  // approved it before. Not stored: each step establishes it again.
  bool client_seen = false;
};

Store savePending(const PendingAuthorization& p);
Store loadPending(std::string_view id, PendingAuthorization& out);
// loadPending() for a browser: on failure answers with the error page (503 when
// the store is unavailable, 400 when the request expired or was completed) and
// returns false.
bool loadPendingOrRespond(std::string_view id, PendingAuthorization& out);
// The client of a pending request, for a browser: on failure answers with the
// error page (400 when it is no longer registered, 503 when unreadable) and
// returns false.
bool loadPendingClientOrRespond(const PendingAuthorization& req, Client& out);
Store takePending(std::string_view id, PendingAuthorization& out);

// Redirects the browser to the request's redirect_uri with `params` plus state and iss
// (RFC 9207). `status` is 302 after a GET and 303 after a POST.
void redirectToClient(const Config& config, const PendingAuthorization& req,
                      std::vector<std::pair<std::string, std::string>> params, int status);

// An authorization error response (RFC 6749 §4.1.2.1) to the client; for a client from a
// Client Identifier Document the user has not seen yet, an error page on our own origin
// instead (RFC 9700 §4.11.2: we are no open redirector for whoever publishes a document).
void redirectError(const Config& config, const PendingAuthorization& req, std::string_view error,
                   std::string_view description, int status);

// Continues a validated request for a logged-in user: consent (page, remembered, or
// skipped), then the code.
void continueAuthorization(const Config& config, const Client& client, PendingAuthorization& req,
                           const Session& session, int status);

// Issues the authorization code and redirects to the client.
void issueCode(const Config& config, const PendingAuthorization& req, const Session& session,
               int status);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_AUTHORIZATION_H_
