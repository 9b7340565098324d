#include "auth/sessions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "auth/users.h"
#include "auth_fixture.h"
#include "crypto/hash.h"

namespace habanero::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class SessionsTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    sessions_ = std::make_unique<Sessions>(*storage_, clock_);
  }
  static Headers cookie(const std::string& value) { return {{"Cookie", value}}; }
  static Headers sessionCookie(const std::string& value) {
    return cookie(std::string(Sessions::kCookieName) + "=" + value);
  }
  // The cookie header a browser would send after receiving `set_cookie`.
  static Headers echo(const std::string& set_cookie) {
    return cookie(set_cookie.substr(0, set_cookie.find(';')));
  }
  std::unique_ptr<Sessions> sessions_;
};

TEST_F(SessionsTest, ParsesCookieHeaders) {
  Headers h = {{"Cookie", "a=1; habanero_session=abc;b=2"},
               {"X-Other", "habanero_session=no"},
               {"cookie", " habanero_session = \"def\" ; c"}};
  EXPECT_THAT(Sessions::cookies(h, "habanero_session"), ElementsAre("abc", "def"));
  EXPECT_THAT(Sessions::cookies(h, "a"), ElementsAre("1"));
  EXPECT_TRUE(Sessions::cookies(h, "habanero").empty());
  EXPECT_TRUE(Sessions::cookies({}, "a").empty());
}

TEST_F(SessionsTest, StartThenGetByCookie) {
  auto started = sessions_->start("sub-1", {"pwd"});
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->cookie.size(), 43u);  // 256 bits
  EXPECT_EQ(started->session.sid.size(), 22u);
  EXPECT_EQ(started->session.auth_time, clock_.nowMs() / 1000);

  auto got = sessions_->get(sessionCookie(started->cookie), false);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->subject, "sub-1");
  EXPECT_THAT((*got)->amr, ElementsAre("pwd"));
  EXPECT_EQ((*got)->sid, started->session.sid);

  auto j = nlohmann::json::parse(Sessions::toJson(**got));
  EXPECT_EQ(j, nlohmann::json({{"sub", "sub-1"},
                               {"amr", {"pwd"}},
                               {"auth_time", started->session.auth_time},
                               {"sid", started->session.sid}}));

  auto second = sessions_->start("sub-1", {"pwd"});
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->cookie, started->cookie) << "every login gets a new cookie";
  EXPECT_NE(second->session.sid, started->session.sid);
}

TEST_F(SessionsTest, StoredUnderTheCookiesHashNeverTheCookie) {
  auto started = sessions_->start("sub-1", {"pwd"});
  ASSERT_TRUE(started.ok());
  auto records = storage_->list(Sessions::kNamespace, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, crypto::sha256(started->cookie));
  EXPECT_THAT((*records)[0].value, Not(HasSubstr(started->cookie)));
}

TEST_F(SessionsTest, NoMalformedUnknownOrExpiredSession) {
  EXPECT_FALSE(sessions_->get({}, false).value().has_value());
  EXPECT_FALSE(sessions_->get(sessionCookie(""), false).value().has_value());
  EXPECT_FALSE(sessions_->get(sessionCookie("not-a-token"), false).value().has_value());
  EXPECT_FALSE(sessions_->get(sessionCookie(std::string(43, 'A')), false).value().has_value());
  auto started = sessions_->start("sub-1", {"pwd"});
  ASSERT_TRUE(started.ok());
  // A stale same-named cookie first (another path) does not hide the live one.
  Headers both = cookie("habanero_session=" + std::string(43, 'B') +
                        "; habanero_session=" + started->cookie);
  EXPECT_TRUE(sessions_->get(both, false).value().has_value());
  clock_.advance(limits::kSessionTtlMs - 1);
  EXPECT_TRUE(sessions_->get(sessionCookie(started->cookie), false).value().has_value());
  clock_.advance(1);
  EXPECT_FALSE(sessions_->get(sessionCookie(started->cookie), false).value().has_value())
      << "sessions expire kSessionTtlMs after login";
}

TEST_F(SessionsTest, EndRemovesOnlyThisSession) {
  auto mine = sessions_->start("sub-1", {"pwd"});
  auto other = sessions_->start("sub-2", {"pwd"});
  ASSERT_TRUE(mine.ok() && other.ok());
  EXPECT_EQ(sessions_->end(sessionCookie(mine->cookie), false), absl::OkStatus());
  EXPECT_FALSE(sessions_->get(sessionCookie(mine->cookie), false).value().has_value());
  EXPECT_TRUE(sessions_->get(sessionCookie(other->cookie), false).value().has_value());
  EXPECT_EQ(sessions_->end({}, false), absl::OkStatus()) << "no session: nothing to do";
}

TEST_F(SessionsTest, CookieAttributes) {
  EXPECT_EQ(sessions_->sessionCookie("v", false),
            "habanero_session=v; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax");
  // Over HTTPS the __Host- prefix: Secure, Path=/ and no Domain, as browsers require.
  EXPECT_EQ(sessions_->sessionCookie("v", true),
            "__Host-habanero_session=v; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax; Secure");
  EXPECT_EQ(sessions_->clearSessionCookie(true),
            "__Host-habanero_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
  EXPECT_EQ(sessions_->clearSessionCookie(false),
            "habanero_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

TEST_F(SessionsTest, OverHttpsOnlyHostPrefixedCookiesAreRead) {
  auto started = sessions_->start("sub-1", {"pwd"});
  ASSERT_TRUE(started.ok());
  Headers prefixed = cookie("__Host-habanero_session=" + started->cookie);
  Headers plain = sessionCookie(started->cookie);
  EXPECT_TRUE(sessions_->get(prefixed, true).value().has_value());
  // A plain-named cookie may have been planted by a sibling subdomain or over HTTP.
  EXPECT_FALSE(sessions_->get(plain, true).value().has_value());
  EXPECT_FALSE(sessions_->get(prefixed, false).value().has_value());
  EXPECT_TRUE(sessions_->get(plain, false).value().has_value());

  auto begun = sessions_->beginLogin("/x", "", {}, true);
  ASSERT_TRUE(begun.ok());
  const std::string value = begun->set_cookie.substr(
      begun->set_cookie.find('=') + 1, begun->set_cookie.find(';') - begun->set_cookie.find('=') - 1);
  EXPECT_TRUE(sessions_->findAttempt(begun->rt, cookie("__Host-habanero_login=" + value), true)
                  .value()
                  .has_value());
  EXPECT_FALSE(sessions_->findAttempt(begun->rt, cookie("habanero_login=" + value), true)
                   .value()
                   .has_value());
  EXPECT_EQ(sessions_->end(prefixed, true), absl::OkStatus());
  EXPECT_FALSE(sessions_->get(prefixed, true).value().has_value());
}

TEST_F(SessionsTest, PendingAttemptsAreCappedPerAddressAndInTotal) {
  SessionOptions options;
  options.max_attempts_per_address = 3;
  options.max_attempts_total = 5;
  Sessions capped(*storage_, clock_, options);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(capped.beginLogin("/a", "", {}, false, "192.0.2.1").ok()) << i;
  }
  auto over = capped.beginLogin("/a", "", {}, false, "192.0.2.1");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_THAT(over.status().message(), HasSubstr("auth.login_attempts_per_address"));
  // Other addresses still get theirs, up to the total.
  EXPECT_TRUE(capped.beginLogin("/a", "", {}, false, "192.0.2.2").ok());
  EXPECT_TRUE(capped.beginLogin("/a", "", {}, false, "192.0.2.3").ok());
  auto total = capped.beginLogin("/a", "", {}, false, "192.0.2.4");
  EXPECT_EQ(total.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(total.status().message(), HasSubstr("auth.login_attempts_total"));
  // Only as many rows as were admitted were written.
  auto rows = storage_->list(Sessions::kLoginNamespace, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 5u);
  // Once the attempts have expired, the address may start again.
  clock_.advance(options.login_ttl_ms);
  EXPECT_TRUE(capped.beginLogin("/a", "", {}, false, "192.0.2.1").ok());
  EXPECT_TRUE(capped.beginLogin("/a", "", {}, false, "192.0.2.4").ok());
  rows = storage_->list(Sessions::kLoginNamespace, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 2u) << "expired attempts are not live rows";
}

// The caps count pending attempts: a login that completed (its attempt taken)
// frees its slot at once, so an office behind one address can sign in more
// than max_attempts_per_address times per login_ttl_ms.
TEST_F(SessionsTest, ATakenAttemptNoLongerCountsAgainstItsAddress) {
  SessionOptions options;
  options.max_attempts_per_address = 2;
  options.max_attempts_total = 2;
  Sessions capped(*storage_, clock_, options);
  for (int round = 0; round < 10; ++round) {
    auto first = capped.beginLogin("/a", "", {}, false, "192.0.2.1");
    auto second = capped.beginLogin("/a", "", {}, false, "192.0.2.1");
    ASSERT_TRUE(first.ok() && second.ok()) << round << " " << first.status() << second.status();
    auto third = capped.beginLogin("/a", "", {}, false, "192.0.2.1");
    EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted) << round;
    for (auto* begun : {&*first, &*second}) {
      const std::string& c = begun->set_cookie;
      Headers browser = cookie(c.substr(0, c.find(';')));
      auto taken = capped.takeAttempt(begun->rt, browser, false);
      ASSERT_TRUE(taken.ok() && taken->has_value()) << round;
    }
  }
}

TEST_F(SessionsTest, LoginByEmailLinkOrSmsCodeMarksTheAddressVerified) {
  auto users = Users::create(*storage_, clock_, {.time_cost = 1, .memory_kib = 1024});
  ASSERT_TRUE(users.ok()) << users.status();
  auto ana = (*users)->add({.email = "ana@example.com", .phone_number = "+14155550100"});
  ASSERT_TRUE(ana.ok()) << ana.status();
  auto claims = [&] {
    return nlohmann::json::parse((*users)->claimsJson(ana->subject).value().value());
  };
  ASSERT_EQ(claims()["email_verified"], false);
  ASSERT_EQ(claims()["phone_number_verified"], false);

  auto login = [&](const char* amr) {
    auto begun = sessions_->beginLogin("/x", "", {}, false);
    EXPECT_TRUE(begun.ok());
    auto done = sessions_->completeLogin(begun->rt, ana->subject, amr, **users,
                                         echo(begun->set_cookie), false);
    EXPECT_TRUE(done.ok()) << done.status();
  };
  login(R"(["pwd"])");
  EXPECT_EQ(claims()["email_verified"], false) << "a password proves no address";
  login(R"(["sms"])");
  EXPECT_EQ(claims()["phone_number_verified"], true);
  EXPECT_EQ(claims()["email_verified"], false);
  login(R"(["email"])");
  EXPECT_EQ(claims()["email_verified"], true);
  EXPECT_EQ(claims()["phone_number_verified"], true);
}

TEST_F(SessionsTest, LoginAttemptsCheckReturnToAndHint) {
  for (const char* bad : {"", "authorize", "//evil.example/", "/\\evil.example",
                          "https://evil.example/", "/a b", "/a\r\nSet-Cookie: x"}) {
    auto begun = sessions_->beginLogin(bad, "", {}, false);
    EXPECT_EQ(begun.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(sessions_->beginLogin(std::string(limits::kMaxReturnToBytes + 1, '/'), "", {}, false)
                   .ok());
  EXPECT_FALSE(sessions_->beginLogin("/ok", "bad\nhint", {}, false).ok());
  EXPECT_FALSE(
      sessions_->beginLogin("/ok", std::string(limits::kMaxLoginHintBytes + 1, 'h'), {}, false)
          .ok());
  EXPECT_TRUE(sessions_->beginLogin("/", "", {}, false).ok());
  EXPECT_TRUE(
      sessions_->beginLogin("/authorize/resume?p=x%20y", "ana@example.com", {}, false).ok());
}

TEST_F(SessionsTest, AttemptsAreBoundToTheBrowserThatStartedThem) {
  auto begun = sessions_->beginLogin("/authorize/resume?p=1", "ana@example.com", {}, true);
  ASSERT_TRUE(begun.ok()) << begun.status();
  EXPECT_EQ(begun->rt.size(), 43u);
  EXPECT_THAT(begun->set_cookie, ::testing::StartsWith("__Host-habanero_login="));
  EXPECT_THAT(begun->set_cookie,
              HasSubstr("; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"));
  Headers browser = echo(begun->set_cookie);

  auto found = sessions_->findAttempt(begun->rt, browser, true);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->return_to, "/authorize/resume?p=1");
  EXPECT_EQ((*found)->login_hint, "ana@example.com");
  EXPECT_FALSE(sessions_->findAttempt(begun->rt, {}, true).value().has_value()) << "no binding cookie";
  Headers stranger = cookie("__Host-habanero_login=" + std::string(43, 'A'));
  EXPECT_FALSE(sessions_->findAttempt(begun->rt, stranger, true).value().has_value());
  EXPECT_FALSE(sessions_->takeAttempt(begun->rt, stranger, true).value().has_value());
  EXPECT_TRUE(sessions_->findAttempt(begun->rt, browser, true).value().has_value())
      << "a stranger cannot end someone else's attempt";

  // A second attempt from the same browser reuses its binding cookie, so
  // both stay usable (two tabs).
  auto second = sessions_->beginLogin("/two", "", browser, true);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(echo(second->set_cookie), browser);
  EXPECT_TRUE(sessions_->findAttempt(second->rt, browser, true).value().has_value());

  auto taken = sessions_->takeAttempt(begun->rt, browser, true);
  ASSERT_TRUE(taken.ok() && taken->has_value());
  EXPECT_EQ((*taken)->return_to, "/authorize/resume?p=1");
  EXPECT_FALSE(sessions_->takeAttempt(begun->rt, browser, true).value().has_value()) << "once only";
  EXPECT_FALSE(sessions_->findAttempt(begun->rt, browser, true).value().has_value());
  EXPECT_FALSE(sessions_->findAttempt("junk", browser, true).value().has_value());
}

TEST_F(SessionsTest, AttemptsExpireAfterTenMinutes) {
  auto begun = sessions_->beginLogin("/x", "", {}, false);
  ASSERT_TRUE(begun.ok());
  Headers browser = echo(begun->set_cookie);
  clock_.advance(limits::kLoginAttemptTtlMs - 1);
  EXPECT_TRUE(sessions_->findAttempt(begun->rt, browser, false).value().has_value());
  clock_.advance(1);
  EXPECT_FALSE(sessions_->findAttempt(begun->rt, browser, false).value().has_value());
  EXPECT_FALSE(sessions_->takeAttempt(begun->rt, browser, false).value().has_value());
}

TEST_F(SessionsTest, CompleteLoginChecksThenStartsAFreshSession) {
  auto users = Users::create(*storage_, clock_, {.time_cost = 1, .memory_kib = 1024});
  ASSERT_TRUE(users.ok()) << users.status();
  auto ana = (*users)->add({.email = "ana@example.com"});
  ASSERT_TRUE(ana.ok()) << ana.status();
  auto begun = sessions_->beginLogin("/authorize/resume?p=1", "", {}, true);
  ASSERT_TRUE(begun.ok());
  EXPECT_EQ(begun->login_url, "/login?rt=" + begun->rt);
  auto old = sessions_->start(ana->subject, {"pwd"});
  ASSERT_TRUE(old.ok());
  Headers browser = echo(begun->set_cookie);
  browser.emplace_back("Cookie", std::string(Sessions::kSecureCookieName) + "=" + old->cookie);

  // Refusals that leave the attempt usable.
  auto bad_amr = sessions_->completeLogin(begun->rt, ana->subject, "[1]", **users, browser, true);
  EXPECT_EQ(bad_amr.status().code(), absl::StatusCode::kInvalidArgument);
  auto stranger =
      sessions_->completeLogin(begun->rt, ana->subject, R"(["pwd"])", **users, {}, true);
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kNotFound);
  auto nobody = sessions_->completeLogin(begun->rt, "no-such-subject", R"(["pwd"])", **users,
                                         browser, true);
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(sessions_->findAttempt(begun->rt, browser, true).value().has_value());

  auto done = sessions_->completeLogin(begun->rt, ana->subject, R"(["otp"])", **users, browser,
                                       true);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->return_to, "/authorize/resume?p=1");
  EXPECT_THAT(done->set_cookie, HasSubstr(std::string(Sessions::kCookieName) + "="));
  EXPECT_THAT(done->set_cookie, HasSubstr("; Secure"));
  EXPECT_THAT(done->session.amr, ElementsAre("otp"));
  EXPECT_FALSE(sessions_->get(cookie(std::string(Sessions::kSecureCookieName) + "=" + old->cookie),
                              true).value().has_value())
      << "the browser's previous session ended";
  EXPECT_TRUE(sessions_->get(echo(done->set_cookie), true).value().has_value());
  auto again = sessions_->completeLogin(begun->rt, ana->subject, R"(["pwd"])", **users, browser,
                                        true);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound) << "once only";
}

TEST_F(SessionsTest, GetLiveEndsWithTheUser) {
  auto users = Users::create(*storage_, clock_, {.time_cost = 1, .memory_kib = 1024});
  ASSERT_TRUE(users.ok());
  auto ana = (*users)->add({.email = "ana@example.com"});
  ASSERT_TRUE(ana.ok());
  auto started = sessions_->start(ana->subject, {"pwd"});
  ASSERT_TRUE(started.ok());
  Headers browser = sessionCookie(started->cookie);
  EXPECT_TRUE(sessions_->getLive(browser, false, users->get()).value().has_value());
  ASSERT_TRUE((*users)->remove("ana@example.com").ok());
  EXPECT_FALSE(sessions_->getLive(browser, false, users->get()).value().has_value());
  EXPECT_TRUE(sessions_->getLive(browser, false, nullptr).value().has_value()) << "no users: get()";
}

TEST(LocalPath, Rules) {
  EXPECT_TRUE(isLocalPath("/"));
  EXPECT_TRUE(isLocalPath("/authorize/resume?p=abc"));
  EXPECT_FALSE(isLocalPath("//host"));
  EXPECT_FALSE(isLocalPath("/\\host"));
  EXPECT_FALSE(isLocalPath("x/"));
  EXPECT_FALSE(isLocalPath("/\x7f"));
  EXPECT_FALSE(isLocalPath("/\xc3\xa9"));
}

}  // namespace
}  // namespace habanero::auth
