#include "auth/sessions.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "auth/records.h"
#include "auth/users.h"
#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "habanero/strings.h"

namespace habanero::auth {
namespace {

using internal::Json;

constexpr size_t kCookieBytes = 32;  // 256 bits
constexpr size_t kSidBytes = 16;
constexpr size_t kRtBytes = 32;
constexpr size_t kMaxCookiesTried = 4;  // same-named cookies from several paths/domains

std::string cookieAttributes(int64_t max_age_s, bool secure) {
  return strCat("; Path=/; Max-Age=", max_age_s, "; HttpOnly; SameSite=Lax",
                secure ? "; Secure" : "");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The storage key of a session: SHA-256 of its cookie value.
std::string sessionKey(std::string_view cookie) { return crypto::sha256(cookie); }

// What an attempt stores to recognise its browser.
std::string bindingOf(std::string_view login_cookie) {
  return crypto::base64UrlEncode(crypto::sha256(login_cookie));
}

std::optional<Session> decodeSession(std::string_view text) {
  Json j = internal::parse(text);
  Session s;
  if (!internal::readString(j, "sub", s.subject) || !internal::readStrings(j, "amr", s.amr) ||
      !internal::readInt(j, "auth_time", s.auth_time) || !internal::readString(j, "sid", s.sid)) {
    return std::nullopt;
  }
  return s;
}

struct StoredAttempt {
  LoginAttempt attempt;
  std::string binding;
};

std::optional<StoredAttempt> decodeAttempt(std::string_view text) {
  Json j = internal::parse(text);
  StoredAttempt a;
  if (!internal::readString(j, "return_to", a.attempt.return_to) ||
      !internal::readString(j, "login_hint", a.attempt.login_hint) ||
      !internal::readInt(j, "created_ms", a.attempt.created_ms) ||
      !internal::readString(j, "binding", a.binding)) {
    return std::nullopt;
  }
  return a;
}

// Whether one of the request's login cookies is the attempt's binding.
bool boundToThisBrowser(const StoredAttempt& a, const Headers& headers, bool secure) {
  std::vector<std::string_view> values =
      Sessions::cookies(headers, Sessions::loginCookieName(secure));
  bool match = false;
  for (size_t i = 0; i < values.size() && i < kMaxCookiesTried; ++i) {
    if (internal::looksLikeToken(values[i], kCookieBytes) &&
        crypto::constantTimeEqual(a.binding, bindingOf(values[i]))) {
      match = true;
    }
  }
  return match;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> parseAmr(std::string_view json) {
  Json j = internal::parse(json);
  auto bad = absl::InvalidArgumentError(
      strCat("amr: expected a JSON array of at most ", limits::kMaxAmrValues,
             " short ASCII strings, e.g. [\"pwd\"]"));
  if (!j.is_array() || j.size() > limits::kMaxAmrValues) return bad;
  std::vector<std::string> amr;
  for (const Json& item : j) {
    if (!item.is_string()) return bad;
    const std::string& v = item.get_ref<const std::string&>();
    if (v.empty() || v.size() > limits::kMaxAmrValueBytes ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      return bad;
    }
    amr.push_back(v);
  }
  return amr;
}

bool isLocalPath(std::string_view path) {
  if (path.empty() || path.size() > limits::kMaxReturnToBytes || path[0] != '/') return false;
  if (path.size() > 1 && (path[1] == '/' || path[1] == '\\')) return false;
  return std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Sessions::Sessions(Storage& storage, const Clock& clock, SessionOptions options)
    : storage_(storage), clock_(clock), options_(options) {}

std::vector<std::string_view> Sessions::cookies(const Headers& headers, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [header, value] : headers) {
    if (!equalsIgnoreCase(header, "cookie")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
      std::string_view v = trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      out.push_back(v);
    }
  }
  return out;
}

absl::StatusOr<std::optional<Session>> Sessions::get(const Headers& request_headers,
                                                     bool secure) const {
  std::vector<std::string_view> values = cookies(request_headers, cookieName(secure));
  for (size_t i = 0; i < values.size() && i < kMaxCookiesTried; ++i) {
    if (!internal::looksLikeToken(values[i], kCookieBytes)) continue;
    ASSIGN_OR_RETURN(std::optional<std::string> text,
                     storage_.get(kNamespace, sessionKey(values[i])));
    if (!text) continue;
    std::optional<Session> session = decodeSession(*text);
    if (session) return session;
  }
  return std::nullopt;
}

absl::StatusOr<Sessions::Started> Sessions::start(std::string_view subject,
                                                  std::vector<std::string> amr) {
  Started started;
  ASSIGN_OR_RETURN(started.cookie, internal::randomToken(kCookieBytes));
  ASSIGN_OR_RETURN(started.session.sid, internal::randomToken(kSidBytes));
  started.session.subject = std::string(subject);
  started.session.amr = std::move(amr);
  started.session.auth_time = clock_.nowMs() / 1000;
  RETURN_IF_ERROR(storage_.put(kNamespace, sessionKey(started.cookie), toJson(started.session),
                               options_.session_ttl_ms));
  return started;
}

absl::Status Sessions::end(const Headers& request_headers, bool secure) {
  std::vector<std::string_view> values = cookies(request_headers, cookieName(secure));
  for (size_t i = 0; i < values.size() && i < kMaxCookiesTried; ++i) {
    if (!internal::looksLikeToken(values[i], kCookieBytes)) continue;
    RETURN_IF_ERROR(storage_.remove(kNamespace, sessionKey(values[i])));
  }
  return absl::OkStatus();
}

std::string Sessions::sessionCookie(std::string_view value, bool secure) const {
  return strCat(cookieName(secure), "=", value,
                cookieAttributes(options_.session_ttl_ms / 1000, secure));
}

std::string Sessions::clearSessionCookie(bool secure) const {
  return strCat(cookieName(secure), "=", cookieAttributes(0, secure));
}

std::string Sessions::toJson(const Session& s) {
  Json j = {{"sub", s.subject}, {"amr", s.amr}, {"auth_time", s.auth_time}, {"sid", s.sid}};
  return internal::dump(j);
}

std::string Sessions::toJson(const LoginAttempt& a) {
  return internal::dump(Json{{"login_hint", a.login_hint}});
}

absl::StatusOr<Sessions::BegunLogin> Sessions::beginLogin(std::string_view return_to,
                                                          std::string_view login_hint,
                                                          const Headers& request_headers,
                                                          bool secure,
                                                          std::string_view remote_addr) {
  if (!isLocalPath(return_to)) {
    return absl::InvalidArgumentError("return_to: must be a local path starting with '/'");
  }
  if (!internal::isPlainText(login_hint, limits::kMaxLoginHintBytes)) {
    return absl::InvalidArgumentError("login_hint: must be printable UTF-8 text");
  }
  // One binding cookie per browser, reused, so attempts in several tabs all work.
  std::string binding_cookie;
  for (std::string_view v : cookies(request_headers, loginCookieName(secure))) {
    if (internal::looksLikeToken(v, kCookieBytes)) {
      binding_cookie = std::string(v);
      break;
    }
  }
  if (binding_cookie.empty()) {
    ASSIGN_OR_RETURN(binding_cookie, internal::randomToken(kCookieBytes));
  }
  BegunLogin begun;
  ASSIGN_OR_RETURN(begun.rt, internal::randomToken(kRtBytes));
  RETURN_IF_ERROR(admitAttempt(remote_addr, begun.rt));
  Json j = {{"return_to", std::string(return_to)},
            {"login_hint", std::string(login_hint)},
            {"created_ms", clock_.nowMs()},
            {"binding", bindingOf(binding_cookie)}};
  RETURN_IF_ERROR(storage_.put(kLoginNamespace, begun.rt, internal::dump(j),
                               options_.login_ttl_ms));
  begun.set_cookie = strCat(loginCookieName(secure), "=", binding_cookie,
                            cookieAttributes(options_.login_ttl_ms / 1000, secure));
  begun.login_url = strCat("/login?rt=", begun.rt);
  return begun;
}

void Sessions::releaseAttempt(std::string_view rt) {
  std::lock_guard<std::mutex> lock(attempts_mu_);
  auto found = pending_.find(std::string(rt));
  if (found == pending_.end()) return;
  auto it = recent_by_address_.find(found->second);
  if (it != recent_by_address_.end() && --it->second == 0) recent_by_address_.erase(it);
  pending_.erase(found);  // its entry in recent_ is skipped when it expires
}

absl::Status Sessions::admitAttempt(std::string_view remote_addr, const std::string& rt) {
  if (options_.max_attempts_per_address == 0 && options_.max_attempts_total == 0) {
    return absl::OkStatus();
  }
  const int64_t now = clock_.nowMs();
  std::lock_guard<std::mutex> lock(attempts_mu_);
  while (!recent_.empty() && recent_.front().first <= now - options_.login_ttl_ms) {
    auto found = pending_.find(recent_.front().second);
    if (found != pending_.end()) {  // expired without being taken
      auto it = recent_by_address_.find(found->second);
      if (it != recent_by_address_.end() && --it->second == 0) recent_by_address_.erase(it);
      pending_.erase(found);
    }
    recent_.pop_front();
  }
  std::string address(remote_addr);
  auto it = recent_by_address_.find(address);
  size_t from_address = it == recent_by_address_.end() ? 0 : it->second;
  if (options_.max_attempts_per_address != 0 &&
      from_address >= options_.max_attempts_per_address) {
    spdlog::info("login attempt refused: {} pending from {} (auth.login_attempts_per_address)",
                 from_address, address.empty() ? "(no address)" : address);
    return absl::ResourceExhaustedError(
        strCat("too many pending login attempts from this address (auth.login_attempts_per_address = ",
               options_.max_attempts_per_address, ")"));
  }
  if (options_.max_attempts_total != 0 && pending_.size() >= options_.max_attempts_total) {
    spdlog::info("login attempt refused from {}: {} pending in all (auth.login_attempts_total)",
                 address.empty() ? "(no address)" : address, pending_.size());
    return absl::ResourceExhaustedError(
        strCat("too many pending login attempts (auth.login_attempts_total = ",
               options_.max_attempts_total, ")"));
  }
  // Taken attempts leave their (time, rt) entry behind: drop those at the front.
  while (!recent_.empty() && !pending_.contains(recent_.front().second)) recent_.pop_front();
  ++recent_by_address_[address];
  pending_.emplace(rt, std::move(address));
  recent_.emplace_back(now, rt);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<LoginAttempt>> Sessions::findAttempt(
    std::string_view rt, const Headers& request_headers, bool secure) const {
  if (!internal::looksLikeToken(rt, kRtBytes)) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<std::string> text, storage_.get(kLoginNamespace, rt));
  if (!text) return std::nullopt;
  std::optional<StoredAttempt> a = decodeAttempt(*text);
  if (!a || !boundToThisBrowser(*a, request_headers, secure)) return std::nullopt;
  return std::move(a->attempt);
}

absl::StatusOr<std::optional<LoginAttempt>> Sessions::takeAttempt(
    std::string_view rt, const Headers& request_headers, bool secure) {
  // Checked before the take, so a request from another browser cannot end
  // someone's attempt.
  ASSIGN_OR_RETURN(std::optional<LoginAttempt> found, findAttempt(rt, request_headers, secure));
  if (!found) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<std::string> text, storage_.take(kLoginNamespace, rt));
  if (!text) return std::nullopt;
  releaseAttempt(rt);
  std::optional<StoredAttempt> a = decodeAttempt(*text);
  if (!a || !boundToThisBrowser(*a, request_headers, secure)) return std::nullopt;
  return std::move(a->attempt);
}

absl::StatusOr<std::optional<Session>> Sessions::getLive(const Headers& request_headers,
                                                         bool secure, const Users* users) const {
  ASSIGN_OR_RETURN(std::optional<Session> session, get(request_headers, secure));
  if (!session || users == nullptr) return session;
  ASSIGN_OR_RETURN(std::optional<User> user, users->get(session->subject));
  if (!user) return std::nullopt;
  return session;
}

namespace {

// A storage failure as the caller of completeLogin sees it: never NotFound or
// InvalidArgument, which mean something else there.
absl::Status unavailable(const absl::Status& s) { return absl::UnavailableError(s.message()); }

}  // namespace

absl::StatusOr<Sessions::CompletedLogin> Sessions::completeLogin(std::string_view rt,
                                                                 std::string_view subject,
                                                                 std::string_view amr_json,
                                                                 Users& users,
                                                                 const Headers& request_headers,
                                                                 bool secure) {
  absl::StatusOr<std::vector<std::string>> amr = parseAmr(amr_json);
  if (!amr.ok()) return amr.status();
  // Checked before the attempt is taken: a bad subject leaves it usable.
  auto found = findAttempt(rt, request_headers, secure);
  if (!found.ok()) return unavailable(found.status());
  if (!found->has_value()) return absl::NotFoundError("no such login attempt for this browser");
  auto user = users.get(subject);
  if (!user.ok()) return unavailable(user.status());
  if (!user->has_value()) return absl::NotFoundError("no such user");
  auto taken = takeAttempt(rt, request_headers, secure);
  if (!taken.ok()) return unavailable(taken.status());
  if (!taken->has_value()) return absl::NotFoundError("the login attempt was completed already");

  // A login always gets a fresh cookie; the browser's previous session ends.
  absl::Status ended = end(request_headers, secure);
  if (!ended.ok()) {
    spdlog::error("login_complete: ending the previous session: {}", std::string(ended.message()));
  }
  // A link to the address or a code to the number proved it.
  const bool by_email = std::find(amr->begin(), amr->end(), "email") != amr->end();
  const bool by_sms = std::find(amr->begin(), amr->end(), "sms") != amr->end();
  auto started = start(subject, std::move(*amr));
  if (!started.ok()) return unavailable(started.status());
  if (by_email || by_sms) {
    absl::Status marked = users.markVerified(subject, by_email, by_sms);
    if (!marked.ok()) {
      spdlog::error("login_complete: marking the {} of user '{}' verified: {}",
                    by_email ? "email" : "phone number", std::string(subject),
                    std::string(marked.message()));
    }
  }
  return CompletedLogin{std::move((*taken)->return_to), sessionCookie(started->cookie, secure),
                        std::move(started->session)};
}

}  // namespace habanero::auth
