// handlers.h — one function per endpoint of the oauth2 extension; main.cc routes to them.
// Each writes the whole response; none fails in a way the host would see as an error.
#ifndef HABANERO_EXTENSIONS_OAUTH2_HANDLERS_H_
#define HABANERO_EXTENSIONS_OAUTH2_HANDLERS_H_

#include "config.h"

namespace habanero::oauth2 {

void handleDiscovery(const Config& config);        // /.well-known/{openid-configuration,oauth-authorization-server}
void handleJwks(const Config& config);             // /jwks.json
void handleAuthorize(const Config& config);        // /authorize (GET, POST)
void handleAuthorizeResume(const Config& config);  // /authorize/resume?p=…
void handleConsent(const Config& config);          // /consent (POST)
void handleToken(const Config& config);            // /token (POST)
void handleUserinfo(const Config& config);         // /userinfo (GET, POST)
void handleIntrospect(const Config& config);       // /introspect (POST)
void handleRevoke(const Config& config);           // /revoke (POST)
void handleLogout(const Config& config);           // /logout (GET, POST)

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_HANDLERS_H_
