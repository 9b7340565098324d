// The JSON shapes of the outbound capabilities (design 0002, docs/abi.md):
// what an extension's mail_send, sms_send and http_fetch carry, and what
// http_fetch answers. The runtime's glue only moves these bytes.
//
//   ASSIGN_OR_RETURN(MailMessage m, mailMessageFromJson(R"({"to":…,"subject":…,"text":…})"));
//   ASSIGN_OR_RETURN(std::string answer, fetchJson(fetcher, R"({"url":"https://…"})", policy));
#pragma once

#include <string>
#include <string_view>

#include "habanero/status.h"
#include "outbound/fetch.h"
#include "outbound/mail.h"
#include "outbound/sms.h"

namespace habanero::outbound {

// {"to","subject","text","html"?}, all strings. InvalidArgument otherwise
// (the message's own rules are the Mailer's).
absl::StatusOr<MailMessage> mailMessageFromJson(std::string_view json);

// {"to":"+E164","text"} with a non-empty text. InvalidArgument otherwise.
absl::StatusOr<SmsMessage> smsMessageFromJson(std::string_view json);

// Performs the GET that `request_json` describes — {"url","accept"?,
// "parse":"turtle"?} — under `policy`, and answers {"status","url" (final),
// "content_type","links":[…],"body"}, or "triples":[[s,p,o],…] instead of
// "body" with parse "turtle". Errors: InvalidArgument (bad request JSON, an
// unknown parse, a URL fetch() refuses as malformed, a body that is not
// Turtle), PermissionDenied, ResourceExhausted and Unavailable as fetch()
// has them. Messages name the URL. Invalid UTF-8 in the answer is replaced.
absl::StatusOr<std::string> fetchJson(Fetcher& fetcher, std::string_view request_json,
                                      const FetchPolicy& policy);

}  // namespace habanero::outbound
