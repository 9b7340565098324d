// The admin HTTP API (src/server/admin_api.h) on a real App on port 0: the
// bearer token, each route, JSON errors, changes taking effect in the running
// server at once, and 404 everywhere under /admin/ when the API is off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/users.h"
#include "crypto/key_store.h"
#include "http_client.h"
#include "server/app.h"

namespace habanero::server {
namespace {

using ::habanero::testing::HttpReply;
using ::habanero::testing::sendRaw;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kToken[] = "test-admin-token-0123456789";

// A data directory and an App on port 0 without extensions.
struct TestServer {
  explicit TestServer(bool admin_enabled) {
    char tmpl[] = "/tmp/habanero-admin-XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    Config c = defaultConfig();
    c.extensions.clear();
    c.server.listen = "127.0.0.1:0";
    c.server.data_dir = dir;
    c.runtime.extension_dir = HABANERO_WASM_OUT;
    c.runtime.watch_interval_ms = 0;
    c.admin.enabled = admin_enabled;
    c.admin.token = admin_enabled ? kToken : "";
    c.keys.alg = "EdDSA";
    EXPECT_TRUE(validateConfig(c).ok()) << validateConfig(c);
    auto created = App::create(c);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return;
    app = std::move(*created);
    EXPECT_TRUE(app->start().ok());
  }
  ~TestServer() {
    app.reset();
    std::filesystem::remove_all(dir);
  }
  std::string dir;
  AppPtr app;
};

HttpReply call(uint16_t port, const std::string& method, const std::string& target,
               const std::string& body = "", const std::string& token = kToken) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!token.empty()) raw += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty() || method == "POST") {
    raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  }
  return sendRaw(port, raw + "\r\n" + body);
}

Json parsed(const HttpReply& r) { return Json::parse(r.body, nullptr, false); }

class AdminApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    server_ = new TestServer(/*admin_enabled=*/true);
    ASSERT_NE(server_->app, nullptr);
    port_ = server_->app->port();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static inline TestServer* server_ = nullptr;
  static inline uint16_t port_ = 0;
};

TEST_F(AdminApiTest, RequiresTheBearerToken) {
  for (const std::string& token : {std::string(""), std::string("wrong"),
                                  std::string(kToken) + "x", std::string(kToken).substr(1)}) {
    HttpReply r = call(port_, "GET", "/admin/clients", "", token);
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_THAT(r.headers, HasSubstr("WWW-Authenticate: Bearer")) << token;
    EXPECT_EQ(parsed(r)["error"], "unauthorized");
  }
  // Basic instead of Bearer is refused too.
  HttpReply basic = sendRaw(port_,
                            "GET /admin/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            "Authorization: Basic " + std::string(kToken) + "\r\n\r\n");
  EXPECT_EQ(basic.status, 401);
  // Nothing is changed without the token.
  EXPECT_EQ(call(port_, "POST", "/admin/keys/rotate", "", "").status, 401);
  EXPECT_EQ(call(port_, "GET", "/admin/clients").status, 200);
  EXPECT_EQ(call(port_, "GET", "/admin/nothing").status, 404);
}

TEST_F(AdminApiTest, ClientsAddListRemove) {
  HttpReply r = call(port_, "POST", "/admin/clients",
                     R"({"id": "web", "name": "Web App",
                         "redirect_uris": ["https://app.example/cb"],
                         "grant_types": "authorization_code,refresh_token",
                         "scopes": ["openid", "email"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json added = parsed(r);
  EXPECT_EQ(added["client_id"], "web");
  EXPECT_EQ(added["public"], false);
  ASSERT_TRUE(added["client_secret"].is_string()) << r.body;
  std::string secret = added["client_secret"];
  EXPECT_EQ(secret.size(), 43u);
  // In effect at once: the running server's snapshot knows the client.
  EXPECT_NE(server_->app->clients().find("web"), nullptr);
  EXPECT_TRUE(server_->app->clients().authenticate("web", secret));

  r = call(port_, "POST", "/admin/clients",
           R"({"id": "spa", "public": true, "redirect_uris": ["http://localhost:3000/cb"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(parsed(r).contains("client_secret"));

  r = call(port_, "GET", "/admin/clients");
  ASSERT_EQ(r.status, 200);
  Json list = parsed(r)["clients"];
  ASSERT_EQ(list.size(), 2u) << r.body;
  EXPECT_EQ(list[0]["client_id"], "spa");
  EXPECT_EQ(list[1]["client_id"], "web");
  EXPECT_EQ(list[1]["name"], "Web App");
  EXPECT_EQ(list[1]["scopes"], Json({"openid", "email"}));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr(secret)));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("secret_hash")));

  // Taken id, bad input.
  r = call(port_, "POST", "/admin/clients",
           R"({"id": "web", "redirect_uris": ["https://x.example/"]})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(parsed(r)["error"], "conflict");
  for (const char* body : {R"({"id": "c", "redirect_uris": ["http://app.example/cb"]})",
                           R"({"id": "c"})", R"({"id": "c", "redirect_uris": "https://a/",
                               "grant_types": ["implicit"]})",
                           R"({"id": "c", "colour": "red"})", R"({"id": 3})", "not json", "[]",
                           R"({"id": "c", "public": true, "secret": "s",
                               "redirect_uris": ["https://a.example/"]})"}) {
    r = call(port_, "POST", "/admin/clients", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(parsed(r)["error"], "bad_request") << body;
    EXPECT_TRUE(parsed(r)["message"].is_string()) << body;
  }

  r = call(port_, "DELETE", "/admin/clients/web");
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(server_->app->clients().find("web"), nullptr);
  r = call(port_, "DELETE", "/admin/clients/web");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(parsed(r)["error"], "not_found");
  EXPECT_EQ(call(port_, "PUT", "/admin/clients").status, 405);
  EXPECT_EQ(call(port_, "DELETE", "/admin/clients/spa").status, 204);
}

TEST_F(AdminApiTest, UsersAddListRemove) {
  HttpReply r = call(port_, "POST", "/admin/users",
                     R"({"email": "Ana+x@Example.com", "password": "correct horse",
                         "name": "Ana Lima", "phone": "+14155550100"})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json ana = parsed(r);
  EXPECT_EQ(ana["email"], "ana+x@example.com");
  EXPECT_EQ(ana["has_password"], true);
  EXPECT_EQ(ana["phone_number"], "+14155550100");
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("correct horse")));
  auto verified = server_->app->users().verifyPassword("ana+x@example.com", "correct horse");
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->value_or(""), ana["subject"].get<std::string>());

  r = call(port_, "POST", "/admin/users", R"({"email": "ana+x@example.com"})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = call(port_, "POST", "/admin/users", R"({"email": "not-an-email"})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = call(port_, "POST", "/admin/users", R"({"email": "b@example.com", "phone": "12"})");
  EXPECT_EQ(r.status, 400) << r.body;

  r = call(port_, "GET", "/admin/users");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(parsed(r)["users"].size(), 1u) << r.body;
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("argon2")));

  // The email in the path is percent-decoded.
  r = call(port_, "DELETE", "/admin/users/ana%2Bx%40example.com");
  EXPECT_EQ(r.status, 204) << r.body;
  r = call(port_, "DELETE", "/admin/users/ana%2Bx%40example.com");
  EXPECT_EQ(r.status, 404) << r.body;
  r = call(port_, "GET", "/admin/users");
  EXPECT_EQ(parsed(r)["users"].size(), 0u) << r.body;
}

TEST_F(AdminApiTest, KeysListAndRotate) {
  HttpReply r = call(port_, "GET", "/admin/keys");
  ASSERT_EQ(r.status, 200);
  Json before = parsed(r)["keys"];
  ASSERT_GE(before.size(), 1u) << r.body;
  EXPECT_EQ(before[0]["status"], "active");
  EXPECT_EQ(before[0]["alg"], "EdDSA");  // keys.alg
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("PRIVATE")));

  r = call(port_, "POST", "/admin/keys/rotate");
  ASSERT_EQ(r.status, 200) << r.body;
  Json after = parsed(r)["keys"];
  ASSERT_EQ(after.size(), before.size() + 1) << r.body;
  EXPECT_NE(after[0]["kid"], before[0]["kid"]);
  EXPECT_EQ(after[0]["status"], "active");
  EXPECT_EQ(after[1]["kid"], before[0]["kid"]);
  EXPECT_EQ(after[1]["status"], "retired");
  // The running server signs with the new key at once.
  std::string jwks = server_->app->keys().jwks();
  EXPECT_THAT(jwks, HasSubstr(after[0]["kid"].get<std::string>()));
  EXPECT_EQ(call(port_, "GET", "/admin/keys/rotate").status, 405);
  EXPECT_EQ(call(port_, "POST", "/admin/keys").status, 405);
}

TEST(AdminApiDisabledTest, EveryAdminPathIs404) {
  spdlog::set_level(spdlog::level::warn);
  TestServer server(/*admin_enabled=*/false);
  ASSERT_NE(server.app, nullptr);
  uint16_t port = server.app->port();
  for (const char* path : {"/admin", "/admin/", "/admin/clients", "/admin/users", "/admin/keys"}) {
    EXPECT_EQ(call(port, "GET", path).status, 404) << path;
    EXPECT_EQ(call(port, "GET", path, "", "").status, 404) << path;
  }
  EXPECT_EQ(call(port, "POST", "/admin/keys/rotate").status, 404);
  EXPECT_EQ(call(port, "DELETE", "/admin/clients/x").status, 404);
  EXPECT_EQ(sendRaw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status,
            200);
}

}  // namespace
}  // namespace habanero::server
