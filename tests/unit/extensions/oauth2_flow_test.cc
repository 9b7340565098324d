// The oauth2 extension's protocol flows, its sources compiled natively against the SDK test
// kit's fake host (sdk/testing/fake_host.h): authorization code + PKCE with login and consent,
// prompt/max_age, refresh rotation and reuse, code replay, client authentication, userinfo,
// introspection, revocation, logout, and bad input. Real clients against the real host:
// tests/interop.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>

#include "fake_host.h"

int32_t onRequest();  // extensions/oauth2/main.cc: habanero_on_request

namespace ht = habanero::testing;
using ht::base64url;
using Json = nlohmann::json;
using FakeResponse = ht::Response;

namespace {

const std::string kIssuer = "http://op.test";
const std::string kRedirect = "https://rp.example/cb";

std::string base64urlEncode(std::string_view s) { return ht::base64url(s); }
std::string percentEncode(std::string_view s) { return ht::urlEncode(s); }
std::string sha(const std::string& d) { return ht::sha256(d); }

std::map<std::string, std::string> queryOf(const std::string& url) { return ht::queryParams(url); }

std::string form(const std::vector<std::pair<std::string, std::string>>& kv) {
  return ht::encodeForm(kv);
}

const std::map<std::string, std::string> kForm = {
    {"content-type", "application/x-www-form-urlencoded"}};

std::map<std::string, std::string> basic(const std::string& id, const std::string& secret) {
  auto h = kForm;
  h["authorization"] = "Basic " + ht::base64(percentEncode(id) + ":" + percentEncode(secret));
  return h;
}

Json jwtPart(const std::string& jwt, int part) {
  size_t a = jwt.find('.'), b = jwt.rfind('.');
  std::string seg = part == 0 ? jwt.substr(0, a) : jwt.substr(a + 1, b - a - 1);
  return Json::parse(ht::base64urlDecode(seg).value_or("null"));
}

class OAuth2Flow : public ::testing::Test {
 protected:
  void SetUp() override {
    host.settings["issuer"] = kIssuer;
    host.addClient(R"({"client_id":"rp","name":"Relying <Party>","public":false,
      "redirect_uris":["https://rp.example/cb"],"post_logout_redirect_uris":["https://rp.example/bye"],
      "grant_types":["authorization_code","refresh_token","client_credentials"],
      "scopes":["openid","profile","email","offline_access"],"first_party":false,"token_format":"jwt"})",
                   "s3cret");
    host.addClient(R"({"client_id":"pub","name":"Native","public":true,
      "redirect_uris":["http://127.0.0.1/cb"],"grant_types":["authorization_code","refresh_token"],
      "scopes":["openid","email","offline_access"],"first_party":false,"token_format":"opaque"})");
    host.addClient(R"({"client_id":"fp","name":"First","public":false,
      "redirect_uris":["https://fp.example/cb"],"grant_types":["authorization_code"],
      "scopes":["openid","email"],"first_party":true})",
                   "fpsecret");
    host.addUser({.sub = "u1", .email = "alice@example.com", .name = "Alice",
                  .phone_number = "+15550100"});
  }

  // One request from the test's browser (its cookies: the session), with headers as a map.
  FakeResponse call(const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers = {},
                    const std::string& body = "") {
    ht::Request r;
    r.method = method;
    r.target = target;
    for (const auto& [k, v] : headers) r.headers.emplace_back(k, v);
    r.body = body;
    return browser.send(std::move(r));
  }

  // Where the last session_require_login wants the browser to come back to.
  std::string loginReturnTo() const {
    return host.login_requests.empty() ? "" : host.login_requests.back().return_to;
  }
  bool signedIn() const { return browser.session() != nullptr; }

  ht::FakeHost host{onRequest};
  ht::Browser browser{host};

  void login(int64_t age_s = 0) { browser.signIn("u1", {"pwd"}, host.now_ms / 1000 - age_s); }

  struct Pkce { std::string verifier, challenge; };
  Pkce pkce() {
    Pkce p;
    p.verifier = base64url(std::string(32, 'v')) + "xyz";
    p.challenge = base64urlEncode(sha(p.verifier));
    return p;
  }

  std::string authorizeUrl(const std::string& client, const std::string& redirect,
                           const std::string& scope, const std::string& challenge,
                           const std::string& extra = "") {
    std::string u = "/authorize?response_type=code&client_id=" + client +
                    "&redirect_uri=" + percentEncode(redirect) + "&scope=" + percentEncode(scope) +
                    "&state=st%201&nonce=n-1";
    if (!challenge.empty()) u += "&code_challenge=" + challenge + "&code_challenge_method=S256";
    return u + extra;
  }

  // Follows login and consent; returns the final redirect to the client.
  std::string run(const std::string& url, bool approve = true, int* consent_pages = nullptr) {
    FakeResponse r = call("GET", url);
    for (int hops = 0; hops < 6; ++hops) {
      if (r.status == 302 && r.header("location").rfind("/login", 0) == 0) {
        login();
        r = call("GET", loginReturnTo());
        continue;
      }
      if (r.status == 200 && r.body.find("name=\"csrf\"") != std::string::npos) {
        if (consent_pages) ++*consent_pages;
        std::smatch m1, m2;
        std::regex_search(r.body, m1, std::regex("name=\"p\" value=\"([^\"]+)\""));
        std::regex_search(r.body, m2, std::regex("name=\"csrf\" value=\"([^\"]+)\""));
        r = call("POST", "/consent", kForm,
                 form({{"p", m1[1]}, {"csrf", m2[1]}, {"decision", approve ? "approve" : "deny"}}));
        continue;
      }
      break;
    }
    last_ = r;
    return r.header("location");
  }

  Json redeem(const std::string& code, const std::string& verifier, int expect = 200,
              const std::string& client = "rp", const std::string& secret = "s3cret") {
    std::vector<std::pair<std::string, std::string>> f = {
        {"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", kRedirect}};
    if (!verifier.empty()) f.emplace_back("code_verifier", verifier);
    FakeResponse r = call("POST", "/token", basic(client, secret), form(f));
    EXPECT_EQ(r.status, expect) << r.body;
    EXPECT_EQ(r.header("cache-control"), "no-store");
    return Json::parse(r.body);
  }

  Json refresh(const std::string& rt, int expect = 200) {
    FakeResponse r = call("POST", "/token", basic("rp", "s3cret"),
                          form({{"grant_type", "refresh_token"}, {"refresh_token", rt}}));
    EXPECT_EQ(r.status, expect) << r.body;
    return Json::parse(r.body);
  }

  FakeResponse userinfo(const std::string& at) {
    return call("GET", "/userinfo", {{"authorization", "Bearer " + at}});
  }
  Json introspect(const std::string& t) {
    FakeResponse r = call("POST", "/introspect", basic("rp", "s3cret"), form({{"token", t}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body);
  }

  FakeResponse last_;
};

TEST_F(OAuth2Flow, Discovery) {
  FakeResponse r = call("GET", "/.well-known/openid-configuration");
  ASSERT_EQ(r.status, 200);
  Json d = Json::parse(r.body);
  EXPECT_EQ(d["issuer"], kIssuer);
  EXPECT_EQ(d["token_endpoint"], kIssuer + "/token");
  EXPECT_EQ(d["jwks_uri"], kIssuer + "/jwks.json");
  EXPECT_EQ(d["id_token_signing_alg_values_supported"], Json({"ES256"}));
  EXPECT_EQ(d["authorization_response_iss_parameter_supported"], true);
  FakeResponse r2 = call("GET", "/.well-known/oauth-authorization-server");
  EXPECT_EQ(r2.body, r.body);
  EXPECT_EQ(call("GET", "/jwks.json").status, 200);
  EXPECT_EQ(call("POST", "/jwks.json").status, 405);
}

TEST_F(OAuth2Flow, FullCodeFlow) {
  auto p = pkce();
  int pages = 0;
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid email offline_access", p.challenge), true, &pages);
  EXPECT_EQ(pages, 1);
  ASSERT_EQ(last_.status, 303) << last_.body;
  auto q = queryOf(loc);
  EXPECT_EQ(q["state"], "st 1");
  EXPECT_EQ(q["iss"], kIssuer);
  ASSERT_FALSE(q["code"].empty()) << loc;
  Json t = redeem(q["code"], p.verifier);
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["scope"], "openid email offline_access");
  ASSERT_TRUE(t.contains("refresh_token"));
  Json at_h = jwtPart(t["access_token"], 0), at = jwtPart(t["access_token"], 1);
  EXPECT_EQ(at_h["typ"], "at+jwt");
  EXPECT_EQ(at["iss"], kIssuer);
  EXPECT_EQ(at["client_id"], "rp");
  EXPECT_EQ(at["sub"], "u1");
  Json id = jwtPart(t["id_token"], 1);
  EXPECT_EQ(id["aud"], "rp");
  EXPECT_EQ(id["azp"], "rp");
  EXPECT_EQ(id["nonce"], "n-1");
  EXPECT_EQ(id["email"], "alice@example.com");
  EXPECT_FALSE(id.contains("name"));
  EXPECT_EQ(id["amr"], Json({"pwd"}));
  EXPECT_EQ(id["at_hash"], base64urlEncode(sha(t["access_token"]).substr(0, 16)));

  FakeResponse ui = userinfo(t["access_token"]);
  ASSERT_EQ(ui.status, 200) << ui.body;
  EXPECT_EQ(Json::parse(ui.body), Json({{"sub", "u1"}, {"email", "alice@example.com"}, {"email_verified", true}}));
  EXPECT_EQ(introspect(t["access_token"])["active"], true);
  EXPECT_EQ(introspect(t["refresh_token"])["active"], true);

  // Rotation.
  Json t2 = refresh(t["refresh_token"]);
  ASSERT_TRUE(t2.contains("refresh_token"));
  EXPECT_NE(t2["refresh_token"], t["refresh_token"]);
  EXPECT_FALSE(jwtPart(t2["id_token"], 1).contains("nonce"));
  Json t3 = refresh(t2["refresh_token"]);
  // Reuse of t (rotated) revokes the family: t3 dies, and its access tokens.
  EXPECT_EQ(refresh(t["refresh_token"], 400)["error"], "invalid_grant");
  EXPECT_EQ(refresh(t3["refresh_token"], 400)["error"], "invalid_grant");
  EXPECT_EQ(userinfo(t3["access_token"]).status, 401);
  EXPECT_EQ(introspect(t3["access_token"])["active"], false);

  // Code replay: refused, and the first redemption's tokens are revoked.
  EXPECT_EQ(redeem(q["code"], p.verifier, 400)["error"], "invalid_grant");
  FakeResponse ui2 = userinfo(t["access_token"]);
  EXPECT_EQ(ui2.status, 401);
  EXPECT_NE(ui2.header("www-authenticate").find("invalid_token"), std::string::npos);

  // Consent is remembered.
  pages = 0;
  auto p2 = pkce();
  loc = run(authorizeUrl("rp", kRedirect, "openid email", p2.challenge), true, &pages);
  EXPECT_EQ(pages, 0);
  EXPECT_EQ(last_.status, 302);
  Json t4 = redeem(queryOf(loc)["code"], p2.verifier);
  EXPECT_FALSE(t4.contains("refresh_token"));
}

TEST_F(OAuth2Flow, ConsentPageEscapesAndDeny) {
  login();
  FakeResponse r = call("GET", authorizeUrl("rp", kRedirect, "openid", pkce().challenge));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Relying &lt;Party&gt;"), std::string::npos);
  EXPECT_NE(r.header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(r.header("referrer-policy"), "no-referrer");
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid", pkce().challenge), false);
  EXPECT_EQ(queryOf(loc)["error"], "access_denied");
  EXPECT_EQ(queryOf(loc)["iss"], kIssuer);
  // A forged CSRF token is refused.
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", pkce().challenge));
  std::smatch m1;
  std::regex_search(r.body, m1, std::regex("name=\"p\" value=\"([^\"]+)\""));
  FakeResponse c = call("POST", "/consent", kForm, form({{"p", m1[1]}, {"csrf", "x"}, {"decision", "approve"}}));
  EXPECT_EQ(c.status, 400);
}

TEST_F(OAuth2Flow, FirstPartySkipsConsent) {
  int pages = 0;
  auto p = pkce();
  std::string loc = run(authorizeUrl("fp", "https://fp.example/cb", "openid email", p.challenge), true, &pages);
  EXPECT_EQ(pages, 0);
  EXPECT_FALSE(queryOf(loc)["code"].empty()) << loc;
  host.settings["first_party_skip_consent"] = "false";
  loc = run(authorizeUrl("fp", "https://fp.example/cb", "openid email", p.challenge), true, &pages);
  EXPECT_EQ(pages, 1);
}

TEST_F(OAuth2Flow, PromptNoneAndLogin) {
  auto p = pkce();
  FakeResponse r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&prompt=none"));
  ASSERT_EQ(r.status, 302);
  auto q = queryOf(r.header("location"));
  EXPECT_EQ(q["error"], "login_required");
  EXPECT_EQ(q["state"], "st 1");
  login();
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&prompt=none"));
  EXPECT_EQ(queryOf(r.header("location"))["error"], "consent_required");

  // prompt=login with a session: login again; an old session on return is login_required.
  login(100);
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&prompt=login"));
  ASSERT_EQ(r.header("location").rfind("/login?rt=", 0), 0u);
  std::string back = loginReturnTo();
  r = call("GET", back);
  EXPECT_EQ(queryOf(r.header("location"))["error"], "login_required");
  // ... and a fresh login proceeds (to consent here).
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&prompt=login"));
  login();
  r = call("GET", loginReturnTo());
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("csrf"), std::string::npos);

  // max_age exceeded -> login.
  login(100);
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&max_age=10"));
  EXPECT_EQ(r.header("location").rfind("/login?rt=", 0), 0u);
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&max_age=10&prompt=none"));
  EXPECT_EQ(queryOf(r.header("location"))["error"], "login_required");
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&max_age=-1"));
  EXPECT_EQ(queryOf(r.header("location"))["error"], "invalid_request");
  EXPECT_EQ(host.login_requests.back().login_hint, "");
  browser.cookies.erase("habanero_session");
  call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&login_hint=alice%40example.com"));
  EXPECT_EQ(host.login_requests.back().login_hint, "alice@example.com");
}

TEST_F(OAuth2Flow, RedirectUriAndClientErrorsNeverRedirect) {
  for (std::string url : {
           authorizeUrl("rp", "https://evil.example/cb", "openid", pkce().challenge),
           authorizeUrl("rp", kRedirect + "?x=1", "openid", pkce().challenge),
           authorizeUrl("nobody", kRedirect, "openid", pkce().challenge),
           authorizeUrl("pub", "http://127.0.0.1:8080/elsewhere", "openid", pkce().challenge),
           std::string("/authorize?client_id=rp&redirect_uri=%zz"),
           std::string("/authorize?client_id=rp&client_id=rp&redirect_uri=x"),
           std::string("/authorize?client_id=rp&redirect_uri=") + percentEncode(kRedirect) +
               "&redirect_uri=" + percentEncode(kRedirect),
           std::string("/authorize?client_id=r%FFp"),
           std::string("/authorize"),
       }) {
    FakeResponse r = call("GET", url);
    EXPECT_EQ(r.status, 400) << url;
    EXPECT_EQ(r.header("location"), "") << url;
    EXPECT_NE(r.header("content-type").find("text/html"), std::string::npos);
  }
}

TEST_F(OAuth2Flow, AuthorizeErrorsRedirect) {
  login();
  auto expectError = [&](const std::string& url, const std::string& error) {
    FakeResponse r = call("GET", url);
    ASSERT_EQ(r.status, 302) << url << r.body;
    auto q = queryOf(r.header("location"));
    EXPECT_EQ(q["error"], error) << url;
    EXPECT_EQ(q["iss"], kIssuer);
  };
  auto p = pkce();
  expectError(authorizeUrl("rp", kRedirect, "openid", ""), "invalid_request");  // no PKCE
  expectError(authorizeUrl("rp", kRedirect, "openid", p.challenge, "&code_challenge_method=plain"), "invalid_request");
  expectError("/authorize?response_type=code&client_id=rp&redirect_uri=" + percentEncode(kRedirect) +
                  "&code_challenge=" + p.challenge, "invalid_request");  // method absent = plain
  expectError(authorizeUrl("rp", kRedirect, "openid admin", p.challenge), "invalid_scope");
  expectError(authorizeUrl("rp", kRedirect, "openid", p.challenge, "&prompt=none%20login"), "invalid_request");
  expectError(authorizeUrl("rp", kRedirect, "openid", p.challenge, "&state=dup"), "invalid_request");
  expectError(authorizeUrl("rp", kRedirect, "openid", p.challenge, "&request=x"), "request_not_supported");
  expectError("/authorize?response_type=token&client_id=rp&redirect_uri=" + percentEncode(kRedirect),
              "unsupported_response_type");
  expectError(authorizeUrl("rp", kRedirect, "openid", p.challenge, "&nonce=" + std::string(5000, 'n')),
              "invalid_request");
  expectError(authorizeUrl("rp", kRedirect, "openid", p.challenge, "&response_mode=fragment"), "invalid_request");
  // Invalid UTF-8 anywhere makes the whole query unreadable: a page, not a redirect.
  EXPECT_EQ(call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&login_hint=%C3%28")).status, 400);
}

TEST_F(OAuth2Flow, PublicClientLoopbackOpaque) {
  auto p = pkce();
  std::string redirect = "http://127.0.0.1:53211/cb";
  std::string loc = run(authorizeUrl("pub", redirect, "openid email offline_access", p.challenge));
  auto q = queryOf(loc);
  ASSERT_FALSE(q["code"].empty()) << loc << last_.body;
  FakeResponse r = call("POST", "/token", kForm,
                        form({{"grant_type", "authorization_code"}, {"code", q["code"]},
                              {"redirect_uri", redirect}, {"client_id", "pub"},
                              {"code_verifier", p.verifier}}));
  ASSERT_EQ(r.status, 200) << r.body;
  Json t = Json::parse(r.body);
  std::string at = t["access_token"];
  EXPECT_EQ(at.size(), 43u);  // opaque
  EXPECT_EQ(userinfo(at).status, 200);
  // Another client's access token: rp is neither its client nor its audience.
  EXPECT_EQ(introspect(at), Json({{"active", false}}));
  // Refresh token of another client is not visible to rp.
  EXPECT_EQ(introspect(t["refresh_token"])["active"], false);
  // Revoke by the public client.
  r = call("POST", "/revoke", kForm, form({{"token", at}, {"client_id", "pub"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(userinfo(at).status, 401);
  r = call("POST", "/revoke", kForm, form({{"token", t["refresh_token"]}, {"client_id", "pub"}}));
  EXPECT_EQ(r.status, 200);
  r = call("POST", "/token", kForm, form({{"grant_type", "refresh_token"},
                                          {"refresh_token", t["refresh_token"]}, {"client_id", "pub"}}));
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_grant");
  // Public client: no client credentials grant, no introspection.
  r = call("POST", "/introspect", kForm, form({{"token", at}, {"client_id", "pub"}}));
  EXPECT_EQ(r.status, 401);
}

TEST_F(OAuth2Flow, PkceChecksAtTheTokenEndpoint) {
  auto p = pkce();
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid", p.challenge));
  EXPECT_EQ(redeem(queryOf(loc)["code"], "", 400)["error"], "invalid_grant");
  loc = run(authorizeUrl("rp", kRedirect, "openid", p.challenge));
  EXPECT_EQ(redeem(queryOf(loc)["code"], pkce().verifier + "x", 400)["error"], "invalid_grant");
  host.settings["require_pkce"] = "false";
  loc = run(authorizeUrl("rp", kRedirect, "openid", ""));
  EXPECT_EQ(redeem(queryOf(loc)["code"], p.verifier, 400)["error"], "invalid_grant");  // downgrade
  loc = run(authorizeUrl("rp", kRedirect, "openid", ""));
  redeem(queryOf(loc)["code"], "", 200);
  // Expired code.
  loc = run(authorizeUrl("rp", kRedirect, "openid", ""));
  host.now_ms += 61000;
  EXPECT_EQ(redeem(queryOf(loc)["code"], "", 400)["error"], "invalid_grant");
}

TEST_F(OAuth2Flow, TokenEndpointErrors) {
  auto post = [&](std::map<std::string, std::string> h, const std::string& body) {
    return call("POST", "/token", h, body);
  };
  FakeResponse r = post(basic("rp", "wrong"), "grant_type=client_credentials");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate").rfind("Basic", 0), 0u);
  r = post(kForm, "grant_type=client_credentials&client_id=rp&client_secret=wrong");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_client");
  r = post(kForm, "grant_type=client_credentials&client_id=rp&client_secret=s3cret");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(jwtPart(Json::parse(r.body)["access_token"], 1)["sub"], "rp");
  r = post(basic("rp", "s3cret"), "grant_type=client_credentials&client_secret=s3cret");
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_request");
  r = post(basic("rp", "s3cret"), "grant_type=client_credentials&grant_type=client_credentials");
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_request");
  r = post(basic("rp", "s3cret"), "grant_type=password");
  EXPECT_EQ(Json::parse(r.body)["error"], "unsupported_grant_type");
  r = post(basic("rp", "s3cret"), "grant_type=client_credentials&scope=openid");
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_scope");
  r = post({{"content-type", "application/json"}}, "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_request");
  r = post(basic("rp", "s3cret"), "grant_type=%zz");
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_request");
  r = post(basic("rp", "s3cret"), std::string("grant_type=authorization_code&code=\xff"));
  EXPECT_EQ(r.status, 400);
  r = call("GET", "/token");
  EXPECT_EQ(r.status, 405);
  auto h = kForm;
  h["authorization"] = "Basic !!!";
  r = post(h, "grant_type=client_credentials");
  EXPECT_EQ(r.status, 401);
  r = post(basic("rp", "s3cret"), "grant_type=authorization_code&code=" + std::string(43, 'A') +
                                      "&redirect_uri=x");
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_grant");
  r = post(basic("rp", "s3cret"), "grant_type=refresh_token&refresh_token=abc");
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_grant");
  r = post(kForm, "grant_type=client_credentials");
  EXPECT_EQ(r.status, 401);
  // Percent-encoded Basic credentials.
  host.addClient(R"({"client_id":"a:b","grant_types":["client_credentials"]})", "p+ %");
  r = post(basic("a:b", "p+ %"), "grant_type=client_credentials");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(OAuth2Flow, UserinfoErrors) {
  FakeResponse r = call("GET", "/userinfo");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"oauth2\"");
  r = userinfo("garbage");
  EXPECT_EQ(r.status, 401);
  r = call("POST", "/token", kForm, "grant_type=client_credentials&client_id=rp&client_secret=s3cret");
  std::string cc = Json::parse(r.body)["access_token"];
  EXPECT_EQ(userinfo(cc).status, 403);
  auto p = pkce();
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid email", p.challenge));
  Json t = redeem(queryOf(loc)["code"], p.verifier);
  EXPECT_EQ(userinfo(t["id_token"]).status, 401);  // ID token is not an access token
  auto h = kForm;
  h["authorization"] = "Bearer " + t["access_token"].get<std::string>();
  r = call("POST", "/userinfo", h, "access_token=" + t["access_token"].get<std::string>());
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/userinfo", kForm, "access_token=" + t["access_token"].get<std::string>());
  EXPECT_EQ(r.status, 200);
  host.now_ms += 3601 * 1000;
  EXPECT_EQ(userinfo(t["access_token"]).status, 401);
  EXPECT_EQ(introspect(t["access_token"])["active"], false);
}

TEST_F(OAuth2Flow, Logout) {
  auto p = pkce();
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid", p.challenge));
  Json t = redeem(queryOf(loc)["code"], p.verifier);
  std::string hint = t["id_token"];
  FakeResponse r = call("GET", "/logout?id_token_hint=" + hint +
                                   "&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(signedIn());
  r = call("GET", "/logout?id_token_hint=" + hint +
                      "&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=z");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "https://rp.example/bye?state=z");
  EXPECT_FALSE(signedIn());
  // Without a hint: confirmation bound to the session.
  login();
  r = call("GET", "/logout?client_id=rp&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(signedIn());
  std::smatch m;
  std::regex_search(r.body, m, std::regex("name=\"l\" value=\"([^\"]+)\""));
  std::string l = m[1];
  std::string first = browser.cookies["habanero_session"];
  browser.signIn("u1", {"pwd"}, 1);  // another session of the same user
  r = call("POST", "/logout", kForm, form({{"l", l}, {"decision", "logout"}}));
  EXPECT_EQ(r.status, 400);
  // The other session's attempt did not use the confirmation up.
  browser.cookies["habanero_session"] = first;
  r = call("POST", "/logout", kForm, form({{"l", l}, {"decision", "logout"}}));
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("location"), "https://rp.example/bye");
  EXPECT_FALSE(signedIn());
  // Tampered hint.
  r = call("GET", "/logout?id_token_hint=" + hint + "x");
  EXPECT_EQ(r.status, 400);
}

TEST_F(OAuth2Flow, RevokeJwtAccessToken) {
  auto p = pkce();
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid offline_access", p.challenge));
  Json t = redeem(queryOf(loc)["code"], p.verifier);
  FakeResponse r = call("POST", "/revoke", basic("rp", "s3cret"),
                        form({{"token", t["access_token"]}, {"token_type_hint", "access_token"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(introspect(t["access_token"])["active"], false);
  r = call("POST", "/revoke", basic("rp", "s3cret"), form({{"token", t["refresh_token"]}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(introspect(t["refresh_token"])["active"], false);
  EXPECT_EQ(refresh(t["refresh_token"], 400)["error"], "invalid_grant");
  r = call("POST", "/revoke", basic("rp", "s3cret"), form({{"token", "not-a-token"}}));
  EXPECT_EQ(r.status, 200);
  r = call("POST", "/revoke", basic("rp", "bad"), form({{"token", "x"}}));
  EXPECT_EQ(r.status, 401);
  r = call("POST", "/revoke", basic("rp", "s3cret"), "");
  EXPECT_EQ(r.status, 400);
}

// Issue 16: a confidential client reads only its own access tokens' claims, those whose aud
// names it (a resource server), or every token when the operator lists it in introspectors.
TEST_F(OAuth2Flow, IntrospectionOnlyForTheTokensClientAudienceOrIntrospectors) {
  host.addClient(R"({"client_id":"rs","name":"Resource","public":false,
    "redirect_uris":[],"grant_types":["client_credentials"]})", "rssecret");
  host.addClient(R"({"client_id":"other","name":"Other","public":false,
    "redirect_uris":[],"grant_types":["client_credentials"]})", "othersecret");
  auto asClient = [&](const std::string& id, const std::string& secret, const std::string& t) {
    FakeResponse r = call("POST", "/introspect", basic(id, secret), form({{"token", t}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body);
  };
  auto p = pkce();
  std::string loc = run(authorizeUrl("rp", kRedirect, "openid email", p.challenge));
  std::string at = redeem(queryOf(loc)["code"], p.verifier)["access_token"];
  // Its own client sees the claims.
  Json own = asClient("rp", "s3cret", at);
  EXPECT_EQ(own["active"], true);
  EXPECT_EQ(own["sub"], "u1");
  // Another confidential client learns nothing, not even that the token exists.
  EXPECT_EQ(asClient("other", "othersecret", at), Json({{"active", false}}));
  EXPECT_EQ(asClient("rs", "rssecret", at), Json({{"active", false}}));
  // The operator's introspectors see every token.
  host.settings["introspectors"] = "rs  elsewhere";
  EXPECT_EQ(asClient("rs", "rssecret", at)["active"], true);
  EXPECT_EQ(asClient("rs", "rssecret", at)["sub"], "u1");
  EXPECT_EQ(asClient("other", "othersecret", at), Json({{"active", false}}));
  host.settings.erase("introspectors");
  // A resource server the token's audience names sees it.
  host.settings["access_token_audience"] = "rs";
  loc = run(authorizeUrl("rp", kRedirect, "openid email", p.challenge));
  std::string for_rs = redeem(queryOf(loc)["code"], p.verifier)["access_token"];
  EXPECT_EQ(jwtPart(for_rs, 1)["aud"], "rs");
  EXPECT_EQ(asClient("rs", "rssecret", for_rs)["active"], true);
  EXPECT_EQ(asClient("other", "othersecret", for_rs), Json({{"active", false}}));
  EXPECT_EQ(asClient("rp", "s3cret", for_rs)["active"], true);
}

// Issue 16 / RFC 9700 §4.11.2: a Client Identifier Document anyone can publish does not make
// /authorize an open redirector. Until the user has seen the client, its errors (prompt=none
// included) are a page on our origin; after consent they go back to the client as usual.
TEST_F(OAuth2Flow, DocumentClientErrorsAreNotRedirectedBeforeTheUserSawIt) {
  const std::string doc_url = "https://evil.example/client.jsonld";
  const std::string evil_cb = "https://evil.example/phish";
  host.fetch_answers[doc_url] = {
      .content_type = "application/ld+json",
      .body = Json{{"client_id", doc_url},
                   {"client_name", "Solid App"},
                   {"redirect_uris", {evil_cb}},
                   {"scope", "openid webid offline_access"}}
                  .dump(),
  };
  auto p = pkce();
  auto url = [&](const std::string& extra) {
    return "/authorize?client_id=" + percentEncode(doc_url) + "&redirect_uri=" +
           percentEncode(evil_cb) + "&state=s1" + extra;
  };
  const std::string good = "&response_type=code&scope=openid%20webid&code_challenge=" +
                           p.challenge + "&code_challenge_method=S256";
  auto assertPage = [&](const FakeResponse& r, const std::string& error) {
    SCOPED_TRACE(error);
    EXPECT_EQ(r.status, 400) << r.header("location");
    EXPECT_EQ(r.header("location"), "");
    EXPECT_NE(r.header("content-type").find("text/html"), std::string::npos);
    EXPECT_NE(r.body.find(error), std::string::npos) << r.body;
  };
  // Errors in the request itself: a page, never the document's redirect URI.
  assertPage(call("GET", url("&response_type=token")), "unsupported_response_type");
  assertPage(call("GET", url("&response_type=code&scope=openid")), "PKCE");
  assertPage(call("GET", url(good + "&response_mode=fragment")), "invalid_request");
  // prompt=none without a session, and with a session that never approved the client.
  assertPage(call("GET", url(good + "&prompt=none")), "login_required");
  login(100);
  assertPage(call("GET", url(good + "&prompt=none")), "consent_required");
  // A login that did not complete (the old session comes back), on resume: a page too.
  FakeResponse r = call("GET", url(good + "&prompt=login"));
  ASSERT_EQ(r.header("location").rfind("/login?rt=", 0), 0u) << r.status << r.body;
  assertPage(call("GET", loginReturnTo()), "login_required");
  // A registered client's errors still go back to it.
  r = call("GET", authorizeUrl("rp", kRedirect, "openid", p.challenge, "&response_type=x"));
  EXPECT_EQ(r.status, 302);
  // Once the user has seen the client on the consent page, a denial goes back to it ...
  std::string loc = run(url(good), /*approve=*/false);
  EXPECT_EQ(loc.rfind(evil_cb, 0), 0u) << loc;
  EXPECT_EQ(queryOf(loc)["error"], "access_denied");
  // ... an approval brings a code, and later prompt=none answers at the client.
  loc = run(url(good));
  EXPECT_FALSE(queryOf(loc)["code"].empty()) << loc << last_.body;
  r = call("GET", url(good + "&prompt=none"));
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_FALSE(queryOf(r.header("location"))["code"].empty()) << r.header("location");
}

// Issue 16: relying parties (oauth2-proxy) refuse users whose email_verified is false. The
// host marks the address verified once a login proved it (an email link: amr "otp" from
// magic-email; the phone after an SMS code: amr "sms"); the next ID token and userinfo
// answer must carry what user_get says, not a constant.
TEST_F(OAuth2Flow, VerifiedClaimsFollowTheUserRecord) {
  host.settings["first_party_skip_consent"] = "true";
  host.addClient(R"({"client_id":"fp2","name":"First","public":false,
    "redirect_uris":["https://fp.example/cb"],"grant_types":["authorization_code"],
    "scopes":["openid","email","phone"],"first_party":true})", "fp2secret");
  auto tokens = [&]() {
    auto p = pkce();
    std::string loc = run(authorizeUrl("fp2", "https://fp.example/cb", "openid email phone",
                                       p.challenge));
    std::vector<std::pair<std::string, std::string>> f = {
        {"grant_type", "authorization_code"}, {"code", queryOf(loc)["code"]},
        {"redirect_uri", "https://fp.example/cb"}, {"code_verifier", p.verifier}};
    FakeResponse r = call("POST", "/token", basic("fp2", "fp2secret"), form(f));
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body);
  };
  host.addUser({.sub = "u1", .email = "alice@example.com", .name = "Alice",
                .phone_number = "+15550100", .email_verified = false,
                .phone_number_verified = false});
  Json t = tokens();
  Json id = jwtPart(t["id_token"], 1);
  EXPECT_EQ(id["email"], "alice@example.com");
  EXPECT_EQ(id["email_verified"], false);
  EXPECT_EQ(id["phone_number_verified"], false);
  // The host has marked both verified (an email link, then an SMS code, proved them).
  host.addUser({.sub = "u1", .email = "alice@example.com", .name = "Alice",
                .phone_number = "+15550100", .email_verified = true,
                .phone_number_verified = true});
  t = tokens();
  id = jwtPart(t["id_token"], 1);
  EXPECT_EQ(id["email_verified"], true);
  EXPECT_EQ(id["phone_number_verified"], true);
  Json info = Json::parse(userinfo(t["access_token"]).body);
  EXPECT_EQ(info["email_verified"], true);
  EXPECT_EQ(info["phone_number_verified"], true);
}

TEST_F(OAuth2Flow, NoIssuerIsNotAConfigurationCrash) {
  host.settings.clear();
  EXPECT_EQ(call("GET", "/.well-known/openid-configuration").status, 503);
}

}  // namespace
