// The whole server (App: store, keys, engine, router, HTTP front) on port 0,
// with the hello extension and the hostile test modules mounted together.
// Throughout, the server must keep serving everyone else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"

#include "auth/clients.h"
#include "auth/users.h"
#include "habanero/clock.h"
#include "http_client.h"
#include "server/app.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::server {
namespace {

using ::habanero::testing::HttpReply;
using ::habanero::testing::httpGet;
using ::habanero::testing::sendRaw;
using ::testing::HasSubstr;

ExtensionConfig ext(const std::string& name, std::vector<std::string> grants) {
  ExtensionConfig e;
  e.name = name;
  e.module = name + ".wasm";
  e.mount = "/" + name;
  e.grants = std::move(grants);
  e.memory_bytes = 8ull << 20;
  e.deadline_ms = 500;
  return e;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    char tmpl[] = "/tmp/habanero-server-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Config c = defaultConfig();  // hello, oauth2 at "/", password
    std::erase_if(c.extensions, [](const ExtensionConfig& e) { return e.name == "password"; });
    c.server.listen = "127.0.0.1:0";
    c.server.data_dir = dir_;
    c.server.threads = 4;
    c.server.max_header_bytes = 8 * 1024;
    c.server.max_body_bytes = 64 * 1024;
    c.server.read_timeout_ms = 1000;
    c.runtime.extension_dir = HABANERO_WASM_OUT;
    c.extensions.push_back(ext("noop", {"http"}));
    c.extensions.push_back(ext("loop_forever", {"http"}));
    c.extensions.push_back(ext("memory_hog", {"http"}));
    c.extensions.push_back(ext("traps", {"http"}));
    c.extensions.push_back(
        ext("bad_pointers", {"http", "log", "kv", "clock", "settings", "crypto", "keys"}));
    c.extensions.push_back(ext("ungranted_import", {"http"}));  // refused at load
    c.extensions.push_back(ext("abi_v2", {"http"}));            // refused at load
    // The only authenticator, so /login redirects to it.
    ExtensionConfig probe =
        ext("auth_probe", {"http", "sessions", "login", "users", "clients", "keys"});
    probe.mount = "/login/probe";
    c.extensions.push_back(probe);
    auto app = App::create(c);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->start().ok());
    port_ = app_->port();
  }
  static void TearDownTestSuite() {
    app_.reset();
    std::filesystem::remove_all(dir_);
  }

  static inline std::string dir_;
  static inline AppPtr app_;
  static inline uint16_t port_ = 0;
};

TEST_F(ServerTest, HealthAndHello) {
  EXPECT_EQ(httpGet(port_, "/healthz").status, 200);
  auto r = httpGet(port_, "/hello/?name=Test");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, Test!\n");
  EXPECT_EQ(httpGet(port_, "/nowhere").status, 404);
}

TEST_F(ServerTest, RefusedExtensionsDoNotStopTheServer) {
  EXPECT_EQ(httpGet(port_, "/ungranted_import").status, 503);
  EXPECT_EQ(httpGet(port_, "/abi_v2").status, 503);
  EXPECT_EQ(httpGet(port_, "/noop").status, 200);
}

TEST_F(ServerTest, HostileExtensionsFailAloneWhileOthersAreServed) {
  std::atomic<bool> done{false};
  std::vector<std::future<int>> hostile;
  for (const char* target : {"/loop_forever", "/loop_forever", "/memory_hog",
                             "/memory_hog?mode=malloc", "/traps?kind=unreachable",
                             "/traps?kind=div0", "/traps?kind=stack_overflow"}) {
    hostile.push_back(std::async(std::launch::async, [target] { return httpGet(port_, target).status; }));
  }
  int served = 0;
  while (served < 50) {
    auto r = httpGet(port_, "/hello/");
    ASSERT_EQ(r.status, 200);
    served++;
  }
  EXPECT_EQ(hostile[0].get(), 503);
  EXPECT_EQ(hostile[1].get(), 503);
  int hog = hostile[2].get();
  EXPECT_TRUE(hog == 200 || hog == 500) << hog;
  EXPECT_EQ(hostile[3].get(), 500);
  EXPECT_EQ(hostile[4].get(), 500);
  EXPECT_EQ(hostile[5].get(), 500);
  EXPECT_EQ(hostile[6].get(), 500);
  auto bad = httpGet(port_, "/bad_pointers");
  EXPECT_EQ(bad.status, 200) << bad.body;
  EXPECT_EQ(httpGet(port_, "/healthz").status, 200);
}

TEST_F(ServerTest, BadHttpInputGets4xxNeverACrash) {
  std::string huge_header = "GET /hello/ HTTP/1.1\r\nHost: x\r\nX-Big: " +
                            std::string(20 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(sendRaw(port_, huge_header).status, 431);

  std::string huge_body = "POST /noop HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
                          std::string(200000, 'b');
  EXPECT_EQ(sendRaw(port_, huge_body).status, 413);

  EXPECT_EQ(sendRaw(port_, "GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(sendRaw(port_, "GET /hello/ HTTP/1.1\r\nHost x\r\n\r\n").status, 400);
  EXPECT_EQ(sendRaw(port_, "GET /hello/?name=%ff HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);

  // A slow client (headers never finish) is cut off after read_timeout_ms.
  auto slow = sendRaw(port_, "GET /hello/ HTTP/1.1\r\nHost: x\r\n", 5000);
  EXPECT_EQ(slow.status, 0);
  EXPECT_EQ(httpGet(port_, "/healthz").status, 200);
}

// The value of header `name` in a reply's header block ("Name: value\n" lines; "" if absent).
std::string headerOf(const std::string& block, const std::string& name) {
  std::string lower = "\n" + block, wanted = "\n" + name + ":";
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : wanted) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = lower.find(wanted);
  if (at == std::string::npos) return "";
  size_t start = at + wanted.size() - 1;  // in `block`, which lacks the leading '\n'
  std::string value = block.substr(start, block.find('\n', start) - start);
  size_t first = value.find_first_not_of(' ');
  return first == std::string::npos ? "" : value.substr(first);
}

HttpReply getWithCookie(uint16_t port, const std::string& target, const std::string& cookie) {
  return sendRaw(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nCookie: " + cookie +
                            "\r\nConnection: close\r\n\r\n");
}

TEST_F(ServerTest, LoginThroughTheHostsLoginPage) {
  auto ana = app_->users().add({.email = "ana@example.com", .password = "pw"});
  ASSERT_TRUE(ana.ok()) << ana.status();

  // The protocol side asks for a login...
  auto begun = httpGet(port_, "/login/probe/require_login?return_to=%2Fhello%2F%3Fname%3Dx");
  ASSERT_EQ(begun.status, 302) << begun.body;
  std::string location = headerOf(begun.headers, "location");
  ASSERT_EQ(location.rfind("/login?rt=", 0), 0u) << location;
  std::string rt = location.substr(10);
  std::string set_cookie = headerOf(begun.headers, "set-cookie");
  std::string login_cookie = set_cookie.substr(0, set_cookie.find(';'));
  ASSERT_EQ(login_cookie.rfind("habanero_login=", 0), 0u) << set_cookie;

  // ...the host's /login sends the browser to the only authenticator...
  auto page = getWithCookie(port_, location, login_cookie);
  ASSERT_EQ(page.status, 302) << page.body;
  EXPECT_EQ(headerOf(page.headers, "location"), "/login/probe/?rt=" + rt);
  EXPECT_EQ(httpGet(port_, location).status, 400) << "another browser: expired page";
  EXPECT_EQ(httpGet(port_, "/login?rt=bogus").status, 400);

  // ...which completes the attempt: a session cookie and back to return_to.
  auto done = getWithCookie(port_, "/login/probe/complete?rt=" + rt + "&sub=" + ana->subject,
                            login_cookie);
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(headerOf(done.headers, "location"), "/hello/?name=x");
  std::string session_cookie = headerOf(done.headers, "set-cookie");
  EXPECT_NE(session_cookie.find("HttpOnly; SameSite=Lax"), std::string::npos) << session_cookie;
  session_cookie = session_cookie.substr(0, session_cookie.find(';'));
  auto session = getWithCookie(port_, "/login/probe/session", session_cookie);
  EXPECT_EQ(session.status, 200);
  EXPECT_THAT(session.body, HasSubstr(ana->subject));

  auto css = httpGet(port_, "/static/style.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_THAT(css.headers, HasSubstr("text/css"));
}

TEST_F(ServerTest, ReloadPicksUpClientsChangedByAnotherProcess) {
  // Another process (the CLI) has its own connection to the database.
  auto storage = store::SqliteStorage::open(dir_ + "/habanero.db", SystemClock::instance());
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto cli = auth::Clients::open(**storage, SystemClock::instance());
  ASSERT_TRUE(cli.ok()) << cli.status();
  auto added = (*cli)->add({.client_id = "late", .redirect_uris = {"https://late.example/cb"}});
  ASSERT_TRUE(added.ok()) << added.status();

  EXPECT_THAT(httpGet(port_, "/login/probe/client?id=late").body, HasSubstr("\"result\":1"))
      << "requests read the snapshot, not storage";
  app_->reload();
  EXPECT_THAT(httpGet(port_, "/login/probe/client?id=late").body, HasSubstr("late.example"));
  EXPECT_THAT(httpGet(port_, "/login/probe/client_auth?id=late&secret=" + added->generated_secret)
                  .body,
              HasSubstr("\"result\":0"));

  ASSERT_EQ((*cli)->remove("late"), absl::OkStatus());
  app_->reload();
  EXPECT_THAT(httpGet(port_, "/login/probe/client?id=late").body, HasSubstr("\"result\":1"));
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  std::string two = "GET /hello/?name=a HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello/?name=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  // sendRaw reads the first response; the pipeline must not confuse the server.
  auto r = sendRaw(port_, two);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, a!\n");
}

// [web] page_template: the operator's shell frames an extension's page (the password
// authenticator's, built by the guest library from the setting the host hands it) and the
// host's own /login page alike, with the same Content-Security-Policy; a shell without
// {{body}} stops the start with an error naming the file.
TEST(PageTemplateTest, TheOperatorsShellFramesExtensionAndHostPages) {
  spdlog::set_level(spdlog::level::warn);
  char tmpl[] = "/tmp/habanero-shell-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string shell = dir + "/page.html";
  std::ofstream(shell) << "<!doctype html><title>{{title}} - Example Corp</title>"
                          "<link rel=\"stylesheet\" href=\"/static/style.css\">"
                          "<main class=\"corp-shell\">{{ body }}</main>\n";
  Config c = defaultConfig();
  std::erase_if(c.extensions, [](const ExtensionConfig& e) { return e.name != "password"; });
  c.server.listen = "127.0.0.1:0";
  c.server.data_dir = dir;
  c.runtime.extension_dir = HABANERO_WASM_OUT;
  c.web.page_template = shell;
  {
    auto app = App::create(c);
    ASSERT_TRUE(app.ok()) << app.status();
    ASSERT_TRUE((*app)->start().ok());
    uint16_t port = (*app)->port();

    HttpReply ext = httpGet(port, "/login/password/");  // no attempt: the password page says so
    EXPECT_EQ(ext.status, 400) << ext.body;
    EXPECT_THAT(ext.body, HasSubstr("<title>Sign-in page expired - Example Corp</title>"));
    EXPECT_THAT(ext.body, HasSubstr("<main class=\"corp-shell\"><h1>Sign-in page expired</h1>"));
    HttpReply host = httpGet(port, "/login?rt=unknown");  // the host's page, same shell
    EXPECT_EQ(host.status, 400) << host.body;
    EXPECT_THAT(host.body, HasSubstr("<title>Sign in - Example Corp</title>"));
    EXPECT_THAT(host.body, HasSubstr("<main class=\"corp-shell\"><h1>Sign in</h1>"));
    const std::string csp =
        "content-security-policy: default-src 'none'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'\n";
    EXPECT_THAT(absl::AsciiStrToLower(ext.headers), HasSubstr(csp));
    EXPECT_THAT(absl::AsciiStrToLower(host.headers), HasSubstr(csp));
  }

  std::ofstream(shell, std::ios::trunc) << "<title>{{title}}</title>no body here\n";
  auto refused = App::create(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("web.page_template: " + shell + ": lacks the placeholder {{body}}"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace habanero::server
