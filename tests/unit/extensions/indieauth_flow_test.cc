// The indieauth extension's flows (extensions/indieauth), its sources compiled natively against
// the SDK test kit (sdk/testing/fake_host.h): metadata; authorization with PKCE, the host's
// login and consent; code redemption at /auth (me, profile) and at /token (tokens), replay
// refused and revoking; bad redirect URIs and PKCE downgrades refused; client information
// discovery through http_fetch answers (metadata documents, h-app pages, unreachable ones);
// website verification. The real host with a third-party client: tests/interop
// (indieauth_test.py).
#include <gtest/gtest.h>
#include <habanero.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <string>

#include "fake_host.h"

int32_t onRequest();  // extensions/indieauth/main.cc: habanero_on_request

namespace ht = habanero::testing;
using Json = nlohmann::json;

namespace {

const std::string kBase = "https://id.example";
const std::string kMount = "/indieauth";
const std::string kIssuer = kBase + kMount;
const std::string kClient = "https://app.example/";
const std::string kRedirect = "https://app.example/callback";
const std::string kVerifier = "a-pkce-verifier-of-enough-length-0123456789abcdef";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Json json(const ht::Response& r) { return Json::parse(r.body, nullptr, false); }

std::string challenge(const std::string& verifier) {
  return ht::base64url(ht::sha256(verifier));
}

class IndieAuthFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    host.name = "indieauth";
    host.mount = kMount;
    host.settings["issuer"] = kBase;
    host.addUser({.sub = "u1", .email = "ana@example.com", .name = "Ana"});
    host.fetch_answers[kClient] = {
        .content_type = "application/json",
        .body = Json{{"client_id", kClient},
                     {"client_name", "Example <App>"},
                     {"redirect_uris", {kRedirect, "https://other.example/cb"}}}
                    .dump(),
    };
  }

  std::string authorizeUrl(const std::string& scope = "profile create",
                           const std::string& redirect = kRedirect,
                           const std::string& extra = "") {
    std::string u = kMount + "/auth?response_type=code&client_id=" + ht::urlEncode(kClient) +
                    "&redirect_uri=" + ht::urlEncode(redirect) + "&state=st-1" +
                    "&code_challenge=" + challenge(kVerifier) + "&code_challenge_method=S256";
    if (!scope.empty()) u += "&scope=" + ht::urlEncode(scope);
    return u + extra;
  }

  // Posts the consent page `page` back with `decision`.
  ht::Response decide(const ht::Response& page, const std::string& decision) {
    std::smatch p, csrf;
    std::regex_search(page.body, p, std::regex("name=\"p\" value=\"([^\"]+)\""));
    std::regex_search(page.body, csrf, std::regex("name=\"csrf\" value=\"([^\"]+)\""));
    return browser.post(kMount + "/consent",
                        {{"p", p[1]}, {"csrf", csrf[1]}, {"decision", decision}});
  }

  // GET /auth as a signed-in user, approve: the redirect back to the client.
  ht::Response authorize(const std::string& scope = "profile create") {
    if (!browser.session()) browser.signIn("u1");
    ht::Response page = browser.get(authorizeUrl(scope));
    EXPECT_EQ(page.status, 200) << page.body;
    return decide(page, "approve");
  }

  std::string codeOf(const ht::Response& r) { return ht::queryParams(r.location())["code"]; }

  ht::Response redeem(const std::string& endpoint, const std::string& code,
                      const std::string& verifier = kVerifier) {
    ht::Form f = {{"grant_type", "authorization_code"}, {"code", code},
                  {"client_id", kClient},               {"redirect_uri", kRedirect}};
    if (!verifier.empty()) f.emplace_back("code_verifier", verifier);
    return browser.post(kMount + endpoint, f);
  }

  ht::Response verifyToken(const std::string& token) {
    return host.get(kMount + "/token", {{"Authorization", "Bearer " + token}});
  }

  ht::FakeHost host{onRequest};
  ht::Browser browser{host};
};

TEST_F(IndieAuthFlow, MetadataNamesTheIssuerAndItsEndpoints) {
  ht::Response r = host.get(kMount + "/.well-known/oauth-authorization-server");
  ASSERT_EQ(r.status, 200);
  Json m = json(r);
  EXPECT_EQ(m["issuer"], kIssuer);
  EXPECT_EQ(m["authorization_endpoint"], kIssuer + "/auth");
  EXPECT_EQ(m["token_endpoint"], kIssuer + "/token");
  EXPECT_EQ(m["code_challenge_methods_supported"], Json::array({"S256"}));
  EXPECT_EQ(m["authorization_response_iss_parameter_supported"], true);
  EXPECT_EQ(host.post(kMount + "/.well-known/oauth-authorization-server", {}).status, 405);
}

TEST_F(IndieAuthFlow, LoginConsentAndRedemptionAtTheAuthorizationEndpoint) {
  // No session: the host's login, then back to /auth/resume.
  ht::Response r = browser.get(authorizeUrl());
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.location().rfind("/login?rt=", 0), 0u);
  ASSERT_EQ(host.login_requests.size(), 1u);
  std::string resume = host.login_requests[0].return_to;
  EXPECT_EQ(resume.rfind(kMount + "/auth/resume?p=", 0), 0u);
  // The client_id document was fetched (client information discovery).
  ASSERT_FALSE(host.fetches.empty());
  EXPECT_EQ(host.fetches[0].url, kClient);
  EXPECT_TRUE(contains(host.fetches[0].accept, "application/json"));

  browser.signIn("u1");
  ht::Response consent = browser.get(resume);
  ASSERT_EQ(consent.status, 200) << consent.body;
  EXPECT_TRUE(contains(consent.body, "Example &lt;App&gt;"));
  EXPECT_FALSE(contains(consent.body, "Example <App>"));
  r = decide(consent, "approve");
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.location().rfind(kRedirect + "?", 0), 0u);
  auto q = ht::queryParams(r.location());
  EXPECT_EQ(q["state"], "st-1");
  EXPECT_EQ(q["iss"], kIssuer);
  ASSERT_EQ(q["code"].size(), 43u);

  ht::Response me = redeem("/auth", q["code"]);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json(me)["me"], kIssuer + "/u/u1");
  EXPECT_EQ(json(me)["profile"]["name"], "Ana");
  EXPECT_FALSE(json(me).contains("access_token"));
  // Single use.
  ht::Response again = redeem("/auth", q["code"]);
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(json(again)["error"], "invalid_grant");
  // The consent form is single use too.
  EXPECT_EQ(decide(consent, "approve").status, 400);
}

TEST_F(IndieAuthFlow, TheTokenEndpointIssuesTokensAndAReplayRevokesThem) {
  std::string code = codeOf(authorize());
  ASSERT_FALSE(code.empty());
  ht::Response t = redeem("/token", code);
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.header("cache-control"), "no-store");
  Json tokens = json(t);
  EXPECT_EQ(tokens["token_type"], "Bearer");
  EXPECT_EQ(tokens["scope"], "profile create");
  EXPECT_EQ(tokens["me"], kIssuer + "/u/u1");
  EXPECT_EQ(tokens["profile"]["name"], "Ana");
  std::string at = tokens["access_token"];
  ASSERT_TRUE(tokens.contains("refresh_token"));
  // Opaque tokens, stored hashed.
  for (const std::string& k : host.kvKeys()) EXPECT_FALSE(contains(*host.kvGet(k), at)) << k;
  ht::Response v = verifyToken(at);
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(json(v)["me"], kIssuer + "/u/u1");
  EXPECT_EQ(json(v)["client_id"], kClient);
  ht::Response ui = host.get(kMount + "/userinfo", {{"Authorization", "Bearer " + at}});
  EXPECT_EQ(ui.status, 200);
  EXPECT_EQ(json(ui)["name"], "Ana");

  // The code again: refused, and what its first redemption issued is revoked.
  ht::Response replay = redeem("/token", code);
  EXPECT_EQ(replay.status, 400);
  EXPECT_EQ(json(replay)["error"], "invalid_grant");
  EXPECT_EQ(verifyToken(at).status, 401);
  ht::Response refresh = browser.post(kMount + "/token", {{"grant_type", "refresh_token"},
                                                          {"refresh_token", tokens["refresh_token"]},
                                                          {"client_id", kClient}});
  EXPECT_EQ(json(refresh)["error"], "invalid_grant");
}

TEST_F(IndieAuthFlow, RefreshRotatesAndTokensExpire) {
  Json tokens = json(redeem("/token", codeOf(authorize())));
  std::string rt = tokens["refresh_token"];
  ht::Response r = browser.post(kMount + "/token", {{"grant_type", "refresh_token"},
                                                    {"refresh_token", rt},
                                                    {"client_id", kClient},
                                                    {"scope", "create"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json(r)["scope"], "create");
  EXPECT_NE(json(r)["refresh_token"], rt);
  // Rotated: the old one is gone.
  r = browser.post(kMount + "/token",
                   {{"grant_type", "refresh_token"}, {"refresh_token", rt}, {"client_id", kClient}});
  EXPECT_EQ(json(r)["error"], "invalid_grant");
  std::string at = json(redeem("/token", codeOf(authorize())))["access_token"];
  EXPECT_EQ(verifyToken(at).status, 200);
  host.advance(3600 * 1000);
  EXPECT_EQ(verifyToken(at).status, 401);
}

TEST_F(IndieAuthFlow, PkceIsRequiredAndChecked) {
  browser.signIn("u1");
  // Missing or plain: invalid_request, shown on our page (the user has not seen the client).
  std::string no_pkce = kMount + "/auth?response_type=code&client_id=" + ht::urlEncode(kClient) +
                        "&redirect_uri=" + ht::urlEncode(kRedirect) + "&state=s";
  ht::Response r = browser.get(no_pkce);
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(r.location(), "");
  EXPECT_NE(r.body.find("invalid_request"), std::string::npos) << r.body;
  r = browser.get(no_pkce + "&code_challenge=" + challenge(kVerifier) +
                  "&code_challenge_method=plain");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("S256"), std::string::npos) << r.body;
  // A wrong or missing verifier does not redeem (and uses the code up).
  EXPECT_EQ(json(redeem("/token", codeOf(authorize()), kVerifier + "x"))["error"], "invalid_grant");
  EXPECT_EQ(json(redeem("/token", codeOf(authorize()), ""))["error"], "invalid_grant");
  std::string code = codeOf(authorize());
  EXPECT_EQ(json(redeem("/auth", code, std::string(50, 'z')))["error"], "invalid_grant");
  EXPECT_EQ(json(redeem("/auth", code))["error"], "invalid_grant");
}

TEST_F(IndieAuthFlow, BadRedirectUrisAreAnErrorPageNeverARedirect) {
  browser.signIn("u1");
  for (std::string redirect : {"https://evil.example/cb", "https://app.example.evil.example/cb",
                               "not a url", "javascript:alert(1)"}) {
    ht::Response r = browser.get(authorizeUrl("profile", redirect));
    EXPECT_EQ(r.status, 400) << redirect;
    EXPECT_EQ(r.location(), "") << redirect;
  }
  // Published by the client on another origin: allowed.
  ht::Response r = browser.get(authorizeUrl("profile", "https://other.example/cb"));
  EXPECT_EQ(r.status, 200) << r.body;
  // Bad client_ids are pages too.
  for (std::string client : {"http://127.0.0.1.example:80/x/../", "https://app.example/#frag",
                             "mailto:a@b", ""}) {
    std::string u = kMount + "/auth?response_type=code&client_id=" + ht::urlEncode(client) +
                    "&redirect_uri=" + ht::urlEncode(kRedirect);
    r = browser.get(u);
    EXPECT_EQ(r.status, 400) << client;
    EXPECT_EQ(r.location(), "") << client;
  }
  // A redemption with another redirect_uri than the request's is refused.
  std::string code = codeOf(authorize());
  r = browser.post(kMount + "/token", {{"grant_type", "authorization_code"},
                                       {"code", code},
                                       {"client_id", kClient},
                                       {"redirect_uri", "https://other.example/cb"},
                                       {"code_verifier", kVerifier}});
  EXPECT_EQ(json(r)["error"], "invalid_grant");
}

// Issue 16 / RFC 9700 §4.11.2: any URL can be a client_id, so before the user has seen the
// client on the consent page no error is redirected, not even to the client's own origin.
TEST_F(IndieAuthFlow, ErrorsForAnArbitraryClientAreAPageNotARedirect) {
  const std::string attacker = "https://attacker.example/";
  const std::string phish = "https://attacker.example/phish";
  host.fetch_answers[attacker] = {.result = HABANERO_UNAVAILABLE};
  auto url = [&](const std::string& extra) {
    return kMount + "/auth?client_id=" + ht::urlEncode(attacker) +
           "&redirect_uri=" + ht::urlEncode(phish) + "&state=s" + extra;
  };
  std::string pkce = "&code_challenge=" + challenge(kVerifier) + "&code_challenge_method=S256";
  for (const std::string& extra : std::vector<std::string>{"&response_type=token", "&response_type=code",
                            "&response_type=code&me=mailto:x" + pkce,
                            "&response_type=code&scope=a%00b" + pkce}) {
    ht::Response r = browser.get(url(extra));
    EXPECT_EQ(r.status, 400) << extra;
    EXPECT_EQ(r.location(), "") << extra;
  }
  // Without a session, a sign-in that does not complete: a page on resume, too.
  ht::Response r = browser.get(url("&response_type=code" + pkce));
  ASSERT_EQ(r.location().rfind("/login?rt=", 0), 0u) << r.status << r.body;
  r = browser.get(host.login_requests.back().return_to);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.location(), "");
  // Once the user has seen it, a denial goes back to the client.
  browser.signIn("u1");
  r = browser.get(url("&response_type=code" + pkce));
  ASSERT_EQ(r.status, 200) << r.body;
  r = decide(r, "deny");
  ASSERT_EQ(r.status, 303);
  EXPECT_EQ(r.location().rfind(phish + "?", 0), 0u) << r.location();
  EXPECT_EQ(ht::queryParams(r.location())["error"], "access_denied");
}

TEST_F(IndieAuthFlow, ClientDiscoveryFollowsTheFetchedDocument) {
  browser.signIn("u1");
  // A metadata document naming another client_id: refused with a page.
  host.fetch_answers[kClient].body = Json{{"client_id", "https://impostor.example/"}}.dump();
  ht::Response r = browser.get(authorizeUrl());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.location(), "");
  // An h-app page: its name, and its rel="redirect_uri" links allow another origin.
  host.fetch_answers[kClient] = {
      .body = "<html><head><link rel=\"redirect_uri\" href=\"https://cb.example/done\"></head>"
              "<body><div class=\"h-app\"><span class=\"p-name\">Happy App</span></div></body>"
              "</html>",
  };
  r = browser.get(authorizeUrl("profile", "https://cb.example/done"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(contains(r.body, "Happy App"));
  // A Link header works for any document.
  host.fetch_answers[kClient] = {.content_type = "text/plain",
                                 .body = "hello",
                                 .links = {"<https://cb2.example/x>; rel=\"redirect_uri\""}};
  EXPECT_EQ(browser.get(authorizeUrl("profile", "https://cb2.example/x")).status, 200);
  // Unreachable or refused by the fetch guard: treated as absent (same-origin redirects only).
  host.fetch_answers[kClient] = {.result = HABANERO_UNAVAILABLE};
  r = browser.get(authorizeUrl());
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(contains(r.body, "app.example"));
  EXPECT_EQ(browser.get(authorizeUrl("profile", "https://other.example/cb")).status, 400);
  host.fetch_answers[kClient] = {.result = HABANERO_DENIED};
  EXPECT_EQ(browser.get(authorizeUrl()).status, 200);
  // A loopback client_id is never fetched.
  size_t fetched = host.fetches.size();
  std::string loopback = "http://127.0.0.1:8123/";
  r = browser.get(kMount + "/auth?response_type=code&client_id=" + ht::urlEncode(loopback) +
                  "&redirect_uri=" + ht::urlEncode(loopback + "cb") +
                  "&state=s&code_challenge=" + challenge(kVerifier) +
                  "&code_challenge_method=S256");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(host.fetches.size(), fetched);
}

TEST_F(IndieAuthFlow, DenyAndAForgedConsentForm) {
  browser.signIn("u1");
  ht::Response page = browser.get(authorizeUrl());
  ASSERT_EQ(page.status, 200);
  ht::Response forged = browser.post(kMount + "/consent",
                                     {{"p", "nope"}, {"csrf", "x"}, {"decision", "approve"}});
  EXPECT_EQ(forged.status, 400);
  std::smatch p;
  std::regex_search(page.body, p, std::regex("name=\"p\" value=\"([^\"]+)\""));
  forged = browser.post(kMount + "/consent", {{"p", p[1]}, {"csrf", "x"}, {"decision", "approve"}});
  EXPECT_EQ(forged.status, 400);
  // Another user's browser cannot answer this user's consent.
  host.addUser({.sub = "u2", .email = "bo@example.com"});
  ht::Browser bo(host);
  bo.signIn("u2");
  std::smatch csrf;
  std::regex_search(page.body, csrf, std::regex("name=\"csrf\" value=\"([^\"]+)\""));
  EXPECT_EQ(bo.post(kMount + "/consent", {{"p", p[1]}, {"csrf", csrf[1]}, {"decision", "approve"}})
                .status,
            400);
  ht::Response r = decide(page, "deny");
  ASSERT_EQ(r.status, 303);
  auto q = ht::queryParams(r.location());
  EXPECT_EQ(q["error"], "access_denied");
  EXPECT_EQ(q["state"], "st-1");
  EXPECT_EQ(q["code"], "");
}

TEST_F(IndieAuthFlow, ACodeWithoutScopeGetsNoAccessToken) {
  std::string code = codeOf(authorize(""));
  ht::Response t = redeem("/token", code);
  EXPECT_EQ(t.status, 400);
  EXPECT_EQ(json(t)["error"], "invalid_grant");
  // … and is not used up: the authorization endpoint still redeems it.
  ht::Response me = redeem("/auth", code);
  EXPECT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json(me)["me"], kIssuer + "/u/u1");
  EXPECT_FALSE(json(me).contains("profile"));
}

TEST_F(IndieAuthFlow, CodesExpire) {
  std::string code = codeOf(authorize());
  host.advance(301 * 1000);
  EXPECT_EQ(json(redeem("/token", code))["error"], "invalid_grant");
}

TEST_F(IndieAuthFlow, AVerifiedWebsiteBecomesMe) {
  host.addUser({.sub = "u1", .email = "ana@example.com", .name = "Ana",
                .website = "https://ana.example/"});
  host.fetch_answers["https://ana.example/"] = {
      .body = "<html><head><link rel=\"indieauth-metadata\" href=\"" + kIssuer +
              "/.well-known/oauth-authorization-server\"></head></html>",
  };
  Json me = json(redeem("/auth", codeOf(authorize("profile"))));
  EXPECT_EQ(me["me"], "https://ana.example/");
}

TEST_F(IndieAuthFlow, AWebsiteNamingAnotherServerIsNotUsed) {
  host.addUser({.sub = "u1", .email = "ana@example.com", .name = "Ana",
                .website = "https://ana.example/"});
  host.fetch_answers["https://ana.example/"] = {
      .body = "<link rel=\"indieauth-metadata\" href=\"https://elsewhere.example/meta\">",
  };
  Json me = json(redeem("/auth", codeOf(authorize("profile"))));
  EXPECT_EQ(me["me"], kIssuer + "/u/u1");
  // Unreachable: not used either.
  host.addUser({.sub = "u2", .email = "bo@example.com", .website = "https://bo.example/"});
  ht::Browser bo(host);
  bo.signIn("u2");
  ht::Response page = bo.get(authorizeUrl("profile"));
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(contains(page.body, "https://bo.example/"));  // says why it is not used
}

TEST_F(IndieAuthFlow, BadInputIsA4xxNeverACrash) {
  EXPECT_EQ(browser.get(kMount + "/auth").status, 400);
  EXPECT_EQ(browser.get(kMount + "/auth?client_id=%zz").status, 400);
  EXPECT_EQ(browser.get(kMount + "/auth?client_id=a&client_id=b").status, 400);
  EXPECT_EQ(browser.get(kMount + "/auth/resume?p=unknown").status, 400);
  ht::Response r = browser.send({.method = "POST",
                                 .target = kMount + "/token",
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = "{}"});
  EXPECT_EQ(r.status, 400);
  r = browser.post(kMount + "/token", {{"grant_type", "password"}});
  EXPECT_EQ(json(r)["error"], "unsupported_grant_type");
  r = browser.post(kMount + "/token", {{"grant_type", "authorization_code"},
                                       {"grant_type", "authorization_code"}});
  EXPECT_EQ(json(r)["error"], "invalid_request");
  r = browser.post(kMount + "/token", {{"grant_type", "authorization_code"},
                                       {"code", "x"},
                                       {"client_id", kClient},
                                       {"redirect_uri", kRedirect}},
                   {{"Authorization", "Basic " + ht::base64(kClient + ":secret")}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(verifyToken("forged").status, 401);
  EXPECT_EQ(host.get(kMount + "/userinfo").status, 401);
  EXPECT_EQ(host.post(kMount + "/introspect", {{"token", "x"}}).status, 401);
  EXPECT_EQ(browser.get(kMount + "/u/nobody").status, 404);
  EXPECT_EQ(browser.send({.method = "PUT", .target = kMount + "/auth"}).status, 405);
  host.settings.erase("issuer");
  EXPECT_EQ(browser.get(kMount + "/.well-known/oauth-authorization-server").status, 503);
}

}  // namespace
