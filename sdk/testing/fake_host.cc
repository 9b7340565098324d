// The habanero_* calls of sdk/c/habanero.h over a FakeHost (fake_host.h). Each call follows
// docs/abi.md: its capability must be granted (else DENIED) and available (else
// UNAVAILABLE), then the call's own checks and result codes. Guest memory is the process's,
// so INVALID_MEMORY never occurs here (tests/wasm/bad_pointers covers it on the real host).
#include "fake_host.h"

#include <habanero.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "auth/sessions.h"
#include "auth/users.h"
#include "crypto/base64url.h"
#include "crypto/jwk.h"
#include "habanero/limits.h"
#include "http/form.h"
#include "outbound/turtle.h"

namespace habanero::testing {
namespace {

using Json = nlohmann::json;

FakeHost* g_host = nullptr;

FakeHost& host() {
  if (g_host == nullptr) {
    std::fprintf(stderr, "sdk/testing: a habanero_* call was made with no FakeHost alive\n");
    std::abort();
  }
  return *g_host;
}

constexpr std::string_view kSessionCookie = "habanero_session";
constexpr std::string_view kLoginCookie = "habanero_login";
constexpr std::string_view kJwsKey = "habanero-fake-host-hs256-key";
constexpr size_t kMaxEventPayload = 64 * 1024;

// Which capability unlocks each call (docs/abi.md §4; the host's table in src/runtime).
const std::map<std::string_view, std::string_view>& callCapabilities() {
  static const std::map<std::string_view, std::string_view> kTable = {
      {"request_get", "http"},         {"request_header", "http"},
      {"request_param", "http"},       {"response_set_status", "http"},
      {"response_add_header", "http"}, {"response_write", "http"},
      {"response_redirect", "http"},   {"kv_get", "kv"},
      {"kv_put", "kv"},                {"kv_delete", "kv"},
      {"kv_take", "kv"},               {"kv_compare_and_set", "kv"},
      {"crypto_random", "crypto"},     {"crypto_sha256", "crypto"},
      {"crypto_hmac_sha256", "crypto"}, {"crypto_equal", "crypto"},
      {"crypto_jws_verify_jwk", "crypto"}, {"crypto_jwk_thumbprint", "crypto"},
      {"jws_sign", "keys"},            {"jws_verify", "keys"},
      {"jwks_get", "keys"},            {"clock_now_ms", "clock"},
      {"log", "log"},                  {"setting_get", "settings"},
      {"session_get", "sessions"},     {"session_require_login", "sessions"},
      {"session_end", "sessions"},     {"login_attempt_get", "login"},
      {"login_complete", "login"},     {"user_get", "users"},
      {"user_verify_password", "users"}, {"user_find", "users"},
      {"user_create", "signup"},       {"event_publish", "events"},
      {"event_get", "events"},         {"mail_send", "mail"},
      {"sms_send", "sms"},             {"http_fetch", "fetch"},
      {"client_get", "clients"},       {"client_authenticate", "clients"},
  };
  return kTable;
}

// The gate every call passes first: DENIED when its capability is not granted,
// UNAVAILABLE when the test marked it so; OK otherwise.
habanero_result_t gate(std::string_view call) {
  FakeHost& h = host();
  auto it = callCapabilities().find(call);
  if (it == callCapabilities().end()) {
    std::fprintf(stderr, "sdk/testing: unknown host call %.*s\n", int(call.size()), call.data());
    std::abort();
  }
  if (!h.granted(it->second)) return HABANERO_DENIED;
  if (h.unavailable.count(std::string(it->second))) return HABANERO_UNAVAILABLE;
  return HABANERO_OK;
}

#define HABANERO_GATE(call)                        \
  do {                                             \
    habanero_result_t gate_result_ = ::habanero::testing::gate(call); \
    if (gate_result_ != HABANERO_OK) return gate_result_; \
  } while (0)

std::string_view view(const uint8_t* p, uint32_t n) {
  return n == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char*>(p), n);
}

habanero_result_t writeOut(std::string_view v, uint8_t* out, uint32_t cap, uint32_t* out_len) {
  *out_len = static_cast<uint32_t>(v.size());
  if (v.size() > cap) return HABANERO_BUFFER_TOO_SMALL;
  if (!v.empty()) std::memcpy(out, v.data(), v.size());
  return HABANERO_OK;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

// docs/abi.md: a token of letters, digits and !#$%&'*+-.^_`|~.
bool validHeaderName(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (std::isalnum(c)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

bool validHeaderText(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// The value of cookie `name` in the request's Cookie headers, or "".
std::string cookieValue(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (!equalsIgnoreCase(k, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return std::string(pair.substr(eq + 1));
      }
    }
  }
  return "";
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[32];
  unsigned int len = 32;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), 32);
}

std::string randomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return crypto::base64UrlEncode(raw);
}

std::string dumpJson(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::optional<std::string> jsonString(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string claimsJson(const User& u) {
  Json j = {{"sub", u.sub}};
  if (!u.email.empty()) {
    j["email"] = u.email;
    j["email_verified"] = u.email_verified;
  }
  if (!u.name.empty()) j["name"] = u.name;
  if (!u.phone_number.empty()) {
    j["phone_number"] = u.phone_number;
    j["phone_number_verified"] = u.phone_number_verified;
  }
  if (!u.website.empty()) j["website"] = u.website;
  if (!u.webid.empty()) j["webid"] = u.webid;
  return dumpJson(j);
}

const User* userByEmail(const FakeHost& h, std::string_view normalised) {
  for (const auto& [sub, u] : h.users_) {
    if (!u.email.empty() && u.email == normalised) return &u;
  }
  return nullptr;
}

const User* userByPhone(const FakeHost& h, std::string_view number) {
  for (const auto& [sub, u] : h.users_) {
    if (!u.phone_number.empty() && u.phone_number == number) return &u;
  }
  return nullptr;
}

// The live attempt `rt` of the request's browser (habanero_login cookie), or nullptr.
FakeHost::Attempt* findAttempt(FakeHost& h, std::string_view rt) {
  auto it = h.attempts_.find(std::string(rt));
  if (it == h.attempts_.end()) return nullptr;
  if (it->second.expires_ms <= h.now_ms) return nullptr;
  std::string binding = cookieValue(h.request_.headers, kLoginCookie);
  if (binding.empty() || binding != it->second.binding) return nullptr;
  return &it->second;
}

// The session named by the request's habanero_session cookie, or nullptr.
Session* currentSession(FakeHost& h) {
  std::string cookie = cookieValue(h.request_.headers, kSessionCookie);
  if (cookie.empty()) return nullptr;
  auto it = h.sessions_.find(cookie);
  if (it == h.sessions_.end() || it->second.expires_ms <= h.now_ms) return nullptr;
  if (h.users_.count(it->second.sub) == 0) return nullptr;
  return &it->second;
}

std::string cookieAttributes(const FakeHost& h, int64_t max_age_s) {
  std::string a = "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age_s);
  if (h.request_.scheme == "https") a += "; Secure";
  return a;
}

// What the host does to the response for session_require_login and login_complete.
void hostRedirect(FakeHost& h, std::string url) {
  auto& hs = h.response_.headers;
  std::erase_if(hs, [](const auto& x) { return equalsIgnoreCase(x.first, "location"); });
  h.response_.status = h.request_.method == "POST" ? 303 : 302;
  hs.emplace_back("Location", std::move(url));
}

}  // namespace

// ---- helpers of fake_host.h --------------------------------------------------------------

std::string urlEncode(std::string_view s) { return http::percentEncode(s); }

std::string encodeForm(const Form& form) {
  std::string out;
  for (const auto& [k, v] : form) {
    if (!out.empty()) out += '&';
    out += http::percentEncode(k) + "=" + http::percentEncode(v);
  }
  return out;
}

std::map<std::string, std::string> queryParams(std::string_view url) {
  std::map<std::string, std::string> out;
  size_t q = url.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  auto parsed = http::parseForm(query);
  if (!parsed.ok()) return out;
  for (const auto& [k, v] : parsed->entries()) out[k] = v;
  return out;
}

std::string base64url(std::string_view bytes) { return crypto::base64UrlEncode(bytes); }

std::optional<std::string> base64urlDecode(std::string_view text) {
  auto d = crypto::base64UrlDecode(text);
  if (!d.ok()) return std::nullopt;
  return *d;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char d[32];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<char*>(d), 32);
}

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::vector<std::string> Response::headerValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

// ---- FakeHost -----------------------------------------------------------------------------

FakeHost::FakeHost(Entry on_request, Entry on_event)
    : on_request_(std::move(on_request)), on_event_(std::move(on_event)) {
  if (g_host != nullptr) {
    std::fprintf(stderr, "sdk/testing: only one FakeHost may exist at a time\n");
    std::abort();
  }
  g_host = this;
}

FakeHost::~FakeHost() { g_host = nullptr; }

void FakeHost::grantOnly(std::set<std::string> capabilities) { grants_ = std::move(capabilities); }

void FakeHost::revoke(const std::string& capability) {
  if (!grants_) {
    grants_.emplace();
    for (const auto& [call, cap] : callCapabilities()) grants_->insert(std::string(cap));
  }
  grants_->erase(capability);
}

bool FakeHost::granted(std::string_view capability) const {
  return !grants_ || grants_->count(std::string(capability)) > 0;
}

std::string FakeHost::newId(std::string_view prefix) {
  return std::string(prefix) + std::to_string(next_id_++);
}

Response FakeHost::handle(Request request) {
  request_ = std::move(request);
  size_t q = request_.target.find('?');
  path_ = request_.target.substr(0, q);
  query_ = q == std::string::npos ? "" : request_.target.substr(q + 1);
  response_ = Response{};
  response_bytes_ = 0;
  held_takes_.clear();
  held_fetches_.clear();
  int32_t rc = on_request_ ? on_request_() : 1;
  Response out = std::move(response_);
  if (rc != 0) {
    // The host's answer when habanero_on_request fails (docs/abi.md §1).
    out = Response{};
    out.status = 500;
    out.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    out.body = "extension failed\n";
    logs.push_back({HABANERO_LOG_ERROR, "habanero_on_request returned " + std::to_string(rc)});
  }
  request_ = Request{};
  return out;
}

Response FakeHost::get(const std::string& target, Headers headers) {
  Request r;
  r.target = target;
  r.headers = std::move(headers);
  return handle(std::move(r));
}

Response FakeHost::post(const std::string& target, const Form& form, Headers headers) {
  Request r;
  r.method = "POST";
  r.target = target;
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  r.body = encodeForm(form);
  return handle(std::move(r));
}

int32_t FakeHost::deliver(Event& event) {
  if (!on_event_) {
    std::fprintf(stderr, "sdk/testing: deliver() without an on_event entry point\n");
    std::abort();
  }
  ++event.attempts;
  request_ = Request{};
  request_.method.clear();
  request_.target.clear();
  request_.remote_addr.clear();
  request_.scheme.clear();
  path_.clear();
  query_.clear();
  response_ = Response{};
  response_bytes_ = 0;
  held_takes_.clear();
  held_fetches_.clear();
  event_ = &event;
  int32_t rc = on_event_();
  event_ = nullptr;
  request_ = Request{};
  return rc;
}

std::vector<int32_t> FakeHost::deliverAll() {
  std::vector<int32_t> results;
  std::deque<Event> pending;
  pending.swap(outbox);
  while (!pending.empty()) {
    Event e = std::move(pending.front());
    pending.pop_front();
    int32_t rc = deliver(e);
    results.push_back(rc);
    if (rc == HABANERO_EVENT_DONE) continue;
    if (rc == HABANERO_EVENT_FAILED) {
      failed.push_back(std::move(e));
    } else {
      outbox.push_back(std::move(e));
    }
  }
  // Events published during these deliveries were appended to `outbox` after the retries;
  // that order is as good as any: the real outbox gives none.
  return results;
}

std::optional<std::string> FakeHost::kvGet(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end() || !live(it->second)) return std::nullopt;
  return it->second.value;
}

void FakeHost::kvPut(const std::string& key, std::string value, int64_t ttl_ms) {
  kv_[key] = KvEntry{std::move(value), ttl_ms > 0 ? now_ms + ttl_ms : 0};
}

std::vector<std::string> FakeHost::kvKeys(std::string_view prefix) const {
  std::vector<std::string> out;
  for (const auto& [k, e] : kv_) {
    if (live(e) && std::string_view(k).starts_with(prefix)) out.push_back(k);
  }
  return out;
}

void FakeHost::addUser(User user) {
  if (!user.email.empty()) {
    auto n = auth::normalizeEmail(user.email);
    if (n.ok()) user.email = *n;
  }
  std::string sub = user.sub;
  users_[sub] = std::move(user);
}

void FakeHost::removeUser(const std::string& sub) {
  users_.erase(sub);
  std::erase_if(sessions_, [&](const auto& s) { return s.second.sub == sub; });
}

const User* FakeHost::findUser(std::string_view sub) const {
  auto it = users_.find(std::string(sub));
  return it == users_.end() ? nullptr : &it->second;
}

void FakeHost::addClient(std::string registration_json, std::string secret) {
  Json j = Json::parse(registration_json, nullptr, false);
  std::optional<std::string> id = j.is_object() ? jsonString(j, "client_id") : std::nullopt;
  if (!id) {
    std::fprintf(stderr, "sdk/testing: addClient needs a JSON object with a client_id\n");
    std::abort();
  }
  clients_[*id] = Client{std::move(registration_json), std::move(secret)};
}

std::string FakeHost::beginLogin(const std::string& binding, std::string return_to,
                                 std::string login_hint) {
  std::string rt = randomToken(16);
  attempts_[rt] = Attempt{std::move(return_to), std::move(login_hint), binding,
                          now_ms + limits::kLoginAttemptTtlMs};
  return rt;
}

std::string FakeHost::startSession(const std::string& sub, std::vector<std::string> amr,
                                   int64_t auth_time_s) {
  std::string cookie = randomToken(32);
  sessions_[cookie] = Session{sub, std::move(amr), auth_time_s, randomToken(16),
                              now_ms + limits::kSessionTtlMs};
  return cookie;
}

const Session* FakeHost::session(const std::string& cookie) const {
  auto it = sessions_.find(cookie);
  if (it == sessions_.end() || it->second.expires_ms <= now_ms) return nullptr;
  if (users_.count(it->second.sub) == 0) return nullptr;
  return &it->second;
}

bool FakeHost::attemptOpen(const std::string& rt) const {
  auto it = attempts_.find(rt);
  return it != attempts_.end() && it->second.expires_ms > now_ms;
}

bool FakeHost::logged(std::string_view text) const {
  for (const auto& l : logs) {
    if (l.message.find(text) != std::string::npos) return true;
  }
  return false;
}

// ---- Browser ------------------------------------------------------------------------------

Browser::Browser(FakeHost& host, std::string remote_addr)
    : remote_addr(std::move(remote_addr)), host_(host) {}

Response Browser::get(const std::string& target, Headers headers) {
  Request r;
  r.target = target;
  r.headers = std::move(headers);
  return send(std::move(r));
}

Response Browser::post(const std::string& target, const Form& form, Headers headers) {
  Request r;
  r.method = "POST";
  r.target = target;
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  r.body = encodeForm(form);
  return send(std::move(r));
}

Response Browser::send(Request request) {
  request.remote_addr = remote_addr;
  std::string jar;
  for (const auto& [k, v] : cookies) {
    if (!jar.empty()) jar += "; ";
    jar += k + "=" + v;
  }
  if (!jar.empty()) request.headers.emplace_back("Cookie", jar);
  Response r = host_.handle(std::move(request));
  for (const std::string& c : r.headerValues("set-cookie")) {
    std::string_view pair = std::string_view(c).substr(0, c.find(';'));
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(pair.substr(0, eq)), value(pair.substr(eq + 1));
    if (value.empty() || c.find("Max-Age=0") != std::string::npos) {
      cookies.erase(name);
    } else {
      cookies[name] = value;
    }
  }
  return r;
}

std::string Browser::startLogin(std::string return_to, std::string login_hint) {
  std::string& binding = cookies[std::string(kLoginCookie)];
  if (binding.empty()) binding = randomToken(32);
  return host_.beginLogin(binding, std::move(return_to), std::move(login_hint));
}

const Session* Browser::session() const {
  auto it = cookies.find(std::string(kSessionCookie));
  return it == cookies.end() ? nullptr : host_.session(it->second);
}

void Browser::signIn(const std::string& sub, std::vector<std::string> amr, int64_t auth_time_s) {
  if (auth_time_s == 0) auth_time_s = host_.now_ms / 1000;
  cookies[std::string(kSessionCookie)] = host_.startSession(sub, std::move(amr), auth_time_s);
}

}  // namespace habanero::testing

// ---- the host calls ------------------------------------------------------------------------

using habanero::testing::Event;
using habanero::testing::FakeHost;
using habanero::testing::FetchAnswer;
using habanero::testing::Json;
using habanero::testing::Session;
using habanero::testing::User;
namespace ht = habanero::testing;
namespace limits = habanero::limits;

extern "C" {

// -- http: the request

habanero_result_t habanero_request_get(int32_t field, uint8_t* out, uint32_t out_cap,
                                       uint32_t* out_len) {
  HABANERO_GATE("request_get");
  FakeHost& h = ht::host();
  switch (field) {
    case HABANERO_REQUEST_METHOD: return ht::writeOut(h.request_.method, out, out_cap, out_len);
    case HABANERO_REQUEST_PATH: return ht::writeOut(h.path_, out, out_cap, out_len);
    case HABANERO_REQUEST_QUERY: return ht::writeOut(h.query_, out, out_cap, out_len);
    case HABANERO_REQUEST_BODY: return ht::writeOut(h.request_.body, out, out_cap, out_len);
    case HABANERO_REQUEST_REMOTE_ADDR:
      return ht::writeOut(h.request_.remote_addr, out, out_cap, out_len);
    case HABANERO_REQUEST_MOUNT: return ht::writeOut(h.mount, out, out_cap, out_len);
    case HABANERO_REQUEST_SCHEME: return ht::writeOut(h.request_.scheme, out, out_cap, out_len);
  }
  return HABANERO_INVALID_ARGUMENT;
}

habanero_result_t habanero_request_header(const uint8_t* name, uint32_t name_len, uint8_t* out,
                                          uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("request_header");
  FakeHost& h = ht::host();
  std::string_view n = ht::view(name, name_len);
  std::string joined;
  bool found = false;
  for (const auto& [k, v] : h.request_.headers) {
    if (n.empty() || !ht::equalsIgnoreCase(k, n)) continue;
    if (found) joined += ", ";
    joined += v;
    found = true;
  }
  if (!found) return HABANERO_NOT_FOUND;
  return ht::writeOut(joined, out, out_cap, out_len);
}

habanero_result_t habanero_request_param(int32_t source, const uint8_t* name, uint32_t name_len,
                                         uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("request_param");
  FakeHost& h = ht::host();
  std::string text;
  if (source == HABANERO_PARAMS_QUERY) {
    text = h.query_;
  } else if (source == HABANERO_PARAMS_FORM) {
    // Only the first Content-Type counts, as on the host.
    for (const auto& [k, v] : h.request_.headers) {
      if (!ht::equalsIgnoreCase(k, "content-type")) continue;
      std::string_view ct = v;
      while (!ct.empty() && (ct.front() == ' ' || ct.front() == '\t')) ct.remove_prefix(1);
      if (ht::lower(ct.substr(0, 33)) == "application/x-www-form-urlencoded") text = h.request_.body;
      break;
    }
  } else {
    return HABANERO_INVALID_ARGUMENT;
  }
  auto params = habanero::http::parseForm(text);
  if (!params.ok()) return HABANERO_INVALID_ARGUMENT;
  auto found = params->find(ht::view(name, name_len));
  switch (found.kind) {
    case habanero::http::Params::Lookup::kNotFound: return HABANERO_NOT_FOUND;
    case habanero::http::Params::Lookup::kDuplicate: return HABANERO_DUPLICATE;
    case habanero::http::Params::Lookup::kValue: break;
  }
  return ht::writeOut(found.value, out, out_cap, out_len);
}

// -- http: the response

habanero_result_t habanero_response_set_status(int32_t status) {
  HABANERO_GATE("response_set_status");
  if (status < 200 || status > 599) return HABANERO_INVALID_ARGUMENT;
  ht::host().response_.status = status;
  return HABANERO_OK;
}

habanero_result_t habanero_response_add_header(const uint8_t* name, uint32_t name_len,
                                               const uint8_t* value, uint32_t value_len) {
  HABANERO_GATE("response_add_header");
  FakeHost& h = ht::host();
  std::string_view n = ht::view(name, name_len), v = ht::view(value, value_len);
  if (!ht::validHeaderName(n) || !ht::validHeaderText(v)) return HABANERO_INVALID_ARGUMENT;
  if (h.response_.headers.size() >= limits::kMaxResponseHeaders ||
      h.response_bytes_ + n.size() + v.size() > limits::kMaxResponseBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  h.response_bytes_ += n.size() + v.size();
  h.response_.headers.emplace_back(std::string(n), std::string(v));
  return HABANERO_OK;
}

habanero_result_t habanero_response_write(const uint8_t* data, uint32_t len) {
  HABANERO_GATE("response_write");
  FakeHost& h = ht::host();
  if (h.response_bytes_ + len > limits::kMaxResponseBytes) return HABANERO_LIMIT_EXCEEDED;
  h.response_bytes_ += len;
  h.response_.body.append(ht::view(data, len));
  return HABANERO_OK;
}

habanero_result_t habanero_response_redirect(int32_t status, const uint8_t* url, uint32_t url_len) {
  HABANERO_GATE("response_redirect");
  FakeHost& h = ht::host();
  std::string_view u = ht::view(url, url_len);
  if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
    return HABANERO_INVALID_ARGUMENT;
  }
  if (u.empty() || !ht::validHeaderText(u)) return HABANERO_INVALID_ARGUMENT;
  if (h.response_bytes_ + u.size() > limits::kMaxResponseBytes) return HABANERO_LIMIT_EXCEEDED;
  h.response_bytes_ += u.size();
  h.response_.status = status;
  std::erase_if(h.response_.headers,
                [](const auto& x) { return ht::equalsIgnoreCase(x.first, "location"); });
  h.response_.headers.emplace_back("Location", std::string(u));
  return HABANERO_OK;
}

// -- kv

habanero_result_t habanero_kv_get(const uint8_t* key, uint32_t key_len, uint8_t* out,
                                  uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("kv_get");
  if (key_len > limits::kMaxKeyBytes) return HABANERO_LIMIT_EXCEEDED;
  std::optional<std::string> v = ht::host().kvGet(std::string(ht::view(key, key_len)));
  if (!v) return HABANERO_NOT_FOUND;
  return ht::writeOut(*v, out, out_cap, out_len);
}

habanero_result_t habanero_kv_put(const uint8_t* key, uint32_t key_len, const uint8_t* value,
                                  uint32_t value_len, int64_t ttl_ms) {
  HABANERO_GATE("kv_put");
  if (key_len > limits::kMaxKeyBytes || value_len > limits::kMaxValueBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  ht::host().kvPut(std::string(ht::view(key, key_len)), std::string(ht::view(value, value_len)),
                   ttl_ms);
  return HABANERO_OK;
}

habanero_result_t habanero_kv_delete(const uint8_t* key, uint32_t key_len) {
  HABANERO_GATE("kv_delete");
  ht::host().kv_.erase(std::string(ht::view(key, key_len)));
  return HABANERO_OK;
}

habanero_result_t habanero_kv_take(const uint8_t* key, uint32_t key_len, uint8_t* out,
                                   uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("kv_take");
  FakeHost& h = ht::host();
  std::string k(ht::view(key, key_len));
  if (auto held = h.held_takes_.find(k); held != h.held_takes_.end()) {
    habanero_result_t r = ht::writeOut(held->second, out, out_cap, out_len);
    if (r == HABANERO_OK) h.held_takes_.erase(held);
    return r;
  }
  if (key_len > limits::kMaxKeyBytes) return HABANERO_NOT_FOUND;
  std::optional<std::string> v = h.kvGet(k);
  if (!v) return HABANERO_NOT_FOUND;
  h.kv_.erase(k);
  habanero_result_t r = ht::writeOut(*v, out, out_cap, out_len);
  if (r == HABANERO_BUFFER_TOO_SMALL) h.held_takes_[k] = std::move(*v);
  return r;
}

habanero_result_t habanero_kv_compare_and_set(const uint8_t* key, uint32_t key_len,
                                              int32_t has_expected, const uint8_t* expected,
                                              uint32_t expected_len, const uint8_t* value,
                                              uint32_t value_len, int64_t ttl_ms) {
  HABANERO_GATE("kv_compare_and_set");
  if (key_len > limits::kMaxKeyBytes || value_len > limits::kMaxValueBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  FakeHost& h = ht::host();
  std::string k(ht::view(key, key_len));
  std::optional<std::string> current = h.kvGet(k);
  if (has_expected ? (!current || *current != ht::view(expected, expected_len)) : current.has_value()) {
    return HABANERO_CONFLICT;
  }
  h.kvPut(k, std::string(ht::view(value, value_len)), ttl_ms);
  return HABANERO_OK;
}

// -- crypto

habanero_result_t habanero_crypto_random(uint8_t* out, uint32_t len) {
  HABANERO_GATE("crypto_random");
  if (len > limits::kMaxRandomBytes) return HABANERO_LIMIT_EXCEEDED;
  if (len > 0 && RAND_bytes(out, static_cast<int>(len)) != 1) return HABANERO_UNAVAILABLE;
  return HABANERO_OK;
}

habanero_result_t habanero_crypto_sha256(const uint8_t* data, uint32_t len, uint8_t* out32) {
  HABANERO_GATE("crypto_sha256");
  SHA256(data, len, out32);
  return HABANERO_OK;
}

habanero_result_t habanero_crypto_hmac_sha256(const uint8_t* key, uint32_t key_len,
                                              const uint8_t* data, uint32_t data_len,
                                              uint8_t* out32) {
  HABANERO_GATE("crypto_hmac_sha256");
  std::string mac = ht::hmacSha256(ht::view(key, key_len), ht::view(data, data_len));
  std::memcpy(out32, mac.data(), 32);
  return HABANERO_OK;
}

habanero_result_t habanero_crypto_equal(const uint8_t* a, uint32_t a_len, const uint8_t* b,
                                        uint32_t b_len) {
  HABANERO_GATE("crypto_equal");
  return ht::view(a, a_len) == ht::view(b, b_len) ? HABANERO_OK : HABANERO_MISMATCH;
}

habanero_result_t habanero_crypto_jws_verify_jwk(const uint8_t* jws, uint32_t jws_len,
                                                 const uint8_t* jwk_json, uint32_t jwk_json_len,
                                                 uint8_t* out, uint32_t out_cap,
                                                 uint32_t* out_len) {
  HABANERO_GATE("crypto_jws_verify_jwk");
  auto payload =
      habanero::crypto::verifyJwsWithJwk(ht::view(jws, jws_len), ht::view(jwk_json, jwk_json_len));
  if (!payload.ok()) {
    return payload.status().code() == absl::StatusCode::kPermissionDenied
               ? HABANERO_MISMATCH
               : HABANERO_INVALID_ARGUMENT;
  }
  return ht::writeOut(*payload, out, out_cap, out_len);
}

habanero_result_t habanero_crypto_jwk_thumbprint(const uint8_t* jwk_json, uint32_t jwk_json_len,
                                                 uint8_t* out, uint32_t out_cap,
                                                 uint32_t* out_len) {
  HABANERO_GATE("crypto_jwk_thumbprint");
  auto t = habanero::crypto::jwkThumbprint(ht::view(jwk_json, jwk_json_len));
  if (!t.ok()) return HABANERO_INVALID_ARGUMENT;
  return ht::writeOut(*t, out, out_cap, out_len);
}

// -- keys: HS256 under a fixed key (see fake_host.h)

habanero_result_t habanero_jws_sign(const uint8_t* header_json, uint32_t header_len,
                                    const uint8_t* payload, uint32_t payload_len, uint8_t* out,
                                    uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("jws_sign");
  Json header = Json::object();
  if (header_len > 0) {
    header = Json::parse(ht::view(header_json, header_len), nullptr, false);
    if (!header.is_object() || header.contains("crit")) return HABANERO_INVALID_ARGUMENT;
  }
  header["alg"] = "HS256";
  header["kid"] = "fake-k1";
  using habanero::crypto::base64UrlEncode;
  std::string input = base64UrlEncode(ht::dumpJson(header)) + "." +
                      base64UrlEncode(ht::view(payload, payload_len));
  std::string jws = input + "." + base64UrlEncode(ht::hmacSha256(ht::kJwsKey, input));
  return ht::writeOut(jws, out, out_cap, out_len);
}

habanero_result_t habanero_jws_verify(const uint8_t* jws, uint32_t jws_len, uint8_t* out,
                                      uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("jws_verify");
  std::string_view j = ht::view(jws, jws_len);
  size_t a = j.find('.'), b = j.rfind('.');
  if (a == std::string_view::npos || a == b) return HABANERO_MISMATCH;
  using habanero::crypto::base64UrlDecode;
  auto header_text = base64UrlDecode(j.substr(0, a));
  auto payload = base64UrlDecode(j.substr(a + 1, b - a - 1));
  auto sig = base64UrlDecode(j.substr(b + 1));
  if (!header_text.ok() || !payload.ok() || !sig.ok()) return HABANERO_MISMATCH;
  Json header = Json::parse(*header_text, nullptr, false);
  if (!header.is_object() || header.contains("crit") ||
      ht::jsonString(header, "alg") != std::optional<std::string>("HS256") ||
      ht::jsonString(header, "kid") != std::optional<std::string>("fake-k1")) {
    return HABANERO_MISMATCH;
  }
  if (*sig != ht::hmacSha256(ht::kJwsKey, j.substr(0, b))) return HABANERO_MISMATCH;
  return ht::writeOut(*payload, out, out_cap, out_len);
}

habanero_result_t habanero_jwks_get(uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("jwks_get");
  // A placeholder public key: the fake signs with HS256, which a JWKS never publishes.
  static const std::string kJwks =
      R"({"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","kid":"fake-k1","use":"sig",)"
      R"("x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})";
  return ht::writeOut(kJwks, out, out_cap, out_len);
}

// -- clock, log, settings

habanero_result_t habanero_clock_now_ms(int64_t* out) {
  HABANERO_GATE("clock_now_ms");
  *out = ht::host().now_ms;
  return HABANERO_OK;
}

habanero_result_t habanero_log(int32_t level, const uint8_t* msg, uint32_t len) {
  HABANERO_GATE("log");
  if (level < HABANERO_LOG_DEBUG || level > HABANERO_LOG_ERROR) return HABANERO_INVALID_ARGUMENT;
  FakeHost& h = ht::host();
  std::string m(ht::view(msg, len).substr(0, limits::kMaxLogLineBytes));
  if (std::getenv("HABANERO_FAKE_HOST_LOG")) std::cerr << "[" << h.name << "] " << m << "\n";
  h.logs.push_back({level, std::move(m)});
  return HABANERO_OK;
}

habanero_result_t habanero_setting_get(const uint8_t* name, uint32_t name_len, uint8_t* out,
                                       uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("setting_get");
  FakeHost& h = ht::host();
  auto it = h.settings.find(std::string(ht::view(name, name_len)));
  if (it == h.settings.end()) return HABANERO_NOT_FOUND;
  return ht::writeOut(it->second, out, out_cap, out_len);
}

// -- sessions

habanero_result_t habanero_session_get(uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("session_get");
  Session* s = ht::currentSession(ht::host());
  if (s == nullptr) return HABANERO_NOT_FOUND;
  Json j = {{"sub", s->sub}, {"amr", s->amr}, {"auth_time", s->auth_time_s}, {"sid", s->sid}};
  return ht::writeOut(ht::dumpJson(j), out, out_cap, out_len);
}

habanero_result_t habanero_session_require_login(const uint8_t* return_to, uint32_t return_to_len,
                                                 const uint8_t* login_hint,
                                                 uint32_t login_hint_len) {
  HABANERO_GATE("session_require_login");
  FakeHost& h = ht::host();
  std::string_view rt_path = ht::view(return_to, return_to_len);
  std::string_view hint = ht::view(login_hint, login_hint_len);
  if (!habanero::auth::isLocalPath(rt_path)) return HABANERO_INVALID_ARGUMENT;
  if (hint.size() > limits::kMaxLoginHintBytes || !ht::validHeaderText(hint) ||
      !habanero::http::isValidUtf8(hint)) {
    return HABANERO_INVALID_ARGUMENT;
  }
  std::string binding = ht::cookieValue(h.request_.headers, ht::kLoginCookie);
  bool new_binding = binding.empty();
  if (new_binding) binding = ht::randomToken(32);
  std::string rt = h.beginLogin(binding, std::string(rt_path), std::string(hint));
  h.login_requests.push_back({rt, std::string(rt_path), std::string(hint)});
  ht::hostRedirect(h, "/login?rt=" + rt);
  h.response_.headers.emplace_back(
      "Set-Cookie", std::string(ht::kLoginCookie) + "=" + binding +
                        ht::cookieAttributes(h, limits::kLoginAttemptTtlMs / 1000));
  return HABANERO_OK;
}

habanero_result_t habanero_session_end(void) {
  HABANERO_GATE("session_end");
  FakeHost& h = ht::host();
  std::string cookie = ht::cookieValue(h.request_.headers, ht::kSessionCookie);
  if (!cookie.empty()) h.sessions_.erase(cookie);
  ++h.sessions_ended;
  h.response_.headers.emplace_back(
      "Set-Cookie", std::string(ht::kSessionCookie) + "=" + ht::cookieAttributes(h, 0));
  return HABANERO_OK;
}

// -- login

habanero_result_t habanero_login_attempt_get(const uint8_t* rt, uint32_t rt_len, uint8_t* out,
                                             uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("login_attempt_get");
  FakeHost::Attempt* a = ht::findAttempt(ht::host(), ht::view(rt, rt_len));
  if (a == nullptr) return HABANERO_NOT_FOUND;
  return ht::writeOut(ht::dumpJson(Json{{"login_hint", a->login_hint}}), out, out_cap, out_len);
}

habanero_result_t habanero_login_complete(const uint8_t* rt, uint32_t rt_len,
                                          const uint8_t* subject, uint32_t subject_len,
                                          const uint8_t* amr_json, uint32_t amr_json_len) {
  HABANERO_GATE("login_complete");
  FakeHost& h = ht::host();
  auto amr = habanero::auth::parseAmr(ht::view(amr_json, amr_json_len));
  if (!amr.ok()) return HABANERO_INVALID_ARGUMENT;
  std::string rt_s(ht::view(rt, rt_len));
  FakeHost::Attempt* a = ht::findAttempt(h, rt_s);
  if (a == nullptr) return HABANERO_NOT_FOUND;
  std::string sub(ht::view(subject, subject_len));
  if (h.users_.count(sub) == 0) return HABANERO_NOT_FOUND;  // the attempt stays usable
  std::string return_to = a->return_to;
  h.attempts_.erase(rt_s);
  std::string old = ht::cookieValue(h.request_.headers, ht::kSessionCookie);
  if (!old.empty()) h.sessions_.erase(old);
  std::string cookie = h.startSession(sub, *amr, h.now_ms / 1000);
  h.logins.push_back({rt_s, sub, *amr, return_to});
  ht::hostRedirect(h, return_to);
  h.response_.headers.emplace_back(
      "Set-Cookie", std::string(ht::kSessionCookie) + "=" + cookie +
                        ht::cookieAttributes(h, limits::kSessionTtlMs / 1000));
  return HABANERO_OK;
}

// -- users, signup

habanero_result_t habanero_user_get(const uint8_t* subject, uint32_t subject_len, uint8_t* out,
                                    uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("user_get");
  const User* u = ht::host().findUser(ht::view(subject, subject_len));
  if (u == nullptr) return HABANERO_NOT_FOUND;
  return ht::writeOut(ht::claimsJson(*u), out, out_cap, out_len);
}

habanero_result_t habanero_user_verify_password(const uint8_t* email, uint32_t email_len,
                                                const uint8_t* password, uint32_t password_len,
                                                uint8_t* out, uint32_t out_cap,
                                                uint32_t* out_len) {
  HABANERO_GATE("user_verify_password");
  FakeHost& h = ht::host();
  ++h.password_checks;
  auto normalised = habanero::auth::normalizeEmail(ht::view(email, email_len));
  const User* u = normalised.ok() ? ht::userByEmail(h, *normalised) : nullptr;
  if (u == nullptr || !u->password || *u->password != ht::view(password, password_len) ||
      password_len > limits::kMaxPasswordBytes) {
    return HABANERO_MISMATCH;
  }
  return ht::writeOut(u->sub, out, out_cap, out_len);
}

habanero_result_t habanero_user_find(int32_t kind, const uint8_t* value, uint32_t value_len,
                                     uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("user_find");
  FakeHost& h = ht::host();
  std::string_view v = ht::view(value, value_len);
  const User* u = nullptr;
  if (kind == HABANERO_USER_BY_EMAIL) {
    auto normalised = habanero::auth::normalizeEmail(v);
    if (!normalised.ok()) return HABANERO_INVALID_ARGUMENT;
    u = ht::userByEmail(h, *normalised);
  } else if (kind == HABANERO_USER_BY_PHONE) {
    if (!habanero::auth::isE164(v)) return HABANERO_INVALID_ARGUMENT;
    u = ht::userByPhone(h, v);
  } else {
    return HABANERO_INVALID_ARGUMENT;
  }
  if (u == nullptr) return HABANERO_NOT_FOUND;
  return ht::writeOut(u->sub, out, out_cap, out_len);
}

habanero_result_t habanero_user_create(const uint8_t* user_json, uint32_t user_json_len,
                                       uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("user_create");
  FakeHost& h = ht::host();
  Json j = Json::parse(ht::view(user_json, user_json_len), nullptr, false);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  User u;
  u.email = ht::jsonString(j, "email").value_or("");
  u.phone_number = ht::jsonString(j, "phone_number").value_or("");
  u.name = ht::jsonString(j, "name").value_or("");
  if (u.email.empty() == u.phone_number.empty()) return HABANERO_INVALID_ARGUMENT;
  if (!u.email.empty()) {
    auto normalised = habanero::auth::normalizeEmail(u.email);
    if (!normalised.ok()) return HABANERO_INVALID_ARGUMENT;
    u.email = *normalised;
    if (ht::userByEmail(h, u.email)) return HABANERO_DUPLICATE;
  } else {
    if (!habanero::auth::isE164(u.phone_number)) return HABANERO_INVALID_ARGUMENT;
    if (ht::userByPhone(h, u.phone_number)) return HABANERO_DUPLICATE;
  }
  u.email_verified = !u.email.empty();
  u.phone_number_verified = !u.phone_number.empty();
  // Checked before the user is added, so a too-small buffer creates nobody (the host's
  // subjects are 22 bytes; a guest sizes for that).
  u.sub = ht::randomToken(16);
  *out_len = static_cast<uint32_t>(u.sub.size());
  if (u.sub.size() > out_cap) return HABANERO_BUFFER_TOO_SMALL;
  std::string sub = u.sub;
  h.addUser(std::move(u));
  return ht::writeOut(sub, out, out_cap, out_len);
}

// -- events

habanero_result_t habanero_event_publish(const uint8_t* topic, uint32_t topic_len,
                                         const uint8_t* payload, uint32_t payload_len) {
  HABANERO_GATE("event_publish");
  FakeHost& h = ht::host();
  std::string t(ht::view(topic, topic_len));
  if (h.publish.count(t) == 0) {
    h.logs.push_back({HABANERO_LOG_WARN, "event_publish to '" + t + "' refused: not granted"});
    return HABANERO_DENIED;
  }
  if (payload_len > ht::kMaxEventPayload) return HABANERO_LIMIT_EXCEEDED;
  h.outbox.push_back(Event{h.newId("evt-"), t, std::string(ht::view(payload, payload_len)), h.name, 0});
  return HABANERO_OK;
}

habanero_result_t habanero_event_get(int32_t field, uint8_t* out, uint32_t out_cap,
                                     uint32_t* out_len) {
  HABANERO_GATE("event_get");
  FakeHost& h = ht::host();
  if (h.event_ == nullptr) return HABANERO_NOT_FOUND;
  std::string v;
  switch (field) {
    case HABANERO_EVENT_TOPIC: v = h.event_->topic; break;
    case HABANERO_EVENT_PAYLOAD: v = h.event_->payload; break;
    case HABANERO_EVENT_ID: v = h.event_->id; break;
    case HABANERO_EVENT_ATTEMPT: v = std::to_string(h.event_->attempts); break;
    case HABANERO_EVENT_PUBLISHER: v = h.event_->publisher; break;
    default: return HABANERO_INVALID_ARGUMENT;
  }
  return ht::writeOut(v, out, out_cap, out_len);
}

// -- mail, sms

habanero_result_t habanero_mail_send(const uint8_t* message_json, uint32_t message_json_len) {
  HABANERO_GATE("mail_send");
  FakeHost& h = ht::host();
  Json j = Json::parse(ht::view(message_json, message_json_len), nullptr, false);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  auto to = ht::jsonString(j, "to");
  auto subject = ht::jsonString(j, "subject");
  auto text = ht::jsonString(j, "text");
  if (!to || !subject || !text || !habanero::auth::normalizeEmail(*to).ok() ||
      subject->find_first_of("\r\n") != std::string::npos) {
    return HABANERO_INVALID_ARGUMENT;
  }
  if (!h.mail_results.empty()) {
    int32_t r = h.mail_results.front();
    h.mail_results.pop_front();
    if (r != HABANERO_OK) return r;
  }
  h.mails.push_back({*to, *subject, *text, ht::jsonString(j, "html").value_or("")});
  return HABANERO_OK;
}

habanero_result_t habanero_sms_send(const uint8_t* message_json, uint32_t message_json_len) {
  HABANERO_GATE("sms_send");
  FakeHost& h = ht::host();
  Json j = Json::parse(ht::view(message_json, message_json_len), nullptr, false);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  auto to = ht::jsonString(j, "to");
  auto text = ht::jsonString(j, "text");
  if (!to || !text || !habanero::auth::isE164(*to) || text->empty()) {
    return HABANERO_INVALID_ARGUMENT;
  }
  if (!h.sms_results.empty()) {
    int32_t r = h.sms_results.front();
    h.sms_results.pop_front();
    if (r != HABANERO_OK) return r;
  }
  h.texts.push_back({*to, *text});
  return HABANERO_OK;
}

// -- fetch

habanero_result_t habanero_http_fetch(const uint8_t* request_json, uint32_t request_json_len,
                                      uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("http_fetch");
  FakeHost& h = ht::host();
  std::string key(ht::view(request_json, request_json_len));
  std::string answer;
  if (auto held = h.held_fetches_.find(key); held != h.held_fetches_.end()) {
    answer = std::move(held->second);
    h.held_fetches_.erase(held);
  } else {
    Json j = Json::parse(key, nullptr, false);
    if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
    auto url = ht::jsonString(j, "url");
    std::string parse = ht::jsonString(j, "parse").value_or("");
    if (!url || !(url->starts_with("http://") || url->starts_with("https://")) ||
        (!parse.empty() && parse != "turtle")) {
      return HABANERO_INVALID_ARGUMENT;
    }
    h.fetches.push_back({*url, ht::jsonString(j, "accept").value_or(""), parse});
    auto it = h.fetch_answers.find(*url);
    if (it == h.fetch_answers.end()) return HABANERO_UNAVAILABLE;
    const FetchAnswer& a = it->second;
    if (a.result != HABANERO_OK) return a.result;
    std::string final_url = a.final_url.empty() ? *url : a.final_url;
    Json o = {{"status", a.status},
              {"url", final_url},
              {"content_type", a.content_type},
              {"links", a.links}};
    if (parse == "turtle") {
      auto triples = habanero::outbound::parseTurtle(a.body, final_url);
      if (!triples.ok()) return HABANERO_INVALID_ARGUMENT;
      Json list = Json::array();
      for (const auto& t : *triples) list.push_back({t.subject, t.predicate, t.object});
      o["triples"] = std::move(list);
    } else {
      o["body"] = a.body;
    }
    answer = ht::dumpJson(o);
  }
  habanero_result_t r = ht::writeOut(answer, out, out_cap, out_len);
  if (r == HABANERO_BUFFER_TOO_SMALL) {
    h.held_fetches_.clear();
    h.held_fetches_.emplace(std::move(key), std::move(answer));
  }
  return r;
}

// -- clients

habanero_result_t habanero_client_get(const uint8_t* client_id, uint32_t client_id_len,
                                      uint8_t* out, uint32_t out_cap, uint32_t* out_len) {
  HABANERO_GATE("client_get");
  FakeHost& h = ht::host();
  auto it = h.clients_.find(std::string(ht::view(client_id, client_id_len)));
  if (it == h.clients_.end()) return HABANERO_NOT_FOUND;
  return ht::writeOut(it->second.json, out, out_cap, out_len);
}

habanero_result_t habanero_client_authenticate(const uint8_t* client_id, uint32_t client_id_len,
                                               const uint8_t* secret, uint32_t secret_len) {
  HABANERO_GATE("client_authenticate");
  FakeHost& h = ht::host();
  auto it = h.clients_.find(std::string(ht::view(client_id, client_id_len)));
  if (it == h.clients_.end() || it->second.secret.empty() || secret_len == 0 ||
      it->second.secret != ht::view(secret, secret_len)) {
    return HABANERO_MISMATCH;
  }
  return HABANERO_OK;
}

}  // extern "C"

namespace habanero::testing {
// The capability table, for the kit's own test (every call of habanero.h is here).
std::vector<std::string> fakeHostCalls() {
  std::vector<std::string> out;
  for (const auto& [call, cap] : callCapabilities()) out.emplace_back(call);
  return out;
}
}  // namespace habanero::testing
