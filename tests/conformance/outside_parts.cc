#include "outside_parts.h"

#include "habanero/strings.h"
#include "test_process.h"

namespace habanero::conformance {

namespace ot = habanero::outbound::testing;

struct OutsideParts::Servers {
  ot::TempDir dir;
  std::unique_ptr<ot::TestProcess> smtp, sms, web;
  std::string smtp_url, sms_url, sms_ca, web_base;

  // Starts a script and reads the port it prints.
  absl::StatusOr<int> start(std::unique_ptr<ot::TestProcess>& slot,
                            const std::vector<std::string>& argv) {
    std::string error;
    slot = ot::TestProcess::start(argv, &error, /*quiet=*/true);
    if (!slot) return absl::InternalError(strCat("cannot start ", argv[1], ": ", error));
    int port = slot->readPort();
    if (port <= 0) return absl::InternalError(strCat(argv[1], " did not start"));
    return port;
  }
};

OutsideParts::OutsideParts() : servers_(std::make_unique<Servers>()) {}
OutsideParts::~OutsideParts() = default;

absl::StatusOr<std::string> OutsideParts::smtpUrl() {
  Servers& s = *servers_;
  if (!s.smtp_url.empty()) return s.smtp_url;
  std::string python = ot::findPython("aiosmtpd");
  if (python.empty()) {
    return absl::FailedPreconditionError(
        "aiosmtpd is not installed for any python3 (scripts/setup-e2e.sh installs it)");
  }
  ASSIGN_OR_RETURN(int port, s.start(s.smtp, {python, ot::scriptDir() + "/smtp_server.py",
                                              "--maildir", s.dir.path() + "/Maildir"}));
  s.smtp_url = strCat("smtp://127.0.0.1:", port);
  return s.smtp_url;
}

absl::StatusOr<std::string> OutsideParts::smsUrl() {
  Servers& s = *servers_;
  if (!s.sms_url.empty()) return s.sms_url;
  std::string python = ot::findPython();
  if (python.empty()) return absl::FailedPreconditionError("python3 is needed");
  if (!ot::makeSelfSignedCert(s.dir.path())) {
    return absl::InternalError("openssl could not make a certificate");
  }
  ASSIGN_OR_RETURN(int port, s.start(s.sms, {python, ot::scriptDir() + "/http_server.py", "--tls",
                                             s.dir.path() + "/cert.pem",
                                             s.dir.path() + "/key.pem"}));
  s.sms_ca = s.dir.path() + "/cert.pem";
  s.sms_url = strCat("twilio+https://AC0123abcd:token@localhost:", port, "/base/?from=%2B15550100");
  return s.sms_url;
}

std::string OutsideParts::smsCaFile() const { return servers_->sms_ca; }

absl::StatusOr<std::string> OutsideParts::webBase() {
  Servers& s = *servers_;
  if (!s.web_base.empty()) return s.web_base;
  std::string python = ot::findPython();
  if (python.empty()) return absl::FailedPreconditionError("python3 is needed");
  ASSIGN_OR_RETURN(int port, s.start(s.web, {python, ot::scriptDir() + "/http_server.py"}));
  s.web_base = strCat("http://127.0.0.1:", port);
  return s.web_base;
}

}  // namespace habanero::conformance
