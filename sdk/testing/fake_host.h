// fake_host.h — a fake Habanero host for native flow tests of an extension.
//
// An extension's C++ sources compile natively as well as to wasm32-wasi: natively, every
// habanero_* call of sdk/c/habanero.h resolves to this kit (fake_host.cc), which answers it
// from plain data a test controls: the request, a key-value store with TTLs on a settable
// clock, settings, users, clients, browser sessions and login attempts, an outbox of events,
// recorded mail and SMS, registered answers for http_fetch, and the granted capabilities. A
// test drives flows through the module's habanero_on_request / habanero_on_event and then
// asserts on responses and on what the host saw (logins completed, mails sent, KV state).
//
// Example (a flow test of an authenticator; see sdk/testing/README.md):
//
//   #include "fake_host.h"
//   int32_t onRequest();  // the extension's HABANERO_EXPORT("habanero_on_request") function
//   namespace ht = habanero::testing;
//
//   TEST(Password, RightPasswordCompletesTheLogin) {
//     ht::FakeHost host(onRequest);
//     host.mount = "/login/password";
//     host.addUser({.sub = "u1", .email = "ana@example.com", .password = "pw"});
//     ht::Browser browser(host);
//     std::string rt = browser.startLogin("/authorize/resume?p=1");
//     ht::Response r = browser.post("/login/password/",
//                                   {{"rt", rt}, {"email", "ana@example.com"}, {"password", "pw"}});
//     EXPECT_EQ(r.status, 303);
//     EXPECT_EQ(r.location(), "/authorize/resume?p=1");
//     ASSERT_EQ(host.logins.size(), 1u);
//     EXPECT_EQ(host.logins[0].subject, "u1");
//   }
//
// What is real and what is not:
//   - Result codes follow docs/abi.md: BUFFER_TOO_SMALL writes the size needed and consumes
//     nothing (kv_take and http_fetch hold their value for the retry), NOT_FOUND, DUPLICATE,
//     INVALID_ARGUMENT, LIMIT_EXCEEDED (the limits of include/habanero/limits.h), CONFLICT.
//   - Query and form parsing is the host's own (http::parseForm); crypto_jws_verify_jwk and
//     crypto_jwk_thumbprint are the host's own JOSE code (src/crypto/jwk.h); amr, return_to,
//     e-mail and E.164 checks are the host's (src/auth); parse:"turtle" in http_fetch uses the
//     host's Turtle parser on the registered body.
//   - jws_sign/jws_verify use HS256 under a fixed key ("kid":"fake-k1") instead of the host's
//     key store: signatures, tampering and "alg" checks behave, the key type does not.
//     jwks_get answers a fixed document that cannot verify those signatures.
//   - Capabilities: the real host refuses at load a module importing an ungranted call; this
//     kit cannot see imports, so an ungranted call answers DENIED (what the real host answers
//     for an *optional* capability such as "signup"). Every capability is granted by default.
//   - Failures: a capability listed in `unavailable` answers UNAVAILABLE (a store down).
//   - Mail, SMS and fetches never leave the process. Nothing is concurrent.
//   - Unlike a Wasm instance, the module's globals and statics survive between requests.
//
// Threading: one FakeHost exists at a time (the habanero_* calls find it through a global),
// used from one thread; requests and event deliveries run one at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace habanero::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;
// Form fields in order; encoded as application/x-www-form-urlencoded by Browser::post.
using Form = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded encoding of `form` (every byte but A-Z a-z 0-9 - . _ ~
// percent-encoded).
std::string encodeForm(const Form& form);
// Percent-encodes one value, as encodeForm does.
std::string urlEncode(std::string_view s);
// The decoded query parameters of a URL or target ("/cb?code=x&state=y"); a parameter given
// twice keeps its last value. Empty when there is no '?' or the query does not parse.
std::map<std::string, std::string> queryParams(std::string_view url);
// base64url without padding (RFC 4648 §5), and its strict inverse (nullopt if malformed).
std::string base64url(std::string_view bytes);
std::optional<std::string> base64urlDecode(std::string_view text);
// Standard base64 with padding (for HTTP Basic credentials).
std::string base64(std::string_view bytes);
// SHA-256 of `data`, 32 raw bytes.
std::string sha256(std::string_view data);

struct Response {
  int status = 200;
  Headers headers;  // in the order the module (and the host) added them
  std::string body;

  // The first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  // Every header named `name` (case-insensitive), in order.
  std::vector<std::string> headerValues(std::string_view name) const;
  std::string location() const { return header("location"); }
};

struct Request {
  std::string method = "GET";
  std::string target = "/";  // path (mount included), optionally "?query", as sent
  Headers headers;           // names matched case-insensitively
  std::string body;
  std::string remote_addr = "192.0.2.10";
  std::string scheme = "http";
};

// A user record of the host. user_get answers its claims as JSON: sub, email,
// email_verified, and name, phone_number (+ phone_number_verified), website, webid when set.
struct User {
  std::string sub;
  std::string email;  // stored normalised (trimmed, ASCII lower-case); "" for none
  std::string name;
  std::string phone_number;  // E.164 or ""
  std::optional<std::string> password;  // user_verify_password; nullopt: none
  std::string website;
  std::string webid;
  bool email_verified = true;
  bool phone_number_verified = true;
};

// A login completed by the module through login_complete.
struct LoginCompletion {
  std::string rt;
  std::string subject;
  std::vector<std::string> amr;
  std::string return_to;  // where the host redirected the browser
};

// A login the module asked for through session_require_login.
struct LoginRequest {
  std::string rt;
  std::string return_to;
  std::string login_hint;
};

// An event in the host's outbox (event_publish).
struct Event {
  std::string id;  // "evt-1", "evt-2", …: unique, the same on every retry
  std::string topic;
  std::string payload;
  std::string publisher;  // FakeHost::name
  int attempts = 0;       // deliveries so far
};

// What mail_send accepted (its JSON, parsed).
struct Mail {
  std::string to, subject, text, html;
};

// What sms_send accepted.
struct Sms {
  std::string to, text;
};

// One http_fetch the module made (retries of a BUFFER_TOO_SMALL answer are not counted).
struct Fetch {
  std::string url, accept, parse;
};

// The answer to register for a URL. `result` other than HABANERO_OK (0) makes http_fetch
// answer that code (DENIED, UNAVAILABLE, LIMIT_EXCEEDED, …) and ignores the rest.
struct FetchAnswer {
  int32_t result = 0;
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::string> links;  // Link header values
  std::string final_url;           // "" : the requested URL (no redirect)
};

struct LogLine {
  int level;  // HABANERO_LOG_*
  std::string message;
};

// The host's view of one browser session (cookie habanero_session).
struct Session {
  std::string sub;
  std::vector<std::string> amr;
  int64_t auth_time_s = 0;
  std::string sid;
  int64_t expires_ms = 0;
};

// The names of every host call this kit implements (for its own test against habanero.h).
std::vector<std::string> fakeHostCalls();

class FakeHost {
 public:
  using Entry = std::function<int32_t()>;

  // `on_request` is the module's habanero_on_request function; `on_event` its
  // habanero_on_event (nullptr if it has none). Only one FakeHost may exist at a time.
  explicit FakeHost(Entry on_request, Entry on_event = nullptr);
  ~FakeHost();
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  // ---- what the operator configured --------------------------------------------------
  std::string name = "ext";  // the extension's name: log tag and event publisher
  std::string mount = "/";   // request_get(MOUNT)
  std::map<std::string, std::string> settings;
  std::set<std::string> publish;  // topics event_publish may use (others: DENIED)

  // Grants exactly `capabilities` ("http", "kv", "signup", …); calls of any other answer
  // DENIED. By default every capability is granted.
  void grantOnly(std::set<std::string> capabilities);
  void revoke(const std::string& capability);
  bool granted(std::string_view capability) const;
  // Capabilities whose calls answer UNAVAILABLE (as with a store or server down).
  std::set<std::string> unavailable;

  // ---- the clock ------------------------------------------------------------------------
  int64_t now_ms = 1'700'000'000'000;
  void advance(int64_t ms) { now_ms += ms; }

  // ---- requests and events ------------------------------------------------------------------
  // Runs one request through habanero_on_request. A non-zero return becomes the host's
  // "500 extension failed" (the module's partial response is dropped), as on the real host.
  Response handle(Request request);
  // Shorthands without cookies (see Browser for a user agent that keeps them).
  Response get(const std::string& target, Headers headers = {});
  Response post(const std::string& target, const Form& form, Headers headers = {});

  // Delivers `event` to habanero_on_event in a context without a request and returns its
  // result (HABANERO_EVENT_DONE, _RETRY, _FAILED, or another value, which the real host
  // counts as a retry). The caller decides what to do with the event.
  int32_t deliver(Event& event);
  // Delivers every event in `outbox` once, in order: DONE removes it, FAILED moves it to
  // `failed`, anything else leaves it for the next call (attempts counted). Returns the
  // results in delivery order.
  std::vector<int32_t> deliverAll();
  std::deque<Event> outbox;  // published, not yet delivered (or to be retried)
  std::vector<Event> failed;

  // ---- the extension's KV ----------------------------------------------------------------
  // Direct access for tests, with the same expiry rules as the calls (an expired key is
  // absent).
  std::optional<std::string> kvGet(const std::string& key) const;
  void kvPut(const std::string& key, std::string value, int64_t ttl_ms = 0);
  // Live keys starting with `prefix`, sorted.
  std::vector<std::string> kvKeys(std::string_view prefix = "") const;

  // ---- the host's records ---------------------------------------------------------------------
  void addUser(User user);
  void removeUser(const std::string& sub);  // also ends the user's sessions
  const User* findUser(std::string_view sub) const;
  // A client registration: client_get answers `registration_json` as given (it must be a
  // JSON object with a string "client_id"). `secret` non-empty: a confidential client.
  void addClient(std::string registration_json, std::string secret = "");

  // Creates a login attempt (what session_require_login does) bound to the login cookie
  // value `binding`; returns its rt. Browser::startLogin is the usual way in.
  std::string beginLogin(const std::string& binding, std::string return_to,
                         std::string login_hint);
  // Starts a session for `sub` (what login_complete does); returns its cookie value.
  std::string startSession(const std::string& sub, std::vector<std::string> amr,
                           int64_t auth_time_s);
  // The live session of cookie value `cookie` (as session_get sees it), or nullptr.
  const Session* session(const std::string& cookie) const;
  // Whether login attempt `rt` is still open (not completed, not expired).
  bool attemptOpen(const std::string& rt) const;

  // ---- what the module did ------------------------------------------------------------------
  std::vector<LoginCompletion> logins;      // login_complete calls that succeeded
  std::vector<LoginRequest> login_requests;  // session_require_login calls that succeeded
  int sessions_ended = 0;                    // session_end calls that succeeded
  std::vector<Mail> mails;                   // accepted by mail_send
  std::vector<Sms> texts;                    // accepted by sms_send
  std::vector<Fetch> fetches;                // http_fetch calls (not counting held retries)
  std::vector<LogLine> logs;
  int password_checks = 0;  // user_verify_password calls that reached the check
  // Whether some log line contains `text`.
  bool logged(std::string_view text) const;

  // Results for the next mail_send / sms_send calls (front first); empty: OK. Use
  // HABANERO_UNAVAILABLE for a server that is down, HABANERO_REJECTED for a 5xx.
  std::deque<int32_t> mail_results, sms_results;

  // http_fetch answers by exact URL. An unregistered URL answers UNAVAILABLE (as a name
  // that does not resolve).
  std::map<std::string, FetchAnswer> fetch_answers;

  // ---- internals for fake_host.cc (not for tests) ----------------------------------------
  struct Attempt {
    std::string return_to, login_hint, binding;
    int64_t expires_ms = 0;
  };
  struct KvEntry {
    std::string value;
    int64_t expires_ms = 0;  // 0: never
  };
  struct Client {
    std::string json, secret;
  };
  // The current request (an empty one inside habanero_on_event) and the response built.
  Request request_;
  std::string path_, query_;
  Response response_;
  size_t response_bytes_ = 0;
  Event* event_ = nullptr;  // set while delivering
  std::map<std::string, std::string> held_takes_;
  std::map<std::string, std::string> held_fetches_;
  std::map<std::string, KvEntry> kv_;
  std::map<std::string, User> users_;
  std::map<std::string, Client> clients_;
  std::map<std::string, Session> sessions_;  // cookie value -> session
  std::map<std::string, Attempt> attempts_;  // rt -> attempt
  std::optional<std::set<std::string>> grants_;  // nullopt: everything
  int next_id_ = 1;
  Entry on_request_, on_event_;

  bool live(const KvEntry& e) const { return e.expires_ms == 0 || e.expires_ms > now_ms; }
  std::string newId(std::string_view prefix);
};

// A user agent: keeps the cookies the host sets (Set-Cookie) and sends them back, so
// sessions and login attempts are bound to it as on the real host. Two Browsers on one
// host are two people (or one person's phone and laptop).
class Browser {
 public:
  explicit Browser(FakeHost& host, std::string remote_addr = "192.0.2.10");

  Response get(const std::string& target, Headers headers = {});
  // A form post (Content-Type: application/x-www-form-urlencoded).
  Response post(const std::string& target, const Form& form, Headers headers = {});
  // Any request; the browser adds its Cookie header and stores the response's cookies.
  Response send(Request request);

  // What the host's /authorize → /login path does: a login attempt bound to this browser
  // (its habanero_login cookie). Returns the attempt's rt.
  std::string startLogin(std::string return_to = "/authorize/resume?p=test",
                         std::string login_hint = "");
  // Signs this browser in as `sub` directly (a session cookie), as if an authenticator had.
  // auth_time_s 0: now.
  void signIn(const std::string& sub, std::vector<std::string> amr = {"pwd"},
              int64_t auth_time_s = 0);

  // This browser's live session on the host (cookie habanero_session), or nullptr.
  const Session* session() const;

  std::map<std::string, std::string> cookies;  // name -> value
  std::string remote_addr;

 private:
  FakeHost& host_;
};

}  // namespace habanero::testing
