// magic-sms: the "text me a code" authenticator (design 0002, issue 5).
//
// The flow, the pages, the storage and the event handler are shared with magic-email
// (extensions/common/magic/flow.hh); this file says what is particular to SMS: E.164
// validation with messages a person can act on, an optional allow-list of country prefixes
// (against SMS pumping), the secrets (a 6-digit code and a 128-bit link token, so the link
// stays short), the one text template and sms_send. amr: ["sms"] (RFC 8176 §2).
#include <habanero.hh>
#include <string>
#include <string_view>

#include "magic/channels.hh"
#include "magic/flow.hh"

namespace magic = habanero::magic;
namespace sdk = habanero::sdk;

namespace {

// The last line is the origin-bound one-time-code format browsers autofill from
// ("@host #code").
constexpr std::string_view kDefaultSms =
    "{{code}} is your {{host}} sign-in code. Or open {{link}} - valid {{minutes}} min. Do not "
    "share it.\n"
    "\n"
    "@{{host}} #{{code}}";

constexpr size_t kMinDigits = 8;   // as the host's isE164: a non-zero digit and 7..14 more
constexpr size_t kMaxDigits = 15;  // E.164

// "+44 7700 900123", "0044 (7700) 900-123" -> "+447700900123".
bool normalisePhone(std::string_view typed, std::string& out, std::string& error) {
  std::string_view t = magic::trim(typed);
  std::string digits;
  bool plus = false;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/') continue;
    if (c == '+' && digits.empty() && !plus) {
      plus = true;
      continue;
    }
    if (c < '0' || c > '9') {
      error = "A phone number has only digits after the +, like +44 7700 900123.";
      return false;
    }
    digits.push_back(c);
  }
  if (!plus && digits.starts_with("00")) {
    digits.erase(0, 2);
    plus = true;
  }
  if (!plus) {
    error =
        "Enter your number in international format: + and the country code first, like "
        "+44 7700 900123.";
    return false;
  }
  if (digits.empty() || digits.front() == '0') {
    error = "After the + comes the country code, which never starts with 0.";
    return false;
  }
  if (digits.size() < kMinDigits || digits.size() > kMaxDigits) {
    error = "That number has " + std::to_string(digits.size()) +
            " digits; an international number has 8 to 15, with the country code.";
    return false;
  }
  std::string number = "+" + digits;
  if (std::optional<std::string> allowed = sdk::setting("allowed_prefixes")) {
    std::string_view list = *allowed;
    bool ok = false;
    std::string shown;
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t end = list.find(',', pos);
      if (end == std::string_view::npos) end = list.size();
      std::string_view p = magic::trim(list.substr(pos, end - pos));
      if (!p.empty()) {
        if (number.starts_with(p)) ok = true;
        shown += (shown.empty() ? "" : ", ") + std::string(p);
      }
      pos = end + 1;
    }
    if (!ok && !shown.empty()) {
      error = "Text messages can only be sent to numbers starting with " + shown + ".";
      return false;
    }
  }
  out = std::move(number);
  return true;
}

sdk::Result sendSms(const magic::Message& m) {
  std::string text = magic::renderTemplate(
      magic::templateFor("template_sms", m.locale, kDefaultSms), m.vars, false);
  return sdk::smsSend(magic::dumpJson(magic::Json{{"to", m.to}, {"text", text}}));
}

constexpr magic::Channel kSms = magic::withFunctions(magic::kSmsChannel, normalisePhone, sendSms);

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() { return magic::onRequest(kSms); }

HABANERO_EXPORT("habanero_on_event") int32_t onEvent() { return magic::onEvent(kSms); }
