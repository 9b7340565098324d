#include "mail.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "crypto/random.h"
#include "curl_util.h"
#include "habanero/strings.h"
#include "text.h"
#include "url.h"

namespace habanero::outbound {
namespace {

using internal::CurlEasy;
using internal::isUtf8;
using internal::CurlList;

constexpr size_t kMaxBody = 1u << 20;  // text + html
constexpr size_t kMaxSubject = 998;

bool isAtext(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

// "local@domain": dot-atom local part, LDH domain labels or an address literal.
absl::Status checkAddress(std::string_view what, std::string_view addr) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(strCat("mail: ", what, " address ", why));
  };
  if (addr.empty()) return bad("is empty");
  if (addr.size() > 254) return bad("is longer than 254 characters");
  for (unsigned char c : addr) {
    if (c == '\r' || c == '\n') return bad("contains CR or LF");
    if (c < 0x21 || c >= 0x7f) return bad("must be printable ASCII without spaces");
  }
  size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == addr.size())
    return bad("is not local@domain");
  std::string_view local = addr.substr(0, at), domain = addr.substr(at + 1);
  if (local.size() > 64) return bad("has a local part longer than 64 characters");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return bad("has a malformed local part");
  for (unsigned char c : local) {
    if (!isAtext(c) && c != '.') return bad("has a character not allowed in the local part");
  }
  if (domain.front() == '[' && domain.back() == ']') return absl::OkStatus();
  size_t label = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      if (label == 0 || label > 63) return bad("has a malformed domain");
      if (domain[i - 1] == '-' || domain[i - label] == '-') return bad("has a malformed domain");
      label = 0;
      continue;
    }
    unsigned char c = domain[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return bad("has a malformed domain");
    ++label;
  }
  return absl::OkStatus();
}

bool hasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool isAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// RFC 2047 "B" encoded-words for a non-ASCII header value, each at most 75
// characters and never splitting a UTF-8 sequence, folded with CRLF SP.
std::string encodeWords(std::string_view value) {
  if (isAscii(value)) return std::string(value);
  constexpr size_t kMaxRaw = 45;  // base64 of 45 bytes = 60 chars + 12 overhead < 75
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    size_t end = std::min(value.size(), i + kMaxRaw);
    while (end < value.size() && end > i && (static_cast<unsigned char>(value[end]) & 0xc0) == 0x80)
      --end;
    if (!out.empty()) out += "\r\n ";
    out += strCat("=?UTF-8?B?", base64(value.substr(i, end - i)), "?=");
    i = end;
  }
  return out;
}

// A display name as a phrase: encoded-words if non-ASCII, a quoted string otherwise.
std::string encodeDisplayName(std::string_view name) {
  if (!isAscii(name)) return encodeWords(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// Quoted-printable (RFC 2045) of UTF-8 text; any line ending becomes CRLF.
std::string quotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 11 / 10 + 16);
  size_t line_len = 0;
  auto emit = [&](std::string_view piece) {
    if (line_len + piece.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out += piece;
    line_len += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n' || c == '\r') {
      out += "\r\n";
      line_len = 0;
      continue;
    }
    bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    // A '.' opening a line is encoded too: some relays mangle it.
    if (c == '.' && line_len == 0) literal = false;
    if (literal) {
      char s[1] = {static_cast<char>(c)};
      emit(std::string_view(s, 1));
    } else {
      char s[3] = {'=', kHex[c >> 4], kHex[c & 15]};
      emit(std::string_view(s, 3));
    }
  }
  return out;
}

std::string rfc5322Date(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

absl::StatusOr<std::string> randomHex(size_t n) {
  ASSIGN_OR_RETURN(std::string bytes, crypto::randomBytes(n));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

struct Upload {
  std::string data;
  size_t pos = 0;
};

size_t readUpload(char* buf, size_t size, size_t n, void* userp) {
  auto* up = static_cast<Upload*>(userp);
  size_t len = std::min(size * n, up->data.size() - up->pos);
  std::memcpy(buf, up->data.data() + up->pos, len);
  up->pos += len;
  return len;
}

class SmtpMailerImpl final : public Mailer {
 public:
  SmtpMailerImpl(internal::UrlParts url, std::string from_header, std::string from_addr,
                 SmtpConfig config)
      : url_(std::move(url)),
        from_header_(std::move(from_header)),
        from_addr_(std::move(from_addr)),
        config_(std::move(config)) {
    std::string host = url_.host_is_ipv6 ? strCat("[", url_.host, "]") : url_.host;
    int port = url_.port != 0 ? url_.port : (url_.scheme == "smtps" ? 465 : 587);
    where_ = strCat(host, ":", port);
    std::string_view domain = std::string_view(from_addr_).substr(from_addr_.rfind('@') + 1);
    // The path is the EHLO name; use the sender's domain.
    curl_url_ = strCat(url_.scheme, "://", where_, "/", domain);
    loopback_ = internal::isLoopbackHost(url_.host);
    domain_ = std::string(domain);
  }

  absl::Status send(const MailMessage& m) override {
    RETURN_IF_ERROR(checkAddress("recipient", m.to));
    if (hasCrLf(m.subject)) return absl::InvalidArgumentError("mail: subject contains CR or LF");
    for (unsigned char c : m.subject) {
      if (c < 0x20 || c == 0x7f)
        return absl::InvalidArgumentError("mail: subject contains a control character");
    }
    if (m.subject.size() > kMaxSubject)
      return absl::InvalidArgumentError("mail: subject is too long");
    if (m.text.empty()) return absl::InvalidArgumentError("mail: text is empty");
    if (m.text.size() + m.html.size() > kMaxBody)
      return absl::InvalidArgumentError("mail: body is too large");
    if (!isUtf8(m.subject) || !isUtf8(m.text) || !isUtf8(m.html)) {
      return absl::InvalidArgumentError("mail: subject or body is not valid UTF-8");
    }
    ASSIGN_OR_RETURN(std::string id, randomHex(16));
    ASSIGN_OR_RETURN(std::string boundary_id, randomHex(12));
    Upload up;
    up.data = buildMessage(m, id, "=_" + boundary_id);
    return transfer(m.to, up);
  }

 private:
  std::string buildMessage(const MailMessage& m, const std::string& id,
                           const std::string& boundary) {
    std::string msg;
    msg += strCat("From: ", from_header_, "\r\n");
    msg += strCat("To: <", m.to, ">\r\n");
    msg += strCat("Subject: ", encodeWords(m.subject), "\r\n");
    msg += strCat("Date: ", rfc5322Date(std::time(nullptr)), "\r\n");
    msg += strCat("Message-ID: <", id, "@", domain_, ">\r\n");
    msg += "MIME-Version: 1.0\r\n";
    auto part = [](std::string_view type, std::string_view body) {
      return strCat("Content-Type: ", type, "; charset=UTF-8\r\n",
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", quotedPrintable(body),
                    "\r\n");
    };
    if (m.html.empty()) {
      msg += part("text/plain", m.text);
      return msg;
    }
    msg += strCat("Content-Type: multipart/alternative; boundary=\"", boundary, "\"\r\n\r\n");
    msg += "This is a MIME message with text and HTML alternatives.\r\n";
    msg += strCat("--", boundary, "\r\n", part("text/plain", m.text));
    msg += strCat("--", boundary, "\r\n", part("text/html", m.html));
    msg += strCat("--", boundary, "--\r\n");
    return msg;
  }

  absl::Status transfer(const std::string& to, Upload& up) {
    CurlEasy easy = internal::newEasy();
    if (!easy) return absl::ResourceExhaustedError("mail: out of memory");
    CURL* h = easy.get();
    CurlList rcpt;
    rcpt.append(strCat("<", to, ">"));
    std::string mail_from = strCat("<", from_addr_, ">");
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_URL, curl_url_.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     url_.scheme == "smtp" && loopback_ ? static_cast<long>(CURLUSESSL_TRY)
                                                        : static_cast<long>(CURLUSESSL_ALL));
    if (!config_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!url_.user.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, url_.user.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, url_.password.c_str());
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(up.data.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, readUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    long timeout = static_cast<long>(std::max<int64_t>(config_.timeout_ms, 1));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) return absl::OkStatus();
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    std::string message =
        internal::redact(strCat("mail: ", where_, ": ", detail,
                                code != 0 ? strCat(" (server said ", code, ")") : ""),
                         url_.password);
    if (code >= 400 && code < 500) return absl::UnavailableError(message);
    if (rc == CURLE_LOGIN_DENIED || (code >= 500 && code < 600)) {
      return absl::FailedPreconditionError(message);
    }
    return absl::UnavailableError(message);
  }

  internal::UrlParts url_;
  std::string from_header_;
  std::string from_addr_;
  SmtpConfig config_;
  std::string where_;     // host:port, for messages
  std::string curl_url_;  // without credentials
  std::string domain_;    // the sender's domain (Message-ID, EHLO)
  bool loopback_ = false;
};

}  // namespace

absl::StatusOr<MailerPtr> SmtpMailer::create(const SmtpConfig& config) {
  absl::StatusOr<internal::UrlParts> url = internal::splitUrl(config.url);
  if (!url.ok()) {
    return absl::InvalidArgumentError(strCat("mail: bad SMTP URL: ", sv(url.status().message())));
  }
  if (url->scheme != "smtp" && url->scheme != "smtps") {
    return absl::InvalidArgumentError("mail: the SMTP URL must start with smtp:// or smtps://");
  }
  if (!url->query.empty()) return absl::InvalidArgumentError("mail: the SMTP URL takes no query");
  if (!url->password.empty() && url->user.empty()) {
    return absl::InvalidArgumentError("mail: the SMTP URL has a password but no user");
  }
  // From: "Name <addr>" or "addr".
  std::string_view from = config.from;
  if (from.empty()) return absl::InvalidArgumentError("mail: from is required");
  if (hasCrLf(from)) return absl::InvalidArgumentError("mail: from contains CR or LF");
  if (!isUtf8(from)) return absl::InvalidArgumentError("mail: from is not valid UTF-8");
  std::string addr, header;
  size_t lt = from.rfind('<');
  if (lt != std::string_view::npos) {
    if (from.back() != '>')
      return absl::InvalidArgumentError("mail: from must be 'Name <addr>' or 'addr'");
    addr = std::string(from.substr(lt + 1, from.size() - lt - 2));
    std::string_view name = from.substr(0, lt);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
      name = name.substr(1, name.size() - 2);
    for (unsigned char c : name) {
      if (c < 0x20 || c == 0x7f)
        return absl::InvalidArgumentError("mail: from name contains a control character");
    }
    header =
        name.empty() ? strCat("<", addr, ">") : strCat(encodeDisplayName(name), " <", addr, ">");
  } else {
    addr = std::string(from);
    header = strCat("<", addr, ">");
  }
  RETURN_IF_ERROR(checkAddress("from", addr));
  return MailerPtr(new SmtpMailerImpl(*std::move(url), std::move(header), std::move(addr), config));
}

}  // namespace habanero::outbound
