// The JSON shapes of mail_send, sms_send and http_fetch (outbound/json_api.h),
// the last against a real local HTTP server (http_server.py).
#include "outbound/json_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_process.h"

namespace habanero::outbound {
namespace {

using ::testing::HasSubstr;
using testing::TestProcess;

TEST(MailMessageFromJson, TakesTheFourStringsAndNothingElse) {
  auto m =
      mailMessageFromJson(R"({"to":"ana@example.com","subject":"Hi","text":"t","html":"<p>"})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->to, "ana@example.com");
  EXPECT_EQ(m->subject, "Hi");
  EXPECT_EQ(m->text, "t");
  EXPECT_EQ(m->html, "<p>");
  EXPECT_EQ(mailMessageFromJson(R"({"to":"a@b","subject":"","text":""})")->html, "");
  for (const char* bad : {"", "[]", "{", R"({"to":"a@b","subject":"s"})",
                          R"({"to":1,"subject":"s","text":"t"})"}) {
    EXPECT_EQ(mailMessageFromJson(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(SmsMessageFromJson, NeedsAnE164NumberAndText) {
  auto m = smsMessageFromJson(R"({"to":"+14155550100","text":"code 123"})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->to, "+14155550100");
  EXPECT_EQ(m->text, "code 123");
  for (const char* bad : {R"({"to":"4155550100","text":"x"})", R"({"to":"+14155550100","text":""})",
                          R"({"to":"+14155550100"})", "null"}) {
    EXPECT_EQ(smsMessageFromJson(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

class FetchJsonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string python = testing::findPython();
    if (python.empty()) return;
    std::string error;
    server_ =
        TestProcess::start({python, testing::scriptDir() + "/http_server.py"}, &error).release();
    if (server_ != nullptr) port_ = server_->readPort();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "cannot start http_server.py (python3 is needed)";
    ASSERT_GT(port_, 0) << "test HTTP server did not start";
  }
  std::string request(const std::string& path, const std::string& extra = "") const {
    return R"({"url":"http://127.0.0.1:)" + std::to_string(port_) + path + "\"" + extra + "}";
  }

  Fetcher fetcher_;
  static inline TestProcess* server_ = nullptr;
  static inline int port_ = 0;
};

TEST_F(FetchJsonTest, AnswersStatusUrlContentTypeLinksAndBody) {
  FetchPolicy policy;
  policy.allow_loopback = true;
  auto answer = fetchJson(fetcher_, request("/hello", R"(,"accept":"text/plain")"), policy);
  ASSERT_TRUE(answer.ok()) << answer.status();
  auto j = nlohmann::json::parse(*answer);
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["body"], "hello");
  EXPECT_EQ(j["content_type"], "text/plain; charset=utf-8");
  EXPECT_EQ(j["url"], "http://127.0.0.1:" + std::to_string(port_) + "/hello");
  EXPECT_EQ(j["links"].size(), 2u);
  EXPECT_FALSE(j.contains("triples"));
}

TEST_F(FetchJsonTest, RefusalsKeepFetchsCodesAndNameTheUrl) {
  FetchPolicy policy;  // no loopback
  auto denied = fetchJson(fetcher_, request("/hello"), policy);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("127.0.0.1"));
  policy.allow_loopback = true;
  policy.allowed_hosts = {"example.org"};
  EXPECT_EQ(fetchJson(fetcher_, request("/hello"), policy).status().code(),
            absl::StatusCode::kPermissionDenied);
  policy.allowed_hosts.clear();
  policy.max_bytes = 10;
  EXPECT_EQ(fetchJson(fetcher_, request("/big?n=100"), policy).status().code(),
            absl::StatusCode::kResourceExhausted);
  policy.max_bytes = 1 << 20;
  // The body "hello" is not Turtle.
  EXPECT_EQ(fetchJson(fetcher_, request("/hello", R"(,"parse":"turtle")"), policy).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const std::string bad : {std::string("{"), std::string("[]"), std::string(R"({"url":1})"),
                                request("/hello", R"(,"parse":"xml")")}) {
    EXPECT_EQ(fetchJson(fetcher_, bad, policy).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace habanero::outbound
