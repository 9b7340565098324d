// password: the email-and-password authenticator (docs/design/0001, "The login facility").
//
//   GET  <mount>/?rt=RT  The sign-in form for login attempt RT, the email prefilled from the
//                        attempt's login_hint. An unknown or expired RT is a 400 page.
//   POST <mount>/        Form fields rt, email, password (application/x-www-form-urlencoded).
//                        user_verify_password; on success login_complete(rt, sub, ["pwd"]),
//                        after which the host answers (new session cookie, redirect to the
//                        attempt's return_to). Otherwise the form again:
//                          200  "Email or password is incorrect." (unknown email or wrong
//                               password: the host makes both cost the same; the page is the
//                               same, byte for byte)
//                          429  the same text with Retry-After, while a wait is due (below);
//                               the password is then not checked at all
//                          400  a field missing, duplicated or not UTF-8
//                        A cross-site post (Sec-Fetch-Site) is a 403 page. The rt binds the
//                        form to one pending attempt, so a post without a live one is a 400.
//   anything else        405 (other methods) or 404 (the router: other paths).
//
// Throttling (NIST SP 800-63B §5.2.2): wrong passwords are counted per account and source
// address together, per source address, and per account from all sources. Past its free
// failures, each count asks for a wait after the last failure that doubles with further
// failures, up to a cap — never a lock: a wrong guess costs its source more and more time,
// while the real user elsewhere is slowed at most by the account's short cap, and the
// other sign-in methods (the email link: another extension, its own counters) stay open.
//   account+source  `max_failures` free (default 5), then 30 s doubling per failure, up
//                   to `max_delay_s` (default 900)
//   source          `max_failures_per_ip` free (default 20), then the same
//   account         `max_failures_per_account` free (default 10), then 1 s doubling every
//                   5 failures, up to `max_account_delay_s` (default 60)
// Failures are forgotten `failure_memory_s` (default 86400) after the last one; a
// successful sign-in clears the account's (with this source and from everywhere).
//
// Failure records live in this extension's kv: "fail/pair/<sha256 hex of the lower-cased
// email>/<address>", "fail/ip/<address>" and "fail/email/<sha256 hex>", each "<count>
// <last failure ms>" (<habanero/counters.hh>, Failures), updated with compare-and-set.
//
// Every page comes from the guest library's one shell (<habanero/page.hh>): no script, the
// host's one stylesheet, one Content-Security-Policy. All text from the request or the attempt
// is HTML-escaped.
//
// Settings: max_failures, max_failures_per_ip, max_failures_per_account, max_delay_s,
// max_account_delay_s, failure_memory_s, each a positive integer (defaults above).
#include <habanero.hh>
#include <habanero/counters.hh>
#include <habanero/form.hh>
#include <habanero/json.hh>
#include <habanero/login.hh>
#include <habanero/page.hh>
#include <habanero/random.hh>
#include <habanero/settings.hh>
#include <habanero/text.hh>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sdk = habanero::sdk;

namespace {

using namespace habanero::sdk;

constexpr std::string_view kGenericFailure = "Email or password is incorrect.";
constexpr std::string_view kMissingFields = "Enter your email address and password.";
constexpr int64_t kDefaultMaxFailures = 5;
constexpr int64_t kDefaultMaxFailuresPerIp = 20;
constexpr int64_t kDefaultMaxFailuresPerAccount = 10;
constexpr int64_t kDefaultMaxDelayS = 15 * 60;
constexpr int64_t kDefaultMaxAccountDelayS = 60;
constexpr int64_t kDefaultMemoryS = 24 * 3600;
constexpr int64_t kFirstDelayMs = 30'000;         // account+source and source
constexpr int64_t kFirstAccountDelayMs = 1'000;   // account from all sources
constexpr int64_t kAccountGrowEvery = 5;
constexpr size_t kMaxEmail = 320;      // longer is never a registered address
constexpr size_t kMaxPassword = 4096;  // longer is refused before any hashing
constexpr size_t kMaxHint = 320;
constexpr std::string_view kAmr = "[\"pwd\"]";

// ---- pages ------------------------------------------------------------------------------

// The sign-in form. `error` empty: no message.
void formPage(int32_t status, std::string_view rt, std::string_view email, std::string_view error) {
  std::string action = mountBase() + "/";
  std::string c;
  c.reserve(1536);
  c += "<h1>Sign in</h1>\n";
  if (!error.empty()) {
    c += "<p class=\"error\" id=\"error\" role=\"alert\">" + htmlEscape(error) + "</p>\n";
  }
  c += "<form method=\"post\" action=\"" + htmlEscape(action) + "\">\n";
  c += hiddenInput("rt", rt) + "\n";
  c += "<label for=\"email\">Email address</label>\n";
  c += "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" "
       "spellcheck=\"false\" autocapitalize=\"none\" required";
  if (!error.empty()) c += " aria-describedby=\"error\"";
  if (!email.empty())
    c += " value=\"" + htmlEscape(email) + "\"";
  else
    c += " autofocus";
  c += ">\n<label for=\"password\">Password</label>\n";
  c += "<input id=\"password\" name=\"password\" type=\"password\" "
       "autocomplete=\"current-password\" required";
  if (!email.empty()) c += " autofocus";
  c += ">\n<button type=\"submit\">Sign in</button>\n</form>\n";
  respondPage(status, "Sign in", c);
}

// The attempt's login_hint, if it is one a form can show ("" otherwise).
std::string hintOf(const Json& attempt) {
  std::string hint = jsonString(attempt, "login_hint").value_or("");
  return hint.size() > kMaxHint || hasControl(hint) ? std::string() : hint;
}

// ---- failure counters ---------------------------------------------------------------------

struct Limits {
  Backoff pair;     // this account from this source
  Backoff ip;       // this source, any account
  Backoff account;  // this account, any source
  int64_t memoryMs;
};

Limits limits() {
  int64_t maxDelayMs = positiveSetting("max_delay_s", kDefaultMaxDelayS) * 1000;
  Limits l;
  l.pair = Backoff{positiveSetting("max_failures", kDefaultMaxFailures), 1, kFirstDelayMs,
                   maxDelayMs};
  l.ip = Backoff{positiveSetting("max_failures_per_ip", kDefaultMaxFailuresPerIp), 1,
                 kFirstDelayMs, maxDelayMs};
  l.account = Backoff{positiveSetting("max_failures_per_account", kDefaultMaxFailuresPerAccount),
                      kAccountGrowEvery, kFirstAccountDelayMs,
                      positiveSetting("max_account_delay_s", kDefaultMaxAccountDelayS) * 1000};
  l.memoryMs = positiveSetting("failure_memory_s", kDefaultMemoryS) * 1000;
  return l;
}

std::string emailKey(std::string_view email) {
  return "fail/email/" + sha256Hex(asciiLower(email));
}

std::string ipKey(std::string_view ip) { return "fail/ip/" + std::string(ip.substr(0, 64)); }

std::string pairKey(std::string_view email, std::string_view ip) {
  return "fail/pair/" + sha256Hex(asciiLower(email)) + "/" + std::string(ip.substr(0, 64));
}

// ---- handlers -----------------------------------------------------------------------------

void handleGet() {
  std::string rt;
  Json attempt;
  if (!liveAttemptOrRespond(sdk::Source::Query, rt, attempt)) return;
  formPage(200, rt, hintOf(attempt), "");
}

void handlePost() {
  // Browsers say where a post comes from; only our own pages may post here.
  if (refuseCrossSitePost()) return;
  std::string rt;
  Json attempt;
  if (!liveAttemptOrRespond(sdk::Source::Form, rt, attempt)) return;
  std::string hint = hintOf(attempt);

  std::string emailParam, password;
  sdk::Result re = sdk::formParam("email", emailParam);
  sdk::Result rp = sdk::formParam("password", password);
  std::string email(trim(emailParam));
  if (re != sdk::Result::Ok || rp != sdk::Result::Ok || email.empty() || password.empty()) {
    std::string shown =
        re == sdk::Result::Ok && email.size() <= kMaxEmail && !hasControl(email) ? email : hint;
    formPage(400, rt, shown, kMissingFields);
    return;
  }
  // What is shown back must be printable; an unprintable email is never registered.
  std::string shown = email.size() <= kMaxEmail && !hasControl(email) ? email : std::string();

  Limits lim = limits();
  std::optional<int64_t> now = sdk::nowMs();
  if (!now) {
    respondUnavailablePage();
    return;
  }
  std::string ip = sdk::request(sdk::Field::RemoteAddr);
  std::string eKey = emailKey(email);
  std::string iKey = ipKey(ip);
  std::string pKey = pairKey(email, ip);
  Failures byPair, byIp, byEmail;
  if (readFailures(pKey, *now, lim.memoryMs, byPair) != sdk::Result::Ok ||
      readFailures(iKey, *now, lim.memoryMs, byIp) != sdk::Result::Ok ||
      readFailures(eKey, *now, lim.memoryMs, byEmail) != sdk::Result::Ok) {
    respondUnavailablePage();
    return;
  }
  int64_t waitPair = waitMs(byPair, lim.pair, *now);
  int64_t waitIp = waitMs(byIp, lim.ip, *now);
  int64_t waitAccount = waitMs(byEmail, lim.account, *now);
  int64_t wait = std::max({waitPair, waitIp, waitAccount});
  if (wait > 0) {
    std::string_view which = wait == waitIp        ? "address"
                             : wait == waitPair    ? "account and address"
                                                   : "account";
    sdk::logWarn("failed sign-ins: " + std::string(which) + " must wait " +
                 std::to_string((wait + 999) / 1000) + " s; from " + ip.substr(0, 64));
    sdk::addHeader("retry-after", std::to_string((wait + 999) / 1000));
    formPage(429, rt, shown, kGenericFailure);
    return;
  }

  std::string subject;
  sdk::Result rv = sdk::Result::Mismatch;
  if (email.size() <= kMaxEmail && password.size() <= kMaxPassword) {
    rv = verifyPassword(email, password, subject);
  }
  if (rv == sdk::Result::Mismatch) {
    for (const std::string* key : {&pKey, &iKey, &eKey}) {
      sdk::Result b = recordFailure(*key, *now, lim.memoryMs);
      if (b != sdk::Result::Ok) {
        sdk::logError("could not record a failed sign-in: " + std::string(sdk::resultName(b)));
      }
    }
    sdk::logInfo("failed sign-in from " + ip.substr(0, 64));
    formPage(200, rt, shown, kGenericFailure);
    return;
  }
  if (rv != sdk::Result::Ok) {
    sdk::logError(std::string("user_verify_password: ") + std::string(sdk::resultName(rv)));
    respondUnavailablePage();
    return;
  }

  sdk::Result rc = loginComplete(rt, subject, kAmr);
  if (rc == sdk::Result::NotFound) {
    respondAttemptExpiredPage();  // the attempt expired while the password was being checked
    return;
  }
  if (rc != sdk::Result::Ok) {
    sdk::logError("login_complete: " + std::string(sdk::resultName(rc)));
    respondUnavailablePage();
    return;
  }
  sdk::kvRemove(pKey);
  sdk::kvRemove(eKey);
  sdk::logInfo("signed in " + subject.substr(0, 128) + " from " + ip.substr(0, 64));
  // The host has made the response: the new session cookie and the redirect to return_to.
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  std::string method = sdk::method();
  if (method == "GET" || method == "HEAD") {
    handleGet();
  } else if (method == "POST") {
    handlePost();
  } else {
    sdk::addHeader("allow", "GET, POST");
    respondErrorPage(405, "Method not allowed", "Use the sign-in form.");
  }
  return 0;
}
