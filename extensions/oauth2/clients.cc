#include "clients.h"


#include "core/dpop.h"
#include "guest.h"
#include "store.h"

namespace habanero::oauth2 {

const std::vector<std::string>& supportedScopes() {
  static const std::vector<std::string> kScopes = {"openid",  "profile",        "email", "phone",
                                                   "address", "offline_access", "webid"};
  return kScopes;
}

bool Client::allowsGrant(std::string_view grant) const {
  for (const auto& g : grant_types) {
    if (g == grant) return true;
  }
  return false;
}

bool Client::allowsScopes(const std::vector<std::string>& requested) const {
  return isSubset(requested, scopes ? *scopes : supportedScopes());
}

namespace {

// How long a fetched client identifier document is used before it is fetched again.
constexpr int64_t kClientDocumentTtlSeconds = 300;
constexpr size_t kMaxDocumentRedirectUris = 32;

// A registration (client_get's JSON shape) to a Client.
std::optional<Client> clientFromJson(const Json& j, std::string_view client_id) {
  Client c;
  c.id = jsonString(j, "client_id").value_or(std::string(client_id));
  if (c.id != client_id) return std::nullopt;
  c.name = jsonString(j, "name").value_or("");
  c.is_public = jsonBool(j, "public", false);
  c.redirect_uris = jsonStringList(j, "redirect_uris");
  c.post_logout_redirect_uris =
      jsonStringList(j, "post_logout_redirect_uris");
  auto grants = jsonStrings(j, "grant_types");
  c.grant_types = grants && !grants->empty()
                      ? *grants
                      : std::vector<std::string>{"authorization_code", "refresh_token"};
  if (auto scopes = jsonStrings(j, "scopes"); scopes && !scopes->empty()) {
    c.scopes = *scopes;
  } else if (auto text_scopes = jsonString(j, "scopes")) {
    // Tolerate a space-delimited string too.
    if (auto parsed = parseScope(*text_scopes); parsed && !parsed->empty()) c.scopes = *parsed;
  }
  c.first_party = jsonBool(j, "first_party", false);
  c.opaque_tokens = jsonString(j, "token_format").value_or("jwt") == "opaque";
  c.from_document = jsonBool(j, "document", false);
  return c;
}

// A Client Identifier Document (Solid-OIDC §5.1) as a registration, or nullopt with
// `reason` set.
std::optional<Json> documentRegistration(std::string_view url, const Json& doc,
                                         std::string& reason) {
  if (jsonString(doc, "client_id").value_or("") != url) {
    reason = "its client_id is not the document's URL";
    return std::nullopt;
  }
  auto redirects = jsonStrings(doc, "redirect_uris");
  if (!redirects || redirects->empty() || redirects->size() > kMaxDocumentRedirectUris) {
    reason = "it has no redirect_uris";
    return std::nullopt;
  }
  for (const auto& r : *redirects) {
    if (!isValidRedirectUri(r)) {
      reason = "a redirect_uri is not a valid absolute URI without fragment";
      return std::nullopt;
    }
  }
  std::string method = jsonString(doc, "token_endpoint_auth_method").value_or("none");
  if (method != "none") {
    reason = "token_endpoint_auth_method must be none (no secret can be shared)";
    return std::nullopt;
  }
  std::vector<std::string> grants;
  for (const auto& g : jsonStrings(doc, "grant_types")
                           .value_or(std::vector<std::string>{"authorization_code"})) {
    if (g == "authorization_code" || g == "refresh_token") grants.push_back(g);
  }
  if (grants.empty()) grants.push_back("authorization_code");
  if (auto types = jsonStrings(doc, "response_types")) {
    bool code = false;
    for (const auto& t : *types) code = code || t == "code";
    if (!code) {
      reason = "its response_types do not include code";
      return std::nullopt;
    }
  }
  Json reg = {{"client_id", std::string(url)},
              {"name", jsonString(doc, "client_name").value_or("")},
              {"public", true},
              {"document", true},
              {"redirect_uris", jsonArray(*redirects)},
              {"post_logout_redirect_uris",
               jsonArray(jsonStrings(doc, "post_logout_redirect_uris")
                             .value_or(std::vector<std::string>{}))},
              {"grant_types", jsonArray(grants)}};
  if (auto scope = jsonString(doc, "scope")) {
    auto parsed = parseScope(*scope);
    if (!parsed) {
      reason = "its scope is malformed";
      return std::nullopt;
    }
    // The server's scopes the document names; openid is always allowed.
    std::vector<std::string> allowed = {"openid"};
    for (const auto& s : *parsed) {
      if (hasScope(supportedScopes(), s) && !hasScope(allowed, s)) allowed.push_back(s);
    }
    reg["scopes"] = jsonArray(allowed);
  }
  return reg;
}

// Fetches (or reads from the KV cache) the client identifier document at `url`.
ClientLookup loadClientDocument(std::string_view url, Client& out) {
  std::string key = tokenHash(url);
  Json cached;
  switch (getRecord("cid/" + std::string(key), cached)) {
    case Store::Ok:
      if (jsonBool(cached, "refused", false)) return ClientLookup::NotFound;
      if (auto c = clientFromJson(cached, url)) {
        out = std::move(*c);
        return ClientLookup::Found;
      }
      break;
    case Store::Unavailable:
      return ClientLookup::Unavailable;
    default:
      break;
  }
  Json request = {{"url", std::string(url)},
                  {"accept", "application/ld+json, application/json;q=0.9"}};
  std::string text;
  std::string reason;
  std::optional<Json> reg;
  switch (sdk::httpFetch(dumpJson(request), text)) {
    case sdk::Result::Ok: {
      auto response = parseJsonObject(text);
      if (!response) return ClientLookup::Unavailable;
      int64_t status = jsonInt(*response, "status").value_or(0);
      auto doc = parseJsonObject(jsonString(*response, "body").value_or(""));
      if (status != 200) {
        reason = "it answered HTTP " + std::to_string(status);
      } else if (!doc) {
        reason = "it is not a JSON object";
      } else {
        reg = documentRegistration(url, *doc, reason);
      }
      break;
    }
    case sdk::Result::Unavailable:
      sdk::logWarn("client identifier document " + std::string(url) + " could not be fetched now");
      return ClientLookup::NotFound;
    default:
      reason = "the host refused to fetch it";
      break;
  }
  if (!reg) {
    sdk::logWarn("client identifier document " + std::string(url) + " refused: " + reason);
    putRecord("cid/" + std::string(key), Json{{"refused", true}, {"reason", reason}}, 60);
    return ClientLookup::NotFound;
  }
  putRecord("cid/" + std::string(key), *reg, kClientDocumentTtlSeconds);
  auto c = clientFromJson(*reg, url);
  if (!c) return ClientLookup::NotFound;
  out = std::move(*c);
  return ClientLookup::Found;
}

}  // namespace

ClientLookup loadClient(std::string_view client_id, Client& out) {
  if (!isValidClientId(client_id)) return ClientLookup::NotFound;
  std::string text;
  switch (sdk::clientGet(client_id, text)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::NotFound:
      if (isClientIdUrl(client_id)) return loadClientDocument(client_id, out);
      return ClientLookup::NotFound;
    default:
      return ClientLookup::Unavailable;
  }
  auto j = parseJsonObject(text);
  if (!j) {
    sdk::logError("client_get returned a registration that is not a JSON object");
    return ClientLookup::Unavailable;
  }
  auto c = clientFromJson(*j, client_id);
  if (!c) {
    sdk::logError("client_get returned another client's registration");
    return ClientLookup::Unavailable;
  }
  c->from_document = false;
  out = std::move(*c);
  return ClientLookup::Found;
}

namespace {

ClientAuth fail(int status, std::string error, std::string description, bool basic = false) {
  ClientAuth a;
  a.ok = false;
  a.status = status;
  a.error = std::move(error);
  a.description = std::move(description);
  a.basic_challenge = basic;
  return a;
}

// Checks the secret and loads the registration.
ClientAuth checkSecret(const std::string& id, const std::string& secret, bool basic) {
  if (!isValidClientId(id) || secret.size() > kMaxSecretBytes) {
    return fail(401, "invalid_client", "client authentication failed", basic);
  }
  switch (sdk::clientAuthenticate(id, secret)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::Mismatch:
    case sdk::Result::NotFound:
      return fail(401, "invalid_client", "client authentication failed", basic);
    case sdk::Result::Denied:  // throttled; the host has set Retry-After
      return fail(429, "invalid_client", "too many failed client authentications; retry later");
    default:
      return fail(503, "temporarily_unavailable", "client authentication is unavailable");
  }
  ClientAuth a;
  switch (loadClient(id, a.client)) {
    case ClientLookup::Found:
      break;
    case ClientLookup::NotFound:  // removed between the two calls
      return fail(401, "invalid_client", "client authentication failed", basic);
    case ClientLookup::Unavailable:
      return fail(503, "temporarily_unavailable", "client registry is unavailable");
  }
  if (a.client.is_public) {
    return fail(401, "invalid_client", "client authentication failed", basic);
  }
  a.ok = true;
  a.authenticated = true;
  return a;
}

}  // namespace

ClientAuth authenticateClient(bool allow_public) {
  Params form(sdk::Source::Form);
  std::optional<std::string> form_id, form_secret, assertion_type;
  if (!form.get("client_id", form_id, kMaxClientIdBytes) ||
      !form.get("client_secret", form_secret, kMaxSecretBytes) ||
      !form.get("client_assertion_type", assertion_type, 256)) {
    return fail(400, "invalid_request", form.error());
  }
  if (assertion_type) {
    return fail(401, "invalid_client", "client assertions are not supported");
  }
  std::optional<std::string> authorization = sdk::header("authorization");
  if (authorization && isBasicAuth(*authorization)) {
    auto creds = parseBasicAuth(*authorization);
    if (!creds) return fail(401, "invalid_client", "malformed Basic credentials", true);
    if (form_secret) {
      return fail(400, "invalid_request", "more than one client authentication method");
    }
    if (form_id && *form_id != creds->client_id) {
      return fail(400, "invalid_request", "client_id differs from the authenticated client");
    }
    return checkSecret(creds->client_id, creds->secret, true);
  }
  if (form_secret) {
    if (!form_id) return fail(401, "invalid_client", "client_id is required");
    return checkSecret(*form_id, *form_secret, false);
  }
  if (!form_id) return fail(401, "invalid_client", "client authentication is required");
  ClientAuth a;
  switch (loadClient(*form_id, a.client)) {
    case ClientLookup::Found:
      break;
    case ClientLookup::NotFound:
      return fail(401, "invalid_client", "client authentication failed");
    case ClientLookup::Unavailable:
      return fail(503, "temporarily_unavailable", "client registry is unavailable");
  }
  if (!a.client.is_public) {
    return fail(401, "invalid_client", "client authentication is required");
  }
  if (!allow_public) {
    return fail(401, "invalid_client", "public clients may not use this endpoint");
  }
  a.ok = true;
  a.authenticated = false;
  return a;
}

}  // namespace habanero::oauth2
