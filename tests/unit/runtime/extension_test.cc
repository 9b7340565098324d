// The runtime against real modules built from tests/wasm and extensions/:
// loading rules, caching, reload and the ABI host calls through echo. What any
// host must do with hostile modules (traps, deadlines, memory limits, bad
// pointers, refused imports and ABI versions) is the ABI conformance suite's
// data (tests/conformance/cases.json); what stays here is in-process only:
// other requests running while one loops, and host RSS under a memory hog.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/router.h"
#include "runtime_fixture.h"

namespace habanero::runtime {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kAll = {"http", "log", "kv", "clock", "settings", "crypto", "keys"};

long rssKb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

class ExtensionTest : public RuntimeFixture {};

TEST_F(ExtensionTest, HelloAnswersAndCounts) {
  auto cfg = configFor("hello", {"http", "log", "kv", "settings"});
  cfg.settings["greeting"] = "Hola";
  auto ext = load(cfg);
  ASSERT_TRUE(ext.ok()) << ext.status();
  Response r = (*ext)->handle(get("/hello", "name=Ana"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hola, Ana!\n");
  EXPECT_EQ((*ext)->handle(get("/hello")).body, "Hola, world!\n");
  EXPECT_EQ((*ext)->handle(get("/hello", "name=a&name=b")).status, 400);
  EXPECT_EQ((*ext)->handle(get("/hello", "name=%ZZ")).status, 400);
  EXPECT_EQ((*ext)->handle(get("/hello/count")).body.substr(0, 1), "1");
  EXPECT_EQ((*ext)->handle(get("/hello/count")).body.substr(0, 1), "2");
  EXPECT_THAT(logText(), HasSubstr("[hello]"));
}

TEST_F(ExtensionTest, OtherRequestsRunWhileOneLoops) {
  auto loop_cfg = configFor("loop_forever", {"http"});
  loop_cfg.limits.deadline_ms = 1000;
  auto loop = load(loop_cfg);
  auto noop = load(configFor("noop", {"http"}));
  ASSERT_TRUE(loop.ok() && noop.ok());
  std::thread looping([&] { EXPECT_EQ((*loop)->handle(get("/loop_forever")).status, 503); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 100; ++i) ASSERT_EQ((*noop)->handle(get("/noop")).status, 200);
  looping.join();
}

TEST_F(ExtensionTest, HostMemoryDoesNotGrowUnderAMemoryHog) {
  auto cfg = configFor("memory_hog", {"http"});
  cfg.limits.memory_bytes = 4ull << 20;
  auto ext = load(cfg);
  ASSERT_TRUE(ext.ok()) << ext.status();
  Response first = (*ext)->handle(get("/memory_hog"));
  long before = rssKb();
  for (int i = 0; i < 50; ++i) {
    // That it is capped at 4 MiB is conformance case memory_limit_grow.
    int status = (*ext)->handle(get("/memory_hog")).status;
    EXPECT_TRUE(status == 200 || status == 500) << status;
  }
  long after = rssKb();
  EXPECT_LT(after - before, 8 * 1024) << "host RSS grew from " << before << " to " << after << " KiB";
  (void)first;
}

TEST_F(ExtensionTest, TruncatedAndNonWasmFilesAreRefusedNamingTheFile) {
  std::ifstream in(wasmPath("noop"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 100u);
  std::filesystem::copy_file(wasmPath("noop").substr(0, wasmPath("noop").size() - 5) +
                                 ".manifest.toml",
                             dir_ + "/noop.manifest.toml");
  auto write = [&](const std::string& content) {
    std::ofstream(dir_ + "/noop.wasm", std::ios::binary | std::ios::trunc) << content;
  };
  auto cfg = configFor("noop", {"http"});

  write(bytes.substr(0, bytes.size() / 2));
  auto truncated = load(cfg, dir_ + "/noop.wasm");
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.status().message(), HasSubstr(dir_ + "/noop.wasm"));
  EXPECT_THAT(truncated.status().message(), HasSubstr("not a valid WebAssembly module"));

  write("#!/bin/sh\necho not wasm\n");
  auto text = load(cfg, dir_ + "/noop.wasm");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("not a WebAssembly module (bad magic)"));

  write("\0as");
  auto tiny = load(cfg, dir_ + "/noop.wasm");
  ASSERT_FALSE(tiny.ok());
  EXPECT_THAT(tiny.status().message(), HasSubstr("truncated"));

  auto missing = load(cfg, dir_ + "/absent.wasm");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.wasm"));
}

TEST_F(ExtensionTest, ManifestNameMustMatchConfiguration) {
  auto cfg = configFor("noop", {"http"});
  cfg.name = "other";
  auto ext = load(cfg);
  ASSERT_FALSE(ext.ok());
  EXPECT_THAT(ext.status().message(), HasSubstr("differs from the configured name"));
}

TEST_F(ExtensionTest, CompiledModulesAreCachedOnDisk) {
  ASSERT_TRUE(load(configFor("noop", {"http"})).ok());
  EXPECT_EQ(engine_->compilations(), 1u);
  EngineOptions options;
  options.cache_dir = dir_ + "/cache";
  options.pool_instances = 4;
  auto second = Engine::create(options);
  ASSERT_TRUE(second.ok());
  auto ext = Extension::load(**second, configFor("noop", {"http"}), wasmPath("noop"), services_);
  ASSERT_TRUE(ext.ok()) << ext.status();
  EXPECT_EQ((*second)->cacheHits(), 1u);
  EXPECT_EQ((*second)->compilations(), 0u);
  EXPECT_EQ((*ext)->handle(get("/noop")).status, 200);
  ext->reset();
}

TEST_F(ExtensionTest, CorruptCacheEntryIsReplacedNotTrusted) {
  ASSERT_TRUE(load(configFor("noop", {"http"})).ok());
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/cache")) {
    std::ofstream(entry.path(), std::ios::trunc) << "garbage";
  }
  auto ext = load(configFor("noop", {"http"}));
  ASSERT_TRUE(ext.ok()) << ext.status();
  EXPECT_EQ(engine_->compilations(), 2u);
  EXPECT_EQ((*ext)->handle(get("/noop")).status, 200);
  EXPECT_THAT(logText(), HasSubstr("unusable"));
}

TEST_F(ExtensionTest, NoStateSurvivesBetweenRequests) {
  // hostcall answers with the request method; the same extension serves
  // different requests correctly one after another, each in a new instance.
  auto ext = load(configFor("hostcall", {"http"}));
  ASSERT_TRUE(ext.ok()) << ext.status();
  Request post = get("/hostcall");
  post.method = "POST";
  EXPECT_EQ((*ext)->handle(post).body, "POST");
  EXPECT_EQ((*ext)->handle(get("/hostcall")).body, "GET");
}

// ---- the router: mounts, routes, atomic reload ----------------------------

class RouterTest : public RuntimeFixture {};

TEST_F(RouterTest, RoutesByLongestMountAndManifestRoutes) {
  ExtensionRouter router(*engine_, services_, HABANERO_WASM_OUT);
  auto hello = configFor("hello", {"http", "log", "kv", "settings"});
  hello.module = "hello.wasm";  // relative: resolved against the extension dir
  auto noop = configFor("noop", {"http"});
  noop.mount = "/";
  ReloadReport report = router.load({hello, noop});
  EXPECT_EQ(report.loaded, 2);
  EXPECT_EQ(report.failed, 0);
  EXPECT_EQ(router.dispatch(get("/hello")).body, "Hello, world!\n");
  EXPECT_EQ(router.dispatch(get("/hello/")).body, "Hello, world!\n");
  EXPECT_EQ(router.dispatch(get("/hello/nope")).status, 404);  // not a declared route
  EXPECT_EQ(router.dispatch(get("/helloworld")).status, 200);  // falls to "/" (noop)
  EXPECT_EQ(router.dispatch(get("/anything")).status, 200);
}

TEST_F(RouterTest, FailedExtensionAnswers503AndOthersStillServe) {
  ExtensionRouter router(*engine_, services_, "");
  ReloadReport report =
      router.load({configFor("ungranted_import", {"http"}), configFor("noop", {"http"})});
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(report.loaded, 1);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_THAT(report.errors[0], HasSubstr("habanero.kv_get"));
  EXPECT_EQ(router.dispatch(get("/ungranted_import")).status, 503);
  EXPECT_EQ(router.dispatch(get("/noop")).status, 200);
  EXPECT_EQ(router.dispatch(get("/elsewhere")).status, 404);
}

TEST_F(RouterTest, ReplacingTheFileSwapsAtomicallyAndOldRequestsFinishOnTheOldModule) {
  // The extension "swap" is first the hello module, then the hostcall module.
  auto install = [&](const std::string& from) {
    std::string base = wasmPath(from).substr(0, wasmPath(from).size() - 5);
    std::string manifest;
    {
      std::ifstream in(base + ".manifest.toml");
      manifest.assign((std::istreambuf_iterator<char>(in)), {});
    }
    size_t name_at = manifest.find("name = \"" + from + "\"");
    ASSERT_NE(name_at, std::string::npos);
    manifest.replace(name_at, from.size() + 9, "name = \"swap\"");
    // Write then rename, as an operator's deploy would.
    std::ofstream(dir_ + "/swap.manifest.toml.tmp") << manifest;
    std::filesystem::copy_file(wasmPath(from), dir_ + "/swap.wasm.tmp",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(dir_ + "/swap.manifest.toml.tmp", dir_ + "/swap.manifest.toml");
    std::filesystem::rename(dir_ + "/swap.wasm.tmp", dir_ + "/swap.wasm");
  };
  install("hello");
  ExtensionRouter router(*engine_, services_, dir_);
  ExtensionSpec cfg = configFor("swap", {"http", "log", "kv", "settings"});
  cfg.module = "swap.wasm";
  router.load({cfg});
  EXPECT_EQ(router.dispatch(get("/swap")).body, "Hello, world!\n");
  ExtensionPtr in_flight = router.snapshot()->entries[0].extension;  // as a running request holds it

  EXPECT_FALSE(router.changedOnDisk());
  install("hostcall");
  EXPECT_TRUE(router.changedOnDisk());
  ReloadReport report = router.reload();
  EXPECT_EQ(report.loaded, 1);
  EXPECT_EQ(router.dispatch(get("/swap")).body, "GET");             // new requests: new module
  EXPECT_EQ(in_flight->handle(get("/swap")).body, "Hello, world!\n");  // old one still works

  // A broken replacement keeps the running version.
  std::ofstream(dir_ + "/swap.wasm", std::ios::trunc) << "broken";
  report = router.reload();
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(router.dispatch(get("/swap")).body, "GET");
  EXPECT_THAT(logText(), HasSubstr("keeping the running version"));
}

TEST_F(RouterTest, WatcherReloadsChangedFiles) {
  std::filesystem::copy_file(wasmPath("noop"), dir_ + "/w.wasm");
  std::ofstream(dir_ + "/w.manifest.toml")
      << "name = \"w\"\nabi = 1\ncapabilities = [\"http\"]\n";
  ExtensionRouter router(*engine_, services_, dir_);
  ExtensionSpec cfg = configFor("w", {"http"});
  cfg.module = "w.wasm";
  router.load({cfg});
  EXPECT_EQ(router.dispatch(get("/w")).body, "");
  router.startWatching(50);
  std::filesystem::copy_file(wasmPath("hostcall"), dir_ + "/w.wasm.tmp");
  std::filesystem::rename(dir_ + "/w.wasm.tmp", dir_ + "/w.wasm");
  std::string body;
  for (int i = 0; i < 100 && body != "GET"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    body = router.dispatch(get("/w")).body;
  }
  EXPECT_EQ(body, "GET");
}

}  // namespace
}  // namespace habanero::runtime

// ---- the host calls, through the echo module --------------------------------

namespace habanero::runtime {
namespace {

class HostCallTest : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeFixture::SetUp();
    auto cfg = configFor("echo", kAll);
    cfg.settings["greeting"] = "hi";
    auto ext = load(cfg);
    ASSERT_TRUE(ext.ok()) << ext.status();
    echo_ = *ext;
  }
  nlohmann::json call(const std::string& sub, const std::string& query) {
    Response r = echo_->handle(get("/echo" + sub, query));
    EXPECT_EQ(r.status, 200) << sub << "?" << query << ": " << r.body;
    return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  }
  ExtensionPtr echo_;
};

TEST_F(HostCallTest, RequestIsReflected) {
  Request r = get("/echo/x", "q=1");
  r.method = "POST";
  r.headers = {{"X-Test", "v1"}, {"x-test", "v2"},
               {"Content-Type", "application/x-www-form-urlencoded"}};
  r.body = "a=%C3%A9";
  auto j = nlohmann::json::parse(echo_->handle(r).body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/echo/x");
  EXPECT_EQ(j["mount"], "/echo");
  EXPECT_EQ(j["q"], "1");
  EXPECT_EQ(j["a"], "\xC3\xA9");
  EXPECT_EQ(j["x_test"], "v1, v2");
  EXPECT_EQ(j["body_length"], 8);

  r.body = "a=1&a=2";
  EXPECT_EQ(nlohmann::json::parse(echo_->handle(r).body)["a"], "DUPLICATE");
  r.headers = {};  // not a form: the form source is empty
  EXPECT_EQ(nlohmann::json::parse(echo_->handle(r).body)["a"], nullptr);
}

TEST_F(HostCallTest, KeyValueStoreIsPerExtensionAndAtomic) {
  EXPECT_EQ(call("/kv", "op=put&key=k&value=v1")["result"], 0);
  EXPECT_EQ(call("/kv", "op=get&key=k")["value"], "v1");
  // Stored under the extension's own namespace.
  auto direct = storage_->get("echo", "k");
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->value_or(""), "v1");
  EXPECT_EQ(call("/kv", "op=cas&key=k&expected=v0&value=v2")["result"], 6);  // CONFLICT
  EXPECT_EQ(call("/kv", "op=cas&key=k&expected=v1&value=v2")["result"], 0);
  EXPECT_EQ(call("/kv", "op=cas&key=new&value=x")["result"], 0);
  EXPECT_EQ(call("/kv", "op=cas&key=new&value=y")["result"], 6);
  EXPECT_EQ(call("/kv", "op=take&key=k")["value"], "v2");
  EXPECT_EQ(call("/kv", "op=take&key=k")["result"], 1);  // NOT_FOUND: taken once
  EXPECT_EQ(call("/kv", "op=delete&key=new")["result"], 0);
  EXPECT_EQ(call("/kv", "op=get&key=new")["result"], 1);
}

TEST_F(HostCallTest, LargeValuesCrossTheBufferProtocol) {
  std::string big(5000, 'z');  // larger than the SDK's first buffer
  EXPECT_EQ(call("/kv", "op=put&key=big&value=" + big)["result"], 0);
  EXPECT_EQ(call("/kv", "op=take&key=big")["value"], big);
  EXPECT_EQ(call("/kv", "op=get&key=big")["result"], 1);
}

TEST_F(HostCallTest, CryptoMatchesKnownAnswers) {
  EXPECT_EQ(call("/crypto", "op=sha256&data=abc")["hex"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(call("/crypto", "op=hmac&key=Jefe&data=what%20do%20ya%20want%20for%20nothing%3F")["hex"],
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(call("/crypto", "op=equal&a=x&b=x")["result"], 0);
  EXPECT_EQ(call("/crypto", "op=equal&a=x&b=y")["result"], 7);
  auto r1 = call("/crypto", "op=random&n=32")["hex"].get<std::string>();
  auto r2 = call("/crypto", "op=random&n=32")["hex"].get<std::string>();
  EXPECT_EQ(r1.size(), 64u);
  EXPECT_NE(r1, r2);
}

TEST_F(HostCallTest, JwsIsSignedByTheHostAndVerifies) {
  auto signed_ = call("/jws", "op=sign&payload=%7B%22sub%22%3A%22a%22%7D&header=%7B%22typ%22%3A%22at%2Bjwt%22%7D");
  ASSERT_EQ(signed_["result"], 0);
  std::string jws = signed_["jws"];
  auto payload = keys_->verify(jws);  // the host's own verification agrees
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(*payload, R"({"sub":"a"})");
  EXPECT_EQ(call("/jws", "op=verify&jws=" + jws)["payload"], R"({"sub":"a"})");
  std::string tampered = jws;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(call("/jws", "op=verify&jws=" + tampered)["result"], 7);
  EXPECT_EQ(call("/jws", "op=sign&payload=x&header=%5B1%5D")["result"], 4);  // not an object
}

TEST_F(HostCallTest, ClockSettingsLogAndStdout) {
  int64_t now = call("/clock", "")["now_ms"];
  EXPECT_NEAR(static_cast<double>(now), static_cast<double>(SystemClock::instance().nowMs()), 5000);
  EXPECT_EQ(call("/setting", "name=greeting")["value"], "hi");
  EXPECT_EQ(call("/setting", "name=absent")["result"], 1);
  EXPECT_EQ(call("/log", "level=2&msg=careful")["result"], 0);
  EXPECT_EQ(call("/log", "level=9&msg=x")["result"], 4);
  EXPECT_EQ(call("/log", "level=1&msg=a%0A%5Bother%5D%20forged")["result"], 0);
  EXPECT_THAT(logText(), HasSubstr("[echo] a\\x0a[other] forged"));
  EXPECT_EQ(call("/stdout", "")["result"], 0);
  // Wasmtime writes guest stdout/stderr from a background thread: wait for it.
  for (int i = 0; i < 200 && logText().find("hello from stderr") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string log = logText();
  EXPECT_THAT(log, HasSubstr("[echo] careful"));
  EXPECT_THAT(log, HasSubstr("[echo] stdout: echo: hello from stdout"));
  EXPECT_THAT(log, HasSubstr("[echo] stderr: echo: hello from stderr"));
}

TEST_F(HostCallTest, ResponseHeadersAreCheckedAndBodiesCapped) {
  EXPECT_EQ(call("/header", "name=x-ok&value=1")["result"], 0);
  EXPECT_EQ(call("/header", "name=x-bad&value=a%0D%0Ab")["result"], 4);
  EXPECT_EQ(call("/header", "name=bad%20name&value=1")["result"], 4);
  Response redirect = echo_->handle(get("/echo/redirect", "status=302&url=https%3A%2F%2Fa.example%2F"));
  EXPECT_EQ(redirect.status, 302);
  ASSERT_NE(findHeader(redirect.headers, "location"), nullptr);
  EXPECT_EQ(*findHeader(redirect.headers, "location"), "https://a.example/");
  Response big = echo_->handle(get("/echo/big", "n=8388608"));
  EXPECT_LE(big.body.size(), limits::kMaxResponseBytes);
  EXPECT_THAT(logText(), HasSubstr("result 8"));  // LIMIT_EXCEEDED
}

}  // namespace
}  // namespace habanero::runtime

namespace habanero::runtime {
namespace {

TEST_F(RouterTest, DotSegmentsAreRefusedNotNormalised) {
  ExtensionRouter router(*engine_, services_, "");
  auto noop = configFor("noop", {"http"});
  router.load({noop});
  for (const char* path : {"/noop/../admin", "/noop/./x", "/noop/%2e%2E/x", "/noop/..", "/.."}) {
    EXPECT_EQ(router.dispatch(get(path)).status, 400) << path;
  }
  for (const char* path : {"/noop/...", "/noop/.well-known", "/noop/a..b", "/noop/x"}) {
    EXPECT_EQ(router.dispatch(get(path)).status, 200) << path;
  }
}

}  // namespace
}  // namespace habanero::runtime
