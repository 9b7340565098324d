// The magic-email authenticator's flows (extensions/magic-email + extensions/common/magic),
// its sources compiled natively against the SDK test kit (sdk/testing/fake_host.h): asking
// for a link publishes one event, whose delivery sends one mail; the link (GET shows a
// confirmation and uses nothing up, POST completes the login) and the code each work once,
// for ttl_s, in the browser that asked; wrong codes lock; unknown addresses get the same page
// and no mail; send limits; delivery retries, idempotence and sign-up.
// The real host with a real SMTP server: tests/interop (magic_email_test.py).
#include <gtest/gtest.h>
#include <habanero.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <string>

#include "fake_host.h"

int32_t onRequest();  // extensions/magic-email/magic_email.cc: habanero_on_request
int32_t onEvent();    // … and habanero_on_event

namespace ht = habanero::testing;
using Json = nlohmann::json;

namespace {

const std::string kIssuer = "https://id.example";
const std::string kMount = "/login/email";
const std::string kTopic = "magic-email.deliver";
const std::string kReturnTo = "/authorize/resume?p=abc";
const ht::Headers kSameOrigin = {{"Sec-Fetch-Site", "same-origin"}};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class MagicEmailFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    host.name = "magic-email";
    host.mount = kMount;
    host.settings["issuer"] = kIssuer;
    host.publish = {kTopic};
    host.addUser({.sub = "u1", .email = "ana@example.com"});
  }

  ht::Response ask(ht::Browser& b, const std::string& rt, const std::string& address) {
    return b.post(kMount + "/", {{"rt", rt}, {"address", address}}, kSameOrigin);
  }

  // The link token and the code of mail `i`.
  struct Secrets {
    std::string token, code;
  };
  Secrets secretsOf(size_t i) {
    Secrets s;
    if (i >= host.mails.size()) return s;
    std::smatch m;
    const std::string& text = host.mails[i].text;
    if (std::regex_search(text, m, std::regex(kIssuer + kMount + "/confirm\\?t=([A-Za-z0-9_-]+)")))
      s.token = m[1];
    if (std::regex_search(text, m, std::regex("\\b([0-9A-Z]{4}-[0-9A-Z]{4})\\b"))) s.code = m[1];
    return s;
  }

  // Asks for a link in `b` and delivers the event; the secrets of the mail sent.
  Secrets askAndDeliver(ht::Browser& b, const std::string& rt) {
    size_t mails = host.mails.size();
    EXPECT_EQ(ask(b, rt, "ana@example.com").status, 200);
    EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
    EXPECT_EQ(host.mails.size(), mails + 1);
    return secretsOf(mails);
  }

  ht::Response confirmGet(ht::Browser& b, const std::string& token) {
    return b.get(kMount + "/confirm?t=" + token);
  }
  ht::Response confirmPost(ht::Browser& b, const std::string& token) {
    return b.post(kMount + "/confirm", {{"t", token}}, kSameOrigin);
  }
  ht::Response code(ht::Browser& b, const std::string& rt, const std::string& c) {
    return b.post(kMount + "/code", {{"rt", rt}, {"code", c}}, kSameOrigin);
  }

  ht::FakeHost host{onRequest, onEvent};
  ht::Browser browser{host};
};

TEST_F(MagicEmailFlow, AskingPublishesOneEventWhoseDeliverySendsOneMail) {
  std::string rt = browser.startLogin(kReturnTo, "ana@example.com");
  ht::Response form = browser.get(kMount + "/?rt=" + ht::urlEncode(rt));
  EXPECT_EQ(form.status, 200);
  EXPECT_TRUE(contains(form.body, "ana@example.com"));  // the hint, prefilled

  ht::Response r = ask(browser, rt, "  ANA@example.com ");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(contains(r.body, "name=\"code\""));
  EXPECT_TRUE(host.mails.empty());  // sending is the event handler's job
  ASSERT_EQ(host.outbox.size(), 1u);
  EXPECT_EQ(host.outbox[0].topic, kTopic);
  Json payload = Json::parse(host.outbox[0].payload, nullptr, false);
  EXPECT_EQ(payload["rt"], rt);
  EXPECT_EQ(payload["address"], "ana@example.com");
  EXPECT_EQ(payload["mount"], kMount);

  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
  ASSERT_EQ(host.mails.size(), 1u);
  EXPECT_EQ(host.mails[0].to, "ana@example.com");
  EXPECT_TRUE(contains(host.mails[0].subject, "id.example"));
  Secrets s = secretsOf(0);
  ASSERT_EQ(s.token.size(), 43u) << host.mails[0].text;  // 256 bits
  ASSERT_EQ(s.code.size(), 9u);
  EXPECT_TRUE(contains(host.mails[0].html, s.token));
  // Only hashes are stored: neither secret appears in any key or value.
  std::string bare = s.code.substr(0, 4) + s.code.substr(5);
  for (const std::string& k : host.kvKeys()) {
    std::string v = *host.kvGet(k);
    EXPECT_FALSE(contains(k, s.token) || contains(v, s.token)) << k;
    EXPECT_FALSE(contains(k, bare) || contains(v, bare)) << k;
  }
}

TEST_F(MagicEmailFlow, TheLinkShowsAConfirmationThenItsPostCompletesTheLoginOnce) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  // GET never uses the link up (mail scanners fetch links).
  for (int i = 0; i < 2; ++i) {
    ht::Response r = confirmGet(browser, s.token);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(contains(r.body, "ana@example.com"));
    EXPECT_TRUE(contains(r.body, "method=\"post\""));
  }
  EXPECT_TRUE(host.logins.empty());
  ht::Response r = confirmPost(browser, s.token);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.location(), kReturnTo);
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.logins[0].subject, "u1");
  // "email": the login proved the address (the host marks it verified, issue 16).
  EXPECT_EQ(host.logins[0].amr, (std::vector<std::string>{"otp", "email"}));
  ASSERT_NE(browser.session(), nullptr);
  // Used up: the link and its code.
  EXPECT_EQ(confirmPost(browser, s.token).status, 410);
  EXPECT_EQ(confirmGet(browser, s.token).status, 410);
  EXPECT_TRUE(host.kvKeys("link/").empty());
  EXPECT_TRUE(host.kvKeys("code/").empty());
  EXPECT_EQ(host.logins.size(), 1u);
}

TEST_F(MagicEmailFlow, TheCodeCompletesTheLoginAndUsesTheLinkUp) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  std::string typed = s.code.substr(0, 4) + " " + s.code.substr(5);
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ht::Response r = code(browser, rt, typed);  // lower case, a space instead of the hyphen
  EXPECT_EQ(r.status, 303) << r.body;
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.logins[0].subject, "u1");
  EXPECT_EQ(confirmGet(browser, s.token).status, 410);
}

TEST_F(MagicEmailFlow, LinksAndCodesExpire) {
  host.settings["ttl_s"] = "60";
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  host.advance(60'000);
  EXPECT_EQ(confirmGet(browser, s.token).status, 410);
  EXPECT_EQ(confirmPost(browser, s.token).status, 410);
  ht::Response r = code(browser, rt, s.code);
  EXPECT_NE(r.status, 303);
  EXPECT_LT(r.status, 500);
  EXPECT_TRUE(host.logins.empty());
}

TEST_F(MagicEmailFlow, WrongCodesLockTheAttempt) {
  host.settings["max_code_attempts"] = "3";
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  std::string wrong = s.code == "0000-0000" ? "1111-1111" : "0000-0000";
  EXPECT_EQ(code(browser, rt, wrong).status, 200);
  EXPECT_EQ(code(browser, rt, "not a code").status, 200);
  EXPECT_EQ(code(browser, rt, wrong).status, 429);
  // Locked: the right code no longer works, and it is gone from the store.
  EXPECT_EQ(code(browser, rt, s.code).status, 429);
  EXPECT_TRUE(host.kvKeys("code/").empty());
  EXPECT_TRUE(host.logins.empty());
  // A new message brings a new code and new tries.
  Secrets again = askAndDeliver(browser, rt);
  // (Known gap, reported: the lock deleted the code record that names the first message's
  // link, so this message cannot revoke that link; it stays usable until ttl_s while the
  // attempt is open. Without a lock a new message does replace it: the next test.)
  ht::Response r = code(browser, rt, again.code);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(host.logins.size(), 1u);
  // The first message's link cannot sign in again.
  EXPECT_NE(confirmPost(browser, s.token).status, 303);
  EXPECT_EQ(host.logins.size(), 1u);
}

TEST_F(MagicEmailFlow, ANewMessageReplacesTheEarlierOnesSecrets) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets first = askAndDeliver(browser, rt);
  Secrets second = askAndDeliver(browser, rt);
  EXPECT_NE(first.token, second.token);
  EXPECT_EQ(confirmGet(browser, first.token).status, 410);
  EXPECT_EQ(code(browser, rt, first.code).status, first.code == second.code ? 303 : 200);
  EXPECT_EQ(confirmPost(browser, second.token).status, host.logins.empty() ? 303 : 410);
  EXPECT_EQ(host.logins.size(), 1u);
}

TEST_F(MagicEmailFlow, AnUnknownAddressGetsTheSamePageAndNoMail) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response known = ask(browser, rt, "ana@example.com");
  ht::Response unknown = ask(browser, rt, "zed@example.com");
  EXPECT_EQ(known.status, unknown.status);
  std::string a = known.body, b = unknown.body;
  a.replace(a.find("ana@example.com"), 15, "ADDRESS");
  b.replace(b.find("zed@example.com"), 15, "ADDRESS");
  EXPECT_EQ(a, b);
  ASSERT_EQ(host.outbox.size(), 2u);  // the request does the same work either way
  EXPECT_EQ(host.deliverAll(),
            (std::vector<int32_t>{HABANERO_EVENT_DONE, HABANERO_EVENT_DONE}));
  ASSERT_EQ(host.mails.size(), 1u);
  EXPECT_EQ(host.mails[0].to, "ana@example.com");
  EXPECT_TRUE(host.logged("no account"));
}

TEST_F(MagicEmailFlow, SendLimitsPerAddressAndPerClient) {
  host.settings["max_sends_per_address"] = "2";
  host.settings["max_sends_per_ip"] = "3";
  std::string rt = browser.startLogin(kReturnTo);
  EXPECT_EQ(ask(browser, rt, "ana@example.com").status, 200);
  EXPECT_EQ(ask(browser, rt, "ana@example.com").status, 200);
  ht::Response r = ask(browser, rt, "ana@example.com");
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.header("retry-after"), "");
  EXPECT_EQ(host.outbox.size(), 2u);
  EXPECT_EQ(ask(browser, rt, "bo@example.com").status, 200);
  EXPECT_EQ(ask(browser, rt, "cy@example.com").status, 429);  // the client's third
  EXPECT_EQ(host.outbox.size(), 3u);
  // The window ends.
  host.advance(900'000);
  std::string rt2 = browser.startLogin(kReturnTo);
  EXPECT_EQ(ask(browser, rt2, "ana@example.com").status, 200);
}

TEST_F(MagicEmailFlow, ALinkOpenedInAnotherBrowserIsNotUsedUp) {
  std::string rt = browser.startLogin(kReturnTo);
  Secrets s = askAndDeliver(browser, rt);
  ht::Browser scanner(host, "198.51.100.7");
  EXPECT_EQ(confirmGet(scanner, s.token).status, 400);
  EXPECT_EQ(confirmPost(scanner, s.token).status, 400);
  EXPECT_EQ(code(scanner, rt, s.code).status, 400);
  EXPECT_TRUE(host.logins.empty());
  EXPECT_EQ(scanner.session(), nullptr);
  EXPECT_EQ(confirmPost(browser, s.token).status, 303);
  EXPECT_EQ(host.logins.size(), 1u);
}

TEST_F(MagicEmailFlow, RefusedRequestsPublishNothing) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response r = browser.post(kMount + "/", {{"rt", rt}, {"address", "ana@example.com"}},
                                {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ask(browser, rt, "not an address").status, 400);
  EXPECT_EQ(ask(browser, rt, "").status, 400);
  EXPECT_EQ(ask(browser, "forged", "ana@example.com").status, 400);
  EXPECT_EQ(browser.post(kMount + "/", {{"rt", rt}, {"address", "a@example.com"},
                                        {"address", "b@example.com"}},
                         kSameOrigin)
                .status,
            400);
  EXPECT_EQ(browser.get(kMount + "/?rt=%zz").status, 400);
  EXPECT_EQ(browser.send({.method = "DELETE", .target = kMount + "/"}).status, 405);
  EXPECT_EQ(browser.get(kMount + "/confirm?t=short").status, 410);
  EXPECT_EQ(browser.get(kMount + "/elsewhere").status, 404);
  EXPECT_TRUE(host.outbox.empty());
  // The operator forgot the publish grant: a 503, nothing published.
  host.publish.clear();
  EXPECT_EQ(ask(browser, rt, "ana@example.com").status, 503);
  EXPECT_TRUE(host.outbox.empty());
}

TEST_F(MagicEmailFlow, LinksUseTheIssuerNeverTheHostHeader) {
  std::string rt = browser.startLogin(kReturnTo);
  browser.post(kMount + "/", {{"rt", rt}, {"address", "ana@example.com"}},
               {{"Sec-Fetch-Site", "same-origin"}, {"Host", "evil.example"}});
  host.deliverAll();
  ASSERT_EQ(host.mails.size(), 1u);
  EXPECT_FALSE(contains(host.mails[0].text, "evil.example"));
  EXPECT_EQ(secretsOf(0).token.size(), 43u);
}

TEST_F(MagicEmailFlow, DeliveryRetriesFailsAndNeverSendsTwice) {
  std::string rt = browser.startLogin(kReturnTo);
  ASSERT_EQ(ask(browser, rt, "ana@example.com").status, 200);
  // The SMTP server is down: retry later, and no secret of the unsent mail stays usable.
  host.mail_results = {HABANERO_UNAVAILABLE};
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_RETRY});
  EXPECT_TRUE(host.mails.empty());
  EXPECT_TRUE(host.kvKeys("link/").empty());
  EXPECT_TRUE(host.kvKeys("code/").empty());
  ASSERT_EQ(host.outbox.size(), 1u);
  ht::Event copy = host.outbox[0];
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
  ASSERT_EQ(host.mails.size(), 1u);
  // At-least-once delivery: the same event again sends nothing.
  EXPECT_EQ(host.deliver(copy), HABANERO_EVENT_DONE);
  EXPECT_EQ(host.mails.size(), 1u);
  // A 5xx is final.
  ASSERT_EQ(ask(browser, rt, "ana@example.com").status, 200);
  host.mail_results = {HABANERO_REJECTED};
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_FAILED});
  EXPECT_EQ(host.failed.size(), 1u);
  // An event older than deliver_within_s is not sent: its sign-in is gone.
  ASSERT_EQ(ask(browser, rt, "ana@example.com").status, 200);
  host.advance(601'000);
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_FAILED});
  EXPECT_EQ(host.mails.size(), 1u);
}

TEST_F(MagicEmailFlow, SignUpNeedsTheSettingAndTheGrant) {
  host.settings["signup"] = "true";
  std::string rt = browser.startLogin(kReturnTo);
  // Without the signup grant: a warning, nobody created, nothing sent.
  host.revoke("signup");
  ask(browser, rt, "new@example.com");
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
  EXPECT_TRUE(host.mails.empty());
  EXPECT_TRUE(host.logged("signup"));
  // With it: the account is created on first login and the mail goes out.
  host.grantOnly({"http", "log", "kv", "crypto", "clock", "settings", "login", "users", "events",
                  "mail", "signup"});
  ask(browser, rt, "new@example.com");
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_DONE});
  ASSERT_EQ(host.mails.size(), 1u);
  Secrets s = secretsOf(0);
  EXPECT_EQ(confirmPost(browser, s.token).status, 303);
  ASSERT_EQ(host.logins.size(), 1u);
  const ht::User* u = host.findUser(host.logins[0].subject);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->email, "new@example.com");
}

}  // namespace
