// channels.hh — what the two magic-link authenticators say and allow, side by side so their
// wording and limits are read and changed together: magic-email (a link and a short code by
// email) and magic-sms (a 6-digit code and a short link by SMS). Each extension adds its own
// functions (address validation, sending) with withFunctions():
//
//   constexpr magic::Channel kEmail = magic::withFunctions(magic::kEmailChannel, normaliseEmail,
//                                                          sendEmail);
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_CHANNELS_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_CHANNELS_HH_

#include "flow.hh"

namespace habanero::magic {

// `ch` with its functions filled in.
constexpr Channel withFunctions(Channel ch,
                                bool (*normalise)(std::string_view, std::string&, std::string&),
                                sdk::Result (*send)(const Message&)) {
  ch.normalise = normalise;
  ch.send = send;
  return ch;
}

inline constexpr Channel kEmailChannel = {
    .name = "email",
    .topic = "magic-email.deliver",
    .userKey = sdk::UserKey::Email,
    .signupField = "email",
    // "otp": a one-time secret sent out of band (RFC 8176); "email": it went to the address,
    // so the login proved it — the host then marks the address verified (issue 16).
    .amrJson = "[\"otp\",\"email\"]",
    .tokenBytes = 32,
    .codeStyle = magic::CodeStyle::Base32x8,
    .defaultMaxPerAddress = 5,
    .defaultMaxPerIp = 20,
    .localeProbe = "template_text",
    .formTitle = "Sign in with email",
    .formIntro = "We will email you a link to sign in. No password needed.",
    .addressLabel = "Email address",
    .addressInput = "type=\"email\" autocomplete=\"email\" inputmode=\"email\"",
    .submitLabel = "Email me a link",
    .missingAddress = "Enter your email address.",
    .sentTitle = "Check your email",
    .sentWhat = "a sign-in link and a code",
    .codeInput =
        "type=\"text\" autocapitalize=\"characters\" maxlength=\"12\" "
        "placeholder=\"XXXX-XXXX\"",
};

inline constexpr Channel kSmsChannel = {
    .name = "sms",
    .topic = "magic-sms.deliver",
    .userKey = sdk::UserKey::Phone,
    .signupField = "phone_number",
    // RFC 8176 "sms": the login proved the phone number (the host marks it verified).
    .amrJson = "[\"sms\"]",
    .tokenBytes = 16,
    .codeStyle = magic::CodeStyle::Digits6,
    .defaultMaxPerAddress = 3,
    .defaultMaxPerIp = 10,
    .localeProbe = "template_sms",
    .formTitle = "Sign in with your phone",
    .formIntro = "We will text you a code to sign in. No password needed.",
    .addressLabel = "Mobile number",
    .addressInput =
        "type=\"tel\" autocomplete=\"tel\" inputmode=\"tel\" "
        "placeholder=\"+44 7700 900123\"",
    .submitLabel = "Text me a code",
    .missingAddress = "Enter your mobile number.",
    .sentTitle = "Check your phone",
    .sentWhat = "a code and a sign-in link",
    .codeInput =
        "type=\"text\" inputmode=\"numeric\" maxlength=\"8\" "
        "placeholder=\"123456\"",
};

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_CHANNELS_HH_
