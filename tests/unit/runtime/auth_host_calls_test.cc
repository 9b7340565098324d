// The host calls of design 0001 (capabilities sessions, login, users, clients and
// keys' jwks_get), through the auth_probe module (tests/wasm/auth_probe.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "habanero/strings.h"
#include "http/form.h"
#include "runtime_fixture.h"

namespace habanero::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

http::Params qp(std::initializer_list<http::Params::Entry> entries) {
  return http::Params(std::vector<http::Params::Entry>(entries));
}

const std::vector<std::string> kGrants = {"http", "sessions", "login", "users", "clients", "keys"};

std::vector<std::string> setCookies(const Response& r) {
  std::vector<std::string> out;
  for (const auto& [name, value] : r.headers) {
    if (equalsIgnoreCase(name, "set-cookie")) out.push_back(value);
  }
  return out;
}

// A browser's cookie jar, enough for these tests.
class Browser {
 public:
  void take(const Response& r) {
    for (const std::string& set : setCookies(r)) {
      std::string pair = set.substr(0, set.find(';'));
      std::string name = pair.substr(0, pair.find('='));
      std::string value = pair.substr(pair.find('=') + 1);
      bool remove = set.find("Max-Age=0") != std::string::npos;
      std::erase_if(jar_, [&](const auto& kv) { return kv.first == name; });
      if (!remove) jar_.emplace_back(name, value);
    }
  }
  Headers headers() const {
    std::string cookie;
    for (const auto& [name, value] : jar_) {
      cookie += (cookie.empty() ? "" : "; ") + name + "=" + value;
    }
    if (cookie.empty()) return {};
    return {{"Cookie", cookie}};
  }
  std::string get(const std::string& name) const {
    for (const auto& [n, v] : jar_) {
      if (n == name) return v;
    }
    return "";
  }
  void set(const std::string& name, const std::string& value) {
    std::erase_if(jar_, [&](const auto& kv) { return kv.first == name; });
    jar_.emplace_back(name, value);
  }

 private:
  std::vector<std::pair<std::string, std::string>> jar_;
};

class AuthHostCallTest : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeFixture::SetUp();
    auto ext = load(configFor("auth_probe", kGrants));
    ASSERT_TRUE(ext.ok()) << ext.status();
    probe_ = *ext;
  }

  Response request(const std::string& sub, const http::Params& query, Browser* browser = nullptr,
                   bool secure = false) {
    Request r = get("/auth_probe" + sub, http::encodeForm(query));
    r.secure = secure;
    if (browser) r.headers = browser->headers();
    Response resp = probe_->handle(r);
    if (browser) browser->take(resp);
    return resp;
  }
  nlohmann::json json(const std::string& sub, const http::Params& query = {},
                      Browser* browser = nullptr) {
    Response r = request(sub, query, browser);
    EXPECT_EQ(r.status, 200) << sub << ": " << r.body;
    return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  }
  // The rt of a login started by `browser`.
  std::string startLogin(Browser& browser, const std::string& return_to = "/after?x=1",
                         const std::string& hint = "") {
    Response r = request("/require_login",
                         qp({{"return_to", return_to}, {"login_hint", hint}}), &browser);
    EXPECT_EQ(r.status, 302) << r.body;
    const std::string* location = findHeader(r.headers, "location");
    EXPECT_NE(location, nullptr);
    if (location == nullptr) return "";
    EXPECT_THAT(*location, StartsWith("/login?rt="));
    return location->substr(std::string("/login?rt=").size());
  }
  auth::User addUser(const std::string& email, const std::string& password) {
    auto u = users_->add({.email = email, .password = password, .name = "Ana"});
    EXPECT_TRUE(u.ok()) << u.status();
    return u.ok() ? *u : auth::User{};
  }

  ExtensionPtr probe_;
};

TEST_F(AuthHostCallTest, JwksGetReturnsThePublicKeys) {
  auto j = json("/jwks");
  EXPECT_EQ(j["result"], 0);
  ASSERT_TRUE(j["jwks"].is_string());
  EXPECT_EQ(j["jwks"], keys_->jwks());
  auto jwks = nlohmann::json::parse(j["jwks"].get<std::string>());
  ASSERT_TRUE(jwks["keys"].is_array());
  EXPECT_EQ(jwks["keys"][0]["kid"], keys_->listKeys()[0].kid);
  EXPECT_FALSE(jwks["keys"][0].contains("d")) << "never private key material";
}

TEST_F(AuthHostCallTest, RequireLoginRedirectsToTheLoginPageWithABoundAttempt) {
  Browser browser;
  std::string rt = startLogin(browser, "/authorize/resume?p=abc", "ana@example.com");
  EXPECT_EQ(rt.size(), 43u);
  EXPECT_EQ(browser.get("habanero_login").size(), 43u);

  auto attempt = json("/attempt", qp({{"rt", rt}}), &browser);
  EXPECT_EQ(attempt["result"], 0);
  EXPECT_EQ(nlohmann::json::parse(attempt["attempt"].get<std::string>()),
            nlohmann::json({{"login_hint", "ana@example.com"}}));

  Browser stranger;
  EXPECT_EQ(json("/attempt", qp({{"rt", rt}}), &stranger)["result"], 1)
      << "an attempt is visible only to the browser that started it";
  EXPECT_EQ(json("/attempt", qp({{"rt", "nope"}}), &browser)["result"], 1);
}

TEST_F(AuthHostCallTest, RequireLoginRefusesReturnToOutsideThisServer) {
  for (const char* bad : {"https://evil.example/", "//evil.example/x", "/\\evil", "relative", ""}) {
    Response r = request("/require_login", qp({{"return_to", bad}}));
    EXPECT_EQ(r.status, 200) << bad;
    EXPECT_EQ(nlohmann::json::parse(r.body)["result"], 4) << bad;
    EXPECT_EQ(findHeader(r.headers, "location"), nullptr);
    EXPECT_TRUE(setCookies(r).empty());
  }
  Response hint = request("/require_login",
                          qp({{"return_to", "/x"}, {"login_hint", "a\nb"}}));
  EXPECT_EQ(nlohmann::json::parse(hint.body)["result"], 4);
}

TEST_F(AuthHostCallTest, LoginCompleteStartsASessionAndRedirectsBack) {
  auth::User ana = addUser("ana@example.com", "pw");
  Browser browser;
  std::string rt = startLogin(browser, "/authorize/resume?p=abc");
  EXPECT_EQ(json("/session", {}, &browser)["result"], 1) << "no session yet";

  Response done = request("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser);
  ASSERT_EQ(done.status, 302) << done.body;
  ASSERT_NE(findHeader(done.headers, "location"), nullptr);
  EXPECT_EQ(*findHeader(done.headers, "location"), "/authorize/resume?p=abc");
  std::vector<std::string> cookies = setCookies(done);
  ASSERT_EQ(cookies.size(), 1u);
  EXPECT_THAT(cookies[0], StartsWith("habanero_session="));
  EXPECT_THAT(cookies[0], HasSubstr("; HttpOnly"));
  EXPECT_THAT(cookies[0], HasSubstr("; SameSite=Lax"));
  EXPECT_THAT(cookies[0], HasSubstr("; Path=/"));
  EXPECT_THAT(cookies[0], Not(HasSubstr("Secure"))) << "plain http";

  auto s = json("/session", {}, &browser);
  ASSERT_EQ(s["result"], 0);
  auto session = nlohmann::json::parse(s["session"].get<std::string>());
  EXPECT_EQ(session["sub"], ana.subject);
  EXPECT_EQ(session["amr"], nlohmann::json({"pwd"}));
  EXPECT_NEAR(session["auth_time"].get<double>(),
              static_cast<double>(SystemClock::instance().nowMs() / 1000), 60);
  EXPECT_EQ(session["sid"].get<std::string>().size(), 22u);

  EXPECT_EQ(json("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser)["result"],
            1)
      << "an attempt completes once";
}

TEST_F(AuthHostCallTest, LoginCompleteRefusesUnknownSubjectsAndBadAmrKeepingTheAttempt) {
  auth::User ana = addUser("ana@example.com", "pw");
  Browser browser;
  std::string rt = startLogin(browser);
  EXPECT_EQ(json("/complete", qp({{"rt", rt}, {"sub", "AAAAAAAAAAAAAAAAAAAAAA"}}),
                 &browser)["result"],
            1);
  EXPECT_EQ(json("/complete", qp({{"rt", rt}, {"sub", ""}}), &browser)["result"], 1);
  for (const char* amr : {"pwd", "[1]", "{}", "[\"\"]", "[\"a b\"]"}) {
    EXPECT_EQ(json("/complete", qp({{"rt", rt}, {"sub", ana.subject}, {"amr", amr}}),
                   &browser)["result"],
              4)
        << amr;
  }
  Browser stranger;
  EXPECT_EQ(json("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &stranger)["result"],
            1)
      << "another browser cannot complete it";
  Response done = request(
      "/complete", qp({{"rt", rt}, {"sub", ana.subject}, {"amr", "[\"pwd\",\"mfa\"]"}}),
      &browser);
  EXPECT_EQ(done.status, 302) << "the attempt survived the refused calls";
  auto session =
      nlohmann::json::parse(json("/session", {}, &browser)["session"].get<std::string>());
  EXPECT_EQ(session["amr"], nlohmann::json({"pwd", "mfa"}));
}

TEST_F(AuthHostCallTest, EachLoginGetsANewCookieAndEndsThePreviousSession) {
  auth::User ana = addUser("ana@example.com", "pw");
  Browser browser;
  std::string rt = startLogin(browser);
  ASSERT_EQ(request("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser).status,
            302);
  const std::string first = browser.get("habanero_session");
  auto first_sid = nlohmann::json::parse(
      json("/session", {}, &browser)["session"].get<std::string>())["sid"];

  rt = startLogin(browser);
  ASSERT_EQ(request("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser).status,
            302);
  const std::string second = browser.get("habanero_session");
  EXPECT_NE(first, second);
  auto second_sid = nlohmann::json::parse(
      json("/session", {}, &browser)["session"].get<std::string>())["sid"];
  EXPECT_NE(second_sid, first_sid);
  Browser old;
  old.set("habanero_session", first);
  EXPECT_EQ(json("/session", {}, &old)["result"], 1) << "the previous session ended";
}

TEST_F(AuthHostCallTest, CookiesAreSecureOverHttps) {
  auth::User ana = addUser("ana@example.com", "pw");
  Browser browser;
  Response begun = request("/require_login", qp({{"return_to", "/x"}}), &browser, true);
  ASSERT_EQ(begun.status, 302);
  EXPECT_THAT(setCookies(begun)[0], HasSubstr("; Secure"));
  std::string rt = findHeader(begun.headers, "location")->substr(10);
  Response done =
      request("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser, true);
  ASSERT_EQ(done.status, 302);
  EXPECT_THAT(setCookies(done)[0], HasSubstr("; Secure"));
  Response ended = request("/end", {}, &browser, true);
  EXPECT_THAT(setCookies(ended)[0], HasSubstr("; Secure"));
}

TEST_F(AuthHostCallTest, SessionEndClearsTheCookieAndTheRecord) {
  auth::User ana = addUser("ana@example.com", "pw");
  Browser browser;
  std::string rt = startLogin(browser);
  ASSERT_EQ(request("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser).status,
            302);
  const std::string cookie = browser.get("habanero_session");
  Response ended = request("/end", {}, &browser);
  EXPECT_EQ(nlohmann::json::parse(ended.body)["result"], 0);
  ASSERT_EQ(setCookies(ended).size(), 1u);
  EXPECT_THAT(setCookies(ended)[0], StartsWith("habanero_session=; Path=/; Max-Age=0"));
  Browser replay;
  replay.set("habanero_session", cookie);
  EXPECT_EQ(json("/session", {}, &replay)["result"], 1)
      << "the record is gone, not just the cookie";
  EXPECT_EQ(json("/end")["result"], 0) << "no session: still OK";
}

TEST_F(AuthHostCallTest, RemovingAUserEndsTheirSessions) {
  auth::User ana = addUser("ana@example.com", "pw");
  Browser browser;
  std::string rt = startLogin(browser);
  ASSERT_EQ(request("/complete", qp({{"rt", rt}, {"sub", ana.subject}}), &browser).status,
            302);
  EXPECT_EQ(json("/session", {}, &browser)["result"], 0);
  ASSERT_EQ(users_->remove("ana@example.com"), absl::OkStatus());
  EXPECT_EQ(json("/session", {}, &browser)["result"], 1);
}

TEST_F(AuthHostCallTest, UsersVerifyPasswordAndClaims) {
  auth::User ana = addUser("Ana@Example.com", "correct horse");
  auto ok = json("/verify", qp({{"email", "ana@example.com"}, {"password", "correct horse"}}));
  EXPECT_EQ(ok["result"], 0);
  EXPECT_EQ(ok["sub"], ana.subject);
  EXPECT_EQ(json("/verify", qp({{"email", "ana@example.com"}, {"password", "wrong"}}))
                ["result"],
            7);
  EXPECT_EQ(json("/verify", qp({{"email", "bob@example.com"}, {"password", "x"}}))
                ["result"],
            7);
  EXPECT_EQ(json("/verify", qp({{"email", ""}, {"password", ""}}))["result"], 7);

  auto user = json("/user", qp({{"sub", ana.subject}}));
  ASSERT_EQ(user["result"], 0);
  auto claims = nlohmann::json::parse(user["user"].get<std::string>());
  EXPECT_EQ(claims["sub"], ana.subject);
  EXPECT_EQ(claims["email"], "ana@example.com");
  EXPECT_EQ(claims["name"], "Ana");
  EXPECT_THAT(user["user"].get<std::string>(), Not(HasSubstr("argon2")));
  EXPECT_EQ(json("/user", qp({{"sub", "nobody"}}))["result"], 1);
}

TEST_F(AuthHostCallTest, ClientsGetAndAuthenticate) {
  auto web = clients_->add({.client_id = "web",
                            .redirect_uris = {"https://app.example/cb"},
                            .name = "Web"});
  ASSERT_TRUE(web.ok()) << web.status();
  auto spa = clients_->add({.client_id = "spa",
                            .is_public = true,
                            .redirect_uris = {"http://localhost:3000/cb"}});
  ASSERT_TRUE(spa.ok()) << spa.status();

  auto got = json("/client", qp({{"id", "web"}}));
  ASSERT_EQ(got["result"], 0);
  auto client = nlohmann::json::parse(got["client"].get<std::string>());
  EXPECT_EQ(client["client_id"], "web");
  EXPECT_EQ(client["name"], "Web");
  EXPECT_EQ(client["public"], false);
  EXPECT_EQ(client["redirect_uris"], nlohmann::json({"https://app.example/cb"}));
  EXPECT_EQ(client["token_format"], "jwt");
  EXPECT_THAT(got["client"].get<std::string>(), Not(HasSubstr(web->generated_secret)));
  EXPECT_EQ(json("/client", qp({{"id", "nope"}}))["result"], 1);

  const std::string& secret = web->generated_secret;
  EXPECT_EQ(json("/client_auth", qp({{"id", "web"}, {"secret", secret}}))["result"], 0);
  EXPECT_EQ(json("/client_auth", qp({{"id", "web"}, {"secret", "x"}}))["result"], 7);
  EXPECT_EQ(json("/client_auth", qp({{"id", "nope"}, {"secret", secret}}))["result"], 7);
  EXPECT_EQ(json("/client_auth", qp({{"id", "spa"}, {"secret", ""}}))["result"], 7);
}

TEST_F(AuthHostCallTest, SmallBuffersGetTheNeededSize) {
  auth::User ana = addUser("ana@example.com", "pw");
  ASSERT_TRUE(clients_->add({.client_id = "web", .redirect_uris = {"https://a.example/"}}).ok());
  Browser browser;
  std::string rt = startLogin(browser, "/x", "hint");
  auto j = json("/small",
                qp({{"sub", ana.subject},
                              {"id", "web"},
                              {"rt", rt},
                              {"email", "ana@example.com"},
                              {"password", "pw"}}),
                &browser);
  EXPECT_EQ(j["jwks_get"], 3);
  EXPECT_EQ(j["jwks_get_len"], keys_->jwks().size());
  EXPECT_EQ(j["session_get"], 1) << "no session";
  EXPECT_EQ(j["user_get"], 3);
  EXPECT_EQ(j["user_get_len"], users_->claimsJson(ana.subject).value()->size());
  EXPECT_EQ(j["client_get"], 3);
  EXPECT_EQ(j["client_get_len"], clients_->find("web")->json.size());
  EXPECT_EQ(j["login_attempt_get"], 3);
  EXPECT_EQ(j["login_attempt_get_len"], std::string(R"({"login_hint":"hint"})").size());
  EXPECT_EQ(j["user_verify_password"], 3);
  EXPECT_EQ(j["user_verify_password_len"], ana.subject.size());
}

TEST_F(AuthHostCallTest, BadPointersAreInvalidMemoryAndHaveNoEffect) {
  ASSERT_TRUE(clients_->add({.client_id = "web", .redirect_uris = {"https://a.example/"}}).ok());
  Response r = request("/bad_pointers", {});
  ASSERT_EQ(r.status, 200) << r.body;
  auto results = nlohmann::json::parse(r.body);
  EXPECT_GE(results.size(), 70u);
  for (auto& [call, code] : results.items()) EXPECT_EQ(code, 2) << call;
  EXPECT_TRUE(setCookies(r).empty());
  EXPECT_EQ(findHeader(r.headers, "location"), nullptr);
  EXPECT_TRUE(storage_->list(auth::Sessions::kLoginNamespace, 10).value().empty());
  EXPECT_TRUE(storage_->list(auth::Sessions::kNamespace, 10).value().empty());
}

TEST_F(AuthHostCallTest, ModulesAreRefusedWithoutTheGrantOrTheFacility) {
  std::vector<std::string> no_clients = {"http", "sessions", "login", "users", "keys"};
  auto ungranted = load(configFor("auth_probe", no_clients));
  ASSERT_FALSE(ungranted.ok());
  EXPECT_THAT(ungranted.status().message(), HasSubstr("'clients'"));

  HostServices bare;
  bare.storage = storage_.get();
  bare.signer = keys_.get();
  auto missing = Extension::load(*engine_, configFor("auth_probe", kGrants),
                                 wasmPath("auth_probe"), bare);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("session store"));
}

}  // namespace
}  // namespace habanero::runtime
