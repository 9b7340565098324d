// oauth2: the OAuth 2.0 / OpenID Connect provider's protocol logic (docs/design/0001).
//
// Mounted at the issuer root ("/"); each route of the manifest goes to one handler
// (handlers.h). The host supplies sessions and login, users, client registrations and
// signing keys; this extension keeps codes, token state and consent in its own KV.
// Every outcome is a response written here: bad input gets an OAuth error or a 4xx page,
// never a non-zero return (which the host would turn into a 500).
#include <string>

#include "config.h"
#include "guest.h"
#include "handlers.h"
#include "webid.h"

namespace habanero::oauth2 {
namespace {

void handleRequest() {
  std::string sub = sdk::subPath();
  std::optional<Config> config = loadConfig();
  if (!config) {
    respondErrorPage(503, "Not configured", "The authorization server is not configured.");
    return;
  }
  const Config& c = *config;
  if (sub == "/.well-known/openid-configuration" ||
      sub == "/.well-known/oauth-authorization-server") {
    handleDiscovery(c);
  } else if (sub == "/jwks.json") {
    handleJwks(c);
  } else if (sub == "/authorize") {
    handleAuthorize(c);
  } else if (sub == "/authorize/resume") {
    handleAuthorizeResume(c);
  } else if (sub == "/consent") {
    handleConsent(c);
  } else if (sub == "/token") {
    handleToken(c);
  } else if (sub == "/userinfo") {
    handleUserinfo(c);
  } else if (sub == "/introspect") {
    handleIntrospect(c);
  } else if (sub == "/revoke") {
    handleRevoke(c);
  } else if (sub == "/logout") {
    handleLogout(c);
  } else if (sub.starts_with("/webid/")) {
    handleWebidProfile(c);
  } else {
    sdk::respond(404, "text/plain; charset=utf-8", "not found\n");
  }
}

}  // namespace
}  // namespace habanero::oauth2

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  habanero::oauth2::handleRequest();
  return 0;
}
