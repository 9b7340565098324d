#include "core/params.h"
#include "indieauth.h"

namespace habanero::indieauth {
namespace {

int64_t secondsSetting(std::string_view name, int64_t fallback, bool zero_ok = false) {
  std::string text;
  if (sdk::setting(name, text) != sdk::Result::Ok) return fallback;
  auto v = habanero::oauth2::parseNonNegative(text, 10);
  if (!v || (*v == 0 && !zero_ok)) {
    sdk::logWarn("setting " + std::string(name) + " is not a " +
                 (zero_ok ? "non-negative" : "positive") + " number of seconds; using " +
                 std::to_string(fallback));
    return fallback;
  }
  return *v;
}

bool boolSetting(std::string_view name, bool fallback) {
  std::string text;
  if (sdk::setting(name, text) != sdk::Result::Ok) return fallback;
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  sdk::logWarn("setting " + std::string(name) + " is not true/false; using " +
               (fallback ? "true" : "false"));
  return fallback;
}

}  // namespace

std::optional<Config> loadConfig() {
  Config c;
  std::string issuer;
  if (sdk::setting("issuer", issuer) != sdk::Result::Ok || issuer.empty()) {
    sdk::logError("setting issuer is required");
    return std::nullopt;
  }
  if (!(issuer.starts_with("https://") || issuer.starts_with("http://")) ||
      issuer.find_first_of("?# ") != std::string::npos) {
    sdk::logError("setting issuer must be an http(s) URL without query or fragment");
    return std::nullopt;
  }
  c.base = issuer;
  while (!c.base.empty() && c.base.back() == '/') c.base.pop_back();
  c.mount = sdk::request(sdk::Field::Mount);
  while (!c.mount.empty() && c.mount.back() == '/') c.mount.pop_back();
  c.issuer = c.base + c.mount;
  c.code_ttl = secondsSetting("code_ttl", c.code_ttl);
  if (c.code_ttl > kMaxCodeTtlSeconds) {
    sdk::logWarn("setting code_ttl is above 600 seconds; using 600");
    c.code_ttl = kMaxCodeTtlSeconds;
  }
  c.access_token_ttl = secondsSetting("access_token_ttl", c.access_token_ttl);
  c.refresh_token_ttl = secondsSetting("refresh_token_ttl", c.refresh_token_ttl, true);
  c.website_check_ttl = secondsSetting("website_check_ttl", c.website_check_ttl);
  c.introspection_token = sdk::settingOr("introspection_token", "");
  c.allow_loopback_profiles = boolSetting("allow_loopback_profiles", false);
  return c;
}

int64_t nowSeconds() { return sdk::nowMs().value_or(0) / 1000; }

}  // namespace habanero::indieauth
