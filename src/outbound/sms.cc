#include "sms.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "curl_util.h"
#include "habanero/strings.h"
#include "text.h"
#include "url.h"

namespace habanero::outbound {
namespace {

using internal::CurlEasy;
using internal::isUtf8;
using internal::CurlList;
using internal::formEncode;

constexpr size_t kMaxText = 1600;  // bytes; long enough for 10 concatenated parts

// Percent-decoding for our own URL's query; '+' stays '+' (phone numbers).
std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The value of `name` in a query string, decoded; "" when absent.
std::string queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

// Whether every code point of UTF-8 `text` is in the GSM 03.38 default
// alphabet or its extension table (so it fits 7-bit coding).
bool isGsm7(std::string_view text) {
  static const std::u32string_view kExtra =
      U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà^{}\\[~]|€\f";
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = text[i];
    char32_t cp;
    size_t n;
    if (c < 0x80) {
      cp = c;
      n = 0;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      n = 1;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      n = 2;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      n = 3;
    } else {
      return false;
    }
    if (i + n >= text.size()) return false;
    for (size_t k = 1; k <= n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    i += n + 1;
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) continue;
    if (kExtra.find(cp) == std::u32string_view::npos) return false;
  }
  return true;
}

size_t collect(char* data, size_t size, size_t n, void* userp) {
  auto* body = static_cast<std::string*>(userp);
  size_t len = size * n;
  if (body->size() < 4096) body->append(data, std::min(len, 4096 - body->size()));
  return len;
}

// A short printable excerpt of a gateway's answer for messages.
std::string excerpt(const std::string& body) {
  std::string out;
  for (unsigned char c : body) {
    if (out.size() >= 200) break;
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

struct Answer {
  long status = 0;
  std::string body;
};

class HttpSmsSender : public SmsSender {
 protected:
  HttpSmsSender(std::string name, std::string where, std::string secret, int64_t timeout_ms)
      : name_(std::move(name)),
        where_(std::move(where)),
        secret_(std::move(secret)),
        timeout_ms_(timeout_ms) {}

  absl::Status check(const SmsMessage& m) const {
    if (!isE164(m.to))
      return absl::InvalidArgumentError("sms: 'to' is not an E.164 number (+ and 8 to 15 digits)");
    if (m.text.empty()) return absl::InvalidArgumentError("sms: text is empty");
    if (m.text.size() > kMaxText)
      return absl::InvalidArgumentError("sms: text is longer than 1600 bytes");
    if (!isUtf8(m.text)) return absl::InvalidArgumentError("sms: text is not valid UTF-8");
    return absl::OkStatus();
  }

  // Performs the prepared request; maps transport failures and HTTP statuses.
  absl::Status perform(CURL* h, const std::string& ca_file) const {
    Answer a;
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(timeout_ms_, 1)));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Habanero/0.1 (+sms)");
    if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
      return absl::UnavailableError(
          internal::redact(strCat("sms: ", name_, " ", where_, ": ", detail), secret_));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
    if (a.status >= 200 && a.status < 300) return absl::OkStatus();
    std::string said = describe(a);
    std::string message = internal::redact(
        strCat("sms: ", name_, " ", where_, " answered ", a.status, said.empty() ? "" : ": ", said),
        secret_);
    if (a.status == 429 || a.status >= 500) return absl::UnavailableError(message);
    return absl::FailedPreconditionError(message);
  }

  virtual std::string describe(const Answer& a) const { return excerpt(a.body); }

  std::string name_;
  std::string where_;   // host:port for messages
  std::string secret_;  // redacted from every message
  int64_t timeout_ms_;
};

class KannelSender final : public HttpSmsSender {
 public:
  KannelSender(std::string base, std::string where, std::string user, std::string password,
               std::string from, int64_t timeout_ms)
      : HttpSmsSender("kannel", std::move(where), password, timeout_ms),
        base_(std::move(base)),
        user_(std::move(user)),
        password_(std::move(password)),
        from_(std::move(from)) {}

  absl::Status send(const SmsMessage& m) override {
    RETURN_IF_ERROR(check(m));
    std::string url =
        strCat(base_, "?username=", formEncode(user_), "&password=", formEncode(password_),
               "&to=", formEncode(m.to), "&text=", formEncode(m.text));
    if (!from_.empty()) url += strCat("&from=", formEncode(from_));
    url += "&charset=UTF-8";
    if (!isGsm7(m.text)) url += "&coding=2";
    CurlEasy easy = internal::newEasy();
    if (!easy) return absl::ResourceExhaustedError("sms: out of memory");
    curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy.get(), CURLOPT_HTTPGET, 1L);
    return perform(easy.get(), "");
  }

 private:
  std::string base_;  // http://host:port/cgi-bin/sendsms
  std::string user_, password_, from_;
};

class TwilioSender final : public HttpSmsSender {
 public:
  TwilioSender(std::string endpoint, std::string where, std::string sid, std::string token,
               std::string from, int64_t timeout_ms, std::string ca_file)
      : HttpSmsSender("twilio", std::move(where), token, timeout_ms),
        endpoint_(std::move(endpoint)),
        sid_(std::move(sid)),
        token_(std::move(token)),
        from_(std::move(from)),
        ca_file_(std::move(ca_file)) {}

  absl::Status send(const SmsMessage& m) override {
    RETURN_IF_ERROR(check(m));
    std::string form =
        strCat("To=", formEncode(m.to), "&From=", formEncode(from_), "&Body=", formEncode(m.text));
    CurlEasy easy = internal::newEasy();
    if (!easy) return absl::ResourceExhaustedError("sms: out of memory");
    CURL* h = easy.get();
    curl_easy_setopt(h, CURLOPT_URL, endpoint_.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, sid_.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, token_.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, form.c_str());
    CurlList headers;
    headers.append("Accept: application/json");
    headers.append("Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    return perform(h, ca_file_);
  }

 private:
  std::string describe(const Answer& a) const override {
    nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) {
      std::string out = excerpt(j["message"].get<std::string>());
      if (j.contains("code") && j["code"].is_number_integer()) {
        out = strCat("error ", j["code"].get<int64_t>(), ": ", out);
      }
      return out;
    }
    return excerpt(a.body);
  }

  std::string endpoint_;
  std::string sid_, token_, from_, ca_file_;
};

}  // namespace

absl::StatusOr<SmsSenderPtr> createSmsSender(const SmsConfig& config) {
  absl::StatusOr<internal::UrlParts> url = internal::splitUrl(config.url);
  if (!url.ok())
    return absl::InvalidArgumentError(strCat("sms: bad URL: ", sv(url.status().message())));
  std::string from = !config.from.empty() ? config.from : queryParam(url->query, "from");
  if (from.find_first_of("\r\n") != std::string::npos || from.size() > 32) {
    return absl::InvalidArgumentError("sms: bad sender id ('from')");
  }
  std::string host = url->host_is_ipv6 ? strCat("[", url->host, "]") : url->host;
  if (url->scheme == "kannel") {
    if (url->user.empty()) return absl::InvalidArgumentError("sms: kannel:// needs user:password@");
    int port = url->port != 0 ? url->port : 13013;
    std::string where = strCat(host, ":", port);
    std::string path = url->path.empty() || url->path == "/" ? "/cgi-bin/sendsms" : url->path;
    return SmsSenderPtr(new KannelSender(strCat("http://", where, path), where, url->user,
                                         url->password, from, config.timeout_ms));
  }
  if (url->scheme == "twilio+https") {
    const std::string& sid = url->user;
    if (sid.empty() || sid.size() > 64 || !std::all_of(sid.begin(), sid.end(), [](unsigned char c) {
          return std::isalnum(c) != 0;
        })) {
      return absl::InvalidArgumentError(
          "sms: twilio+https:// needs ACCOUNT_SID (letters and digits) as the user");
    }
    if (url->password.empty())
      return absl::InvalidArgumentError(
          "sms: twilio+https:// needs the auth token as the password");
    if (from.empty())
      return absl::InvalidArgumentError("sms: twilio+https:// needs a sender ('from' or ?from=)");
    std::string where = url->port != 0 ? strCat(host, ":", url->port) : host;
    std::string base = url->path;
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::string endpoint =
        strCat("https://", where, base, "/2010-04-01/Accounts/", sid, "/Messages.json");
    return SmsSenderPtr(new TwilioSender(std::move(endpoint), where, sid, url->password, from,
                                         config.timeout_ms, config.ca_file));
  }
  return absl::InvalidArgumentError("sms: the URL must start with kannel:// or twilio+https://");
}

bool isE164(std::string_view number) {
  if (number.size() < 9 || number.size() > 16 || number[0] != '+' || number[1] < '1' ||
      number[1] > '9') {
    return false;
  }
  return std::all_of(number.begin() + 1, number.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace habanero::outbound
