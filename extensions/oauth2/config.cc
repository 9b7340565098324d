#include "config.h"

#include "guest.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {

std::optional<Config> loadConfig() {
  Config c;
  if (std::optional<std::string> base = issuerBase()) {
    c.base = std::move(*base);
  } else {
    return std::nullopt;
  }
  c.issuer = sdk::settingOr("issuer", c.base);  // as configured (a trailing '/' kept)
  c.access_token_ttl = positiveSetting("access_token_ttl", c.access_token_ttl);
  c.id_token_ttl = positiveSetting("id_token_ttl", c.id_token_ttl);
  c.code_ttl = positiveSetting("code_ttl", c.code_ttl);
  c.refresh_token_ttl = positiveSetting("refresh_token_ttl", c.refresh_token_ttl);
  c.first_party_skip_consent = boolSetting("first_party_skip_consent", true);
  c.require_pkce = boolSetting("require_pkce", true);
  c.audience = sdk::settingOr("access_token_audience", c.issuer);
  std::string nonce = sdk::settingOr("dpop_nonce", "off");
  if (nonce == "required") {
    c.dpop_nonce_required = true;
  } else if (nonce != "off") {
    sdk::logWarn("setting dpop_nonce is neither \"off\" nor \"required\"; using \"off\"");
  }
  c.dpop_max_age = positiveSetting("dpop_proof_max_age", c.dpop_max_age);
  c.dpop_clock_skew = positiveSetting("dpop_clock_skew", c.dpop_clock_skew);
  c.solid_audience = sdk::settingOr("solid_audience", c.solid_audience);
  c.webid_cache_ttl = positiveSetting("webid_cache_ttl", c.webid_cache_ttl);
  std::string pairs = sdk::settingOr("webid_clients", "");
  size_t i = 0;
  while (i < pairs.size()) {
    size_t end = pairs.find_first_of(" \t\n", i);
    if (end == std::string::npos) end = pairs.size();
    std::string_view pair = std::string_view(pairs).substr(i, end - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && eq > 0 && eq + 1 < pair.size()) {
      c.webid_clients.emplace_back(std::string(pair.substr(0, eq)),
                                   std::string(pair.substr(eq + 1)));
    } else if (!pair.empty()) {
      sdk::logWarn("setting webid_clients: ignoring \"" + std::string(pair) +
                   "\" (expected client_id=webid)");
    }
    i = end + 1;
  }
  std::string introspectors = sdk::settingOr("introspectors", "");
  for (size_t a = 0; a < introspectors.size();) {
    size_t end = introspectors.find_first_of(" \t\n,", a);
    if (end == std::string::npos) end = introspectors.size();
    if (end > a) c.introspectors.push_back(introspectors.substr(a, end - a));
    a = end + 1;
  }
  return c;
}

int64_t nowMs() { return sdk::nowMs().value_or(0); }

std::string localPath(std::string_view route) { return mountBase() + std::string(route); }

}  // namespace habanero::oauth2
