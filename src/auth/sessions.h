// Browser sessions and login attempts (design 0001, capabilities "sessions"
// and "login").
//
// A session is named by the cookie `habanero_session` — `__Host-habanero_session`
// over HTTPS (Request::secure): browsers refuse that name unless the cookie is
// Secure, host-only and Path=/, so a sibling subdomain or a plain-HTTP answer
// cannot plant one; over HTTPS only the prefixed names are read. Its value is
// 256 random bits in base64url. The host stores the session under SHA-256 of the cookie value in
// "_host/sessions" with a TTL (kSessionTtlMs), so the database never holds a
// usable cookie. A new login always gets a new cookie value.
//
// A login attempt is what /authorize leaves behind when it needs a login: the
// path to come back to and a login hint, under a random id `rt` in
// "_host/login" (kLoginAttemptTtlMs). It is bound to the browser that started
// it by a second cookie, `habanero_login` (`__Host-habanero_login` over HTTPS;
// random, reused across attempts of
// one browser, stored as SHA-256): an attempt is visible only to requests
// carrying that cookie, so a link with someone else's `rt` cannot log a victim
// into an attacker's pending request. Pending attempts are capped per source
// address and in all (SessionOptions), counted over the attempt lifetime in
// this process, so a flood of cookieless /authorize requests neither fills
// the database (at most max_attempts_total live rows; the store purges
// expired ones) nor takes attempts from other addresses beyond the total.
//
// A login completed with amr "email" (a link sent to the address) marks the
// user's email verified, with "sms" the phone number (Users::markVerified).
//
//   ASSIGN_OR_RETURN(Sessions::BegunLogin begun, sessions.beginLogin("/authorize/resume?p=1", "",
//                                                                      request.headers, secure));
//   ... an authenticator proves who the user is ...
//   ASSIGN_OR_RETURN(std::optional<LoginAttempt> attempt, sessions.takeAttempt(rt, headers,
//                                                                            secure));
//   ASSIGN_OR_RETURN(Sessions::Started started, sessions.start(subject, {"pwd"}));
//   response.headers.emplace_back("Set-Cookie", sessions.sessionCookie(started.cookie, secure));
//
// Thread-safe; every call is a storage operation or none.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"

#include "habanero/clock.h"
#include "habanero/dispatch.h"
#include "habanero/limits.h"
#include "habanero/status.h"
#include "habanero/storage.h"

namespace habanero::auth {

class Users;

struct Session {
  std::string subject;
  std::vector<std::string> amr;  // RFC 8176 methods, e.g. {"pwd"}
  int64_t auth_time = 0;         // seconds since the Unix epoch
  std::string sid;               // 128 random bits, base64url; for tokens and logout
};

struct LoginAttempt {
  std::string return_to;   // a local path, e.g. "/authorize/resume?p=…"
  std::string login_hint;  // may be empty
  int64_t created_ms = 0;
};

struct SessionOptions {
  int64_t session_ttl_ms = limits::kSessionTtlMs;
  int64_t login_ttl_ms = limits::kLoginAttemptTtlMs;
  // Login attempts begun within login_ttl_ms, per source address and in all
  // ([auth] login_attempts_per_address / _total); 0 = no cap.
  size_t max_attempts_per_address = 50;
  size_t max_attempts_total = 10'000;
};

// Parses login_complete's amr: a JSON array of at most kMaxAmrValues strings,
// each 1..kMaxAmrValueBytes of printable ASCII (RFC 8176 values such as
// "pwd", "otp", "mfa"). InvalidArgument otherwise.
absl::StatusOr<std::vector<std::string>> parseAmr(std::string_view json);

// Whether `path` may be a login attempt's return_to: printable ASCII starting
// with '/', but not "//" or "/\" (which browsers read as another host), at
// most kMaxReturnToBytes.
bool isLocalPath(std::string_view path);

class Sessions {
 public:
  static constexpr std::string_view kNamespace = "_host/sessions";
  static constexpr std::string_view kLoginNamespace = "_host/login";
  static constexpr std::string_view kCookieName = "habanero_session";
  static constexpr std::string_view kLoginCookieName = "habanero_login";
  static constexpr std::string_view kSecureCookieName = "__Host-habanero_session";
  static constexpr std::string_view kSecureLoginCookieName = "__Host-habanero_login";
  // The names used for a request: the __Host- ones when it is `secure`.
  static std::string_view cookieName(bool secure) {
    return secure ? kSecureCookieName : kCookieName;
  }
  static std::string_view loginCookieName(bool secure) {
    return secure ? kSecureLoginCookieName : kLoginCookieName;
  }

  // `storage` and `clock` must outlive the Sessions.
  Sessions(Storage& storage, const Clock& clock, SessionOptions options = {});

  // ---- sessions ----

  // The session named by the request's session cookie (cookieName(secure)),
  // or nullopt (no cookie, a malformed one, or an expired or ended session).
  // Does not check that the user still exists. `secure`: Request::secure.
  absl::StatusOr<std::optional<Session>> get(const Headers& request_headers, bool secure) const;

  // Like get(), and nullopt as well when the session's user no longer exists
  // in `users` (a removed user's sessions end with the user). With `users`
  // null, exactly get(). What session_get answers.
  absl::StatusOr<std::optional<Session>> getLive(const Headers& request_headers, bool secure,
                                                 const Users* users) const;

  struct Started {
    std::string cookie;  // the new cookie value; goes to the browser only
    Session session;
  };
  // Starts a session for `subject`, authenticated by `amr`, now.
  absl::StatusOr<Started> start(std::string_view subject, std::vector<std::string> amr);

  // Ends every session the request's cookies name (OK if there is none).
  absl::Status end(const Headers& request_headers, bool secure);

  // Set-Cookie header values: one that stores `value` (HttpOnly,
  // SameSite=Lax, Path=/, Max-Age = the session TTL, Secure if `secure`), and
  // one that deletes the cookie.
  std::string sessionCookie(std::string_view value, bool secure) const;
  std::string clearSessionCookie(bool secure) const;

  // {"sub","amr":[…],"auth_time","sid"} as session_get returns it.
  static std::string toJson(const Session& session);
  // {"login_hint":"…"} as login_attempt_get returns it.
  static std::string toJson(const LoginAttempt& attempt);

  // ---- login attempts ----

  struct BegunLogin {
    std::string rt;          // the attempt's id, for /login?rt=
    std::string set_cookie;  // the Set-Cookie value binding it to this browser
    std::string login_url;   // where to send the browser: "/login?rt=<rt>"
  };
  // Records an attempt. InvalidArgument if return_to is not a local path or
  // login_hint is not printable UTF-8 of at most kMaxLoginHintBytes;
  // ResourceExhausted (logged at info with the address) when `remote_addr`,
  // or everyone together, began the capped number of attempts within the
  // attempt lifetime.
  absl::StatusOr<BegunLogin> beginLogin(std::string_view return_to, std::string_view login_hint,
                                        const Headers& request_headers, bool secure,
                                        std::string_view remote_addr = {});

  // The attempt, if it exists, has not expired and belongs to this browser.
  absl::StatusOr<std::optional<LoginAttempt>> findAttempt(std::string_view rt,
                                                          const Headers& request_headers,
                                                          bool secure) const;

  // Like findAttempt, but ends the attempt: of concurrent callers at most one
  // gets it.
  absl::StatusOr<std::optional<LoginAttempt>> takeAttempt(std::string_view rt,
                                                          const Headers& request_headers,
                                                          bool secure);

  struct CompletedLogin {
    std::string return_to;   // the attempt's local path: redirect the browser there
    std::string set_cookie;  // the new session's Set-Cookie value
    Session session;
  };
  // Completes attempt `rt` for `subject` (login_complete). Checks, in order:
  // `amr_json` parses (parseAmr) — else InvalidArgument; the attempt exists
  // for this browser and `subject` is a user in `users` — else NotFound, and
  // the attempt stays usable. Then takes the attempt (a concurrent second
  // completion gets NotFound), ends the browser's previous session (a failure
  // there is logged, not returned) and starts a new one with a new cookie
  // value. With amr "email" the user's email is marked verified, with "sms"
  // the phone number (a failure there is logged, not returned). A storage
  // failure is Unavailable.
  absl::StatusOr<CompletedLogin> completeLogin(std::string_view rt, std::string_view subject,
                                               std::string_view amr_json, Users& users,
                                               const Headers& request_headers, bool secure);

  // The values of every cookie `name` in the request's Cookie headers, in
  // order (quotes around a value removed).
  static std::vector<std::string_view> cookies(const Headers& headers, std::string_view name);

 private:
  // Counts attempt `rt` from `remote_addr` as pending now; ResourceExhausted
  // over a cap.
  absl::Status admitAttempt(std::string_view remote_addr, const std::string& rt);
  // The attempt `rt` ended (taken): it no longer counts against its address.
  void releaseAttempt(std::string_view rt);

  Storage& storage_;
  const Clock& clock_;
  const SessionOptions options_;

  // Pending attempts (begun within login_ttl_ms and not yet taken): rt ->
  // address; their (time, rt) oldest first, for expiry; how many per address.
  // At most max_attempts_total pending. Per process.
  std::mutex attempts_mu_;
  std::unordered_map<std::string, std::string> pending_ ABSL_GUARDED_BY(attempts_mu_);
  std::deque<std::pair<int64_t, std::string>> recent_ ABSL_GUARDED_BY(attempts_mu_);
  std::unordered_map<std::string, size_t> recent_by_address_ ABSL_GUARDED_BY(attempts_mu_);
};

}  // namespace habanero::auth
