// Client information discovery (§4.2): the client_id URL is fetched through the host's
// fetch capability (SSRF guard, size and time limits, Cache-Control caching) and read as an
// OAuth Client ID Metadata Document (JSON), or as HTML with an h-app and rel="redirect_uri"
// links (the older form the standard still allows).
#include "indieauth.h"
#include "rules/links.h"
#include "rules/urls.h"

namespace habanero::indieauth {
namespace {

constexpr size_t kMaxNameBytes = 200;

// Printable text for the consent page, trimmed and cut to kMaxNameBytes.
std::string displayText(std::string_view s) {
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : ch);
  }
  size_t a = out.find_first_not_of(' ');
  if (a == std::string::npos) return {};
  out = out.substr(a, out.find_last_not_of(' ') - a + 1);
  if (out.size() > kMaxNameBytes) out.resize(kMaxNameBytes);
  if (!isValidUtf8(out)) return {};
  return out;
}

bool isJsonType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string type = asciiLower(trim(content_type.substr(0, semi)));
  return type == "application/json" || type.ends_with("+json");
}

bool isHtmlType(std::string_view content_type) {
  return mediaTypeIs(content_type, "text/html") ||
         mediaTypeIs(content_type, "application/xhtml+xml");
}

void addRedirect(ClientInfo& out, std::string_view base, std::string_view written) {
  auto resolved = resolveReference(base, written);
  std::string uri = resolved ? *resolved : std::string(written);
  if (!isValidRedirectUri(uri)) return;
  for (const auto& u : out.redirect_uris) {
    if (u == uri) return;
  }
  if (out.redirect_uris.size() < kMaxLinks) out.redirect_uris.push_back(std::move(uri));
}

// client_uri (or the h-app url) is shown only when it is a prefix of the client_id (§4.2.1).
std::string acceptClientUri(const ClientInfo& out, std::string_view base,
                            std::string_view written) {
  if (written.empty()) return {};
  auto resolved = resolveReference(base, written);
  if (!resolved || !out.client_id.starts_with(*resolved)) {
    sdk::logInfo("client " + out.client_id + ": ignoring client_uri " + std::string(written) +
                 " (not a prefix of the client_id)");
    return {};
  }
  return *resolved;
}

std::string acceptLogo(std::string_view base, std::string_view written) {
  if (written.empty()) return {};
  auto resolved = resolveReference(base, written);
  return resolved ? *resolved : std::string();
}

}  // namespace

std::string ClientInfo::displayName() const {
  if (!name.empty()) return name;
  UrlCheck c = parseHttpUrl(client_id);
  return c ? c.url->host : client_id;
}

Discovery discoverClient(std::string_view client_id, std::string_view raw, ClientInfo& out,
                         std::string& error) {
  out = ClientInfo{};
  out.client_id = std::string(client_id);
  UrlCheck parsed = parseHttpUrl(client_id);
  if (parsed && isLoopbackAddress(parsed.url->host)) {
    out.note = "a loopback client_id is never fetched";
    return Discovery::Ok;
  }
  Json request = {{"url", std::string(client_id)},
                  {"accept", "application/json, text/html;q=0.9, */*;q=0.1"}};
  std::string text;
  sdk::Result r = sdk::httpFetch(dumpJson(request), text);
  switch (r) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::Denied:
      out.note = "the fetch guard refused its address";
      return Discovery::Ok;
    case sdk::Result::LimitExceeded:
      out.note = "its document is too large";
      return Discovery::Ok;
    case sdk::Result::Unavailable:
      out.note = "it could not be fetched";
      return Discovery::Ok;
    default:
      out.note = std::string("fetch failed: ") + std::string(sdk::resultName(r));
      return Discovery::Ok;
  }
  auto response = parseJsonObject(text);
  if (!response) {
    out.note = "the host's fetch answer is not JSON";
    return Discovery::Ok;
  }
  int64_t status = jsonInt(*response, "status").value_or(0);
  if (status < 200 || status > 299) {
    out.note = "it answered HTTP " + std::to_string(status);
    return Discovery::Ok;
  }
  std::string final_url = jsonString(*response, "url").value_or(std::string(client_id));
  if (!parseHttpUrl(final_url)) final_url = std::string(client_id);
  std::string content_type = jsonString(*response, "content_type").value_or("");
  std::string body = jsonString(*response, "body").value_or("");
  std::vector<std::string> links = jsonStringList(*response, "links");

  std::string_view trimmed = link_detail::trim(body);
  bool looks_json =
      isJsonType(content_type) || (!isHtmlType(content_type) && trimmed.starts_with("{"));
  if (looks_json) {
    auto doc = parseJsonObject(body);
    if (!doc) {
      error = "The application's metadata document at " + std::string(client_id) +
              " is not a JSON object.";
      return Discovery::Refused;
    }
    auto doc_id = jsonString(*doc, "client_id");
    if (!doc_id || (*doc_id != client_id && *doc_id != raw)) {
      error = "The application's metadata document names another client_id (" +
              doc_id.value_or("none") + ") than the address it was fetched from (" +
              std::string(client_id) + ").";
      return Discovery::Refused;
    }
    out.name = displayText(jsonString(*doc, "client_name").value_or(""));
    out.uri = acceptClientUri(out, final_url, jsonString(*doc, "client_uri").value_or(""));
    out.logo = acceptLogo(final_url, jsonString(*doc, "logo_uri").value_or(""));
    for (const auto& u : jsonStringList(*doc, "redirect_uris")) addRedirect(out, final_url, u);
    out.fetched = true;
    out.source = "metadata";
  } else if (isHtmlType(content_type) || trimmed.starts_with("<")) {
    if (auto app = parseHApp(body)) {
      out.name = displayText(app->name);
      out.uri = acceptClientUri(out, final_url, app->url);
      out.logo = acceptLogo(final_url, app->logo);
      out.source = "h-app";
    } else {
      out.source = "html";
    }
    for (const auto& u : htmlLinkRels(body, "redirect_uri")) addRedirect(out, final_url, u);
    out.fetched = true;
  }
  for (const auto& u : allLinkHeaderRels(links, "redirect_uri")) addRedirect(out, final_url, u);
  return Discovery::Ok;
}

bool redirectUriAllowed(const ClientInfo& client, std::string_view redirect_uri) {
  if (!isValidRedirectUri(redirect_uri)) return false;
  std::string canonical(redirect_uri);
  if (UrlCheck c = parseHttpUrl(redirect_uri)) canonical = c.url->str();
  for (const auto& u : client.redirect_uris) {
    if (u == redirect_uri || u == canonical) return true;
  }
  return sameOrigin(redirect_uri, client.client_id);
}

}  // namespace habanero::indieauth
