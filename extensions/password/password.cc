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
//                          429  the same text, once `max_failures` failures for this email or
//                               `max_failures_per_ip` for this client address fall within
//                               `failure_window_s`; the password is then not checked at all
//                          400  a field missing, duplicated or not UTF-8
//                        A cross-site post (Sec-Fetch-Site) is a 403 page. The rt binds the
//                        form to one pending attempt, so a post without a live one is a 400.
//   anything else        405 (other methods) or 404 (the router: other paths).
//
// Failure counters live in this extension's kv: "fail/email/<sha256 hex of the lower-cased
// email>" and "fail/ip/<address>", each "<count> <window start ms>", updated with
// compare-and-set and expiring with the window. A successful sign-in clears the email's.
//
// Every page comes from the guest library's one shell (<habanero/page.hh>): no script, the
// host's one stylesheet, one Content-Security-Policy. All text from the request or the attempt
// is HTML-escaped.
//
// Settings: max_failures (default 5), max_failures_per_ip (default 20), failure_window_s
// (default 900), each a positive integer.
#include <habanero.hh>
#include <habanero/counters.hh>
#include <habanero/form.hh>
#include <habanero/json.hh>
#include <habanero/login.hh>
#include <habanero/page.hh>
#include <habanero/random.hh>
#include <habanero/settings.hh>
#include <habanero/text.hh>

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
constexpr int64_t kDefaultWindowS = 15 * 60;
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
  int64_t perEmail;
  int64_t perIp;
  int64_t windowMs;
};

Limits limits() {
  return Limits{positiveSetting("max_failures", kDefaultMaxFailures),
                positiveSetting("max_failures_per_ip", kDefaultMaxFailuresPerIp),
                positiveSetting("failure_window_s", kDefaultWindowS) * 1000};
}

std::string emailKey(std::string_view email) {
  return "fail/email/" + sha256Hex(asciiLower(email));
}

std::string ipKey(std::string_view ip) { return "fail/ip/" + std::string(ip.substr(0, 64)); }

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
  Counter byEmail, byIp;
  if (readCounter(eKey, *now, lim.windowMs, byEmail) != sdk::Result::Ok ||
      readCounter(iKey, *now, lim.windowMs, byIp) != sdk::Result::Ok) {
    respondUnavailablePage();
    return;
  }
  if (byEmail.count >= lim.perEmail || byIp.count >= lim.perIp) {
    int64_t until = 0;
    if (byEmail.count >= lim.perEmail) until = windowEndMs(byEmail, lim.windowMs);
    if (byIp.count >= lim.perIp && windowEndMs(byIp, lim.windowMs) > until) {
      until = windowEndMs(byIp, lim.windowMs);
    }
    int64_t retryS = (until - *now + 999) / 1000;
    if (retryS < 1) retryS = 1;
    sdk::logWarn("too many failed sign-ins (" +
                 std::string(byIp.count >= lim.perIp ? "address " : "email ") + "limit) from " +
                 ip.substr(0, 64));
    sdk::addHeader("retry-after", std::to_string(retryS));
    formPage(429, rt, shown, kGenericFailure);
    return;
  }

  std::string subject;
  sdk::Result rv = sdk::Result::Mismatch;
  if (email.size() <= kMaxEmail && password.size() <= kMaxPassword) {
    rv = verifyPassword(email, password, subject);
  }
  if (rv == sdk::Result::Mismatch) {
    sdk::Result b1 = bumpCounter(eKey, *now, lim.windowMs);
    sdk::Result b2 = bumpCounter(iKey, *now, lim.windowMs);
    if (b1 != sdk::Result::Ok || b2 != sdk::Result::Ok) {
      sdk::logError("could not record a failed sign-in: " +
                    std::string(sdk::resultName(b1 != sdk::Result::Ok ? b1 : b2)));
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
