// Discovery: OpenID Provider Metadata (OIDC Discovery §3) and OAuth 2.0 Authorization
// Server Metadata (RFC 8414) — one document served at both well-known paths, so the two
// are consistent by construction — and the JWKS from the host's key store.

#include <algorithm>

#include "clients.h"
#include "dpop.h"
#include "handlers.h"
#include "guest.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

// The algorithms of the host's keys (the active one first); ES256 if the JWKS is unreadable.
Json signingAlgs() {
  Json algs = Json::array();
  std::string text;
  if (sdk::jwksGet(text) == sdk::Result::Ok) {
    if (auto jwks = parseJsonObject(text)) {
      auto keys = jwks->find("keys");
      if (keys != jwks->end() && keys->is_array()) {
        for (const auto& k : *keys) {
          auto alg = jsonString(k, "alg");
          if (alg && std::find(algs.begin(), algs.end(), Json(*alg)) == algs.end()) {
            algs.push_back(*alg);
          }
        }
      }
    }
  }
  if (algs.empty()) algs.push_back("ES256");
  return algs;
}

bool allowGetOnly() {
  std::string m = sdk::method();
  if (m == "GET" || m == "HEAD") return true;
  sdk::addHeader("allow", "GET");
  respondOAuthError(405, "invalid_request", "method not allowed");
  return false;
}

}  // namespace

void handleDiscovery(const Config& config) {
  if (!allowGetOnly()) return;
  Json algs = signingAlgs();
  Json doc = {
      {"issuer", config.issuer},
      {"authorization_endpoint", config.endpoint("/authorize")},
      {"token_endpoint", config.endpoint("/token")},
      {"userinfo_endpoint", config.endpoint("/userinfo")},
      {"jwks_uri", config.endpoint("/jwks.json")},
      {"introspection_endpoint", config.endpoint("/introspect")},
      {"revocation_endpoint", config.endpoint("/revoke")},
      {"end_session_endpoint", config.endpoint("/logout")},
      {"response_types_supported", {"code"}},
      {"response_modes_supported", {"query"}},
      {"grant_types_supported", {"authorization_code", "refresh_token", "client_credentials"}},
      {"subject_types_supported", {"public"}},
      {"id_token_signing_alg_values_supported", algs},
      {"token_endpoint_auth_methods_supported",
       {"client_secret_basic", "client_secret_post", "none"}},
      {"introspection_endpoint_auth_methods_supported",
       {"client_secret_basic", "client_secret_post"}},
      {"revocation_endpoint_auth_methods_supported",
       {"client_secret_basic", "client_secret_post", "none"}},
      {"code_challenge_methods_supported", {"S256"}},
      {"scopes_supported", jsonArray(supportedScopes())},
      {"claims_supported",
       {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash", "sid",
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
        "updated_at", "email", "email_verified", "phone_number", "phone_number_verified",
        "address", "webid", "cnf", "client_id"}},
      {"claim_types_supported", {"normal"}},
      {"prompt_values_supported", {"none", "login", "consent", "select_account"}},
      {"display_values_supported", {"page"}},
      {"ui_locales_supported", {"en"}},
      {"claims_parameter_supported", false},
      {"request_parameter_supported", false},
      {"request_uri_parameter_supported", false},
      {"require_request_uri_registration", false},
      {"authorization_response_iss_parameter_supported", true},
      {"userinfo_signing_alg_values_supported", Json::array()},
      {"dpop_signing_alg_values_supported", jsonArray(dpopAlgs())},
      // Solid-OIDC §4 / Client Identifier Documents (§5.1).
      {"solid_oidc_supported", "https://solidproject.org/TR/solid-oidc"},
  };
  sdk::setStatus(200);
  sdk::addHeader("content-type", "application/json");
  sdk::addHeader("cache-control", "public, max-age=300");
  sdk::addHeader("access-control-allow-origin", "*");
  sdk::write(dumpJson(doc));
}

void handleJwks(const Config& config) {
  if (!allowGetOnly()) return;
  std::string jwks;
  if (sdk::jwksGet(jwks) != sdk::Result::Ok) return respondUnavailable();
  sdk::setStatus(200);
  sdk::addHeader("content-type", "application/jwk-set+json");
  sdk::addHeader("cache-control", "public, max-age=300");
  sdk::addHeader("access-control-allow-origin", "*");
  sdk::write(jwks);
}

}  // namespace habanero::oauth2
