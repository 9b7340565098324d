// Who the signed-in user is, as a profile URL (`me`).
//
// Every user has the profile page Habanero hosts ({issuer}/u/<sub>). A user whose record has
// a "website" claim is identified by that site instead, but only after this server fetched it
// and found its own metadata URL there (rel="indieauth-metadata", Link header first, then the
// first HTML <link>; failing that, rel="authorization_endpoint" naming our endpoint — the
// discovery rules of §4.1). The verdict is cached in KV for website_check_ttl seconds (60 s at
// most when negative), so a fixed site is picked up soon.
#include "indieauth.h"
#include "rules/links.h"
#include "rules/urls.h"

namespace habanero::indieauth {
namespace {

bool isHtmlType(std::string_view content_type) {
  return mediaTypeIs(content_type, "text/html") ||
         mediaTypeIs(content_type, "application/xhtml+xml");
}

// The first link with `rel` by the §4.1 precedence (Link header, then HTML), resolved.
std::optional<std::string> discoverRel(const std::vector<std::string>& links,
                                       const std::string& body, bool html, const std::string& base,
                                       std::string_view rel) {
  std::optional<std::string> href = firstLinkHeaderRel(links, rel);
  if (!href && html) href = firstHtmlLinkRel(body, rel);
  if (!href) return std::nullopt;
  auto resolved = resolveReference(base, *href);
  return resolved ? resolved : std::optional<std::string>(std::string("(unresolvable) ") + *href);
}

// Whether `website` (canonical) declares this server; `problem` says why not.
bool checkWebsite(const Config& config, const std::string& website, std::string& problem) {
  Json request = {{"url", website},
                  {"accept", "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"}};
  std::string text;
  sdk::Result r = sdk::httpFetch(dumpJson(request), text);
  if (r != sdk::Result::Ok) {
    problem = r == sdk::Result::Denied
                  ? "the server may not fetch that address"
                  : "it could not be fetched (" + std::string(sdk::resultName(r)) + ")";
    return false;
  }
  auto response = parseJsonObject(text);
  if (!response) {
    problem = "the fetch answer was unreadable";
    return false;
  }
  int64_t status = jsonInt(*response, "status").value_or(0);
  if (status < 200 || status > 299) {
    problem = "it answered HTTP " + std::to_string(status);
    return false;
  }
  std::string base = jsonString(*response, "url").value_or(website);
  if (!parseHttpUrl(base)) base = website;
  std::string body = jsonString(*response, "body").value_or("");
  bool html = isHtmlType(jsonString(*response, "content_type").value_or(""));
  std::vector<std::string> links = jsonStringList(*response, "links");
  if (auto meta = discoverRel(links, body, html, base, "indieauth-metadata")) {
    if (*meta == config.metadataUrl()) return true;
    problem = "it names another IndieAuth server (" + *meta + ")";
    return false;
  }
  if (auto auth = discoverRel(links, body, html, base, "authorization_endpoint")) {
    if (*auth == config.authorizationEndpoint()) return true;
    problem = "it names another authorization endpoint (" + *auth + ")";
    return false;
  }
  problem = "it has no rel=\"indieauth-metadata\" link to " + config.metadataUrl();
  return false;
}

}  // namespace

Lookup resolveIdentity(const Config& config, std::string_view sub, Identity& out) {
  Json user;
  if (Lookup l = userRecord(sub, user); l != Lookup::Found) return l;
  out = Identity{};
  out.sub = std::string(sub);
  out.user = std::move(user);
  out.hosted = config.profileUrl(sub);
  out.me = out.hosted;
  out.website = jsonString(out.user, "website").value_or("");
  if (out.website.empty()) return Lookup::Found;

  UrlCheck site = parseProfileUrl(out.website, config.allow_loopback_profiles);
  if (!site) {
    out.website_problem = "it is not a valid profile URL: it " + site.error;
    return Lookup::Found;
  }
  std::string canonical = site.url->str();
  if (canonical == out.hosted) return Lookup::Found;
  // Every page of this server links to it, so a "website" here (another user's hosted
  // profile above all) would pass the check without being the user's: refused.
  if (canonical.starts_with(config.issuer + "/") || canonical == config.issuer) {
    out.website_problem = "it is an address of this server, not a site of your own";
    return Lookup::Found;
  }
  std::string key = "w/" + tokenHash(canonical);
  Json verdict;
  if (getRecord(key, verdict) == Store::Ok && jsonString(verdict, "site") == canonical) {
    if (jsonBool(verdict, "ok", false)) {
      out.website_verified = true;
      out.me = canonical;
    } else {
      out.website_problem = jsonString(verdict, "problem").value_or("it does not link here");
    }
    return Lookup::Found;
  }
  std::string problem;
  bool ok = checkWebsite(config, canonical, problem);
  Json record = {{"site", canonical}, {"ok", ok}, {"problem", problem}};
  int64_t ttl = ok ? config.website_check_ttl : std::min<int64_t>(config.website_check_ttl, 60);
  if (putRecord(key, record, ttl) != Store::Ok) sdk::logWarn("could not cache a website verdict");
  if (ok) {
    out.website_verified = true;
    out.me = canonical;
  } else {
    out.website_problem = problem;
    sdk::logInfo("website " + canonical + " of user " + out.sub + " not used as me: " + problem);
  }
  return Lookup::Found;
}

Json profileFor(const Identity& id, const std::vector<std::string>& scopes) {
  Json p = Json::object();
  auto has = [&](std::string_view s) {
    for (const auto& x : scopes) {
      if (x == s) return true;
    }
    return false;
  };
  if (!has("profile")) return p;
  if (auto name = jsonString(id.user, "name"); name && !name->empty()) p["name"] = *name;
  p["url"] = id.website_verified ? id.me : (id.website.empty() ? id.me : id.website);
  if (auto photo = jsonString(id.user, "picture"); photo && !photo->empty()) p["photo"] = *photo;
  if (has("email")) {
    if (auto email = jsonString(id.user, "email"); email && !email->empty()) p["email"] = *email;
  }
  return p;
}

}  // namespace habanero::indieauth
