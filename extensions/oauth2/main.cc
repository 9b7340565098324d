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

using Handler = void (*)(const Config&);

// The handler of a route of the manifest (the path below the mount); nullptr for none.
Handler handlerFor(std::string_view sub) {
  if (sub == "/.well-known/openid-configuration") return handleDiscovery;
  if (sub == "/.well-known/oauth-authorization-server") return handleDiscovery;
  if (sub == "/jwks.json") return handleJwks;
  if (sub == "/authorize") return handleAuthorize;
  if (sub == "/authorize/resume") return handleAuthorizeResume;
  if (sub == "/consent") return handleConsent;
  if (sub == "/token") return handleToken;
  if (sub == "/userinfo") return handleUserinfo;
  if (sub == "/introspect") return handleIntrospect;
  if (sub == "/revoke") return handleRevoke;
  if (sub == "/logout") return handleLogout;
  if (sub.starts_with("/webid/")) return handleWebidProfile;
  return nullptr;
}

}  // namespace
}  // namespace habanero::oauth2

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  namespace oauth2 = habanero::oauth2;
  oauth2::Handler handler = oauth2::handlerFor(habanero::sdk::subPath());
  if (handler == nullptr) {
    habanero::sdk::respond(404, "text/plain; charset=utf-8", "not found\n");
    return 0;
  }
  std::optional<oauth2::Config> config = oauth2::loadConfig();
  if (!config) {
    oauth2::respondErrorPage(503, "Not configured", "The authorization server is not configured.");
    return 0;
  }
  handler(*config);
  return 0;
}
