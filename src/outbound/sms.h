// Sending SMS through the operator's gateway (capability "sms", design 0002).
// Two providers, chosen by the URL's scheme; credentials stay in the host.
//
//   kannel://user:pass@host:13013[/cgi-bin/sendsms][?from=Habanero]
//       a Kannel smsbox's sendsms HTTP interface (plain HTTP to the smsbox;
//       run the smsbox on the same host or network).
//   twilio+https://ACCOUNT_SID:AUTH_TOKEN@host[:port][/base][?from=+15550100]
//       a Twilio-style Messages API: POST {base}/2010-04-01/Accounts/{SID}/Messages.json
//       with form fields To, From, Body and HTTP Basic auth.
//
// In ?from= a '+' is kept literally (phone numbers); percent-encoding works too.
// Kannel: charset=UTF-8 always, coding=2 (UCS-2) when the text has characters
// outside the GSM 03.38 alphabet. HTTP 2xx is success for both providers.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "habanero/status.h"

namespace habanero::outbound {

struct SmsMessage {
  std::string to;    // E.164, "+14155550100"
  std::string text;  // UTF-8, non-empty
};

// Errors of send(): InvalidArgument (bad number, empty text), FailedPrecondition
// (the gateway refused for good: 4xx other than 429), Unavailable (unreachable,
// timeout, 5xx, 429 — retry later).
class SmsSender {
 public:
  virtual ~SmsSender() = default;
  virtual absl::Status send(const SmsMessage& message) = 0;
};
using SmsSenderPtr = std::unique_ptr<SmsSender>;

struct SmsConfig {
  std::string url;   // see above
  std::string from;  // sender id / number; overrides ?from= in the URL when set
  int64_t timeout_ms = 15'000;
  std::string ca_file;  // twilio+https: "" = the system's CAs (as SmtpConfig::ca_file)
};

// InvalidArgument naming the problem (never echoing the secret) for a bad URL.
absl::StatusOr<SmsSenderPtr> createSmsSender(const SmsConfig& config);

// Whether `number` is E.164: '+', a non-zero digit, then 7..14 more digits.
bool isE164(std::string_view number);

}  // namespace habanero::outbound
