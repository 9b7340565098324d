// flow.hh — the whole magic-link login (design 0002), shared by magic-email and magic-sms,
// which only describe their channel (a Channel: what the pages say and the limits, in
// channels.hh; how to validate an address and how to send, in each extension) and export
//
//   HABANERO_EXPORT("habanero_on_request") int32_t onRequest() { return magic::onRequest(kCh); }
//   HABANERO_EXPORT("habanero_on_event") int32_t onEvent() { return magic::onEvent(kCh); }
//
// Routes below the mount (the host's /login page sends the browser to <mount>/?rt=RT):
//   GET  /?rt=RT         the address form (login_hint prefilled). Unknown RT: 400 page.
//   POST /               rt, address. Cross-site (Sec-Fetch-Site) 403; the rt must be a live
//                        attempt of this browser (login_attempt_get), else 400. A malformed
//                        address: the form again, 400, saying what is wrong. Per-address and
//                        per-IP send limits (kv counters): 429 with Retry-After. Otherwise
//                        publishes ONE event {rt,address,requested_at,ip,locale,mount} to the
//                        channel's topic and answers the same "check your inbox" page with a
//                        code form, whether or not an account uses the address (the lookup
//                        happens later, in the event handler).
//   GET  /code?rt=RT     the code form again.
//   POST /code           rt, code: constant-time check against the stored hash; the attempt's
//                        wrong-code counter locks the code (deletes it) after max_code_attempts
//                        wrong tries (429 page). Right: login_complete(rt, sub, amr).
//   GET  /confirm?t=T    never uses the token up (mail scanners fetch links): a page with a
//                        button that posts it. From another browser (the attempt is bound to
//                        the browser that started it): "open it where you started, or type the
//                        code there". Used or expired: 410 page.
//   POST /confirm        t: takes the token atomically (kv_take) and completes the login.
//
// Event handler (a fresh instance, later, retried with back-off): if this event was already
// sent (marker "sent/<event id>"), DONE. Older than deliver_within_s: FAILED (the attempt is
// gone). user_find; no account: DONE without sending, or, with sign-up on, user_create. Then
// a new token (tokenBytes of CSPRNG) and code, whose hashes replace any earlier ones of the
// attempt, the templates, and mail_send / sms_send: Ok -> marker, DONE; Unavailable -> RETRY;
// Rejected, InvalidArgument -> FAILED. A retry after a failed send makes a new secret (the
// old one was never delivered); a retry after a send whose marker was lost (crash) sends a
// second message with a new secret that replaces the first: the newest message wins.
//
// kv layout (keys private to the extension; only hashes of secrets):
//   link/<sha256(token)>   {"rt","sub","addr"}                        TTL ttl_s
//   code/<sha256(rt)>      {"sub","h":HMAC(salt, rt\ncode),"s":salt,"lh":sha256(token)}  ttl_s
//   fail/<sha256(rt)>      wrong-code counter of the attempt           TTL ttl_s
//   rate/a/<sha256(addr)>, rate/ip/<ip>, rate/all                    TTL send_window_s
//   sent/<sha256(event id)> "1"                                        TTL 1 day
//
// Settings (all optional): ttl_s (600), max_code_attempts (5), max_sends_per_address,
// max_sends_per_ip (channel defaults), max_sends_total (0 = no global limit), send_window_s
// (900), deliver_within_s (600), signup ("false"), issuer (injected by the host; the only
// origin links are built from — never the Host header), and the channel's templates.
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_FLOW_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_FLOW_HH_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <habanero.hh>
#include <habanero/counters.hh>
#include <habanero/form.hh>
#include <habanero/json.hh>
#include <habanero/login.hh>
#include <habanero/page.hh>
#include <habanero/random.hh>
#include <habanero/settings.hh>
#include <habanero/template.hh>
#include <habanero/text.hh>

#include "secrets.hh"
#include "templates.hh"

namespace habanero::magic {

// The magic-link code is written on the guest library (sdk/cpp/habanero/): its names are
// used unqualified here.
namespace sdk = habanero::sdk;
using namespace habanero::sdk;

// What the event handler hands the channel to send.
struct Message {
  std::string to;      // the normalised address
  std::string locale;  // "" or a tag with templates (e.g. "fr")
  TemplateVars vars;           // link, code, issuer, host, minutes
};

struct Channel {
  std::string_view name;         // "email" / "sms", for logs
  std::string_view topic;        // "magic-email.deliver"
  sdk::UserKey userKey;          // for user_find
  std::string_view signupField;  // "email" / "phone_number", for user_create
  std::string_view amrJson;      // RFC 8176 values for login_complete
  size_t tokenBytes;             // >= 16
  CodeStyle codeStyle;
  int64_t defaultMaxPerAddress;
  int64_t defaultMaxPerIp;
  std::string_view localeProbe;  // the template setting whose ".<locale>" marks a translation

  // Page texts (plain text; escaped when used), and input attributes (trusted markup).
  std::string_view formTitle;       // "Sign in with email"
  std::string_view formIntro;       // "We will email you a link…"
  std::string_view addressLabel;    // "Email address"
  std::string_view addressInput;    // e.g. type="email" autocomplete="email"
  std::string_view submitLabel;     // "Email me a link"
  std::string_view missingAddress;  // "Enter your email address."
  std::string_view sentTitle;       // "Check your email"
  std::string_view sentWhat;        // "a sign-in link and a code"
  std::string_view codeInput;       // e.g. inputmode="numeric"

  // The address in canonical form, or false with a message for the form.
  bool (*normalise)(std::string_view typed, std::string& out, std::string& error) = nullptr;
  // Renders the templates and sends. Returns the host call's result.
  sdk::Result (*send)(const Message& message) = nullptr;
};

// ---- small pieces ---------------------------------------------------------------------------

struct Settings {
  int64_t ttlMs;
  int64_t maxCodeAttempts;
  int64_t maxPerAddress;
  int64_t maxPerIp;
  int64_t maxTotal;  // 0: none
  int64_t windowMs;
  int64_t deliverWithinMs;
  bool signup;
};

inline Settings loadSettings(const Channel& ch) {
  Settings s{};
  s.ttlMs = positiveSetting("ttl_s", 600) * 1000;
  s.maxCodeAttempts = positiveSetting("max_code_attempts", 5);
  s.maxPerAddress = positiveSetting("max_sends_per_address", ch.defaultMaxPerAddress);
  s.maxPerIp = positiveSetting("max_sends_per_ip", ch.defaultMaxPerIp);
  s.maxTotal = sdk::setting("max_sends_total") ? positiveSetting("max_sends_total", 1000) : 0;
  s.windowMs = positiveSetting("send_window_s", 900) * 1000;
  s.deliverWithinMs = positiveSetting("deliver_within_s", 600) * 1000;
  s.signup = boolSetting("signup", false);
  return s;
}

// For logs: enough of an address to follow a case, not the address.
inline std::string maskAddress(std::string_view a) {
  size_t at = a.find('@');
  if (at != std::string_view::npos) {
    return std::string(a.substr(0, at > 0 ? 1 : 0)) + "***" + std::string(a.substr(at, 64));
  }
  if (a.size() <= 5) return "***";
  return std::string(a.substr(0, 3)) + "***" + std::string(a.substr(a.size() - 2));
}

inline std::string codeKey(std::string_view rt) { return "code/" + sha256Hex(rt); }
inline std::string failKey(std::string_view rt) { return "fail/" + sha256Hex(rt); }
inline std::string linkKey(std::string_view token) { return "link/" + tokenHash(token); }

inline std::string minutesText(int64_t ttlMs) {
  int64_t m = (ttlMs + 59'999) / 60'000;
  return std::to_string(m < 1 ? 1 : m);
}

// ---- pages ----------------------------------------------------------------------------------

inline void usedLinkPage() {
  respondErrorPage(410, "Link already used or expired",
                   "This sign-in link was already used or has expired. Each link works once, for a "
                   "few minutes. Go back to the application and sign in again.");
}

inline void otherBrowserPage() {
  respondErrorPage(400, "Open the link where you started",
                   "This link only works in the browser where you asked for it, while that "
                   "sign-in is open. Open the link in that browser, or type the code from the "
                   "message on the sign-in page there.");
}

inline void formPage(const Channel& ch, int32_t status, std::string_view rt,
                     std::string_view address, std::string_view error) {
  std::string base = mountBase();
  std::string c;
  c.reserve(2048);
  c += "<h1>" + htmlEscape(ch.formTitle) + "</h1>\n";
  if (!error.empty()) {
    c += "<p class=\"error\" id=\"error\" role=\"alert\">" + htmlEscape(error) + "</p>\n";
  }
  c += "<p>" + htmlEscape(ch.formIntro) + "</p>\n";
  c += "<form method=\"post\" action=\"" + htmlEscape(base + "/") + "\">\n";
  c += hiddenInput("rt", rt) + "\n";
  c += "<label for=\"address\">" + htmlEscape(ch.addressLabel) + "</label>\n";
  c += "<input id=\"address\" name=\"address\" " + std::string(ch.addressInput) +
       " spellcheck=\"false\" autocapitalize=\"none\" required autofocus";
  if (!error.empty()) c += " aria-describedby=\"error\"";
  if (!address.empty()) c += " value=\"" + htmlEscape(address) + "\"";
  c += ">\n<p><button type=\"submit\">" + htmlEscape(ch.submitLabel) + "</button></p>\n</form>\n";
  c += "<p class=\"muted\"><a href=\"/login?rt=" + htmlEscape(percentEncode(rt)) +
       "\">Other ways to sign in</a></p>\n";
  respondPage(status, ch.formTitle, c);
}

// The neutral "we sent it (if an account uses it)" page with the code form. `address`
// empty: the page does not repeat it.
inline void codePage(const Channel& ch, int32_t status, std::string_view rt,
                     std::string_view address, std::string_view error, int64_t ttlMs) {
  std::string base = mountBase();
  std::string c;
  c.reserve(2048);
  c += "<h1>" + htmlEscape(ch.sentTitle) + "</h1>\n";
  if (!error.empty()) {
    c += "<p class=\"error\" id=\"error\" role=\"alert\">" + htmlEscape(error) + "</p>\n";
  }
  if (!address.empty()) {
    c += "<p id=\"message\">If an account uses <strong>" + htmlEscape(address) +
         "</strong>, we have sent it " + htmlEscape(ch.sentWhat) + ". They work once, for " +
         minutesText(ttlMs) + " minutes.</p>\n";
  } else {
    c += "<p id=\"message\">If an account uses the address you gave, we have sent it " +
         htmlEscape(ch.sentWhat) + ".</p>\n";
  }
  c += "<p>Open the link in this browser, or enter the code here.</p>\n";
  c += "<form method=\"post\" action=\"" + htmlEscape(base + "/code") + "\">\n";
  c += hiddenInput("rt", rt) + "\n";
  c += "<label for=\"code\">Code</label>\n";
  c += "<input id=\"code\" name=\"code\" " + std::string(ch.codeInput) +
       " autocomplete=\"one-time-code\" spellcheck=\"false\" required autofocus";
  if (!error.empty()) c += " aria-describedby=\"error\"";
  c += ">\n<p><button type=\"submit\">Sign in</button></p>\n</form>\n";
  c += "<p class=\"muted\">Nothing arrived? Wait a minute and check your spam folder, or <a "
       "href=\"" +
       htmlEscape(base + "/?rt=" + percentEncode(rt)) + "\">send a new one</a>.</p>\n";
  respondPage(status, ch.sentTitle, c);
}

inline void lockedPage(const Channel& ch, std::string_view rt) {
  respondErrorPage(429, "Too many wrong codes",
            "For your safety this code no longer works. Ask for a new one.", {},
            PageLink{mountBase() + "/?rt=" + percentEncode(rt), "Send a new code"});
}

// ---- GET / and POST / -------------------------------------------------------------------------

inline void handleForm(const Channel& ch) {
  std::string rt;
  Json attempt;
  if (!liveAttemptOrRespond(sdk::Source::Query, rt, attempt)) return;
  std::string hint = jsonString(attempt, "login_hint").value_or("");
  std::string address, error;
  if (hint.empty() || hint.size() > 320 || !ch.normalise(hint, address, error)) address.clear();
  formPage(ch, 200, rt, address, "");
}

inline void handleSend(const Channel& ch) {
  if (refuseCrossSitePost()) return;
  std::string rt;
  Json attempt;
  if (!liveAttemptOrRespond(sdk::Source::Form, rt, attempt)) return;
  std::string typed;
  sdk::Result ra = sdk::formParam("address", typed);
  if (ra != sdk::Result::Ok || trim(typed).empty()) {
    formPage(ch, 400, rt, "", ch.missingAddress);
    return;
  }
  std::string address, error;
  if (typed.size() > 320 || !ch.normalise(typed, address, error)) {
    std::string shown = typed.size() <= 320 && !hasControl(typed) ? typed : std::string();
    formPage(ch, 400, rt, shown, error.empty() ? ch.missingAddress : error);
    return;
  }

  Settings s = loadSettings(ch);
  std::optional<int64_t> now = sdk::nowMs();
  if (!now) {
    respondUnavailablePage();
    return;
  }
  std::string ip = sdk::request(sdk::Field::RemoteAddr).substr(0, 64);
  std::string aKey = "rate/a/" + sha256Hex(address);
  std::string iKey = "rate/ip/" + ip;
  Counter byAddress, byIp, total;
  if (readCounter(aKey, *now, s.windowMs, byAddress) != sdk::Result::Ok ||
      readCounter(iKey, *now, s.windowMs, byIp) != sdk::Result::Ok ||
      (s.maxTotal > 0 && readCounter("rate/all", *now, s.windowMs, total) != sdk::Result::Ok)) {
    respondUnavailablePage();
    return;
  }
  bool overAddress = byAddress.count >= s.maxPerAddress;
  bool overIp = byIp.count >= s.maxPerIp;
  bool overTotal = s.maxTotal > 0 && total.count >= s.maxTotal;
  if (overAddress || overIp || overTotal) {
    int64_t wait = 1;
    if (overAddress) wait = std::max(wait, secondsLeft(byAddress, *now, s.windowMs));
    if (overIp) wait = std::max(wait, secondsLeft(byIp, *now, s.windowMs));
    if (overTotal) wait = std::max(wait, secondsLeft(total, *now, s.windowMs));
    sdk::logWarn(std::string("send limit (") +
                 (overTotal ? "total"
                  : overIp  ? "client address"
                            : "address") +
                 ") reached for " + maskAddress(address) + " from " + ip);
    sdk::addHeader("retry-after", std::to_string(wait));
    formPage(ch, 429, rt, address,
             "Too many sign-in messages were asked for. Try again in " +
                 std::to_string((wait + 59) / 60) + " minutes.");
    return;
  }
  sdk::Result b1 = bumpCounter(aKey, *now, s.windowMs);
  sdk::Result b2 = bumpCounter(iKey, *now, s.windowMs);
  sdk::Result b3 = s.maxTotal > 0 ? bumpCounter("rate/all", *now, s.windowMs) : sdk::Result::Ok;
  if (b1 != sdk::Result::Ok || b2 != sdk::Result::Ok || b3 != sdk::Result::Ok) {
    sdk::logError("could not count a send; refusing it");
    respondUnavailablePage();
    return;
  }

  std::string accept = sdk::header("accept-language").value_or("");
  std::string locale = chooseLocale(
      wantedLocales(jsonString(attempt, "ui_locales").value_or(""), accept.substr(0, 512)),
      ch.localeProbe);
  Json payload = {{"rt", rt}, {"address", address}, {"requested_at", *now},
                  {"ip", ip}, {"locale", locale},   {"mount", mountBase()}};
  sdk::Result rp = sdk::publish(ch.topic, dumpJson(payload));
  if (rp != sdk::Result::Ok) {
    sdk::logError(std::string("event_publish ") + std::string(ch.topic) + ": " +
                  std::string(sdk::resultName(rp)) +
                  (rp == sdk::Result::Denied
                       ? " (grant the topic: publish = [\"" + std::string(ch.topic) + "\"])"
                       : ""));
    respondUnavailablePage();
    return;
  }
  // A new message means new tries at its code (the same for every address, so the page
  // never tells whether an account exists).
  sdk::kvRemove(failKey(rt));
  codePage(ch, 200, rt, address, "", s.ttlMs);
}

// ---- /code ------------------------------------------------------------------------------------

inline void handleCodeGet(const Channel& ch) {
  std::string rt;
  Json attempt;
  if (!liveAttemptOrRespond(sdk::Source::Query, rt, attempt)) return;
  codePage(ch, 200, rt, "", "", loadSettings(ch).ttlMs);
}

inline void handleCode(const Channel& ch) {
  if (refuseCrossSitePost()) return;
  std::string rt;
  Json attempt;
  if (!liveAttemptOrRespond(sdk::Source::Form, rt, attempt)) return;
  Settings s = loadSettings(ch);
  std::string typed;
  if (sdk::formParam("code", typed) != sdk::Result::Ok || trim(typed).empty()) {
    codePage(ch, 400, rt, "", "Enter the code from the message.", s.ttlMs);
    return;
  }
  std::optional<int64_t> now = sdk::nowMs();
  if (!now) {
    respondUnavailablePage();
    return;
  }
  std::string fKey = failKey(rt);
  Counter fails;
  if (readCounter(fKey, *now, s.ttlMs, fails) != sdk::Result::Ok) {
    respondUnavailablePage();
    return;
  }
  if (fails.count >= s.maxCodeAttempts) {
    lockedPage(ch, rt);
    return;
  }

  std::string canonical = normaliseCode(ch.codeStyle, typed.substr(0, 64));
  std::string cKey = codeKey(rt);
  std::string text;
  sdk::Result rg = sdk::kvGet(cKey, text);
  if (rg != sdk::Result::Ok && rg != sdk::Result::NotFound) {
    respondUnavailablePage();
    return;
  }
  std::optional<Json> record = rg == sdk::Result::Ok ? parseJson(text) : std::nullopt;
  std::string salt = record ? jsonString(*record, "s").value_or("") : std::string("-");
  std::string stored = record ? jsonString(*record, "h").value_or("") : std::string(64, '0');
  // The same work whether or not a code exists for this attempt.
  std::string given = codeHash(salt, rt, canonical.empty() ? std::string_view("-") : canonical);
  bool match =
      record && !canonical.empty() && !stored.empty() && sdk::constantTimeEqual(given, stored);
  if (match) {
    // Single use: of two concurrent right answers, one takes the record.
    std::string taken;
    match = sdk::kvTake(cKey, taken) == sdk::Result::Ok && taken == text;
    // A newer message replaced the code between the read and the take: keep the new one.
    if (!match && !taken.empty()) sdk::kvPut(cKey, taken, s.ttlMs);
  }
  if (!match) {
    Counter after;
    sdk::Result rb = bumpCounter(fKey, *now, s.ttlMs, &after);
    if (rb != sdk::Result::Ok) {
      sdk::logError("could not count a wrong code: " + std::string(sdk::resultName(rb)));
      respondUnavailablePage();
      return;
    }
    if (after.count >= s.maxCodeAttempts) {
      sdk::kvRemove(cKey);
      sdk::logWarn("code locked after " + std::to_string(after.count) + " wrong tries from " +
                   sdk::request(sdk::Field::RemoteAddr).substr(0, 64));
      lockedPage(ch, rt);
      return;
    }
    int64_t left = s.maxCodeAttempts - after.count;
    codePage(ch, 200, rt, "",
             "That code is not right. " + std::to_string(left) + (left == 1 ? " try" : " tries") +
                 " left.",
             s.ttlMs);
    return;
  }
  std::string sub = jsonString(*record, "sub").value_or("");
  if (std::optional<std::string> lh = jsonString(*record, "lh")) sdk::kvRemove("link/" + *lh);
  sdk::kvRemove(fKey);
  sdk::Result rc = loginComplete(rt, sub, ch.amrJson);
  if (rc == sdk::Result::NotFound) {
    respondAttemptExpiredPage();
    return;
  }
  if (rc != sdk::Result::Ok) {
    sdk::logError(std::string("login_complete: ") + std::string(sdk::resultName(rc)));
    respondUnavailablePage();
    return;
  }
  sdk::logInfo("signed in " + sub.substr(0, 128) + " with a code");
}

// ---- /confirm ---------------------------------------------------------------------------------

// The link record of token `t`: Ok with rt, sub, addr; NotFound (used, expired, never
// issued); Unavailable.
struct LinkRecord {
  std::string rt, sub, addr, raw;
};

inline sdk::Result readLink(std::string_view t, LinkRecord& out) {
  if (!plausibleToken(t)) return sdk::Result::NotFound;
  sdk::Result r = sdk::kvGet(linkKey(t), out.raw);
  if (r != sdk::Result::Ok) return r;
  std::optional<Json> j = parseJson(out.raw);
  if (!j) return sdk::Result::NotFound;
  out.rt = jsonString(*j, "rt").value_or("");
  out.sub = jsonString(*j, "sub").value_or("");
  out.addr = jsonString(*j, "addr").value_or("");
  return out.rt.empty() || out.sub.empty() ? sdk::Result::NotFound : sdk::Result::Ok;
}

// The link of token parameter `t` (read with result `got`), if it is unused and its
// login attempt still belongs to this browser. Otherwise writes the page that says why
// (used/expired, another browser, unavailable) and returns false. Uses nothing up.
inline bool readLiveLink(sdk::Result got, const std::string& t, LinkRecord& link) {
  if (got != sdk::Result::Ok) {
    usedLinkPage();
    return false;
  }
  sdk::Result r = readLink(t, link);
  if (r == sdk::Result::NotFound) {
    usedLinkPage();
    return false;
  }
  if (r != sdk::Result::Ok) {
    respondUnavailablePage();
    return false;
  }
  Json attempt;
  switch (loginAttempt(link.rt, attempt)) {
    case Attempt::Gone:
      otherBrowserPage();
      return false;
    case Attempt::Unavailable:
      respondUnavailablePage();
      return false;
    case Attempt::Live:
      break;
  }
  return true;
}

inline void handleConfirmGet(const Channel& ch) {
  std::string t;
  LinkRecord link;
  if (!readLiveLink(sdk::queryParam("t", t), t, link)) return;
  std::string c;
  c += "<h1>Finish signing in</h1>\n";
  c += "<p id=\"message\">Continue as <strong>" + htmlEscape(link.addr) + "</strong>?</p>\n";
  c += "<form method=\"post\" action=\"" + htmlEscape(mountBase() + "/confirm") + "\">\n";
  c += hiddenInput("t", t) + "\n";
  c += "<p><button type=\"submit\">Sign in</button></p>\n</form>\n";
  c += "<p class=\"muted\">If you did not ask to sign in, close this page.</p>\n";
  respondPage(200, "Finish signing in", c);
}

inline void handleConfirm(const Channel& ch) {
  if (refuseCrossSitePost()) return;
  std::string t;
  LinkRecord link;
  // The attempt is checked before the take, so a post from another browser never uses
  // the link up.
  if (!readLiveLink(sdk::formParam("t", t), t, link)) return;
  std::string taken;
  sdk::Result rt = sdk::kvTake(linkKey(t), taken);
  if (rt == sdk::Result::NotFound) {
    usedLinkPage();
    return;
  }
  if (rt != sdk::Result::Ok) {
    respondUnavailablePage();
    return;
  }
  sdk::kvRemove(codeKey(link.rt));
  sdk::kvRemove(failKey(link.rt));
  sdk::Result rc = loginComplete(link.rt, link.sub, ch.amrJson);
  if (rc == sdk::Result::NotFound) {
    respondAttemptExpiredPage();
    return;
  }
  if (rc != sdk::Result::Ok) {
    sdk::logError(std::string("login_complete: ") + std::string(sdk::resultName(rc)));
    respondUnavailablePage();
    return;
  }
  sdk::logInfo("signed in " + link.sub.substr(0, 128) + " with a link");
}

inline int32_t onRequest(const Channel& ch) {
  std::string method = sdk::method();
  std::string sub = sdk::subPath();
  bool get = method == "GET" || method == "HEAD";
  bool post = method == "POST";
  if (sub == "/" && get) {
    handleForm(ch);
  } else if (sub == "/" && post) {
    handleSend(ch);
  } else if (sub == "/code" && get) {
    handleCodeGet(ch);
  } else if (sub == "/code" && post) {
    handleCode(ch);
  } else if (sub == "/confirm" && get) {
    handleConfirmGet(ch);
  } else if (sub == "/confirm" && post) {
    handleConfirm(ch);
  } else if (sub == "/" || sub == "/code" || sub == "/confirm") {
    sdk::addHeader("allow", "GET, POST");
    respondErrorPage(405, "Method not allowed", "Use the sign-in form.");
  } else {
    respondErrorPage(404, "Not found", "There is no such page.");
  }
  return 0;
}

// ---- the event handler ------------------------------------------------------------------------

// The host part of an issuer URL ("http://127.0.0.1:8080/x" -> "127.0.0.1").
inline std::string issuerHost(std::string_view issuer) {
  size_t scheme = issuer.find("://");
  std::string_view rest = scheme == std::string_view::npos ? issuer : issuer.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest.front() == '[') return std::string(rest.substr(0, rest.find(']') + 1));
  return std::string(rest.substr(0, rest.find(':')));
}

// The subject for `address`: Ok, NotFound (no account and no sign-up), or a failure.
inline sdk::Result findOrCreateUser(const Channel& ch, const Settings& s, std::string_view address,
                                    std::string& sub) {
  sdk::Result r = sdk::userFind(ch.userKey, address, sub);
  if (r != sdk::Result::NotFound || !s.signup) return r;
  Json user = {{std::string(ch.signupField), std::string(address)}};
  r = sdk::userCreate(dumpJson(user), sub);
  if (r == sdk::Result::Duplicate) return sdk::userFind(ch.userKey, address, sub);
  if (r == sdk::Result::Ok)
    sdk::logInfo("signed up " + sub.substr(0, 128) + " by " + std::string(ch.name));
  if (r == sdk::Result::Denied) {
    sdk::logWarn(
        "setting signup is true, but the operator has not granted the signup "
        "capability: no account is created");
    return sdk::Result::NotFound;
  }
  return r;
}

inline int32_t onEvent(const Channel& ch) {
  std::string payloadText, id, attemptNo;
  if (sdk::event(sdk::EventField::Payload, payloadText) != sdk::Result::Ok ||
      sdk::event(sdk::EventField::Id, id) != sdk::Result::Ok) {
    sdk::logError("habanero_on_event outside an event");
    return HABANERO_EVENT_FAILED;
  }
  sdk::event(sdk::EventField::Attempt, attemptNo);
  std::optional<Json> payload = parseJson(payloadText);
  std::string rt = payload ? jsonString(*payload, "rt").value_or("") : "";
  std::string address = payload ? jsonString(*payload, "address").value_or("") : "";
  std::string mount = payload ? jsonString(*payload, "mount").value_or("") : "";
  std::string locale = payload ? jsonString(*payload, "locale").value_or("") : "";
  std::optional<int64_t> requestedAt =
      payload ? jsonInt(*payload, "requested_at") : std::optional<int64_t>();
  std::string normalised, error;
  if (!plausibleRt(rt) || !requestedAt || !ch.normalise(address, normalised, error) ||
      normalised != address || (!mount.empty() && mount.front() != '/') || hasControl(mount) ||
      (!locale.empty() && !plausibleLocale(locale))) {
    sdk::logError("malformed delivery event " + id.substr(0, 128));
    return HABANERO_EVENT_FAILED;
  }

  std::string sentKey = "sent/" + sha256Hex(id);
  std::string marker;
  sdk::Result rm = sdk::kvGet(sentKey, marker);
  if (rm == sdk::Result::Ok) {
    sdk::logInfo("event " + id.substr(0, 128) + " was already sent; not sending it again");
    return HABANERO_EVENT_DONE;
  }
  if (rm != sdk::Result::NotFound) return HABANERO_EVENT_RETRY;

  Settings s = loadSettings(ch);
  std::optional<int64_t> now = sdk::nowMs();
  if (!now) return HABANERO_EVENT_RETRY;
  if (*now - *requestedAt > s.deliverWithinMs) {
    sdk::logWarn("not sending to " + maskAddress(address) + ": asked for " +
                 std::to_string((*now - *requestedAt) / 1000) +
                 " s ago, longer than deliver_within_s; the sign-in has expired");
    return HABANERO_EVENT_FAILED;
  }
  std::string issuer = sdk::settingOr("issuer", "");
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  if (!(issuer.starts_with("https://") || issuer.starts_with("http://")) || hasControl(issuer)) {
    sdk::logError("setting issuer is missing or not an http(s) URL; cannot build links");
    return HABANERO_EVENT_FAILED;
  }

  std::string sub;
  sdk::Result ru = findOrCreateUser(ch, s, address, sub);
  if (ru == sdk::Result::NotFound) {
    sdk::logInfo("no account uses " + maskAddress(address) + "; nothing sent");
    return HABANERO_EVENT_DONE;
  }
  if (ru == sdk::Result::Unavailable) return HABANERO_EVENT_RETRY;
  if (ru != sdk::Result::Ok) {
    sdk::logError("user lookup for " + maskAddress(address) + ": " +
                  std::string(sdk::resultName(ru)));
    return HABANERO_EVENT_FAILED;
  }

  std::optional<std::string> token = newToken(ch.tokenBytes);
  std::optional<std::string> code = newCode(ch.codeStyle);
  std::optional<std::string> salt = newToken(16);
  if (!token || !code || !salt) return HABANERO_EVENT_RETRY;
  std::string th = tokenHash(*token);
  std::string cKey = codeKey(rt);

  // The newest message replaces every earlier secret of this attempt.
  std::string old;
  if (sdk::kvGet(cKey, old) == sdk::Result::Ok) {
    if (std::optional<Json> o = parseJson(old)) {
      if (std::optional<std::string> lh = jsonString(*o, "lh")) sdk::kvRemove("link/" + *lh);
    }
  }
  Json linkRecord = {{"rt", rt}, {"sub", sub}, {"addr", address}};
  Json codeRecord = {{"sub", sub}, {"h", codeHash(*salt, rt, *code)}, {"s", *salt}, {"lh", th}};
  if (sdk::kvPut("link/" + th, dumpJson(linkRecord), s.ttlMs) != sdk::Result::Ok ||
      sdk::kvPut(cKey, dumpJson(codeRecord), s.ttlMs) != sdk::Result::Ok) {
    sdk::kvRemove("link/" + th);
    return HABANERO_EVENT_RETRY;
  }

  Message m;
  m.to = address;
  m.locale = locale;
  m.vars = {{"link", issuer + mount + "/confirm?t=" + *token},
            {"code", displayCode(ch.codeStyle, *code)},
            {"issuer", issuer},
            {"host", issuerHost(issuer)},
            {"minutes", minutesText(s.ttlMs)}};
  sdk::Result rs = ch.send(m);
  if (rs == sdk::Result::Ok) {
    if (sdk::kvPut(sentKey, "1", 24LL * 3600 * 1000) != sdk::Result::Ok) {
      sdk::logWarn("sent, but could not record it; a retry would send again");
    }
    sdk::logInfo("sent a sign-in " + std::string(ch.name) + " to " + maskAddress(address) +
                 " (delivery attempt " + attemptNo.substr(0, 8) + ")");
    return HABANERO_EVENT_DONE;
  }
  // Never delivered: its secrets must not stay usable.
  sdk::kvRemove("link/" + th);
  sdk::kvRemove(cKey);
  if (rs == sdk::Result::Unavailable) {
    sdk::logWarn("could not send to " + maskAddress(address) + " now (delivery attempt " +
                 attemptNo.substr(0, 8) + "); will retry");
    return HABANERO_EVENT_RETRY;
  }
  sdk::logError("sending to " + maskAddress(address) +
                " failed for good: " + std::string(sdk::resultName(rs)));
  return HABANERO_EVENT_FAILED;
}

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_FLOW_HH_
