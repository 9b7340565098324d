// Cors: preflights and response headers per origin, from the clients' redirect
// URIs and the operator's list; never a reflected wildcard, never credentials.
#include "server/cors.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "auth/clients.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::server {
namespace {

class Echo final : public Dispatcher {
 public:
  Response dispatch(const Request& request) override {
    ++calls;
    Response r = Response::text(200, "ok " + request.path);
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");  // an extension may not decide
    return r;
  }
  int calls = 0;
};

std::string header(const Response& r, std::string_view name) {
  const std::string* v = findHeader(r.headers, name);
  return v == nullptr ? "" : *v;
}

class CorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-cors-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto storage = store::SqliteStorage::open(dir_ + "/habanero.db", SystemClock::instance());
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    auto clients = auth::Clients::open(*storage_, SystemClock::instance());
    ASSERT_TRUE(clients.ok()) << clients.status();
    clients_ = std::move(*clients);
    ASSERT_TRUE(clients_->add({.client_id = "spa", .is_public = true,
                               .redirect_uris = {"https://spa.example/cb"}}).ok());
    ASSERT_TRUE(clients_->add({.client_id = "other", .is_public = true,
                               .redirect_uris = {"http://localhost:5173/cb", "myapp://cb"}}).ok());
    cors_ = std::make_unique<Cors>(next_, *clients_,
                                   Cors::Options{.paths = {"/token", "/userinfo", "/revoke"},
                                                 .public_paths = {"/jwks"},
                                                 .allowed_origins = {"https://listed.example"}});
  }
  void TearDown() override {
    cors_.reset();
    clients_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }
  Response preflight(std::string path, std::string origin) {
    return cors_->dispatch(Request{.method = "OPTIONS", .path = std::move(path), .query = "",
                                   .headers = {{"Origin", std::move(origin)},
                                               {"Access-Control-Request-Method", "POST"}}});
  }
  Response tokenPost(std::string origin, std::string body) {
    return cors_->dispatch(Request{
        .method = "POST", .path = "/token", .query = "",
        .headers = {{"Origin", std::move(origin)},
                    {"Content-Type", "application/x-www-form-urlencoded"}},
        .body = std::move(body)});
  }

  std::string dir_;
  StoragePtr storage_;
  std::unique_ptr<auth::Clients> clients_;
  Echo next_;
  std::unique_ptr<Cors> cors_;
};

TEST(OriginOf, SchemeHostPortLowerCasedDefaultPortsDropped) {
  EXPECT_EQ(originOf("https://App.Example/cb?x=1"), "https://app.example");
  EXPECT_EQ(originOf("https://app.example:443/cb"), "https://app.example");
  EXPECT_EQ(originOf("http://localhost:5173/cb"), "http://localhost:5173");
  EXPECT_EQ(originOf("http://[::1]:8080/"), "http://[::1]:8080");
  EXPECT_EQ(originOf("myapp://cb"), "");
  EXPECT_EQ(originOf("https://user@evil.example/"), "");
  EXPECT_EQ(originOf("null"), "");
}

TEST_F(CorsTest, PreflightFromAClientsOriginIsAnswered) {
  Response r = preflight("/token", "https://spa.example");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "https://spa.example");
  EXPECT_NE(header(r, "Access-Control-Allow-Headers").find("DPoP"), std::string::npos);
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "");
  EXPECT_EQ(next_.calls, 0);
}

TEST_F(CorsTest, PreflightFromAnUnknownOriginIsRefused) {
  for (const char* origin : {"https://evil.example", "null", "https://spa.example.evil.example",
                             "https://spa.example:8443"}) {
    Response r = preflight("/token", origin);
    EXPECT_EQ(r.status, 403) << origin;
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "") << origin;
  }
}

TEST_F(CorsTest, TheOperatorsListIsAllowed) {
  EXPECT_EQ(header(preflight("/userinfo", "https://listed.example"), "Access-Control-Allow-Origin"),
            "https://listed.example");
}

TEST_F(CorsTest, ATokenRequestGetsCorsOnlyForItsOwnClientsOrigin) {
  Response own = tokenPost("https://spa.example", "grant_type=authorization_code&client_id=spa");
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(header(own, "Access-Control-Allow-Origin"), "https://spa.example");
  EXPECT_EQ(header(own, "Vary"), "Origin");

  // Another registered client's origin, naming spa: the browser must not show it.
  Response cross = tokenPost("http://localhost:5173", "grant_type=authorization_code&client_id=spa");
  EXPECT_EQ(cross.status, 200);  // the server still answers; the browser hides it
  EXPECT_EQ(header(cross, "Access-Control-Allow-Origin"), "");
}

TEST_F(CorsTest, AnExtensionsOwnCorsHeadersAreReplaced) {
  Response r = tokenPost("https://evil.example", "client_id=spa");
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "");  // the Echo's "*" is gone
}

TEST_F(CorsTest, PublicPathsAreReadableFromAnyOriginWithoutCredentials) {
  Response r = cors_->dispatch(Request{.method = "GET", .path = "/jwks", .query = "",
                                       .headers = {{"Origin", "https://anyone.example"}}});
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "");
}

TEST_F(CorsTest, OtherPathsPassThroughUntouched) {
  Response r = cors_->dispatch(Request{.method = "GET", .path = "/authorize", .query = "",
                                       .headers = {{"Origin", "https://spa.example"}}});
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");  // the Echo's own, not ours
  EXPECT_EQ(next_.calls, 1);
}

TEST_F(CorsTest, ARemovedClientsOriginIsNoLongerAllowed) {
  ASSERT_TRUE(clients_->remove("spa").ok());
  EXPECT_EQ(preflight("/token", "https://spa.example").status, 403);
}

}  // namespace
}  // namespace habanero::server
