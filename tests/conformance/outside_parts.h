// The real outside parts the suite's hosts talk to, started on first use and
// stopped with this object: an SMTP server (aiosmtpd; recipients reject* get
// 550, later* 451), an HTTPS server shaped like a Twilio Messages API
// (+15550000400 refused for good, +15550000500 for now) and a plain HTTP server
// to fetch from. They are the Python servers of tests/unit/outbound.
#pragma once

#include <memory>
#include <string>

#include "habanero/status.h"

namespace habanero::conformance {

class OutsideParts {
 public:
  OutsideParts();
  ~OutsideParts();

  // smtp://127.0.0.1:<port> (plain: loopback needs no STARTTLS).
  absl::StatusOr<std::string> smtpUrl();
  // twilio+https://…@localhost:<port>/base/?from=…; trust smsCaFile()'s file.
  absl::StatusOr<std::string> smsUrl();
  // The CA file for smsUrl()'s certificate ("" before smsUrl()).
  std::string smsCaFile() const;
  // http://127.0.0.1:<port>: /hello, /big?n=, 404 elsewhere (http_server.py).
  absl::StatusOr<std::string> webBase();

 private:
  struct Servers;
  std::unique_ptr<Servers> servers_;
};

}  // namespace habanero::conformance
