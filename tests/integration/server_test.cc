// The whole server (App: store, keys, engine, router, HTTP front) on port 0,
// with the hello extension and the hostile test modules mounted together.
// Throughout, the server must keep serving everyone else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "http_client.h"
#include "server/app.h"

namespace habanero::server {
namespace {

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
    Config c = defaultConfig();
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

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  std::string two = "GET /hello/?name=a HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello/?name=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  // sendRaw reads the first response; the pipeline must not confuse the server.
  auto r = sendRaw(port_, two);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, a!\n");
}

}  // namespace
}  // namespace habanero::server
