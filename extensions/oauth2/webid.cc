#include "webid.h"

#include "guest.h"
#include "core/dpop.h"
#include "store.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

constexpr size_t kMaxWebidBytes = 2048;

// Decodes %XX escapes of a path segment; nullopt for a malformed escape or a NUL.
std::optional<std::string> percentDecode(std::string_view in) {
  std::optional<std::string> out = formUrlDecode(in, /*plusIsSpace=*/false);
  if (!out || out->find('\0') != std::string::npos) return std::nullopt;
  return out;
}

// Whether `iri` can be written between < and > in Turtle without escapes.
bool turtleSafeIri(std::string_view iri) {
  for (char ch : iri) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || ch == '<' || ch == '>' || ch == '"' || ch == '{' ||
        ch == '}' || ch == '|' || ch == '^' || ch == '`' || ch == '\\') {
      return false;
    }
  }
  return true;
}

bool isThisIssuer(const Config& config, std::string_view iri) {
  return iri == config.issuer || iri == config.base || iri == config.base + "/";
}

// Fetches the profile and looks for the triple; `reason` explains a refusal.
// Returns nullopt when the answer should not be cached (the host could not fetch now).
std::optional<bool> checkProfile(const Config& config, std::string_view webid,
                                 std::string& reason) {
  Json request = {{"url", std::string(withoutFragment(webid))},
                  {"accept", "text/turtle"},
                  {"parse", "turtle"}};
  std::string text;
  switch (sdk::httpFetch(dumpJson(request), text)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::Denied:
      reason = "the host refused to fetch it (address or host not allowed)";
      return false;
    case sdk::Result::InvalidArgument:
      reason = "it is not an http(s) URL, or its profile is not Turtle";
      return false;
    case sdk::Result::LimitExceeded:
      reason = "its profile is too large";
      return false;
    default:
      reason = "its profile could not be fetched now";
      return std::nullopt;
  }
  auto response = parseJsonObject(text);
  if (!response) {
    reason = "http_fetch answered something that is not JSON";
    return std::nullopt;
  }
  int64_t status = jsonInt(*response, "status").value_or(0);
  if (status != 200) {
    reason = "its profile answered HTTP " + std::to_string(status);
    return false;
  }
  auto triples = response->find("triples");
  if (triples != response->end() && triples->is_array()) {
    for (const auto& t : *triples) {
      if (!t.is_array() || t.size() != 3 || !t[0].is_string() || !t[1].is_string() ||
          !t[2].is_string()) {
        continue;
      }
      if (t[0].get<std::string>() == webid && t[1].get<std::string>() == kSolidOidcIssuer &&
          isThisIssuer(config, t[2].get<std::string>())) {
        return true;
      }
    }
  }
  reason = "its profile does not name " + config.issuer + " as solid:oidcIssuer";
  return false;
}

}  // namespace

std::string localWebid(const Config& config, std::string_view sub) {
  return config.endpoint("/webid/" + percentEncode(sub)) + "#me";
}

bool webidNamesThisIssuer(const Config& config, std::string_view webid) {
  if (webid.empty() || webid.size() > kMaxWebidBytes) return false;
  std::string key = tokenHash(webid);
  Json cached;
  if (getRecord("wv/" + std::string(key), cached) == Store::Ok) {
    if (jsonBool(cached, "ok", false)) return true;
    sdk::logWarn("webid " + std::string(webid) + " not accepted (cached): " +
                 jsonString(cached, "reason").value_or(""));
    return false;
  }
  std::string reason;
  std::optional<bool> verdict = checkProfile(config, webid, reason);
  if (verdict) {
    putRecord("wv/" + key, Json{{"ok", *verdict}, {"reason", reason}}, config.webid_cache_ttl);
  }
  if (verdict.value_or(false)) return true;
  sdk::logWarn("webid " + std::string(webid) + " not accepted: " + reason);
  return false;
}

std::string webidForUser(const Config& config, const Json& user) {
  std::string sub = jsonString(user, "sub").value_or("");
  auto external = jsonString(user, "webid");
  if (!external || external->empty()) return sub.empty() ? std::string() : localWebid(config, sub);
  if (*external == localWebid(config, sub)) return *external;
  return webidNamesThisIssuer(config, *external) ? *external : std::string();
}

std::string webidForClient(const Config& config, std::string_view client_id) {
  for (const auto& [id, webid] : config.webid_clients) {
    if (id == client_id) return webidNamesThisIssuer(config, webid) ? webid : std::string();
  }
  return std::string();
}

void handleWebidProfile(const Config& config) {
  std::string method = sdk::method();
  if (method != "GET" && method != "HEAD") {
    sdk::addHeader("allow", "GET, HEAD");
    return respondOAuthError(405, "invalid_request", "method not allowed");
  }
  std::string sub_path = sdk::subPath();
  constexpr std::string_view kPrefix = "/webid/";
  std::optional<std::string> sub;
  if (sub_path.starts_with(kPrefix) && sub_path.size() > kPrefix.size() &&
      sub_path.find('/', kPrefix.size()) == std::string::npos) {
    sub = percentDecode(std::string_view(sub_path).substr(kPrefix.size()));
  }
  auto not_found = [] { sdk::respond(404, "text/plain; charset=utf-8", "no such profile\n"); };
  if (!sub || sub->empty() || !turtleSafeIri(config.issuer)) return not_found();
  std::string text;
  switch (sdk::userGet(*sub, text)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::NotFound:
      return not_found();
    default:
      return respondUnavailable();
  }
  auto user = parseJsonObject(text);
  if (!user) return respondUnavailable();
  // A user with an external WebID has no profile here.
  if (auto external = jsonString(*user, "webid"); external && !external->empty() &&
                                                  *external != localWebid(config, *sub)) {
    return not_found();
  }
  std::string doc =
      "@prefix solid: <http://www.w3.org/ns/solid/terms#>.\n"
      "@prefix foaf: <http://xmlns.com/foaf/0.1/>.\n\n"
      "<> a foaf:PersonalProfileDocument;\n"
      "    foaf:primaryTopic <#me>.\n\n"
      "<#me> a foaf:Person;\n"
      "    solid:oidcIssuer <" + config.issuer + ">.\n";
  sdk::setStatus(200);
  sdk::addHeader("content-type", "text/turtle");
  sdk::addHeader("link", "<" + config.issuer + ">; rel=\"" + std::string(kSolidOidcIssuer) + "\"");
  sdk::addHeader("cache-control", "public, max-age=300");
  sdk::addHeader("access-control-allow-origin", "*");
  sdk::addHeader("access-control-expose-headers", "Link");
  if (method == "GET") sdk::write(doc);
}

}  // namespace habanero::oauth2
