// config.h — the oauth2 extension's settings and clock.
//
// Settings come from the operator's [extensions.settings] (all text):
//   issuer                    required; the host passes server.issuer. Used verbatim as `iss`;
//                             endpoint URLs are built from it without a trailing '/'.
//   access_token_ttl          seconds, default 3600
//   id_token_ttl              seconds, default 3600
//   code_ttl                  seconds, default 60
//   refresh_token_ttl         seconds, default 2592000 (30 days)
//   first_party_skip_consent  "true" (default) or "false"
//   access_token_audience     `aud` of access tokens, default the issuer
//   require_pkce              "true" (default): PKCE for every client; "false": public
//                             clients only
//   dpop_nonce                "off" (default) or "required": DPoP proofs must carry a server
//                             nonce (RFC 9449 §8, §9), answered with use_dpop_nonce otherwise
//   dpop_proof_max_age        seconds a proof's iat may lie in the past, default 300
//   dpop_clock_skew           seconds a proof's iat may lie in the future, default 60
//   solid_audience            the audience Solid resource servers expect, default "solid"
//   webid_cache_ttl           seconds an external WebID's verdict (and a fetched client
//                             identifier document) is kept, default 300
//   webid_clients             client_credentials clients that act for a WebID, as
//                             whitespace-separated "client_id=webid" pairs, default none
//   introspectors             client_ids (whitespace-separated) that may introspect any
//                             access token, default none; otherwise only the token's own
//                             client and the clients its `aud` names get its claims
// A malformed number falls back to its default (logged at warn).
#ifndef HABANERO_EXTENSIONS_OAUTH2_CONFIG_H_
#define HABANERO_EXTENSIONS_OAUTH2_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace habanero::oauth2 {

// How long a pending authorization request (login, consent) and a logout confirmation
// stay valid.
inline constexpr int64_t kPendingTtlSeconds = 600;

struct Config {
  std::string issuer;  // as configured
  std::string base;    // issuer without trailing '/': endpoints are base + "/token" etc.
  int64_t access_token_ttl = 3600;
  int64_t id_token_ttl = 3600;
  int64_t code_ttl = 60;
  int64_t refresh_token_ttl = 30 * 24 * 3600;
  bool first_party_skip_consent = true;
  bool require_pkce = true;
  std::string audience;
  bool dpop_nonce_required = false;
  int64_t dpop_max_age = 300;
  int64_t dpop_clock_skew = 60;
  std::string solid_audience = "solid";
  int64_t webid_cache_ttl = 300;
  std::vector<std::pair<std::string, std::string>> webid_clients;  // (client_id, webid)
  std::vector<std::string> introspectors;  // may introspect every access token

  bool isIntrospector(std::string_view client_id) const {
    for (const auto& c : introspectors) {
      if (c == client_id) return true;
    }
    return false;
  }

  std::string endpoint(std::string_view path) const { return base + std::string(path); }
};

// Reads the settings; nullopt (logged at error) if `issuer` is missing or not an http(s) URL.
std::optional<Config> loadConfig();

// The host's wall clock, in milliseconds and seconds since the Unix epoch.
int64_t nowMs();
inline int64_t nowSeconds() { return nowMs() / 1000; }

// A local path for a route of this extension, relative to its mount ("/consent" under
// mount "/" is "/consent"; under "/oauth" it is "/oauth/consent").
std::string localPath(std::string_view route);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_CONFIG_H_
