// The operator's surface of the cluster parts (issue 14), in one process with
// the real pieces: metrics labels and families (runtime observer, outbox depth
// and age on a real SQLite outbox), JSON log lines with the request id, the id
// travelling from a GatewayDispatcher to a WorkerServer over gRPC on loopback,
// and a worker pool following a DNS name whose answer changes (through the
// pool's resolver seam).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "cluster/gateway_dispatcher.h"
#include "cluster/logging.h"
#include "cluster/metrics.h"
#include "cluster/worker_pool.h"
#include "cluster/worker_service.h"
#include "events/outbox.h"
#include "habanero/clock.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::cluster {
namespace {

using Json = nlohmann::json;

// Polls `done` until it holds; the bound only guards against a hang (no timing assertion).
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

Request get(std::string path) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  return r;
}

// ---- labels ------------------------------------------------------------------------------

TEST(RouteLabels, ManifestRouteJoinedToTheMountNeverTheRawPath) {
  std::vector<MountedExtension> ext = {
      {"oauth2", "/", {"/token", "/authorize", "/webid/*", "/.well-known/openid-configuration"}},
      {"password", "/login/password", {"/"}},
      {"hello", "/hello", {"/", "/count"}}};
  auto label = [&](std::string_view path) {
    RouteLabel l = routeForPath(path, ext);
    return l.extension + " " + l.route;
  };
  EXPECT_EQ("oauth2 /token", label("/token"));
  EXPECT_EQ("oauth2 /webid/*", label("/webid/alice/profile"));
  EXPECT_EQ("oauth2 /webid/*", label("/webid"));
  EXPECT_EQ("oauth2 unmatched", label("/tokens/123456"));  // a 404: not a new label per path
  EXPECT_EQ("password /login/password/", label("/login/password"));
  EXPECT_EQ("password /login/password/", label("/login/password/"));
  EXPECT_EQ("hello /hello/count", label("/hello/count"));
  EXPECT_EQ("hello unmatched", label("/hello/x1"));
  EXPECT_EQ("host /login", label("/login"));
  EXPECT_EQ("host /static", label("/static/style.css"));
  EXPECT_EQ("host /admin", label("/admin/clients/web"));
  EXPECT_EQ("host /metrics", label("/metrics"));
  EXPECT_EQ("host unmatched", routeForPath("/anything", {}).extension + " " +
                                  routeForPath("/anything", {}).route);
}

// ---- metrics -----------------------------------------------------------------------------

// The value of the first sample line starting with `series` ("" when absent).
std::string sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t end = text.find('\n', at);
      std::string line = text.substr(at, end - at);
      return line.substr(line.rfind(' ') + 1);
    }
    at += series.size();
  }
  return "";
}

TEST(Metrics, RuntimeObserverCountsByExtensionCallAndResult) {
  Metrics metrics("habanero_worker");
  runtime::Observer& o = metrics.runtimeObserver();
  o.instanceCreated("oauth2");
  o.instanceCreated("oauth2");
  o.instanceCreated("password");
  o.trapped("password");
  o.deadlineExceeded("oauth2");
  o.hostCallFailed("oauth2", "kv_get", HABANERO_UNAVAILABLE);
  o.hostCallFailed("oauth2", "kv_get", HABANERO_UNAVAILABLE);
  o.hostCallFailed("oauth2", "http_fetch", HABANERO_DENIED);
  metrics.observe("oauth2", "/token", 200, 0.01);
  std::string text = metrics.render();
  EXPECT_EQ("2", sample(text, "habanero_runtime_instances_total{extension=\"oauth2\"}"));
  EXPECT_EQ("1", sample(text, "habanero_runtime_instances_total{extension=\"password\"}"));
  EXPECT_EQ("1", sample(text, "habanero_runtime_traps_total{extension=\"password\"}"));
  EXPECT_EQ("1", sample(text, "habanero_runtime_deadlines_total{extension=\"oauth2\"}"));
  EXPECT_EQ("2", sample(text, "habanero_runtime_host_call_errors_total{call=\"kv_get\","
                              "extension=\"oauth2\",result=\"unavailable\"}"));
  EXPECT_EQ("1", sample(text, "habanero_runtime_host_call_errors_total{call=\"http_fetch\","
                              "extension=\"oauth2\",result=\"denied\"}"));
  // A worker's request families carry its own prefix and the route label.
  EXPECT_EQ("1", sample(text, "habanero_worker_requests_total{extension=\"oauth2\","
                              "route=\"/token\",status=\"200\"}"));
  EXPECT_EQ("1", sample(text, "habanero_worker_request_duration_seconds_count{extension="
                              "\"oauth2\",route=\"/token\"}"));
  EXPECT_EQ(std::string::npos, text.find("habanero_http_requests_total"));
  EXPECT_EQ(std::string::npos, text.find("habanero_outbox_"));  // not watched here
}

class ManualClock final : public Clock {
 public:
  int64_t nowMs() const override { return now_.load(); }
  void set(int64_t ms) { now_.store(ms); }

 private:
  std::atomic<int64_t> now_{1'000'000};
};

TEST(Metrics, OutboxDepthAndAgeOfTheOldestPendingRecord) {
  std::string dir = ::testing::TempDir() + "habanero-ops-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  ManualClock clock;
  auto storage = store::SqliteStorage::open(dir + "/h.db", clock);
  ASSERT_TRUE(storage.ok()) << storage.status();
  events::Outbox outbox(**storage, clock, {});  // no dispatcher: records stay pending
  Metrics metrics;
  metrics.watchOutbox(outbox, clock);
  std::string text = metrics.render();
  EXPECT_EQ("0", sample(text, "habanero_outbox_pending_records"));
  EXPECT_EQ("0", sample(text, "habanero_outbox_oldest_pending_age_seconds"));

  ASSERT_TRUE(outbox.publish("magic-email", "magic-email.deliver", "{}").ok());
  clock.set(1'004'000);
  ASSERT_TRUE(outbox.publish("magic-email", "magic-email.deliver", "{}").ok());
  ASSERT_TRUE(outbox.publish("magic-email", "magic-email.deliver", "{}").ok());
  clock.set(1'010'500);
  text = metrics.render();
  EXPECT_EQ("3", sample(text, "habanero_outbox_pending_records"));
  EXPECT_EQ("10.5", sample(text, "habanero_outbox_oldest_pending_age_seconds"));

  absl::StatusOr<events::Outbox::Stats> capped = outbox.stats(2);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(2u, capped->pending);
  EXPECT_TRUE(capped->capped);
  EXPECT_EQ(1'000'000, capped->oldest_created_ms);
  std::filesystem::remove_all(dir);
}

// ---- logs --------------------------------------------------------------------------------

// Keeps each line as the formatter writes it, formatted on the logging thread as the
// server's stdout sink does (spdlog's ring buffer sink would format later, elsewhere).
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(lines_mu_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::lock_guard<std::mutex> lock(lines_mu_);
    lines_.emplace_back(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::mutex lines_mu_;
  std::vector<std::string> lines_;
};

class CapturedLog {
 public:
  explicit CapturedLog(std::unique_ptr<spdlog::formatter> formatter)
      : sink_(std::make_shared<LineSink>()), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("ops-test", sink_);
    logger->set_formatter(std::move(formatter));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() const { return sink_->lines(); }

 private:
  std::shared_ptr<LineSink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(JsonLogs, OneObjectPerLineWithTheRequestIdWhenKnown) {
  CapturedLog log(jsonLogFormatter());
  spdlog::info("started");
  {
    RequestIdScope scope("rid-42");
    EXPECT_EQ("rid-42", currentRequestId());
    spdlog::warn("quote \" backslash \\ newline\n tab\t bell\a bad \xff utf-8 caf\xc3\xa9");
    {
      RequestIdScope inner("rid-43");
      spdlog::error("inner");
    }
    spdlog::debug("back");
  }
  EXPECT_EQ("", currentRequestId());
  std::vector<std::string> lines = log.lines();
  ASSERT_EQ(4u, lines.size());
  std::vector<Json> objects;
  for (const std::string& line : lines) {
    ASSERT_EQ('\n', line.back()) << line;
    ASSERT_EQ(std::string::npos, line.substr(0, line.size() - 1).find('\n')) << line;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_TRUE(j["time"].is_string());
    EXPECT_EQ(24u, j["time"].get<std::string>().size()) << j["time"];  // 2026-…T…:….123Z
    EXPECT_EQ('Z', j["time"].get<std::string>().back());
    objects.push_back(std::move(j));
  }
  EXPECT_EQ("info", objects[0]["level"]);
  EXPECT_EQ("started", objects[0]["message"]);
  EXPECT_FALSE(objects[0].contains("request_id"));
  EXPECT_EQ("warn", objects[1]["level"]);
  EXPECT_EQ("quote \" backslash \\ newline\n tab\t bell\a bad \xef\xbf\xbd utf-8 caf\xc3\xa9",
            objects[1]["message"]);
  EXPECT_EQ("rid-42", objects[1]["request_id"]);
  EXPECT_EQ("rid-43", objects[2]["request_id"]);
  EXPECT_EQ("error", objects[2]["level"]);
  EXPECT_EQ("rid-42", objects[3]["request_id"]);
  EXPECT_EQ("debug", objects[3]["level"]);
}

TEST(JsonLogs, TextLinesNameTheRequestTooAndBadFormatsAreRefused) {
  {
    CapturedLog log(textLogFormatter());
    spdlog::info("plain");
    RequestIdScope scope("rid-7");
    spdlog::info("with id");
    std::vector<std::string> lines = log.lines();
    ASSERT_EQ(2u, lines.size());
    EXPECT_NE(std::string::npos, lines[0].find("[info] plain"));
    EXPECT_EQ(std::string::npos, lines[0].find("[request"));
    EXPECT_NE(std::string::npos, lines[1].find("[info] [request rid-7] with id")) << lines[1];
  }
  absl::Status bad = setLogFormat("xml");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(std::string::npos, bad.message().find("log.format"));
}

// A worker's dispatcher that logs, as an extension's host calls do.
class LoggingDispatcher final : public Dispatcher {
 public:
  Response dispatch(const Request& request) override {
    spdlog::info("extension line for {}", request.path);
    return Response::text(200, "ok");
  }
};

TEST(JsonLogs, TheGatewaysRequestIdReachesTheWorkersLines) {
  CapturedLog log(jsonLogFormatter());
  LoggingDispatcher dispatcher;
  WorkerServer::Options wo;
  wo.listen = "127.0.0.1:0";
  wo.threads = 2;
  wo.shutdown_grace_ms = 200;
  wo.drain_quiet_ms = 0;
  WorkerServer worker(wo, dispatcher, {});
  ASSERT_TRUE(worker.start().ok());
  WorkerPool::Options po;
  po.targets = {"127.0.0.1:" + std::to_string(worker.port())};
  po.health_interval_ms = 50;
  auto pool = WorkerPool::create(po);
  ASSERT_TRUE(pool.ok()) << pool.status();
  (*pool)->start();
  GatewayDispatcher gateway(**pool, {});

  Request r = get("/traced");
  r.headers.emplace_back("X-Request-Id", "client-chose-this-1");
  ASSERT_EQ(200, gateway.dispatch(r).status);
  Response second = gateway.dispatch(get("/untraced"));  // the gateway makes one up
  ASSERT_EQ(200, second.status);
  const std::string made_up = *findHeader(second.headers, "x-request-id");
  worker.stop();

  // Each request's lines, on the worker's side and the gateway's, carry its id.
  std::map<std::string, std::vector<std::string>> by_id;  // id -> messages
  for (const std::string& line : log.lines()) {
    Json j = Json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    if (j.contains("request_id")) {
      by_id[j["request_id"].get<std::string>()].push_back(j["message"].get<std::string>());
    }
  }
  auto has = [&](const std::string& id, const std::string& text) {
    for (const std::string& m : by_id[id]) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("client-chose-this-1", "extension line for /traced"));  // worker side
  EXPECT_TRUE(has("client-chose-this-1", "gateway: GET /traced -> worker"));
  EXPECT_TRUE(has(made_up, "extension line for /untraced"));
  EXPECT_TRUE(has(made_up, "gateway: GET /untraced -> worker"));
  EXPECT_FALSE(has("client-chose-this-1", "/untraced"));
}

// ---- DNS ---------------------------------------------------------------------------------

// A resolver whose answer the test sets (the pool's seam in place of getaddrinfo).
class FakeDns {
 public:
  void answer(std::vector<std::string> ips) {
    std::lock_guard<std::mutex> lock(mu_);
    ips_ = std::move(ips);
  }
  std::vector<std::string> resolve(const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    ++lookups_;
    return host == "workers.test" ? ips_ : std::vector<std::string>{};
  }
  int lookups() {
    std::lock_guard<std::mutex> lock(mu_);
    return lookups_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> ips_;
  int lookups_ = 0;
};

class Named final : public Dispatcher {
 public:
  explicit Named(std::string name) : name_(std::move(name)) {}
  Response dispatch(const Request&) override { return Response::text(200, name_); }

 private:
  std::string name_;
};

std::vector<std::string> addressesOf(const WorkerPool& pool) {
  std::vector<std::string> out;
  for (const auto& w : pool.snapshot()) out.push_back(w.address + (w.healthy ? "+" : "-"));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(WorkerPoolDns, FollowsTheNamesAnswerAsItChanges) {
  // Two workers on one port at two loopback addresses, as a headless Service's pods are.
  Named a_dispatcher("a"), b_dispatcher("b");
  WorkerServer::Options o;
  o.threads = 2;
  o.shutdown_grace_ms = 200;
  o.drain_quiet_ms = 0;
  o.listen = "127.0.0.1:0";
  WorkerServer a(o, a_dispatcher, {});
  ASSERT_TRUE(a.start().ok());
  const std::string port = std::to_string(a.port());
  o.listen = "127.0.0.2:" + port;
  WorkerServer b(o, b_dispatcher, {});
  ASSERT_TRUE(b.start().ok()) << "127.0.0.2:" << port << " is taken";

  FakeDns dns;
  dns.answer({"127.0.0.1"});
  WorkerPool::Options po;
  po.targets = {"workers.test:" + port};
  po.health_interval_ms = 20;
  po.resolve_interval_ms = 20;
  po.resolver = [&dns](const std::string& host) { return dns.resolve(host); };
  auto created = WorkerPool::create(po);
  ASSERT_TRUE(created.ok()) << created.status();
  WorkerPool& pool = **created;
  pool.start();
  EXPECT_EQ(std::vector<std::string>{"127.0.0.1:" + port + "+"}, addressesOf(pool));
  GatewayDispatcher gateway(pool, {});
  EXPECT_EQ("a", gateway.dispatch(get("/x")).body);

  // The name gains an address: the pool adds that worker and sends it requests.
  dns.answer({"127.0.0.2", "127.0.0.1"});
  std::vector<std::string> both = {"127.0.0.1:" + port + "+", "127.0.0.2:" + port + "+"};
  ASSERT_TRUE(eventually([&] { return addressesOf(pool) == both; }))
      << ::testing::PrintToString(addressesOf(pool));
  std::set<std::string> answered;
  for (int i = 0; i < 20; ++i) answered.insert(gateway.dispatch(get("/x")).body);
  EXPECT_EQ((std::set<std::string>{"a", "b"}), answered);

  // It loses one: that worker leaves, every request goes to the other.
  dns.answer({"127.0.0.2"});
  ASSERT_TRUE(eventually([&] {
    return addressesOf(pool) == std::vector<std::string>{"127.0.0.2:" + port + "+"};
  })) << ::testing::PrintToString(addressesOf(pool));
  for (int i = 0; i < 10; ++i) EXPECT_EQ("b", gateway.dispatch(get("/x")).body);

  // The name stops resolving (a DNS outage): the pool keeps what it had.
  dns.answer({});
  int before = dns.lookups();
  ASSERT_TRUE(eventually([&] { return dns.lookups() >= before + 3; }));
  EXPECT_EQ(std::vector<std::string>{"127.0.0.2:" + port + "+"}, addressesOf(pool));
  EXPECT_EQ("b", gateway.dispatch(get("/x")).body);
  a.stop();
  b.stop();
}

}  // namespace
}  // namespace habanero::cluster
