#include "auth/clients.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "auth_fixture.h"
#include "crypto/base64url.h"
#include "crypto/hash.h"

namespace habanero::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ClientsTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    auto clients = Clients::open(*storage_, clock_);
    ASSERT_TRUE(clients.ok()) << clients.status();
    clients_ = std::move(*clients);
  }
  static NewClient web() {
    return NewClient{.client_id = "web", .redirect_uris = {"https://app.example/cb"}};
  }
  std::unique_ptr<Clients> clients_;
};

TEST(RedirectUri, AbsoluteWithoutFragmentAndHttpOnlyForLoopback) {
  for (const char* ok : {"https://app.example/cb", "https://app.example:8443/cb?x=1",
                         "HTTPS://APP.example", "http://localhost/cb", "http://localhost:8080/cb",
                         "http://127.0.0.1:9000/", "http://[::1]:5000/cb", "http://LOCALHOST/",
                         "com.example.app:/oauth2redirect", "myapp://callback"}) {
    EXPECT_EQ(checkRedirectUri(ok), absl::OkStatus()) << ok;
  }
  struct Bad {
    const char* uri;
    const char* why;
  };
  for (const Bad& bad : {Bad{"", "empty"},
                         Bad{"/relative/cb", "absolute"},
                         Bad{"app.example/cb", "absolute"},
                         Bad{"https://app.example/cb#frag", "fragment"},
                         Bad{"https://app.example/#", "fragment"},
                         Bad{"http://app.example/cb", "only allowed for localhost"},
                         Bad{"http://localhost.evil.example/cb", "only allowed for localhost"},
                         Bad{"http://127.0.0.2/cb", "only allowed for localhost"},
                         Bad{"https:///cb", "no host"},
                         Bad{"https:app.example", "with a host"},
                         Bad{"https://user@app.example/", "user info"},
                         Bad{"https://app.example:80x/", "port"},
                         Bad{"https://app.example/a b", "space"},
                         Bad{"https://app.example/\r\n", "control"},
                         Bad{"https://app.example/\xc3\xa9", "control"},
                         Bad{"javascript:alert(1)", "not allowed"},
                         Bad{"data:text/html,x", "not allowed"},
                         Bad{"1https://x", "absolute"},
                         Bad{"myapp:", "nothing after"}}) {
    absl::Status s = checkRedirectUri(bad.uri);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad.uri;
    EXPECT_THAT(s.message(), HasSubstr(bad.why)) << bad.uri;
  }
}

TEST(SplitList, CommasAndWhitespace) {
  EXPECT_THAT(splitList("authorization_code,refresh_token"),
              ElementsAre("authorization_code", "refresh_token"));
  EXPECT_THAT(splitList(" openid  email,profile "), ElementsAre("openid", "email", "profile"));
  EXPECT_TRUE(splitList("").empty());
}

TEST_F(ClientsTest, GeneratedSecretIsShownOnceAndStoredAsSha256) {
  auto added = clients_->add(web());
  ASSERT_TRUE(added.ok()) << added.status();
  const std::string secret = added->generated_secret;
  EXPECT_EQ(secret.size(), 43u);  // 256 bits, base64url
  EXPECT_TRUE(clients_->authenticate("web", secret));
  EXPECT_FALSE(clients_->authenticate("web", secret + "x"));
  EXPECT_FALSE(clients_->authenticate("web", secret.substr(1)));
  EXPECT_FALSE(clients_->authenticate("web", ""));
  EXPECT_FALSE(clients_->authenticate("other", secret));

  auto raw = storage_->get(Clients::kNamespace, "web");
  ASSERT_TRUE(raw.ok() && raw->has_value());
  EXPECT_THAT(**raw, ::testing::Not(HasSubstr(secret)));
  EXPECT_THAT(**raw, HasSubstr(crypto::base64UrlEncode(crypto::sha256(secret))));

  auto again = clients_->add(web());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(clients_->authenticate("web", secret)) << "a refused duplicate changes nothing";
}

TEST_F(ClientsTest, ChosenSecretIsStoredAsArgon2id) {
  NewClient c = web();
  c.secret = "operator-chosen";
  auto added = clients_->add(c);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->generated_secret, "");
  auto raw = storage_->get(Clients::kNamespace, "web");
  EXPECT_THAT(raw->value_or(""), HasSubstr("$argon2id$"));
  EXPECT_THAT(raw->value_or(""), ::testing::Not(HasSubstr("operator-chosen")));
  EXPECT_TRUE(clients_->authenticate("web", "operator-chosen"));
  EXPECT_FALSE(clients_->authenticate("web", "operator-chosen!"));
}

TEST_F(ClientsTest, PublicClientsHaveNoSecretAndNeverAuthenticate) {
  NewClient c = web();
  c.client_id = "spa";
  c.is_public = true;
  auto added = clients_->add(c);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->generated_secret, "");
  EXPECT_TRUE(added->client.is_public);
  EXPECT_FALSE(clients_->authenticate("spa", ""));
  EXPECT_FALSE(clients_->authenticate("spa", "anything"));
  c.client_id = "spa2";
  c.secret = "x";
  EXPECT_THAT(clients_->add(c).status().message(), HasSubstr("public client has no secret"));
}

TEST_F(ClientsTest, DefaultsAndRegistrationJsonWithoutSecret) {
  NewClient c = web();
  c.name = "Web App";
  c.post_logout_redirect_uris = {"https://app.example/bye"};
  c.redirect_uris.push_back("https://app.example/cb");  // duplicates are dropped
  auto added = clients_->add(c);
  ASSERT_TRUE(added.ok()) << added.status();
  std::shared_ptr<const RegisteredClient> found = clients_->find("web");
  ASSERT_NE(found, nullptr);
  EXPECT_THAT(found->client.grant_types, ElementsAre("authorization_code", "refresh_token"));
  EXPECT_THAT(found->client.scopes, ElementsAre("openid", "profile", "email", "offline_access"));
  EXPECT_EQ(found->client.token_format, "jwt");
  EXPECT_FALSE(found->client.first_party);
  auto j = nlohmann::json::parse(found->json);
  EXPECT_EQ(j["client_id"], "web");
  EXPECT_EQ(j["name"], "Web App");
  EXPECT_EQ(j["public"], false);
  EXPECT_EQ(j["redirect_uris"], nlohmann::json({"https://app.example/cb"}));
  EXPECT_EQ(j["post_logout_redirect_uris"], nlohmann::json({"https://app.example/bye"}));
  EXPECT_EQ(j["grant_types"], nlohmann::json({"authorization_code", "refresh_token"}));
  EXPECT_EQ(j["scopes"], nlohmann::json({"openid", "profile", "email", "offline_access"}));
  EXPECT_EQ(j["first_party"], false);
  EXPECT_EQ(j["token_format"], "jwt");
  EXPECT_FALSE(j.contains("secret_hash"));
  EXPECT_THAT(found->json, ::testing::Not(HasSubstr(added->generated_secret)));
  EXPECT_EQ(clients_->find("nope"), nullptr);
}

TEST_F(ClientsTest, RefusesBadRegistrationsNamingTheProblem) {
  struct Case {
    NewClient client;
    const char* why;
  };
  auto with = [](auto change) {
    NewClient c = web();
    change(c);
    return c;
  };
  const Case cases[] = {
      {with([](NewClient& c) { c.client_id = ""; }), "client id"},
      {with([](NewClient& c) { c.client_id = "has space"; }), "client id"},
      {with([](NewClient& c) { c.redirect_uris = {"http://app.example/cb"}; }), "localhost"},
      {with([](NewClient& c) { c.redirect_uris = {"https://app.example/cb#x"}; }), "fragment"},
      {with([](NewClient& c) { c.redirect_uris = {}; }), "at least one --redirect-uri"},
      {with([](NewClient& c) { c.post_logout_redirect_uris = {"/bye"}; }), "post-logout"},
      {with([](NewClient& c) { c.grant_types = {"implicit"}; }), "unknown grant type 'implicit'"},
      {with([](NewClient& c) { c.grant_types = {}; }), "grant types"},
      {with([](NewClient& c) { c.scopes = {"bad\"scope"}; }), "scope"},
      {with([](NewClient& c) { c.token_format = "paseto"; }), "jwt or opaque"},
      {with([](NewClient& c) { c.name = "a\nb"; }), "name"},
      {with([](NewClient& c) { c.secret = ""; }), "secret"},
      {with([](NewClient& c) {
         c.is_public = true;
         c.grant_types = {"client_credentials"};
       }),
       "public client cannot use client_credentials"},
  };
  for (const Case& c : cases) {
    auto added = clients_->add(c.client);
    ASSERT_FALSE(added.ok()) << c.why;
    EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument) << c.why;
    EXPECT_THAT(added.status().message(), HasSubstr(c.why));
  }
  EXPECT_EQ(clients_->size(), 0u);
  // A machine client needs no redirect URI.
  NewClient machine{.client_id = "svc", .grant_types = {"client_credentials"}, .scopes = {}};
  auto added = clients_->add(machine);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(clients_->authenticate("svc", added->generated_secret));
}

TEST_F(ClientsTest, RequestsUseTheSnapshotUntilReload) {
  // The server's view...
  StoragePtr server_storage = open();
  auto server = Clients::open(*server_storage, clock_);
  ASSERT_TRUE(server.ok());
  // ...and the CLI adds a client through its own connection.
  auto added = clients_->add(web());
  ASSERT_TRUE(added.ok());
  EXPECT_EQ((*server)->find("web"), nullptr) << "no storage read per request";
  EXPECT_FALSE((*server)->authenticate("web", added->generated_secret));
  ASSERT_EQ((*server)->reload(), absl::OkStatus());
  ASSERT_NE((*server)->find("web"), nullptr);
  EXPECT_TRUE((*server)->authenticate("web", added->generated_secret));

  std::shared_ptr<const RegisteredClient> held = (*server)->find("web");
  ASSERT_EQ(clients_->remove("web"), absl::OkStatus());
  EXPECT_EQ(clients_->remove("web").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(clients_->find("web"), nullptr) << "the changing process sees it at once";
  ASSERT_EQ((*server)->reload(), absl::OkStatus());
  EXPECT_EQ((*server)->find("web"), nullptr);
  EXPECT_FALSE((*server)->authenticate("web", added->generated_secret));
  EXPECT_EQ(held->client.client_id, "web") << "a reader keeps its snapshot alive";
}

TEST_F(ClientsTest, AStaleSnapshotNeverAcceptsARemovedOrChangedSecret) {
  // Another server process, with a shared store: snapshot matches are confirmed.
  StoragePtr server_storage = open();
  auto server = Clients::open(*server_storage, clock_);
  ASSERT_TRUE(server.ok());
  (*server)->setConfirmWithStorage(true);
  auto added = clients_->add(web());
  ASSERT_TRUE(added.ok());
  auto chosen = clients_->add({.client_id = "chosen", .secret = "operator's secret",
                               .redirect_uris = {"https://app.example/cb"}});
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  ASSERT_EQ((*server)->reload(), absl::OkStatus());
  EXPECT_TRUE((*server)->authenticate("web", added->generated_secret));
  EXPECT_TRUE((*server)->authenticate("chosen", "operator's secret"));

  // Removed, and given a new secret, through this process; the server's
  // snapshot has not caught up, and still refuses the old secrets.
  ASSERT_EQ(clients_->remove("web"), absl::OkStatus());
  auto replaced = clients_->upsert({.client_id = "chosen", .secret = "a new secret",
                                    .redirect_uris = {"https://app.example/cb"}});
  ASSERT_TRUE(replaced.ok());
  ASSERT_NE((*server)->find("web"), nullptr) << "the snapshot is stale";
  EXPECT_FALSE((*server)->authenticate("web", added->generated_secret));
  EXPECT_FALSE((*server)->authenticate("chosen", "operator's secret"));
  EXPECT_FALSE((*server)->authenticate("web", "wrong")) << "and wrong secrets stay wrong";
}

TEST_F(ClientsTest, ListReadsStorageAndSkipsNothingValid) {
  ASSERT_TRUE(clients_->add(web()).ok());
  NewClient spa = web();
  spa.client_id = "spa";
  spa.is_public = true;
  spa.first_party = true;
  spa.token_format = "opaque";
  ASSERT_TRUE(clients_->add(spa).ok());
  auto all = clients_->list();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].client_id, "spa");
  EXPECT_TRUE((*all)[0].first_party);
  EXPECT_EQ((*all)[0].token_format, "opaque");
  EXPECT_EQ((*all)[1].client_id, "web");

  // A corrupt record is skipped by the snapshot (and logged), not fatal.
  ASSERT_EQ(storage_->put(Clients::kNamespace, "broken", "{not json", 0), absl::OkStatus());
  EXPECT_EQ(clients_->reload(), absl::OkStatus());
  EXPECT_EQ(clients_->size(), 2u);
  EXPECT_EQ(clients_->list().status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace habanero::auth
