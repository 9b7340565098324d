// SmtpMailer against a real SMTP server (aiosmtpd, Debian python3-aiosmtpd):
// plain to loopback, STARTTLS + AUTH with a self-signed CA, implicit TLS,
// refusals and outages. Messages are read back from the server's Maildir and
// parsed with Python's email package.
#include "outbound/mail.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_process.h"

namespace habanero::outbound {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;
using testing::TestProcess;

constexpr char kPassword[] = "s3cr:t/p@ss%";
constexpr char kPasswordEncoded[] = "s3cr%3At%2Fp%40ss%25";

class MailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = testing::findPython("aiosmtpd");
    ASSERT_FALSE(python_.empty())
        << "aiosmtpd is not installed for any python3: run scripts/setup-e2e.sh "
           "(it installs python3-aiosmtpd)";
    ASSERT_FALSE(dir_.path().empty());
    maildir_ = dir_.path() + "/Maildir";
  }

  // Starts smtp_server.py with extra arguments; returns its port.
  int startServer(std::vector<std::string> extra, const std::string& host = "127.0.0.1") {
    std::vector<std::string> argv = {
        python_, testing::scriptDir() + "/smtp_server.py", "--maildir", maildir_, "--host", host};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    server_ = TestProcess::start(argv, &error);
    EXPECT_NE(server_, nullptr) << error;
    if (!server_) return 0;
    int port = server_->readPort();
    EXPECT_GT(port, 0) << "smtp_server.py did not start";
    return port;
  }

  bool makeCert() {
    if (!testing::makeSelfSignedCert(dir_.path())) return false;
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    return true;
  }

  std::vector<std::string> delivered() const {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(maildir_ + "/new", ec)) {
      files.push_back(e.path().string());
    }
    return files;
  }

  nlohmann::json parse(const std::string& file) const {
    auto out = testing::runCapture({python_, testing::scriptDir() + "/parse_mail.py", file});
    if (!out) return nullptr;
    return nlohmann::json::parse(*out, nullptr, false);
  }

  absl::Status send(const std::string& url, const MailMessage& m, const std::string& ca = "",
                    int64_t timeout_ms = 10'000) {
    auto mailer = SmtpMailer::create({.url = url,
                                      .from = "Habanero Login <login@example.com>",
                                      .timeout_ms = timeout_ms,
                                      .ca_file = ca});
    if (!mailer.ok()) return mailer.status();
    return (*mailer)->send(m);
  }

  std::string python_;
  TempDir dir_;
  std::string maildir_, cert_, key_;
  std::unique_ptr<TestProcess> server_;
};

MailMessage sample() {
  return {
      .to = "ana@example.org",
      .subject = "Tu enlace de acceso — Habanero ✓",
      .text =
          "Hola Ana,\n\nabre este enlace: https://login.example.com/login/email/confirm?t=abc=def\n"
          ".una línea que empieza con punto\nfin  \n",
      .html = "<p>Hola Ana, <a href=\"https://login.example.com/x?t=abc\">entra</a> ✓</p>"};
}

TEST_F(MailTest, PlainToLoopbackWithTheStockAiosmtpdServer) {
  // The stock server: python3 -m aiosmtpd with the Maildir handler, no TLS offered.
  int port = testing::freePort();
  std::string error;
  server_ = TestProcess::start(
      {python_, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + std::to_string(port), "-c",
       "aiosmtpd.handlers.Mailbox", maildir_},
      &error);
  ASSERT_NE(server_, nullptr) << error;
  ASSERT_TRUE(testing::waitForPort("127.0.0.1", port, 20'000));
  MailMessage m = sample();
  absl::Status s = send("smtp://127.0.0.1:" + std::to_string(port), m);
  ASSERT_TRUE(s.ok()) << s;

  auto files = delivered();
  ASSERT_EQ(files.size(), 1u);
  nlohmann::json j = parse(files[0]);
  ASSERT_TRUE(j.is_object()) << testing::readFile(files[0]);
  EXPECT_EQ(j["from"], "Habanero Login <login@example.com>");
  EXPECT_EQ(j["to"], "ana@example.org");
  EXPECT_EQ(j["subject"], m.subject);  // RFC 2047 decoded back
  EXPECT_TRUE(j["date_parsed"].get<bool>());
  EXPECT_THAT(j["message_id"].get<std::string>(),
              ::testing::MatchesRegex("<[0-9a-f]+@example\\.com>"));
  EXPECT_EQ(j["mime_version"], "1.0");
  EXPECT_EQ(j["content_type"], "multipart/alternative");
  EXPECT_TRUE(j["defects"].empty()) << j["defects"].dump();
  EXPECT_TRUE(j["raw_ascii"].get<bool>());
  EXPECT_LE(j["max_line"].get<int>(), 78);
  ASSERT_EQ(j["parts"].size(), 2u);
  EXPECT_EQ(j["parts"][0]["type"], "text/plain");
  EXPECT_EQ(j["parts"][0]["charset"], "utf-8");
  EXPECT_EQ(j["parts"][0]["body"], m.text);  // trailing spaces, the leading '.', UTF-8 intact
  EXPECT_EQ(j["parts"][1]["type"], "text/html");
  EXPECT_EQ(j["parts"][1]["body"], m.html);
}

TEST_F(MailTest, TextOnlyMessageIsSinglePart) {
  int port = startServer({});
  ASSERT_GT(port, 0);
  absl::Status s =
      send("smtp://localhost:" + std::to_string(port),
           {.to = "ana@example.org", .subject = "Plain", .text = "just text", .html = ""});
  ASSERT_TRUE(s.ok()) << s;
  auto files = delivered();
  ASSERT_EQ(files.size(), 1u);
  nlohmann::json j = parse(files[0]);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["subject"], "Plain");
  EXPECT_EQ(j["content_type"], "text/plain");
  ASSERT_EQ(j["parts"].size(), 1u);
  EXPECT_EQ(j["parts"][0]["body"], "just text\n");
}

TEST_F(MailTest, StartTlsWithAuthAndOurCa) {
  ASSERT_TRUE(makeCert()) << "openssl req failed";
  int port = startServer({"--starttls", cert_, key_, "--auth", "mailer", kPassword});
  ASSERT_GT(port, 0);
  std::string url =
      "smtp://mailer:" + std::string(kPasswordEncoded) + "@localhost:" + std::to_string(port);
  absl::Status s = send(url, sample(), cert_);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(delivered().size(), 1u);

  // The system CAs do not trust the self-signed certificate: TLS fails, retry later.
  absl::Status untrusted = send(url, sample());
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.code(), absl::StatusCode::kUnavailable) << untrusted;
  EXPECT_THAT(std::string(untrusted.message()), Not(HasSubstr("s3cr")));

  // A wrong password is refused for good, and never echoed.
  absl::Status denied =
      send("smtp://mailer:wrong-s3cret@localhost:" + std::to_string(port), sample(), cert_);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.code(), absl::StatusCode::kFailedPrecondition) << denied;
  EXPECT_THAT(std::string(denied.message()), Not(HasSubstr("wrong-s3cret")));
  EXPECT_EQ(delivered().size(), 1u);
}

TEST_F(MailTest, ImplicitTls) {
  ASSERT_TRUE(makeCert());
  int port = startServer({"--implicit-tls", cert_, key_, "--auth", "mailer", kPassword});
  ASSERT_GT(port, 0);
  absl::Status s =
      send("smtps://mailer:" + std::string(kPasswordEncoded) + "@localhost:" + std::to_string(port),
           sample(), cert_);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(delivered().size(), 1u);
}

// Beyond loopback, smtp:// must not fall back to plain text.
TEST_F(MailTest, StartTlsRequiredBeyondLoopback) {
  std::string host;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i != nullptr && host.empty(); i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
      if (std::string(buf).rfind("127.", 0) != 0) host = buf;
    }
    freeifaddrs(ifs);
  }
  if (host.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address to test with";
  int port = startServer({}, host);
  ASSERT_GT(port, 0);
  absl::Status s = send("smtp://" + host + ":" + std::to_string(port), sample());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(delivered().empty());
}

TEST_F(MailTest, PermanentRefusalIsFailedPrecondition) {
  int port = startServer({});
  ASSERT_GT(port, 0);
  MailMessage m = sample();
  m.to = "rejected@example.org";
  absl::Status s = send("smtp://127.0.0.1:" + std::to_string(port), m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("550"));
}

TEST_F(MailTest, TemporaryRefusalIsUnavailable) {
  int port = startServer({});
  ASSERT_GT(port, 0);
  MailMessage m = sample();
  m.to = "later@example.org";
  absl::Status s = send("smtp://127.0.0.1:" + std::to_string(port), m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST_F(MailTest, ServerDownIsUnavailable) {
  int port = testing::freePort();
  absl::Status s =
      send("smtp://user:" + std::string(kPasswordEncoded) + "@127.0.0.1:" + std::to_string(port),
           sample(), "", 3'000);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("s3cr")));
}

TEST_F(MailTest, HeaderInjectionAndBadMessagesAreInvalidArgument) {
  auto mailer = SmtpMailer::create({.url = "smtp://127.0.0.1:1",
                                    .from = "login@example.com",
                                    .timeout_ms = 30000,
                                    .ca_file = ""});
  ASSERT_TRUE(mailer.ok()) << mailer.status();
  const MailMessage bad[] = {
      {.to = "ana@example.org",
       .subject = "Hi\r\nBcc: victim@example.org",
       .text = "x",
       .html = ""},
      {.to = "ana@example.org", .subject = "Hi\nBcc: victim@example.org", .text = "x", .html = ""},
      {.to = "ana@example.org\r\nBcc: victim@example.org",
       .subject = "Hi",
       .text = "x",
       .html = ""},
      {.to = "ana@example.org>, <victim@example.org", .subject = "Hi", .text = "x", .html = ""},
      {.to = "not-an-address", .subject = "Hi", .text = "x", .html = ""},
      {.to = "", .subject = "Hi", .text = "x", .html = ""},
      {.to = "ana@example.org", .subject = "Hi", .text = "", .html = ""},
      {.to = "ana@example.org", .subject = "Hi", .text = "bad utf-8 \xff", .html = ""},
  };
  for (const MailMessage& m : bad) {
    absl::Status s = (*mailer)->send(m);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
        << m.to << " / " << m.subject << ": " << s;
  }
}

TEST_F(MailTest, BadConfigurationIsInvalidArgumentWithoutThePassword) {
  const SmtpConfig bad[] = {
      {.url = "http://u:hunter2@mail.example/",
       .from = "login@example.com",
       .timeout_ms = 30000,
       .ca_file = ""},
      {.url = "smtp://u:hunter2@mail.example:99999",
       .from = "login@example.com",
       .timeout_ms = 30000,
       .ca_file = ""},
      {.url = "smtp://u:hunter2@", .from = "login@example.com", .timeout_ms = 30000, .ca_file = ""},
      {.url = "smtp://u:hunter2@mail.example", .from = "", .timeout_ms = 30000, .ca_file = ""},
      {.url = "smtp://u:hunter2@mail.example",
       .from = "Evil\r\nBcc: x@example.org <login@example.com>",
       .timeout_ms = 30000,
       .ca_file = ""},
      {.url = "smtp://u:hunter2@mail.example",
       .from = "no at sign",
       .timeout_ms = 30000,
       .ca_file = ""},
  };
  for (const SmtpConfig& c : bad) {
    auto m = SmtpMailer::create(c);
    ASSERT_FALSE(m.ok()) << c.url << " " << c.from;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(m.status().message()), Not(HasSubstr("hunter2")));
  }
}

}  // namespace
}  // namespace habanero::outbound
