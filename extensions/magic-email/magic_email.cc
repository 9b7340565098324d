// magic-email: the "email me a link" authenticator (design 0002, issue 5).
//
// The flow, the pages, the storage and the event handler are shared with magic-sms
// (extensions/common/magic/flow.hh); this file says what is particular to email: address
// validation and normalisation (as `habanero user add` does: trimmed, ASCII lower-case),
// the secrets (a 256-bit link token and an independent 40-bit code, "7KQ2-M9XD"), the
// templates (subject, text, HTML) and mail_send. amr: ["otp", "email"] — a one-time secret
// delivered out of band is RFC 8176's "otp"; "email" (not in RFC 8176's registry) says it
// went to the user's address, so the login proved the address and the host marks it
// verified (email_verified: true in later ID tokens). See README.md for the operator's view.
#include <habanero.hh>
#include <string>
#include <string_view>

#include "magic/channels.hh"
#include "magic/flow.hh"

namespace magic = habanero::magic;
namespace sdk = habanero::sdk;

namespace {

constexpr std::string_view kDefaultSubject = "Your sign-in link for {{host}}";

constexpr std::string_view kDefaultText =
    "Hello,\n"
    "\n"
    "Someone, hopefully you, asked to sign in to {{issuer}} with this email address.\n"
    "\n"
    "To sign in, open this link in the browser where you asked for it:\n"
    "\n"
    "{{link}}\n"
    "\n"
    "Or type this code on the sign-in page: {{code}}\n"
    "\n"
    "The link and the code work once, for {{minutes}} minutes. If you did not ask to sign "
    "in, ignore this message: nobody can sign in without it.\n";

constexpr std::string_view kDefaultHtml =
    "<!doctype html>\n"
    "<html><body style=\"font-family: system-ui, sans-serif; line-height: 1.5; color: "
    "#1d1d1f\">\n"
    "<p>Hello,</p>\n"
    "<p>Someone, hopefully you, asked to sign in to <strong>{{host}}</strong> with this email "
    "address.</p>\n"
    "<p><a href=\"{{link}}\" style=\"display: inline-block; padding: 0.6em 1.2em; background: "
    "#c2410c; color: #ffffff; border-radius: 8px; text-decoration: none; font-weight: "
    "600\">Sign in</a></p>\n"
    "<p>Open the link in the browser where you asked for it, or type this code on the sign-in "
    "page:</p>\n"
    "<p style=\"font-size: 1.5em; font-weight: 600; letter-spacing: 0.1em\">{{code}}</p>\n"
    "<p style=\"color: #5f6368\">The link and the code work once, for {{minutes}} minutes. If "
    "you did not ask to sign in, ignore this message: nobody can sign in without it.</p>\n"
    "</body></html>\n";

constexpr size_t kMaxAddress = 254;  // RFC 5321 path limit
constexpr size_t kMaxLocalPart = 64;

bool domainChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c >= 0x80;  // U-labels: the SMTP server decides
}

bool localChar(unsigned char c) {
  if (c >= 0x80) return true;  // SMTPUTF8 local parts
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+/=?^_`{|}~.-").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

// name@example.com: one '@', a dot-atom local part, a domain with a dot. Lower-cased like
// `habanero user add`, so user_find finds what the CLI stored.
bool normaliseEmail(std::string_view typed, std::string& out, std::string& error) {
  std::string_view a = magic::trim(typed);
  constexpr std::string_view kInvalid = "Enter an email address like name@example.com.";
  if (a.empty()) {
    error = "Enter your email address.";
    return false;
  }
  if (a.size() > kMaxAddress) {
    error = "That email address is too long.";
    return false;
  }
  size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || a.find('@', at + 1) != std::string_view::npos) {
    error = kInvalid;
    return false;
  }
  std::string_view local = a.substr(0, at);
  std::string_view domain = a.substr(at + 1);
  bool ok = local.size() <= kMaxLocalPart && local.front() != '.' && local.back() != '.' &&
            local.find("..") == std::string_view::npos && !domain.empty() &&
            domain.find('.') != std::string_view::npos && domain.front() != '.' &&
            domain.back() != '.' && domain.front() != '-' &&
            domain.find("..") == std::string_view::npos;
  for (unsigned char c : local) ok = ok && localChar(c);
  for (unsigned char c : domain) ok = ok && domainChar(c);
  if (!ok) {
    error = kInvalid;
    return false;
  }
  out = magic::asciiLower(a);
  return true;
}

// Header text must be one line; the host refuses CR/LF too, this keeps the message sendable.
std::string oneLine(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return std::string(magic::trim(s));
}

sdk::Result sendEmail(const magic::Message& m) {
  std::string subject = oneLine(magic::renderTemplate(
      magic::templateFor("template_subject", m.locale, kDefaultSubject), m.vars, false));
  std::string text = magic::renderTemplate(
      magic::templateFor("template_text", m.locale, kDefaultText), m.vars, false);
  std::string html = magic::renderTemplate(
      magic::templateFor("template_html", m.locale, kDefaultHtml), m.vars, true);
  magic::Json message = {{"to", m.to}, {"subject", subject}, {"text", text}};
  if (!magic::trim(html).empty()) message["html"] = html;  // template_html = "": text only
  return sdk::mailSend(magic::dumpJson(message));
}

constexpr magic::Channel kEmail =
    magic::withFunctions(magic::kEmailChannel, normaliseEmail, sendEmail);

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() { return magic::onRequest(kEmail); }

HABANERO_EXPORT("habanero_on_event") int32_t onEvent() { return magic::onEvent(kEmail); }
