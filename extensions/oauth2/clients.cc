#include "clients.h"

#include <habanero.hh>

#include "core/params.h"
#include "http.h"
#include "json.h"

namespace habanero::oauth2 {

const std::vector<std::string>& supportedScopes() {
  static const std::vector<std::string> kScopes = {"openid", "profile",        "email",
                                                   "phone",  "address",        "offline_access"};
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

ClientLookup loadClient(std::string_view client_id, Client& out) {
  if (!isValidClientId(client_id)) return ClientLookup::NotFound;
  std::string text;
  switch (sdk::clientGet(client_id, text)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::NotFound:
      return ClientLookup::NotFound;
    default:
      return ClientLookup::Unavailable;
  }
  auto j = parseJsonObject(text);
  if (!j) {
    sdk::logError("client_get returned a registration that is not a JSON object");
    return ClientLookup::Unavailable;
  }
  Client c;
  c.id = jsonString(*j, "client_id").value_or(std::string(client_id));
  if (c.id != client_id) {
    sdk::logError("client_get returned another client's registration");
    return ClientLookup::Unavailable;
  }
  c.name = jsonString(*j, "name").value_or("");
  c.is_public = jsonBool(*j, "public", false);
  c.redirect_uris = jsonStrings(*j, "redirect_uris").value_or(std::vector<std::string>{});
  c.post_logout_redirect_uris =
      jsonStrings(*j, "post_logout_redirect_uris").value_or(std::vector<std::string>{});
  auto grants = jsonStrings(*j, "grant_types");
  c.grant_types = grants && !grants->empty()
                      ? *grants
                      : std::vector<std::string>{"authorization_code", "refresh_token"};
  if (auto scopes = jsonStrings(*j, "scopes"); scopes && !scopes->empty()) {
    c.scopes = *scopes;
  } else if (auto text_scopes = jsonString(*j, "scopes")) {
    // Tolerate a space-delimited string too.
    if (auto parsed = parseScope(*text_scopes); parsed && !parsed->empty()) c.scopes = *parsed;
  }
  c.first_party = jsonBool(*j, "first_party", false);
  c.opaque_tokens = jsonString(*j, "token_format").value_or("jwt") == "opaque";
  out = std::move(c);
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
