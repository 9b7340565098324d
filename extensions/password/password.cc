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
// Every page: no script, the host's one stylesheet (/static/style.css), Content-Security-Policy
// with frame-ancestors 'none', Referrer-Policy no-referrer, Cache-Control no-store. All text
// from the request or the attempt is HTML-escaped.
//
// Settings: max_failures (default 5), max_failures_per_ip (default 20), failure_window_s
// (default 900), each a positive integer.
#include <habanero.hh>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sdk = habanero::sdk;

namespace {

constexpr std::string_view kGenericFailure = "Email or password is incorrect.";
constexpr std::string_view kMissingFields = "Enter your email address and password.";
constexpr int64_t kDefaultMaxFailures = 5;
constexpr int64_t kDefaultMaxFailuresPerIp = 20;
constexpr int64_t kDefaultWindowS = 15 * 60;
constexpr size_t kMaxEmail = 320;      // longer is never a registered address
constexpr size_t kMaxPassword = 4096;  // longer is refused before any hashing
constexpr size_t kMaxHint = 320;
constexpr int kCasAttempts = 16;
constexpr std::string_view kAmr = "[\"pwd\"]";

// The one stylesheet of Habanero's pages, served by the host (web/style.css).
constexpr std::string_view kStylesheet = "/static/style.css";

// ---- small helpers --------------------------------------------------------------------

std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool hasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<int64_t> parseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A positive integer setting, or `fallback` (logged) when it is absent or not one.
int64_t positiveSetting(std::string_view name, int64_t fallback) {
  std::optional<std::string> text = sdk::setting(name);
  if (!text) return fallback;
  std::optional<int64_t> v = parseInt(*text);
  if (!v || *v <= 0 || *v > 1'000'000'000) {
    sdk::logWarn(std::string("setting ") + std::string(name) +
                 " is not a positive integer; using " + std::to_string(fallback));
    return fallback;
  }
  return *v;
}

// ---- the one JSON shape we read: {"login_hint":"…", …} ----------------------------------

// A strict reader for a top-level JSON object, enough to pull out one string member.
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  // The string member `name` of the object; nullopt if absent, not a string, or the text is
  // not a well-formed JSON object.
  std::optional<std::string> stringMember(std::string_view name) {
    std::optional<std::string> found;
    ws();
    if (!eat('{')) return std::nullopt;
    ws();
    if (eat('}')) return atEnd() ? found : std::nullopt;
    for (;;) {
      std::string key;
      ws();
      if (!string(key)) return std::nullopt;
      ws();
      if (!eat(':')) return std::nullopt;
      ws();
      if (key == name && peek() == '"') {
        std::string value;
        if (!string(value)) return std::nullopt;
        found = std::move(value);
      } else if (!skipValue(0)) {
        return std::nullopt;
      }
      ws();
      if (eat(',')) continue;
      if (eat('}')) break;
      return std::nullopt;
    }
    return atEnd() ? found : std::nullopt;
  }

 private:
  static constexpr int kMaxDepth = 32;

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool atEnd() {
    ws();
    return pos_ == s_.size();
  }
  bool hex4(uint32_t& v) {
    if (s_.size() - pos_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return false;
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo = 0;
            if (!eat('\\') || !eat('u') || !hex4(lo) || lo < 0xdc00 || lo > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          utf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool number() {
    size_t start = pos_;
    eat('-');
    while (pos_ < s_.size() &&
           ((s_[pos_] >= '0' && s_[pos_] <= '9') || s_[pos_] == '.' || s_[pos_] == 'e' ||
            s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-')) {
      ++pos_;
    }
    return pos_ > start;
  }
  bool skipValue(int depth) {
    if (depth > kMaxDepth) return false;
    ws();
    char c = peek();
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++pos_;
      ws();
      if (eat(close)) return true;
      for (;;) {
        ws();
        if (c == '{') {
          std::string key;
          if (!string(key)) return false;
          ws();
          if (!eat(':')) return false;
        }
        if (!skipValue(depth + 1)) return false;
        ws();
        if (eat(',')) continue;
        return eat(close);
      }
    }
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    return number();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---- pages ------------------------------------------------------------------------------

// Sets the headers every page carries, then status and body.
void page(int32_t status, std::string_view title, std::string_view content) {
  constexpr std::string_view kCsp =
      "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'";
  sdk::setStatus(status);
  sdk::addHeader("content-type", "text/html; charset=utf-8");
  sdk::addHeader("content-security-policy", kCsp);
  sdk::addHeader("referrer-policy", "no-referrer");
  sdk::addHeader("x-content-type-options", "nosniff");
  sdk::addHeader("x-frame-options", "DENY");
  sdk::addHeader("cache-control", "no-store");
  std::string html;
  html.reserve(2048);
  html += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  html += "<title>" + htmlEscape(title) + "</title>\n";
  html += "<link rel=\"stylesheet\" href=\"" + std::string(kStylesheet) + "\">\n";
  html += "</head>\n<body>\n<main class=\"card\">\n";
  html += content;
  html += "</main>\n</body>\n</html>\n";
  sdk::write(html);
}

void errorPage(int32_t status, std::string_view heading, std::string_view text) {
  page(status, heading, "<h1>" + htmlEscape(heading) + "</h1>\n<p>" + htmlEscape(text) + "</p>\n");
}

void expiredPage() {
  errorPage(400, "Sign-in link expired",
            "This sign-in page is no longer valid. Go back to the application and sign in "
            "again.");
}

// The sign-in form. `error` empty: no message.
void formPage(int32_t status, std::string_view rt, std::string_view email, std::string_view error) {
  std::string action = sdk::request(sdk::Field::Mount);
  while (!action.empty() && action.back() == '/') action.pop_back();
  action += '/';
  std::string c;
  c.reserve(1536);
  c += "<h1>Sign in</h1>\n";
  if (!error.empty()) {
    c += "<p class=\"error\" id=\"error\" role=\"alert\">" + htmlEscape(error) + "</p>\n";
  }
  c += "<form method=\"post\" action=\"" + htmlEscape(action) + "\">\n";
  c += "<input type=\"hidden\" name=\"rt\" value=\"" + htmlEscape(rt) + "\">\n";
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
  page(status, "Sign in", c);
}

// ---- the login attempt --------------------------------------------------------------------

enum class Attempt { Live, Gone, Unavailable };

// Looks the attempt up; on Live, `hint` holds its login_hint (possibly empty).
Attempt lookUpAttempt(std::string_view rt, std::string& hint) {
  std::string json;
  sdk::Result r = sdk::detail::readGrowing(json, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_login_attempt_get(sdk::detail::bytes(rt), sdk::detail::size32(rt), p, cap, len);
  });
  if (r == sdk::Result::NotFound) return Attempt::Gone;
  if (r != sdk::Result::Ok) {
    sdk::logError(std::string("login_attempt_get: ") + std::string(sdk::resultName(r)));
    return Attempt::Unavailable;
  }
  hint = JsonReader(json).stringMember("login_hint").value_or("");
  if (hint.size() > kMaxHint || hasControl(hint)) hint.clear();
  return Attempt::Live;
}

// An rt is what the host minted: short, printable. Anything else cannot name an attempt.
bool plausibleRt(std::string_view rt) { return !rt.empty() && rt.size() <= 256 && !hasControl(rt); }

// ---- failure counters ---------------------------------------------------------------------

struct Counter {
  int64_t count = 0;
  int64_t startMs = 0;
};

// The counter stored under `key`, or a zero one if absent, expired or unreadable.
// `raw` gets the stored text (for compare-and-set); nullopt if absent.
sdk::Result readCounter(std::string_view key, int64_t nowMs, int64_t windowMs, Counter& out,
                        std::optional<std::string>& raw) {
  out = Counter{};
  raw.reset();
  std::string text;
  sdk::Result r = sdk::kvGet(key, text);
  if (r == sdk::Result::NotFound) return sdk::Result::Ok;
  if (r != sdk::Result::Ok) return r;
  raw = text;
  std::string_view t(text);
  size_t space = t.find(' ');
  if (space == std::string_view::npos) return sdk::Result::Ok;
  std::optional<int64_t> count = parseInt(t.substr(0, space));
  std::optional<int64_t> start = parseInt(t.substr(space + 1));
  if (!count || !start || *count < 0 || *start > nowMs || nowMs - *start >= windowMs) {
    return sdk::Result::Ok;  // a new window starts
  }
  out = Counter{*count, *start};
  return sdk::Result::Ok;
}

// Adds one failure to the counter under `key`.
sdk::Result bumpCounter(std::string_view key, int64_t nowMs, int64_t windowMs) {
  for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
    Counter c;
    std::optional<std::string> raw;
    sdk::Result r = readCounter(key, nowMs, windowMs, c, raw);
    if (r != sdk::Result::Ok) return r;
    if (c.count == 0) c.startMs = nowMs;
    ++c.count;
    std::string next = std::to_string(c.count) + " " + std::to_string(c.startMs);
    int64_t ttl = c.startMs + windowMs - nowMs;
    if (ttl < 1) ttl = 1;
    std::optional<std::string_view> expected;
    if (raw) expected = *raw;
    r = sdk::kvCompareAndSet(key, expected, next, ttl);
    if (r != sdk::Result::Conflict) return r;
  }
  return sdk::Result::Conflict;
}

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
  std::optional<sdk::Digest> d = sdk::sha256(asciiLower(email));
  return "fail/email/" + (d ? sdk::hex(*d) : std::string());
}

std::string ipKey(std::string_view ip) { return "fail/ip/" + std::string(ip.substr(0, 64)); }

// ---- handlers -----------------------------------------------------------------------------

void handleGet() {
  std::string rt;
  if (sdk::queryParam("rt", rt) != sdk::Result::Ok || !plausibleRt(rt)) {
    expiredPage();
    return;
  }
  std::string hint;
  switch (lookUpAttempt(rt, hint)) {
    case Attempt::Live:
      formPage(200, rt, hint, "");
      return;
    case Attempt::Gone:
      expiredPage();
      return;
    case Attempt::Unavailable:
      errorPage(503, "Try again later", "Signing in is not possible right now.");
      return;
  }
}

void handlePost() {
  // Browsers say where a post comes from; only our own pages may post here.
  if (std::optional<std::string> site = sdk::header("sec-fetch-site")) {
    if (*site != "same-origin" && *site != "none") {
      errorPage(403, "Request refused", "This form can only be sent from its own page.");
      return;
    }
  }
  std::string rt;
  if (sdk::formParam("rt", rt) != sdk::Result::Ok || !plausibleRt(rt)) {
    expiredPage();
    return;
  }
  std::string hint;
  switch (lookUpAttempt(rt, hint)) {
    case Attempt::Live:
      break;
    case Attempt::Gone:
      expiredPage();
      return;
    case Attempt::Unavailable:
      errorPage(503, "Try again later", "Signing in is not possible right now.");
      return;
  }

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
    errorPage(503, "Try again later", "Signing in is not possible right now.");
    return;
  }
  std::string ip = sdk::request(sdk::Field::RemoteAddr);
  std::string eKey = emailKey(email);
  std::string iKey = ipKey(ip);
  Counter byEmail, byIp;
  std::optional<std::string> raw;
  if (readCounter(eKey, *now, lim.windowMs, byEmail, raw) != sdk::Result::Ok ||
      readCounter(iKey, *now, lim.windowMs, byIp, raw) != sdk::Result::Ok) {
    errorPage(503, "Try again later", "Signing in is not possible right now.");
    return;
  }
  if (byEmail.count >= lim.perEmail || byIp.count >= lim.perIp) {
    int64_t until = 0;
    if (byEmail.count >= lim.perEmail) until = byEmail.startMs + lim.windowMs;
    if (byIp.count >= lim.perIp && byIp.startMs + lim.windowMs > until) {
      until = byIp.startMs + lim.windowMs;
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
    rv = sdk::detail::readGrowing(subject, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
      return habanero_user_verify_password(sdk::detail::bytes(email), sdk::detail::size32(email),
                                           sdk::detail::bytes(password),
                                           sdk::detail::size32(password), p, cap, len);
    });
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
    errorPage(503, "Try again later", "Signing in is not possible right now.");
    return;
  }

  habanero_result_t rc = habanero_login_complete(
      sdk::detail::bytes(rt), sdk::detail::size32(rt), sdk::detail::bytes(subject),
      sdk::detail::size32(subject), sdk::detail::bytes(kAmr), sdk::detail::size32(kAmr));
  if (rc == HABANERO_NOT_FOUND) {
    expiredPage();  // the attempt expired while the password was being checked
    return;
  }
  if (rc != HABANERO_OK) {
    sdk::logError(std::string("login_complete: ") +
                  std::string(sdk::resultName(static_cast<sdk::Result>(rc))));
    errorPage(503, "Try again later", "Signing in is not possible right now.");
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
    errorPage(405, "Method not allowed", "Use the sign-in form.");
  }
  return 0;
}
