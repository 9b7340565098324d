// consent.h — the consent step: whether it is needed, the page, and POST /consent.
//
// Consent is skipped for first-party clients when the setting first_party_skip_consent
// allows, and when the user already granted every requested scope to the client
// (remembered per user and client in KV). prompt=consent always asks. The page's form
// carries the pending request id and a CSRF token stored with that request; POST /consent
// checks the token, that the same user is still signed in, and uses the request up.
#ifndef HABANERO_EXTENSIONS_OAUTH2_CONSENT_H_
#define HABANERO_EXTENSIONS_OAUTH2_CONSENT_H_

#include "authorization.h"
#include "clients.h"
#include "config.h"

namespace habanero::oauth2 {

enum class ConsentNeed { NotNeeded, Needed, Unavailable };

ConsentNeed consentNeeded(const Config& config, const Client& client,
                          const PendingAuthorization& req, const Session& session);

// Saves the request with a fresh CSRF token and renders the consent page.
void showConsent(const Config& config, const Client& client, PendingAuthorization& req,
                 const Session& session);

// POST /consent: p, csrf, decision=approve|deny.
void handleConsent(const Config& config);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_CONSENT_H_
