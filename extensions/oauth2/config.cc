#include "config.h"

#include <habanero.hh>

#include "core/params.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

int64_t secondsSetting(std::string_view name, int64_t fallback) {
  std::string text;
  if (sdk::setting(name, text) != sdk::Result::Ok) return fallback;
  auto v = parseNonNegative(text, 10);
  if (!v || *v == 0) {
    sdk::logWarn("setting " + std::string(name) + " is not a positive number of seconds; using " +
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
  if (sdk::setting("issuer", c.issuer) != sdk::Result::Ok || c.issuer.empty()) {
    sdk::logError("setting issuer is required");
    return std::nullopt;
  }
  if (!(c.issuer.starts_with("https://") || c.issuer.starts_with("http://")) ||
      c.issuer.find_first_of("?# ") != std::string::npos) {
    sdk::logError("setting issuer must be an http(s) URL without query or fragment");
    return std::nullopt;
  }
  c.base = c.issuer;
  while (!c.base.empty() && c.base.back() == '/') c.base.pop_back();
  c.access_token_ttl = secondsSetting("access_token_ttl", c.access_token_ttl);
  c.id_token_ttl = secondsSetting("id_token_ttl", c.id_token_ttl);
  c.code_ttl = secondsSetting("code_ttl", c.code_ttl);
  c.refresh_token_ttl = secondsSetting("refresh_token_ttl", c.refresh_token_ttl);
  c.first_party_skip_consent = boolSetting("first_party_skip_consent", true);
  c.require_pkce = boolSetting("require_pkce", true);
  c.audience = sdk::settingOr("access_token_audience", c.issuer);
  std::string nonce = sdk::settingOr("dpop_nonce", "off");
  if (nonce == "required") {
    c.dpop_nonce_required = true;
  } else if (nonce != "off") {
    sdk::logWarn("setting dpop_nonce is neither \"off\" nor \"required\"; using \"off\"");
  }
  c.dpop_max_age = secondsSetting("dpop_proof_max_age", c.dpop_max_age);
  c.dpop_clock_skew = secondsSetting("dpop_clock_skew", c.dpop_clock_skew);
  c.solid_audience = sdk::settingOr("solid_audience", c.solid_audience);
  c.webid_cache_ttl = secondsSetting("webid_cache_ttl", c.webid_cache_ttl);
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
  return c;
}

int64_t nowMs() { return sdk::nowMs().value_or(0); }

std::string localPath(std::string_view route) {
  std::string mount = sdk::request(sdk::Field::Mount);
  while (!mount.empty() && mount.back() == '/') mount.pop_back();
  return mount + std::string(route);
}

}  // namespace habanero::oauth2
