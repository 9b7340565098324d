// The server metadata (§4.1.1, RFC 8414 members) and the profile pages Habanero hosts for
// its users (§3.2 profile URLs that advertise this server, §4.1 discovery).
#include "indieauth.h"

namespace habanero::indieauth {
namespace {

bool isGetOrHead() {
  std::string m = sdk::method();
  return m == "GET" || m == "HEAD";
}

// A subject as the host issues them: base64url, 1..64 characters.
bool looksLikeSubject(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void handleMetadata(const Config& c) {
  if (!isGetOrHead()) {
    respondMethodNotAllowed("GET, HEAD", false);
    return;
  }
  Json m = {
      {"issuer", c.issuer},
      {"authorization_endpoint", c.authorizationEndpoint()},
      {"token_endpoint", c.tokenEndpoint()},
      {"introspection_endpoint", c.url("/introspect")},
      {"introspection_endpoint_auth_methods_supported",
       Json::array({"client_secret_basic", "bearer"})},
      {"revocation_endpoint", c.url("/revoke")},
      {"revocation_endpoint_auth_methods_supported", Json::array({"none"})},
      {"userinfo_endpoint", c.url("/userinfo")},
      {"scopes_supported",
       Json::array({"profile", "email", "create", "update", "delete", "undelete", "media", "draft",
                    "read", "follow", "mute", "block", "channels"})},
      {"response_types_supported", Json::array({"code"})},
      {"response_modes_supported", Json::array({"query"})},
      {"grant_types_supported", c.refresh_token_ttl > 0
                                    ? Json::array({"authorization_code", "refresh_token"})
                                    : Json::array({"authorization_code"})},
      {"token_endpoint_auth_methods_supported", Json::array({"none"})},
      {"code_challenge_methods_supported", Json::array({"S256"})},
      {"authorization_response_iss_parameter_supported", true},
      {"service_documentation", "https://indieauth.spec.indieweb.org/"},
  };
  sdk::addHeader("cache-control", "public, max-age=300");
  sdk::addHeader("access-control-allow-origin", "*");
  respondJson(200, m, /*no_store=*/false);
}

void handleProfilePage(const Config& c, std::string_view sub) {
  if (!isGetOrHead()) {
    respondMethodNotAllowed("GET, HEAD", true);
    return;
  }
  std::string text;
  sdk::Result r = looksLikeSubject(sub) ? sdk::userGet(sub, text) : sdk::Result::NotFound;
  if (r == sdk::Result::NotFound) {
    respondErrorPage(404, "Not found", "There is no profile at this address.");
    return;
  }
  auto user = r == sdk::Result::Ok ? parseJsonObject(text) : std::nullopt;
  if (!user) {
    respondErrorPage(503, "Try again", "The profile could not be read.");
    return;
  }
  std::string me = c.profileUrl(sub);
  std::string meta = c.metadataUrl();
  std::string auth = c.authorizationEndpoint();
  std::string token = c.tokenEndpoint();
  // Public page: readable by any client, cacheable briefly; no user data but the name.
  sdk::addHeader("link", "<" + meta + ">; rel=\"indieauth-metadata\"");
  sdk::addHeader("link", "<" + auth + ">; rel=\"authorization_endpoint\"");
  sdk::addHeader("link", "<" + token + ">; rel=\"token_endpoint\"");
  sdk::addHeader("content-type", "text/html; charset=utf-8");
  sdk::addHeader("cache-control", "public, max-age=60");
  sdk::addHeader("x-content-type-options", "nosniff");
  sdk::addHeader("referrer-policy", "no-referrer");
  sdk::addHeader("content-security-policy",
                 "default-src 'none'; img-src https: http:; frame-ancestors 'none'");
  std::string name = jsonString(*user, "name").value_or("");
  std::string photo = jsonString(*user, "picture").value_or("");
  std::string page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>";
  page += htmlEscape(name.empty() ? "Profile" : name);
  page += "</title>\n<link rel=\"indieauth-metadata\" href=\"" + htmlEscape(meta) + "\">\n";
  page += "<link rel=\"authorization_endpoint\" href=\"" + htmlEscape(auth) + "\">\n";
  page += "<link rel=\"token_endpoint\" href=\"" + htmlEscape(token) + "\">\n";
  page += "</head><body>\n<div class=\"h-card\">";
  if (!photo.empty() && (photo.starts_with("https://") || photo.starts_with("http://"))) {
    page += "<img class=\"u-photo\" src=\"" + htmlEscape(photo) + "\" alt=\"\"> ";
  }
  page += "<a class=\"u-url u-uid p-name\" href=\"" + htmlEscape(me) + "\">" +
          htmlEscape(name.empty() ? me : name) + "</a></div>\n</body></html>\n";
  sdk::setStatus(200);
  sdk::write(page);
}

}  // namespace habanero::indieauth
