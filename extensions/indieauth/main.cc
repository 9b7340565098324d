// indieauth: an IndieAuth authorization server (living standard of 11 July 2024) with its own
// issuer, {server issuer}{mount}. Each route of the manifest goes to one handler
// (indieauth.h); every outcome is a response written here, never a non-zero return.
#include "indieauth.h"

namespace habanero::indieauth {
namespace {

void handleRequest() {
  std::string sub = sdk::subPath();
  std::optional<Config> config = loadConfig();
  if (!config) {
    respondErrorPage(503, "Not configured", "The IndieAuth server is not configured.");
    return;
  }
  const Config& c = *config;
  if (sub == "/.well-known/oauth-authorization-server") {
    handleMetadata(c);
  } else if (sub == "/auth") {
    handleAuthorization(c);
  } else if (sub == "/auth/resume") {
    handleAuthorizationResume(c);
  } else if (sub == "/consent") {
    handleConsent(c);
  } else if (sub == "/token") {
    handleToken(c);
  } else if (sub == "/introspect") {
    handleIntrospect(c);
  } else if (sub == "/revoke") {
    handleRevoke(c);
  } else if (sub == "/userinfo") {
    handleUserinfo(c);
  } else if (sub.starts_with("/u/") && sub.find('/', 3) == std::string::npos) {
    handleProfilePage(c, std::string_view(sub).substr(3));
  } else {
    respondErrorPage(404, "Not found", "There is nothing at this address.");
  }
}

}  // namespace
}  // namespace habanero::indieauth

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  habanero::indieauth::handleRequest();
  return 0;
}
