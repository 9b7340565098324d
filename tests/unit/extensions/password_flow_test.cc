// The password authenticator's flows (extensions/password), its sources compiled natively
// against the SDK test kit (sdk/testing/fake_host.h): the sign-in page, a right password
// completing the login, wrong passwords and unknown users answered alike, cross-site posts
// and foreign or missing login attempts refused, growing delays after wrong passwords per
// account and source, per source and per account (the password is then not checked at all;
// never a lockout), and bad form input answered with 4xx.
// The real host with Argon2id: tests/interop (password_test.py).
#include <gtest/gtest.h>
#include <habanero.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fake_host.h"

int32_t onRequest();  // extensions/password/password.cc: habanero_on_request

namespace ht = habanero::testing;

namespace {

const std::string kMount = "/login/password";
const std::string kPage = kMount + "/";
const std::string kReturnTo = "/authorize/resume?p=abc";

class PasswordFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    host.mount = kMount;
    host.addUser({.sub = "u1", .email = "ana@example.com", .password = "correct horse"});
    host.addUser({.sub = "u2", .email = "bo@example.com", .password = "battery staple"});
  }

  ht::Response signIn(ht::Browser& b, const std::string& rt, const std::string& email,
                      const std::string& password, ht::Headers headers = {}) {
    return b.post(kPage, {{"rt", rt}, {"email", email}, {"password", password}},
                  std::move(headers));
  }

  ht::FakeHost host{onRequest};
  ht::Browser browser{host};
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(PasswordFlow, TheSignInPageCarriesTheAttemptAndEscapesTheHint) {
  std::string rt = browser.startLogin(kReturnTo, "<b>ana@example.com");
  ht::Response r = browser.get(kPage + "?rt=" + ht::urlEncode(rt));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type").rfind("text/html", 0), 0u);
  EXPECT_NE(r.header("content-security-policy"), "");
  EXPECT_TRUE(contains(r.body, "value=\"" + rt + "\"")) << r.body;
  EXPECT_TRUE(contains(r.body, "name=\"password\""));
  EXPECT_FALSE(contains(r.body, "<b>ana"));
  EXPECT_TRUE(contains(r.body, "&lt;b&gt;ana@example.com"));
  // Without a live attempt of this browser there is no form.
  EXPECT_EQ(browser.get(kPage).status, 400);
  EXPECT_EQ(browser.get(kPage + "?rt=unknown").status, 400);
  ht::Browser other(host);
  EXPECT_EQ(other.get(kPage + "?rt=" + ht::urlEncode(rt)).status, 400);
  EXPECT_TRUE(host.logins.empty());
}

TEST_F(PasswordFlow, TheRightPasswordCompletesTheLogin) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response r = signIn(browser, rt, "  Ana@Example.COM ", "correct horse",
                          {{"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.location(), kReturnTo);
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.logins[0].subject, "u1");
  EXPECT_EQ(host.logins[0].rt, rt);
  EXPECT_EQ(host.logins[0].amr, std::vector<std::string>{"pwd"});
  ASSERT_NE(browser.session(), nullptr);
  EXPECT_EQ(browser.session()->sub, "u1");
  EXPECT_FALSE(host.attemptOpen(rt));
  // The attempt is used up: posting again is an expired page, not a second login.
  r = signIn(browser, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(host.logins.size(), 1u);
}

TEST_F(PasswordFlow, AWrongPasswordAndAnUnknownEmailLookTheSame) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response wrong = signIn(browser, rt, "ana@example.com", "wrong");
  ht::Response unknown = signIn(browser, rt, "zed@example.com", "wrong");
  EXPECT_EQ(wrong.status, 200);
  EXPECT_EQ(unknown.status, 200);
  EXPECT_TRUE(contains(wrong.body, "Email or password is incorrect."));
  std::string a = wrong.body, b = unknown.body;
  a.replace(a.find("ana@example.com"), 15, "EMAIL");
  b.replace(b.find("zed@example.com"), 15, "EMAIL");
  EXPECT_EQ(a, b);  // byte for byte, but for the address the user typed
  EXPECT_EQ(host.password_checks, 2);  // the host was asked both times
  EXPECT_TRUE(host.logins.empty());
  EXPECT_EQ(browser.session(), nullptr);
  EXPECT_TRUE(host.attemptOpen(rt));
  // Each failure is counted, per email and per client address.
  EXPECT_EQ(host.kvKeys("fail/email/").size(), 2u);
  std::optional<std::string> ip = host.kvGet("fail/ip/" + browser.remote_addr);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->substr(0, 2), "2 ");
  // A success clears the email's counter (the address's stays).
  signIn(browser, rt, "ana@example.com", "correct horse");
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.kvKeys("fail/email/").size(), 1u);
}

TEST_F(PasswordFlow, CrossSitePostsAndForeignAttemptsAreRefused) {
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response r = signIn(browser, rt, "ana@example.com", "correct horse",
                          {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(r.status, 403);
  r = signIn(browser, rt, "ana@example.com", "correct horse", {{"Sec-Fetch-Site", "same-site"}});
  EXPECT_EQ(r.status, 403);
  // The rt is what binds the form to the attempt: missing, unknown, or another browser's.
  r = browser.post(kPage, {{"email", "ana@example.com"}, {"password", "correct horse"}});
  EXPECT_EQ(r.status, 400);
  r = signIn(browser, "forged-rt", "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 400);
  ht::Browser attacker(host, "198.51.100.9");
  r = signIn(attacker, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(host.password_checks, 0);
  EXPECT_TRUE(host.logins.empty());
  EXPECT_TRUE(host.attemptOpen(rt));
  // The right browser still can.
  r = signIn(browser, rt, "ana@example.com", "correct horse", {{"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(r.status, 303);
}

// Issue 16 / NIST SP 800-63B §5.2.2: wrong passwords from one source slow that source down
// for that account with a doubling wait, up to a cap, but never lock the real user out.
TEST_F(PasswordFlow, WrongPasswordsSlowTheirSourceAndNeverLockTheRealUserOut) {
  host.settings["max_failures"] = "3";
  ht::Browser attacker(host, "198.51.100.9");
  // The free failures.
  for (int i = 0; i < 3; ++i) {
    std::string rt = attacker.startLogin(kReturnTo);
    EXPECT_EQ(signIn(attacker, rt, "ana@example.com", "guess" + std::to_string(i)).status, 200);
  }
  EXPECT_EQ(host.password_checks, 3);
  // Then a wait before each further guess, doubling, capped at max_delay_s (900): not even
  // the right password is checked meanwhile.
  std::vector<int> waits;
  for (int i = 0; i < 6; ++i) {
    std::string rt = attacker.startLogin(kReturnTo);
    ht::Response r = signIn(attacker, rt, "ana@example.com", "correct horse");
    ASSERT_EQ(r.status, 429) << i;
    EXPECT_TRUE(contains(r.body, "Email or password is incorrect."));
    waits.push_back(std::stoi(r.header("retry-after")));
    host.advance(waits.back() * 1000LL - 1000);
    rt = attacker.startLogin(kReturnTo);  // (a login attempt lives 10 minutes)
    EXPECT_EQ(signIn(attacker, rt, "ana@example.com", "guess").status, 429);  // too soon
    host.advance(1000);
    EXPECT_EQ(signIn(attacker, rt, "ana@example.com", "guess" + std::to_string(i)).status, 200);
  }
  EXPECT_EQ(waits, (std::vector<int>{30, 60, 120, 240, 480, 900}));
  EXPECT_EQ(host.password_checks, 9);
  EXPECT_TRUE(host.logins.empty());
  // The real user, elsewhere, signs in at once: the attacker's failures are its own.
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response r = signIn(browser, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 303) << r.body;
  ASSERT_EQ(host.logins.size(), 1u);
  // The attacker's wait stays at the cap ...
  host.advance(900'000);
  rt = attacker.startLogin(kReturnTo);
  EXPECT_EQ(signIn(attacker, rt, "ana@example.com", "again").status, 200);
  r = signIn(attacker, rt, "ana@example.com", "again");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "900");
  // ... until the failures are forgotten, a day after the last one (failure_memory_s).
  host.advance(24 * 3600 * 1000LL);
  rt = attacker.startLogin(kReturnTo);
  EXPECT_EQ(signIn(attacker, rt, "ana@example.com", "again").status, 200);
  EXPECT_EQ(signIn(attacker, rt, "ana@example.com", "again").status, 200);
}

// Guesses spread over many sources slow the account down only a little (1 s doubling every
// five failures, capped at max_account_delay_s): the real user waits seconds, never hours.
TEST_F(PasswordFlow, DistributedGuessingGrowsTheAccountDelaySlowlyAndCapsIt) {
  int max_wait = 0;
  for (int i = 0; i < 60; ++i) {
    ht::Browser bot(host, "198.51.100." + std::to_string(i + 1));
    std::string rt = bot.startLogin(kReturnTo);
    ht::Response r = signIn(bot, rt, "ana@example.com", "guess");
    if (r.status == 429) {
      int wait = std::stoi(r.header("retry-after"));
      max_wait = std::max(max_wait, wait);
      host.advance(wait * 1000LL);
      r = signIn(bot, rt, "ana@example.com", "guess");
    }
    ASSERT_EQ(r.status, 200) << i;
  }
  EXPECT_GT(max_wait, 1);
  EXPECT_LE(max_wait, 60);
  // The real user is at most one account delay away from signing in.
  std::string rt = browser.startLogin(kReturnTo);
  ht::Response r = signIn(browser, rt, "ana@example.com", "correct horse");
  ASSERT_EQ(r.status, 429);
  int wait = std::stoi(r.header("retry-after"));
  EXPECT_LE(wait, 60);
  host.advance(wait * 1000LL);
  r = signIn(browser, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 303) << r.body;
  // Which clears the account's failures: no wait for the next sign-in.
  ht::Browser later(host, "203.0.113.80");
  rt = later.startLogin(kReturnTo);
  EXPECT_EQ(signIn(later, rt, "ana@example.com", "correct horse").status, 303);
}

TEST_F(PasswordFlow, TooManyFailuresFromAnAddressSlowItDown) {
  host.settings["max_failures_per_ip"] = "2";
  std::string rt = browser.startLogin(kReturnTo);
  EXPECT_EQ(signIn(browser, rt, "a1@example.com", "x").status, 200);
  EXPECT_EQ(signIn(browser, rt, "a2@example.com", "x").status, 200);
  ht::Response r = signIn(browser, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "30");
  EXPECT_TRUE(host.logged("address must wait"));
  // Someone else, elsewhere, is not affected.
  ht::Browser bo(host, "203.0.113.50");
  std::string rt2 = bo.startLogin(kReturnTo);
  EXPECT_EQ(signIn(bo, rt2, "bo@example.com", "battery staple").status, 303);
  // A delay, not a lock.
  host.advance(30'000);
  r = signIn(browser, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 303) << r.body;
}

TEST_F(PasswordFlow, BadFormInputIsA4xxNeverACrash) {
  std::string rt = browser.startLogin(kReturnTo);
  // Missing or empty fields: the form again, 400.
  EXPECT_EQ(browser.post(kPage, {{"rt", rt}, {"email", "ana@example.com"}}).status, 400);
  EXPECT_EQ(browser.post(kPage, {{"rt", rt}, {"password", "correct horse"}}).status, 400);
  EXPECT_EQ(signIn(browser, rt, "   ", "correct horse").status, 400);
  // Duplicated fields.
  ht::Response r = browser.post(kPage, {{"rt", rt},
                                        {"email", "ana@example.com"},
                                        {"email", "bo@example.com"},
                                        {"password", "correct horse"}});
  EXPECT_EQ(r.status, 400);
  r = browser.post(kPage, {{"rt", rt}, {"rt", rt}, {"email", "ana@example.com"},
                           {"password", "correct horse"}});
  EXPECT_EQ(r.status, 400);
  // Not percent-encoding, not UTF-8, not a form at all.
  for (std::string body : {"rt=" + rt + "&email=%zz&password=x",
                           "rt=" + rt + "&email=%C3%28&password=x"}) {
    r = browser.send({.method = "POST",
                      .target = kPage,
                      .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                      .body = body});
    EXPECT_EQ(r.status, 400) << body;
  }
  r = browser.send({.method = "POST",
                    .target = kPage,
                    .headers = {{"Content-Type", "application/json"}},
                    .body = R"({"rt":")" + rt + R"(","email":"ana@example.com"})"});
  EXPECT_EQ(r.status, 400);
  // Markup and control characters in the email are never echoed raw.
  r = signIn(browser, rt, "<script>x</script>@example.com", "x");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(contains(r.body, "<script>"));
  r = signIn(browser, rt, "a\x01@example.com", "x");
  EXPECT_LT(r.status, 500);
  // An overlong password is refused without asking the host.
  int checks = host.password_checks;
  r = signIn(browser, rt, "ana@example.com", std::string(5000, 'p'));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(host.password_checks, checks);
  // Other methods.
  r = browser.send({.method = "PUT", .target = kPage});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, POST");
  EXPECT_TRUE(host.logins.empty());
}

TEST_F(PasswordFlow, AnExpiredAttemptCannotBeCompleted) {
  std::string rt = browser.startLogin(kReturnTo);
  host.advance(10 * 60 * 1000);
  ht::Response r = signIn(browser, rt, "ana@example.com", "correct horse");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(host.logins.empty());
  EXPECT_EQ(browser.session(), nullptr);
}

TEST_F(PasswordFlow, AStoreThatIsDownIsA503) {
  std::string rt = browser.startLogin(kReturnTo);
  host.unavailable = {"kv"};
  EXPECT_EQ(signIn(browser, rt, "ana@example.com", "correct horse").status, 503);
  host.unavailable = {"users"};
  EXPECT_EQ(signIn(browser, rt, "ana@example.com", "correct horse").status, 503);
  host.unavailable = {"login"};
  EXPECT_EQ(browser.get(kPage + "?rt=" + ht::urlEncode(rt)).status, 503);
  EXPECT_TRUE(host.logins.empty());
  host.unavailable.clear();
  EXPECT_EQ(signIn(browser, rt, "ana@example.com", "correct horse").status, 303);
}

}  // namespace
