// Fetcher against a real local HTTP server (http_server.py) and the SSRF
// address table.
#include "outbound/fetch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_process.h"

namespace habanero::outbound {
namespace {

using ::testing::HasSubstr;
using testing::TestProcess;

class ManualClock final : public Clock {
 public:
  int64_t nowMs() const override { return now_.load(); }
  void advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_{1'800'000'000'000};
};

struct AddressCase {
  const char* ip;
  bool forbidden;                // without allow_loopback
  bool forbidden_with_loopback;  // with allow_loopback
};

TEST(IsForbiddenAddressTest, Table) {
  const AddressCase cases[] = {
      {"127.0.0.1", true, false},
      {"127.255.255.254", true, false},
      {"::1", true, false},
      {"[::1]", true, false},
      {"::ffff:127.0.0.1", true, false},
      {"0.0.0.0", true, true},
      {"::", true, true},
      {"10.0.0.1", true, true},
      {"172.16.0.1", true, true},
      {"172.31.255.255", true, true},
      {"192.168.1.1", true, true},
      {"100.64.0.1", true, true},
      {"100.127.255.255", true, true},
      {"169.254.169.254", true, true},
      {"192.0.0.1", true, true},
      {"192.0.2.2", true, true},
      {"198.18.0.1", true, true},
      {"198.51.100.7", true, true},
      {"203.0.113.9", true, true},
      {"224.0.0.1", true, true},
      {"239.255.255.250", true, true},
      {"240.0.0.1", true, true},
      {"255.255.255.255", true, true},
      {"::ffff:10.0.0.1", true, true},
      {"::ffff:169.254.169.254", true, true},
      {"::ffff:8.8.8.8", false, false},
      {"::127.0.0.1", true, true},  // deprecated IPv4-compatible
      {"fd00::1", true, true},
      {"fc00::1", true, true},
      {"fe80::1", true, true},
      {"fe80::1%eth0", true, true},
      {"fec0::1", true, true},
      {"ff02::1", true, true},
      {"64:ff9b::a00:1", true, true},      // NAT64 of 10.0.0.1
      {"64:ff9b::7f00:1", true, true},     // NAT64 of 127.0.0.1: never loopback
      {"64:ff9b::808:808", false, false},  // NAT64 of 8.8.8.8
      {"64:ff9b:1::1", true, true},
      {"2002:a00:1::1", true, true},      // 6to4 of 10.0.0.1
      {"2002:808:808::1", false, false},  // 6to4 of 8.8.8.8
      {"2001:db8::1", true, true},
      {"2001::1", true, true},  // Teredo
      {"100::1", true, true},
      {"3fff::1", true, true},
      {"8.8.8.8", false, false},
      {"1.1.1.1", false, false},
      {"93.184.216.34", false, false},
      {"172.32.0.1", false, false},
      {"100.128.0.1", false, false},
      {"2606:4700:4700::1111", false, false},
      {"2a00:1450:4001::1", false, false},
      {"", true, true},
      {"localhost", true, true},
      {"127.1", true, true},  // not canonical text: refused
      {"0x7f.0.0.1", true, true},
      {"1.2.3.4.5", true, true},
      {"not an address", true, true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(isForbiddenAddress(c.ip, false), c.forbidden) << c.ip;
    EXPECT_EQ(isForbiddenAddress(c.ip, true), c.forbidden_with_loopback)
        << c.ip << " (loopback allowed)";
  }
}

class FetchTest : public ::testing::Test {
 protected:
  // One server for the suite (its counters are keyed by id); a fresh Fetcher,
  // hence an empty cache, per test.
  static void SetUpTestSuite() {
    std::string python = testing::findPython();
    if (python.empty()) return;
    std::string error;
    server_ =
        TestProcess::start({python, testing::scriptDir() + "/http_server.py"}, &error).release();
    if (server_ != nullptr) port_ = server_->readPort();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "cannot start http_server.py (python3 is needed)";
    ASSERT_GT(port_, 0) << "test HTTP server did not start";
    policy_.allow_loopback = true;
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  absl::StatusOr<FetchResponse> get(const std::string& path, const std::string& accept = "") {
    return fetcher_.fetch({.url = url(path), .accept = accept}, policy_);
  }

  ManualClock clock_;
  Fetcher fetcher_{clock_};
  FetchPolicy policy_;
  static inline TestProcess* server_ = nullptr;
  static inline int port_ = 0;
};

TEST_F(FetchTest, GetsBodyContentTypeAndLinks) {
  auto r = get("/hello");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r->url, url("/hello"));
  EXPECT_THAT(r->links, ::testing::ElementsAre("<https://example.org/a>; rel=\"alternate\"",
                                               "</b>; rel=\"describedby\""));
  EXPECT_FALSE(r->from_cache);
}

TEST_F(FetchTest, NotFoundIsAResponseNotAnError) {
  auto r = get("/nothing");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
}

TEST_F(FetchTest, SendsTheAcceptHeader) {
  auto r = get("/echo-accept", "text/turtle, application/ld+json;q=0.9");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "text/turtle, application/ld+json;q=0.9");
  auto d = get("/echo-accept?x=1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->body, "*/*");
}

TEST_F(FetchTest, FollowsRedirectsAndReportsTheFinalUrl) {
  auto r = get("/chain?n=3");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "end");
  EXPECT_EQ(r->url, url("/chain?n=0"));
}

TEST_F(FetchTest, TooManyRedirectsIsUnavailable) {
  policy_.max_redirects = 2;
  auto r = get("/chain?n=3");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  policy_.max_redirects = 3;
  EXPECT_TRUE(get("/chain?n=3").ok());
}

TEST_F(FetchTest, LoopbackRefusedWithoutAllowLoopback) {
  policy_.allow_loopback = false;
  for (const std::string& u :
       {url("/hello"), "http://localhost:" + std::to_string(port_) + "/hello",
        "http://[::1]:" + std::to_string(port_) + "/hello",
        "http://[::ffff:127.0.0.1]:" + std::to_string(port_) + "/hello",
        "http://0x7f.1:" + std::to_string(port_) + "/hello",
        "http://2130706433:" + std::to_string(port_) + "/hello",
        "http://127.1:" + std::to_string(port_) + "/hello"}) {
    auto r = fetcher_.fetch({.url = u, .accept = ""}, policy_);
    ASSERT_FALSE(r.ok()) << u;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << u << ": " << r.status();
  }
}

TEST_F(FetchTest, RedirectToForbiddenAddressRefusedOnEveryHop) {
  // allow_loopback admits loopback only, never private or link-local addresses.
  for (const char* target :
       {"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fd00::1]/",
        "http://[::ffff:192.168.0.1]/", "http://0.0.0.0/"}) {
    auto r = get(std::string("/redirect?to=") + target);
    ASSERT_FALSE(r.ok()) << target;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
        << target << ": " << r.status();
  }
}

TEST_F(FetchTest, RedirectToLoopbackV6RefusedByAllowedHosts) {
  policy_.allowed_hosts = {"127.0.0.1"};
  EXPECT_TRUE(get("/hello").ok());
  auto r = get("/redirect?to=http://[::1]:" + std::to_string(port_) + "/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
}

TEST_F(FetchTest, RedirectToAnotherSchemeRefused) {
  auto r = get("/redirect?to=file:///etc/passwd");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
}

TEST_F(FetchTest, AllowedHostsEnforced) {
  policy_.allowed_hosts = {"example.org"};
  auto r = get("/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("127.0.0.1"));
  policy_.allowed_hosts = {"localhost"};
  auto ok = fetcher_.fetch(
      {.url = "http://LOCALHOST:" + std::to_string(port_) + "/hello", .accept = ""}, policy_);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->body, "hello");
}

TEST_F(FetchTest, BadUrlsAreInvalidArgument) {
  for (const std::string& u :
       {std::string("ftp://127.0.0.1/"), std::string("file:///etc/passwd"),
        std::string("/relative"), std::string("http://user:pw@127.0.0.1/"),
        std::string("http://@127.0.0.1/"), std::string("gopher://127.0.0.1/"), std::string(""),
        std::string("http://a b/")}) {
    auto r = fetcher_.fetch({.url = u, .accept = ""}, policy_);
    ASSERT_FALSE(r.ok()) << u;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << u << ": " << r.status();
  }
}

TEST_F(FetchTest, BodyLimit) {
  policy_.max_bytes = 100'000;
  auto fits = get("/big?n=100000");
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->body.size(), 100'000u);
  for (const char* path : {"/big?n=100001", "/big?n=5000000&stream=1"}) {
    auto r = get(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted)
        << path << ": " << r.status();
  }
}

TEST_F(FetchTest, TimeoutIsUnavailable) {
  policy_.timeout_ms = 300;
  auto r = get("/slow");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(FetchTest, ConnectionRefusedIsUnavailable) {
  int port = testing::freePort();
  auto r = fetcher_.fetch({.url = "http://127.0.0.1:" + std::to_string(port) + "/", .accept = ""},
                          policy_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(FetchTest, CacheHonoursMaxAge) {
  auto a = get("/count?id=maxage&cc=max-age%3D60");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body, "1");
  EXPECT_FALSE(a->from_cache);
  clock_.advance(59'000);
  auto b = get("/count?id=maxage&cc=max-age%3D60");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->body, "1");
  EXPECT_TRUE(b->from_cache);
  clock_.advance(2'000);
  auto c = get("/count?id=maxage&cc=max-age%3D60");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->body, "2");
  EXPECT_FALSE(c->from_cache);
}

TEST_F(FetchTest, CacheKeyIncludesAccept) {
  auto a = get("/count?id=accept&cc=max-age%3D60", "text/turtle");
  auto b = get("/count?id=accept&cc=max-age%3D60", "application/ld+json");
  auto c = get("/count?id=accept&cc=max-age%3D60", "text/turtle");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->body, "1");
  EXPECT_EQ(b->body, "2");
  EXPECT_EQ(c->body, "1");
  EXPECT_TRUE(c->from_cache);
}

TEST_F(FetchTest, NoStoreNoCacheAndPrivateAreNotCached) {
  for (const std::string cc :
       {"no-store", "no-cache", "max-age%3D60%2C%20no-store", "private%2C%20max-age%3D60"}) {
    std::string path = "/count?id=" + cc + "&cc=" + cc;
    auto a = get(path);
    auto b = get(path);
    ASSERT_TRUE(a.ok() && b.ok()) << cc;
    EXPECT_EQ(a->body, "1") << cc;
    EXPECT_EQ(b->body, "2") << cc;
    EXPECT_FALSE(b->from_cache) << cc;
  }
  // No caching headers at all: not cached either.
  auto a = get("/count?id=plain");
  auto b = get("/count?id=plain");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->body, "2");
}

TEST_F(FetchTest, CacheHonoursExpires) {
  auto a = get("/count?id=expires&expires=30");
  auto b = get("/count?id=expires&expires=30");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->body, "1");
  EXPECT_TRUE(b->from_cache);
  clock_.advance(31'000);
  auto c = get("/count?id=expires&expires=30");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->body, "2");
}

TEST_F(FetchTest, CachedEntryStillObeysTheCallersPolicy) {
  auto a = get("/count?id=policy&cc=max-age%3D60");
  ASSERT_TRUE(a.ok()) << a.status();
  FetchPolicy strict;  // no loopback
  auto b = fetcher_.fetch({.url = url("/count?id=policy&cc=max-age%3D60"), .accept = ""}, strict);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kPermissionDenied);
  FetchPolicy other_hosts = policy_;
  other_hosts.allowed_hosts = {"example.org"};
  auto c =
      fetcher_.fetch({.url = url("/count?id=policy&cc=max-age%3D60"), .accept = ""}, other_hosts);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(FetchTest, ConcurrentFetchesShareTheCache) {
  std::atomic<int> ok{0}, cached{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = get("/count?id=threads&cc=max-age%3D60");
        if (r.ok() && r->status == 200) ++ok;
        if (r.ok() && r->from_cache) ++cached;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_GE(cached.load(), 30);
}

TEST_F(FetchTest, UnresolvableHostIsUnavailable) {
  policy_.allow_loopback = false;
  auto r = fetcher_.fetch({.url = "http://no-such-host.invalid/", .accept = ""}, policy_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

// A server that accepts connections (the kernel completes the handshake into
// the backlog) and never answers; close() resets every waiting connection.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close();
      return;
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Polls until `fetcher` has `n` fetches on the network (they are started by
// other threads); no timing assertion, the ctest timeout bounds a hang.
void awaitInFlight(const Fetcher& fetcher, size_t n) {
  while (fetcher.inFlight() != n) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

TEST_F(FetchTest, SlowHostsHoldBoundedSlotsAndOthersKeepGoing) {
  SilentServer a, b;
  ASSERT_GT(a.port(), 0);
  ASSERT_GT(b.port(), 0);
  Fetcher fetcher(clock_, {.max_per_host = 2, .max_total = 3, .negative_cache_ms = 60'000});
  FetchPolicy slow = policy_;
  slow.timeout_ms = 60'000;  // the silent servers are closed instead; nothing waits this long
  std::atomic<int> slow_done{0};
  std::vector<absl::Status> slow_results(3);
  auto slowFetch = [&](int i, const std::string& u) {
    return std::thread([&, i, u] {
      slow_results[i] = fetcher.fetch({.url = u, .accept = ""}, slow).status();
      ++slow_done;
    });
  };
  std::vector<std::thread> threads;
  threads.push_back(slowFetch(0, a.url()));
  threads.push_back(slowFetch(1, a.url()));
  awaitInFlight(fetcher, 2);

  // A third fetch to the same target fails at once, while the two still wait.
  auto third = fetcher.fetch({.url = a.url(), .accept = ""}, slow);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(third.status().message(), HasSubstr("outbound.fetch_max_per_host = 2"));
  EXPECT_EQ(slow_done.load(), 0);

  // Another host is served normally meanwhile.
  auto fast = fetcher.fetch({.url = url("/hello"), .accept = ""}, policy_);
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_EQ(fast->body, "hello");
  EXPECT_EQ(slow_done.load(), 0);

  // With a third slow fetch elsewhere the total bound is reached: even the good host waits
  // for a slot no longer than it takes to say so.
  threads.push_back(slowFetch(2, b.url()));
  awaitInFlight(fetcher, 3);
  auto over = fetcher.fetch({.url = url("/hello?again"), .accept = ""}, policy_);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(over.status().message(), HasSubstr("outbound.fetch_max_total = 3"));
  EXPECT_EQ(slow_done.load(), 0);

  // The slow hosts fail (connections reset); every slot is returned.
  a.close();
  b.close();
  for (auto& t : threads) t.join();
  for (const absl::Status& s : slow_results) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  }
  EXPECT_EQ(fetcher.inFlight(), 0u);
  auto after = fetcher.fetch({.url = url("/hello"), .accept = ""}, policy_);
  EXPECT_TRUE(after.ok()) << after.status();

  // The failed target is refused at once for negative_cache_ms, then tried again.
  auto cached = fetcher.fetch({.url = a.url(), .accept = ""}, slow);
  ASSERT_FALSE(cached.ok());
  EXPECT_EQ(cached.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(cached.status().message(), HasSubstr("failed recently"));
  clock_.advance(60'001);
  auto retried = fetcher.fetch({.url = a.url(), .accept = ""}, slow);
  ASSERT_FALSE(retried.ok());  // closed now: refused by the network, not by the cache
  EXPECT_EQ(retried.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(retried.status().message(), ::testing::Not(HasSubstr("failed recently")));
}

}  // namespace
}  // namespace habanero::outbound
