#include "server/cors.h"

#include <algorithm>
#include <cctype>

#include "http/form.h"

namespace habanero::server {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool isForm(const Request& request) {
  const std::string* type = findHeader(request.headers, "Content-Type");
  return type != nullptr && lower(*type).starts_with("application/x-www-form-urlencoded");
}

// The client_id a form body names, or "" (none, or unparsable). A duplicated
// client_id names no client at all (nothing is allowed for it).
std::string formClientId(const Request& request) {
  if (request.method != "POST" || !isForm(request)) return "";
  absl::StatusOr<http::Params> params = http::parseForm(request.body);
  if (!params.ok()) return "";
  http::Params::Lookup id = params->find("client_id");
  if (id.kind == http::Params::Lookup::kDuplicate) return std::string(1, '\0');
  return id.ok() ? std::string(id.value) : "";
}

bool clientHasOrigin(const auth::Client& client, std::string_view origin) {
  return std::any_of(client.redirect_uris.begin(), client.redirect_uris.end(),
                     [&](const std::string& uri) { return originOf(uri) == origin; });
}

}  // namespace

std::string originOf(std::string_view uri) {
  size_t colon = uri.find("://");
  if (colon == std::string_view::npos) return "";
  std::string scheme = lower(uri.substr(0, colon));
  if (scheme != "http" && scheme != "https") return "";
  std::string_view rest = uri.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return "";
  std::string host = lower(authority);
  if ((scheme == "http" && host.ends_with(":80")) || (scheme == "https" && host.ends_with(":443"))) {
    host.resize(host.size() - (scheme == "http" ? 3 : 4));
  }
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return "";
    }
  }
  return scheme + "://" + host;
}

Cors::Cors(Dispatcher& next, const auth::Clients& clients, Options options)
    : next_(next), clients_(clients), options_(std::move(options)) {}

bool Cors::allowed(std::string_view origin, const Request& request) const {
  if (std::find(options_.allowed_origins.begin(), options_.allowed_origins.end(), origin) !=
      options_.allowed_origins.end()) {
    return true;
  }
  std::string client_id = formClientId(request);
  if (!client_id.empty()) {
    auto client = clients_.find(client_id);
    return client != nullptr && clientHasOrigin(client->client, origin);
  }
  return clients_.any(
      [&](const auth::RegisteredClient& r) { return clientHasOrigin(r.client, origin); });
}

Response Cors::dispatch(const Request& request) {
  const bool credentialed = options_.paths.contains(request.path);
  const bool open = options_.public_paths.contains(request.path);
  const std::string* origin_header = findHeader(request.headers, "Origin");
  if ((!credentialed && !open) || origin_header == nullptr) return next_.dispatch(request);
  // "null" (sandboxed frames, file:) and junk are never allowed.
  const std::string origin = originOf(*origin_header) == lower(*origin_header)
                                 ? lower(*origin_header)
                                 : std::string();

  const bool preflight = request.method == "OPTIONS" &&
                         findHeader(request.headers, "Access-Control-Request-Method") != nullptr;
  const bool ok = open || (!origin.empty() && allowed(origin, request));
  if (preflight) {
    if (!ok) {
      Response r = Response::text(403, "origin not allowed\n");
      r.headers.emplace_back("Vary", "Origin");
      return r;
    }
    Response r{.status = 204, .headers = {}, .body = {}};
    r.headers.emplace_back("Access-Control-Allow-Origin", open ? "*" : origin);
    r.headers.emplace_back("Access-Control-Allow-Methods", open ? "GET, HEAD" : "GET, POST");
    r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP");
    r.headers.emplace_back("Access-Control-Max-Age", std::to_string(options_.max_age_s));
    r.headers.emplace_back("Vary", "Origin");
    return r;
  }

  Response response = next_.dispatch(request);
  // The extension must not set CORS itself: the host decides.
  std::erase_if(response.headers, [](const auto& h) {
    return lower(h.first).starts_with("access-control-");
  });
  if (ok) {
    response.headers.emplace_back("Access-Control-Allow-Origin", open ? "*" : origin);
    response.headers.emplace_back("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce");
  }
  response.headers.emplace_back("Vary", "Origin");
  return response;
}

}  // namespace habanero::server
