#include "indieauth.h"

namespace habanero::indieauth {

std::optional<Config> loadConfig() {
  Config c;
  std::optional<std::string> base = issuerBase();
  if (!base) return std::nullopt;
  c.base = *base;
  c.mount = mountBase();
  c.issuer = c.base + c.mount;
  c.code_ttl = positiveSetting("code_ttl", c.code_ttl);
  if (c.code_ttl > kMaxCodeTtlSeconds) {
    sdk::logWarn("setting code_ttl is above 600 seconds; using 600");
    c.code_ttl = kMaxCodeTtlSeconds;
  }
  c.access_token_ttl = positiveSetting("access_token_ttl", c.access_token_ttl);
  c.refresh_token_ttl = nonNegativeSetting("refresh_token_ttl", c.refresh_token_ttl);
  c.website_check_ttl = positiveSetting("website_check_ttl", c.website_check_ttl);
  c.introspection_token = sdk::settingOr("introspection_token", "");
  c.allow_loopback_profiles = boolSetting("allow_loopback_profiles", false);
  return c;
}

int64_t nowSeconds() { return sdk::nowMs().value_or(0) / 1000; }

}  // namespace habanero::indieauth
