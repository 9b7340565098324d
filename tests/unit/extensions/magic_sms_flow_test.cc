// The magic-sms authenticator's flows (extensions/magic-sms + extensions/common/magic), its
// sources compiled natively against the SDK test kit (sdk/testing/fake_host.h): numbers typed
// loosely are normalised to E.164 or refused with a message; asking publishes one event whose
// delivery sends one SMS with a 6-digit code and a short link; code and link work once, for
// ttl_s, in the browser that asked; wrong codes lock; unknown numbers get the same page and no
// SMS; send limits and allowed_prefixes; a gateway that is down is retried.
// The real host with a real SMS gateway stand-in: tests/interop (magic_sms_test.py).
#include <gtest/gtest.h>
#include <habanero.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <string>

#include "fake_host.h"

int32_t onRequest();  // extensions/magic-sms/magic_sms.cc: habanero_on_request
int32_t onEvent();    // … and habanero_on_event

namespace ht = habanero::testing;
using Json = nlohmann::json;

namespace {

const std::string kIssuer = "https://id.example";
const std::string kMount = "/login/sms";
const std::string kTopic = "magic-sms.deliver";
const std::string kReturnTo = "/authorize/resume?p=sms";
const std::string kNumber = "+447700900123";
const ht::Headers kSameOrigin = {{"Sec-Fetch-Site", "same-origin"}};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class MagicSmsFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    host.name = "magic-sms";
    host.mount = kMount;
    host.settings["issuer"] = kIssuer;
    host.publish = {kTopic};
    host.addUser({.sub = "u1", .email = "ana@example.com", .phone_number = kNumber});
  }

  ht::Response ask(ht::Browser& b, const std::string& rt, const std::string& number) {
    return b.post(kMount + "/", {{"rt", rt}, {"address", number}}, kSameOrigin);
  }
  ht::Response code(ht::Browser& b, const std::string& rt, const std::string& c) {
    return b.post(kMount + "/code", {{"rt", rt}, {"code", c}}, kSameOrigin);
  }

  struct Secrets {
    std::string token, code;
  };
  Secrets secretsOf(size_t i) {
    Secrets s;
    if (i >= host.texts.size()) return s;
    std::smatch m;
    const std::string& text = host.texts[i].text;
    if (std::regex_search(text, m, std::regex(kIssuer + kMount + "/confirm\\?t=([A-Za-z0-9_-]+)")))
      s.token = m[1];
    if (std::regex_search(text, m, std::regex("^([0-9]{6}) "))) s.code = m[1];
    return s;
  }
  Secrets askAndDeliver(ht::Browser& b, const std::string& rt) {
    size_t sent = host.texts.size();
    EXPECT_EQ(ask(b, rt, kNumber).status, 200);
    EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
    EXPECT_EQ(host.texts.size(), sent + 1);
    return secretsOf(sent);
  }

  ht::FakeHost host{onRequest, onEvent};
  ht::Browser browser{host};
};

TEST_F(MagicSmsFlow, ALooselyTypedNumberGetsOneSmsWithACodeAndALink) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response r = ask(browser, rt, "0044 (7700) 900-123");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(host.outbox.size(), 1u);
  EXPECT_EQ(host.outbox[0].topic, kTopic);
  EXPECT_EQ(Json::parse(host.outbox[0].payload, nullptr, false)["address"], kNumber);
  EXPECT_TRUE(host.texts.empty());
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
  ASSERT_EQ(host.texts.size(), 1u);
  EXPECT_EQ(host.texts[0].to, kNumber);
  Secrets s = secretsOf(0);
  EXPECT_EQ(s.code.size(), 6u) << host.texts[0].text;
  EXPECT_EQ(s.token.size(), 22u);  // 128 bits: the SMS stays short
  EXPECT_TRUE(contains(host.texts[0].text, "#" + s.code));  // origin-bound one-time code
  for (const std::string& k : host.kvKeys()) {
    EXPECT_FALSE(contains(*host.kvGet(k), s.token)) << k;
  }
}

TEST_F(MagicSmsFlow, TheCodeCompletesTheLoginOnce) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  ht::Response r = code(browser, rt, s.code.substr(0, 3) + " " + s.code.substr(3));
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.location(), kReturnTo);
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.logins[0].subject, "u1");
  EXPECT_EQ(host.logins[0].amr, std::vector<std::string>{"sms"});
  ASSERT_NE(browser.session(), nullptr);
  // Used: neither the code nor the link works again.
  EXPECT_NE(code(browser, rt, s.code).status, 303);
  EXPECT_EQ(browser.get(kMount + "/confirm?t=" + s.token).status, 410);
  EXPECT_EQ(host.logins.size(), 1u);
}

TEST_F(MagicSmsFlow, TheLinkWorksOnceInTheBrowserThatAsked) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  ht::Browser preview(host, "198.51.100.8");  // a link previewer
  EXPECT_EQ(preview.get(kMount + "/confirm?t=" + s.token).status, 400);
  EXPECT_EQ(browser.get(kMount + "/confirm?t=" + s.token).status, 200);
  ht::Response r = browser.post(kMount + "/confirm", {{"t", s.token}}, kSameOrigin);
  EXPECT_EQ(r.status, 303) << r.body;
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.logins[0].amr, std::vector<std::string>{"sms"});
  EXPECT_EQ(browser.post(kMount + "/confirm", {{"t", s.token}}, kSameOrigin).status, 410);
}

TEST_F(MagicSmsFlow, CodesExpireAndWrongOnesLock) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  std::string wrong = s.code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(code(browser, rt, wrong).status, 200) << i;
  EXPECT_EQ(code(browser, rt, wrong).status, 429);  // max_code_attempts: 5
  EXPECT_EQ(code(browser, rt, s.code).status, 429);
  EXPECT_TRUE(host.logins.empty());

  ht::Browser other(host);
  std::string rt2 = other.startLogin(kReturnTo);
  host.settings["ttl_s"] = "30";
  Secrets s2 = askAndDeliver(other, rt2);
  host.advance(30'000);
  ht::Response r = code(other, rt2, s2.code);
  EXPECT_NE(r.status, 303);
  EXPECT_LT(r.status, 500);
  EXPECT_TRUE(host.logins.empty());
}

TEST_F(MagicSmsFlow, NumbersAreValidatedWithAMessageAndNothingIsSent) {
  std::string rt = browser.startLogin(kReturnTo);
  for (std::string bad : {"07700 900123", "+0 7700 900123", "+44 77", "+44 7700 900123 ext 5",
                          "+1234567890123456", ""}) {
    ht::Response r = ask(browser, rt, bad);
    EXPECT_EQ(r.status, 400) << bad;
  }
  host.settings["allowed_prefixes"] = "+33, +49";
  ht::Response r = ask(browser, rt, kNumber);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.body, "+33, +49"));
  EXPECT_TRUE(host.outbox.empty());
  host.settings["allowed_prefixes"] = "+33,+44";
  EXPECT_EQ(ask(browser, rt, kNumber).status, 200);
  EXPECT_EQ(host.outbox.size(), 1u);
}

TEST_F(MagicSmsFlow, AnUnknownNumberGetsTheSamePageAndNoSms) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response known = ask(browser, rt, kNumber);
  ht::Response unknown = ask(browser, rt, "+447700900999");
  EXPECT_EQ(known.status, unknown.status);
  std::string a = known.body, b = unknown.body;
  a.replace(a.find(kNumber), kNumber.size(), "NUMBER");
  b.replace(b.find("+447700900999"), kNumber.size(), "NUMBER");
  EXPECT_EQ(a, b);
  host.deliverAll();
  ASSERT_EQ(host.texts.size(), 1u);
  EXPECT_EQ(host.texts[0].to, kNumber);
}

TEST_F(MagicSmsFlow, SendLimitsStopSmsPumping) {
  host.settings["max_sends_total"] = "4";
  std::string rt = browser.startLogin(kReturnTo);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask(browser, rt, kNumber).status, 200);  // 3 per number
  ht::Response r = ask(browser, rt, kNumber);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.header("retry-after"), "");
  ht::Browser other(host, "203.0.113.77");
  std::string rt2 = other.startLogin(kReturnTo);
  EXPECT_EQ(ask(other, rt2, "+33612345678").status, 200);
  EXPECT_EQ(ask(other, rt2, "+33612345679").status, 429);  // the total for everybody
  EXPECT_EQ(host.outbox.size(), 4u);
}

TEST_F(MagicSmsFlow, AGatewayThatIsDownIsRetried) {
  std::string rt = browser.startLogin(kReturnTo);
  ASSERT_EQ(ask(browser, rt, kNumber).status, 200);
  host.sms_results = {HABANERO_UNAVAILABLE, HABANERO_UNAVAILABLE};
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_RETRY});
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_RETRY});
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
  ASSERT_EQ(host.texts.size(), 1u);
  Secrets s = secretsOf(0);
  EXPECT_EQ(code(browser, rt, s.code).status, 303);
  // A refusal for good fails the event.
  std::string rt2 = browser.startLogin(kReturnTo);
  ASSERT_EQ(ask(browser, rt2, kNumber).status, 200);
  host.sms_results = {HABANERO_REJECTED};
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_FAILED});
}

}  // namespace
