#include "runtime/capabilities.h"

#include <algorithm>
#include <array>

namespace habanero::runtime {
namespace {

constexpr std::array<std::string_view, 7> kHttp = {
    "request_get",         "request_header",      "request_param",    "response_set_status",
    "response_add_header", "response_write",      "response_redirect"};
constexpr std::array<std::string_view, 5> kKv = {"kv_get", "kv_put", "kv_delete", "kv_take",
                                                 "kv_compare_and_set"};
constexpr std::array<std::string_view, 6> kCrypto = {
    "crypto_random", "crypto_sha256",         "crypto_hmac_sha256",
    "crypto_equal",  "crypto_jws_verify_jwk", "crypto_jwk_thumbprint"};
constexpr std::array<std::string_view, 3> kKeys = {"jws_sign", "jws_verify", "jwks_get"};
constexpr std::array<std::string_view, 1> kClock = {"clock_now_ms"};
constexpr std::array<std::string_view, 1> kLog = {"log"};
constexpr std::array<std::string_view, 1> kSettings = {"setting_get"};
// Design 0001: the host's login facility and records.
constexpr std::array<std::string_view, 3> kSessions = {"session_get", "session_require_login",
                                                       "session_end"};
constexpr std::array<std::string_view, 2> kLogin = {"login_attempt_get", "login_complete"};
constexpr std::array<std::string_view, 3> kUsers = {"user_get", "user_verify_password",
                                                    "user_find"};
constexpr std::array<std::string_view, 2> kClients = {"client_get", "client_authenticate"};
// Design 0002: events and outbound facilities.
constexpr std::array<std::string_view, 1> kSignup = {"user_create"};
constexpr std::array<std::string_view, 2> kEvents = {"event_publish", "event_get"};
constexpr std::array<std::string_view, 1> kMail = {"mail_send"};
constexpr std::array<std::string_view, 1> kSms = {"sms_send"};
constexpr std::array<std::string_view, 1> kFetch = {"http_fetch"};

const std::array<Capability, 16> kCapabilities = {{
    {"http", kHttp},
    {"kv", kKv},
    {"crypto", kCrypto},
    {"keys", kKeys},
    {"clock", kClock},
    {"log", kLog},
    {"settings", kSettings},
    {"sessions", kSessions},
    {"login", kLogin},
    {"users", kUsers},
    {"clients", kClients},
    {"signup", kSignup},
    {"events", kEvents},
    {"mail", kMail},
    {"sms", kSms},
    {"fetch", kFetch},
}};

// What wasi-libc's reactor start-up, printf and friends may import. Anything
// touching files, sockets or polling is absent on purpose.
constexpr std::array<std::string_view, 16> kWasi = {
    "fd_write",       "fd_close",        "fd_seek",         "fd_fdstat_get",
    "fd_prestat_get", "fd_prestat_dir_name", "proc_exit",   "clock_time_get",
    "clock_res_get",  "random_get",      "environ_get",     "environ_sizes_get",
    "args_get",       "args_sizes_get",  "sched_yield",     "fd_fdstat_set_flags"};

}  // namespace

std::span<const Capability> allCapabilities() { return kCapabilities; }

std::optional<std::string_view> capabilityOf(std::string_view function) {
  for (const Capability& c : kCapabilities) {
    if (std::find(c.functions.begin(), c.functions.end(), function) != c.functions.end()) {
      return c.name;
    }
  }
  return std::nullopt;
}

uint32_t capabilityBit(std::string_view name) {
  static_assert(kCapabilities.size() <= 32, "capability bits fit in 32");
  for (size_t i = 0; i < kCapabilities.size(); ++i) {
    if (kCapabilities[i].name == name) return uint32_t{1} << i;
  }
  return 0;
}

bool isKnownCapability(std::string_view name) {
  return std::any_of(kCapabilities.begin(), kCapabilities.end(),
                     [&](const Capability& c) { return c.name == name; });
}

bool isValidTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > 128) return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool isAllowedWasiImport(std::string_view function) {
  return std::find(kWasi.begin(), kWasi.end(), function) != kWasi.end();
}

}  // namespace habanero::runtime
