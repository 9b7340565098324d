// settings.hh — typed reads of the operator's settings ([extensions.settings], all text on
// the wire) and of the two every extension relies on: the issuer and the mount. Needs the
// capabilities "settings" and "http" (mountBase).
//
// A malformed value never fails a request: it is logged (warn) and the default is used, so a
// typo in the configuration shows in the log at the first request.
//
//   int64_t ttlS = sdk::positiveSetting("code_ttl", 60);
//   bool signup = sdk::boolSetting("signup", false);
//   std::optional<std::string> base = sdk::issuerBase();  // "https://id.example" (no '/')
#ifndef HABANERO_SDK_CPP_HABANERO_SETTINGS_HH_
#define HABANERO_SDK_CPP_HABANERO_SETTINGS_HH_

#include <habanero.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <habanero/text.hh>

namespace habanero::sdk {

// The largest number an integer setting may hold.
inline constexpr int64_t kMaxIntegerSetting = 1'000'000'000'000;

namespace settings_detail {

inline int64_t integerSetting(std::string_view name, int64_t fallback, int64_t min,
                              std::string_view what) {
  std::optional<std::string> text = setting(name);
  if (!text) return fallback;
  std::optional<int64_t> v = parseInt(trim(*text));
  if (!v || *v < min || *v > kMaxIntegerSetting) {
    logWarn("setting " + std::string(name) + " is not a " + std::string(what) +
            " integer; using " + std::to_string(fallback));
    return fallback;
  }
  return *v;
}

}  // namespace settings_detail

// A positive integer setting (1 .. kMaxIntegerSetting), else `fallback`.
inline int64_t positiveSetting(std::string_view name, int64_t fallback) {
  return settings_detail::integerSetting(name, fallback, 1, "positive");
}

// A non-negative integer setting (0 .. kMaxIntegerSetting), else `fallback`.
inline int64_t nonNegativeSetting(std::string_view name, int64_t fallback) {
  return settings_detail::integerSetting(name, fallback, 0, "non-negative");
}

// A boolean setting: true/yes/1 or false/no/0 (any case; TOML booleans arrive as the
// words), else `fallback`.
inline bool boolSetting(std::string_view name, bool fallback) {
  std::optional<std::string> text = setting(name);
  if (!text) return fallback;
  std::string v = asciiLower(trim(*text));
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  logWarn("setting " + std::string(name) + " is not true or false; using " +
          (fallback ? "true" : "false"));
  return fallback;
}

// The setting "issuer" (the host hands every extension server.issuer) without trailing
// '/'s; nullopt, logged at error, when it is missing or not an http(s) URL without query or
// fragment. The only origin an extension builds absolute URLs from: never the Host header.
inline std::optional<std::string> issuerBase() {
  std::optional<std::string> issuer = setting("issuer");
  if (!issuer || issuer->empty()) {
    logError("setting issuer is required");
    return std::nullopt;
  }
  if (!(issuer->starts_with("https://") || issuer->starts_with("http://")) ||
      issuer->find_first_of("?# ") != std::string::npos) {
    logError("setting issuer must be an http(s) URL without query or fragment");
    return std::nullopt;
  }
  while (!issuer->empty() && issuer->back() == '/') issuer->pop_back();
  return issuer;
}

// The extension's mount without trailing '/'s ("" when mounted at "/"): local paths of
// its routes are mountBase() + "/route".
inline std::string mountBase() {
  std::string m = request(Field::Mount);
  while (!m.empty() && m.back() == '/') m.pop_back();
  return m;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_SETTINGS_HH_
