// SMS senders. The real Kannel gateway runs in tests/e2e; here a small local
// Python server (http_server.py) imitates the providers' answers, so these
// tests check OUR request shape and error mapping only, not the providers.
#include "outbound/sms.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_process.h"

namespace habanero::outbound {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;
using testing::TestProcess;

TEST(IsE164Test, Table) {
  EXPECT_TRUE(isE164("+14155550100"));
  EXPECT_TRUE(isE164("+34600123456"));
  EXPECT_TRUE(isE164("+12345678"));           // 8 digits
  EXPECT_TRUE(isE164("+123456789012345"));    // 15 digits
  EXPECT_FALSE(isE164("+1234567"));           // 7 digits
  EXPECT_FALSE(isE164("+1234567890123456"));  // 16 digits
  EXPECT_FALSE(isE164("14155550100"));
  EXPECT_FALSE(isE164("+04155550100"));
  EXPECT_FALSE(isE164("+1 415 555 0100"));
  EXPECT_FALSE(isE164("+1415555010a"));
  EXPECT_FALSE(isE164(""));
  EXPECT_FALSE(isE164("+"));
}

TEST(CreateSmsSenderTest, BadUrlsAreInvalidArgumentWithoutTheSecret) {
  const SmsConfig bad[] = {
      {.url = "http://u:t0ps3cret@gw.example/", .from = "", .timeout_ms = 1000, .ca_file = ""},
      {.url = "kannel://gw.example:13013", .from = "", .timeout_ms = 1000, .ca_file = ""},
      {.url = "twilio+https://AC123:t0ps3cret@api.example",
       .from = "",
       .timeout_ms = 1000,
       .ca_file = ""},
      {.url = "twilio+https://AC-1:t0ps3cret@api.example?from=%2B15550100",
       .from = "",
       .timeout_ms = 1000,
       .ca_file = ""},
      {.url = "twilio+https://AC123@api.example?from=%2B15550100",
       .from = "",
       .timeout_ms = 1000,
       .ca_file = ""},
      {.url = "kannel://u:t0ps3cret@gw.example:99999",
       .from = "",
       .timeout_ms = 1000,
       .ca_file = ""},
      {.url = "", .from = "", .timeout_ms = 1000, .ca_file = ""},
  };
  for (const SmsConfig& c : bad) {
    auto s = createSmsSender(c);
    ASSERT_FALSE(s.ok()) << c.url;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(s.status().message()), Not(HasSubstr("t0ps3cret")));
  }
}

class SmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string python = testing::findPython();
    ASSERT_FALSE(python.empty()) << "python3 is needed for the test HTTP server";
    ASSERT_TRUE(testing::makeSelfSignedCert(dir_.path())) << "openssl req failed";
    cert_ = dir_.path() + "/cert.pem";
    std::string error;
    server_ = TestProcess::start({python, testing::scriptDir() + "/http_server.py", "--tls", cert_,
                                  dir_.path() + "/key.pem"},
                                 &error);
    ASSERT_NE(server_, nullptr) << error;
    port_ = server_->readPort();
    ASSERT_GT(port_, 0);
    plain_ = TestProcess::start({python, testing::scriptDir() + "/http_server.py"}, &error);
    ASSERT_NE(plain_, nullptr) << error;
    plain_port_ = plain_->readPort();
    ASSERT_GT(plain_port_, 0);
  }

  nlohmann::json captured(int port, bool tls) {
    // What the server saw, read back with the curl command.
    std::vector<std::string> argv = {"curl", "-sS", "--noproxy", "*"};
    if (tls) argv.insert(argv.end(), {"--cacert", cert_});
    argv.push_back(std::string(tls ? "https" : "http") + "://localhost:" + std::to_string(port) +
                   "/captured");
    auto out = testing::runCapture(argv);
    if (!out) return nullptr;
    return nlohmann::json::parse(*out, nullptr, false);
  }

  SmsSenderPtr twilio() {
    auto s = createSmsSender({.url = "twilio+https://AC0123abcd:t0k%2Fen@localhost:" +
                                     std::to_string(port_) + "/base/?from=%2B15550100",
                              .from = "",
                              .timeout_ms = 5'000,
                              .ca_file = cert_});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  TempDir dir_;
  std::string cert_;
  std::unique_ptr<TestProcess> server_, plain_;
  int port_ = 0, plain_port_ = 0;
};

TEST_F(SmsTest, TwilioRequestShape) {
  SmsSenderPtr s = twilio();
  ASSERT_NE(s, nullptr);
  absl::Status st = s->send({.to = "+14155550100", .text = "Código: 123456 — Habanero & co"});
  ASSERT_TRUE(st.ok()) << st;
  nlohmann::json seen = captured(port_, true);
  ASSERT_TRUE(seen.is_array()) << seen.dump();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["method"], "POST");
  EXPECT_EQ(seen[0]["path"], "/base/2010-04-01/Accounts/AC0123abcd/Messages.json");
  EXPECT_EQ(seen[0]["authorization"], "Basic QUMwMTIzYWJjZDp0MGsvZW4=");  // AC0123abcd:t0k/en
  EXPECT_EQ(seen[0]["content_type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(seen[0]["form"]["To"], "+14155550100");
  EXPECT_EQ(seen[0]["form"]["From"], "+15550100");
  EXPECT_EQ(seen[0]["form"]["Body"], "Código: 123456 — Habanero & co");
}

TEST_F(SmsTest, TwilioErrorsAreMapped) {
  SmsSenderPtr s = twilio();
  ASSERT_NE(s, nullptr);
  absl::Status bad = s->send({.to = "+15550000400", .text = "x"});
  EXPECT_EQ(bad.code(), absl::StatusCode::kFailedPrecondition) << bad;
  EXPECT_THAT(std::string(bad.message()), HasSubstr("21211"));
  EXPECT_EQ(s->send({.to = "+15550000429", .text = "x"}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s->send({.to = "+15550000500", .text = "x"}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s->send({.to = "5550100", .text = "x"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->send({.to = "+14155550100", .text = ""}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SmsTest, TwilioUntrustedCertificateIsUnavailable) {
  auto s =
      createSmsSender({.url = "twilio+https://AC1:t0ps3cret@localhost:" + std::to_string(port_) +
                              "?from=%2B15550100",
                       .from = "",
                       .timeout_ms = 5'000,
                       .ca_file = ""});
  ASSERT_TRUE(s.ok()) << s.status();
  absl::Status st = (*s)->send({.to = "+14155550100", .text = "x"});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("t0ps3cret")));
}

TEST_F(SmsTest, KannelRequestShape) {
  auto s =
      createSmsSender({.url = "kannel://kuser:k%20p%40ss@127.0.0.1:" + std::to_string(plain_port_) +
                              "?from=Habanero",
                       .from = "",
                       .timeout_ms = 5'000,
                       .ca_file = ""});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->send({.to = "+14155550100", .text = "Your code: 123456 @ Habanero"}).ok());
  ASSERT_TRUE((*s)->send({.to = "+14155550100", .text = "Код: 123456"}).ok());
  nlohmann::json seen = captured(plain_port_, false);
  ASSERT_TRUE(seen.is_array()) << seen.dump();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0]["path"], "/cgi-bin/sendsms");
  std::string gsm = seen[0]["query"], ucs = seen[1]["query"];
  EXPECT_THAT(gsm, HasSubstr("username=kuser&password=k%20p%40ss&to=%2B14155550100"));
  EXPECT_THAT(gsm, HasSubstr("text=Your%20code%3A%20123456%20%40%20Habanero"));
  EXPECT_THAT(gsm, HasSubstr("from=Habanero"));
  EXPECT_THAT(gsm, Not(HasSubstr("coding=2")));  // GSM 03.38 text stays 7-bit
  EXPECT_THAT(ucs, HasSubstr("charset=UTF-8"));
  EXPECT_THAT(ucs, HasSubstr("coding=2"));  // Cyrillic needs UCS-2
}

TEST_F(SmsTest, KannelAuthFailureIsFailedPreconditionWithoutThePassword) {
  auto s =
      createSmsSender({.url = "kannel://kuser:wr0ngpass@127.0.0.1:" + std::to_string(plain_port_),
                       .from = "",
                       .timeout_ms = 5'000,
                       .ca_file = ""});
  ASSERT_TRUE(s.ok()) << s.status();
  absl::Status st = (*s)->send({.to = "+14155550100", .text = "x"});
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("Authorization failed"));
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("wr0ngpass")));
}

TEST_F(SmsTest, GatewayDownIsUnavailable) {
  int port = testing::freePort();
  auto s = createSmsSender({.url = "kannel://kuser:s3cret@127.0.0.1:" + std::to_string(port),
                            .from = "",
                            .timeout_ms = 2'000,
                            .ca_file = ""});
  ASSERT_TRUE(s.ok());
  absl::Status st = (*s)->send({.to = "+14155550100", .text = "x"});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace habanero::outbound
