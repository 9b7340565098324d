// Sending email through the operator's SMTP server (capability "mail",
// design 0002). The host owns the account: extensions hand over a message and
// never see the URL's credentials.
//
//   ASSIGN_OR_RETURN(MailerPtr mailer,
//                    SmtpMailer::create({.url = "smtp://user:pass@mail.example:587",
//                                        .from = "Habanero <login@example.com>"}));
//   absl::Status s = mailer->send({.to = "ana@example.com", .subject = "…", .text = "…"});
//
// Thread-safe: send() may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "habanero/status.h"

namespace habanero::outbound {

struct MailMessage {
  std::string to;       // one address, "local@domain"
  std::string subject;  // UTF-8, no CR/LF
  std::string text;     // text/plain body (UTF-8)
  std::string html;     // optional text/html alternative ("" for none)
};

// Errors of send():
//   InvalidArgument    the message is malformed (address, header injection, empty text);
//   FailedPrecondition the server refused for good (5xx) — retrying will not help;
//   Unavailable        not reachable, TLS failure, timeout or a 4xx — retry later.
class Mailer {
 public:
  virtual ~Mailer() = default;
  virtual absl::Status send(const MailMessage& message) = 0;
};
using MailerPtr = std::unique_ptr<Mailer>;

struct SmtpConfig {
  // smtp://[user[:password]@]host[:port]  (STARTTLS required unless the
  //   host is a loopback address; port 587 by default)
  // smtps://[user[:password]@]host[:port] (implicit TLS, port 465 by default)
  // User and password are percent-decoded.
  std::string url;
  std::string from;  // "Name <addr>" or "addr"; required
  int64_t timeout_ms = 30'000;
  std::string ca_file;  // "" = the system's CAs
};

class SmtpMailer : public Mailer {
 public:
  // InvalidArgument (naming the problem, never echoing the password) for a
  // bad URL or From address.
  static absl::StatusOr<MailerPtr> create(const SmtpConfig& config);
};

}  // namespace habanero::outbound
