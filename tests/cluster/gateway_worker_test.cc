// The gRPC wire of the cluster roles in one process: real WorkerServers on
// loopback ports, a real WorkerPool and GatewayDispatcher in front, and
// Dispatchers whose answers and timing the tests control.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "cluster/conversions.h"
#include "cluster/gateway_dispatcher.h"
#include "cluster/metrics.h"
#include "cluster/worker_pool.h"
#include "cluster/worker_service.h"

namespace habanero::cluster {
namespace {

// Answers "<name> <method> <path>" and counts calls; may hold requests until released.
class NamedDispatcher final : public Dispatcher {
 public:
  explicit NamedDispatcher(std::string name) : name_(std::move(name)) {}

  Response dispatch(const Request& request) override {
    calls_.fetch_add(1);
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !hold_; });
      --waiting_;
    }
    Response r = Response::text(200, name_ + " " + request.method + " " + request.path);
    r.headers.emplace_back("X-Body-Size", std::to_string(request.body.size()));
    return r;
  }

  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  void waitForWaiting(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }
  int calls() const { return calls_.load(); }

 private:
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  int waiting_ = 0;
  std::atomic<int> calls_{0};
};

struct Worker {
  explicit Worker(std::string name, uint32_t threads = 2, uint32_t max_queued = 16,
                  TlsFiles tls = {})
      : dispatcher(name) {
    WorkerServer::Options o;
    o.tls = tls;
    o.listen = "127.0.0.1:0";
    o.threads = threads;
    o.max_queued = max_queued;
    o.shutdown_grace_ms = 200;
    o.drain_quiet_ms = 0;
    server = std::make_unique<WorkerServer>(o, dispatcher, WorkerServer::Hooks{});
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(server->port()); }

  NamedDispatcher dispatcher;
  std::unique_ptr<WorkerServer> server;
};

std::unique_ptr<WorkerPool> poolOf(const std::vector<std::string>& targets, TlsFiles tls = {}) {
  WorkerPool::Options o;
  o.targets = targets;
  o.tls = tls;
  o.health_interval_ms = 50;
  auto pool = WorkerPool::create(o);
  EXPECT_TRUE(pool.ok()) << pool.status();
  (*pool)->start();
  return std::move(*pool);
}

Request get(std::string path) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  return r;
}

TEST(Conversions, RequestAndResponseSurviveTheWire) {
  Request in;
  in.method = "POST";
  in.path = "/token";
  in.query = std::string("a=1&b=\xff\x00z", 9);
  in.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"X-Obs", std::string("caf\xe9", 4)},
                {"X-Dup", "1"},
                {"X-Dup", "2"}};
  in.body = std::string("grant_type=x\0\x01", 14);
  in.remote_addr = "203.0.113.7";
  in.secure = true;
  v1::DispatchRequest wire;
  toProto(in, "rid-1", 1234, wire);
  std::string bytes = wire.SerializeAsString();
  v1::DispatchRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ("rid-1", parsed.request_id());
  EXPECT_EQ(1234u, parsed.deadline_ms());
  Request out = fromProto(parsed);
  EXPECT_EQ(in.method, out.method);
  EXPECT_EQ(in.path, out.path);
  EXPECT_EQ(in.query, out.query);
  EXPECT_EQ(in.headers, out.headers);
  EXPECT_EQ(in.body, out.body);
  EXPECT_EQ(in.remote_addr, out.remote_addr);
  EXPECT_TRUE(out.secure);

  Response resp = Response::text(201, std::string("\x89PNG\0", 5));
  resp.headers.emplace_back("Set-Cookie", "a=1");
  resp.headers.emplace_back("Set-Cookie", "b=2");
  v1::DispatchResponse rw;
  toProto(resp, rw);
  Response back = fromProto(rw);
  EXPECT_EQ(201, back.status);
  EXPECT_EQ(resp.headers, back.headers);
  EXPECT_EQ(resp.body, back.body);
  rw.set_status(42);
  EXPECT_EQ(502, fromProto(rw).status);
}

TEST(WorkerTargets, SplitsHostAndPort) {
  EXPECT_EQ(std::make_pair(std::string("10.0.0.1"), std::string("9090")),
            *splitTarget("10.0.0.1:9090"));
  EXPECT_EQ(std::make_pair(std::string("::1"), std::string("7")), *splitTarget("[::1]:7"));
  EXPECT_EQ(std::make_pair(std::string("workers.internal"), std::string("9090")),
            *splitTarget("workers.internal:9090"));
  for (const char* bad : {"host", "host:", ":9090", "host:0", "host:65536", "host:12a", "[::1]",
                          "[::1]9090", "host:999999"}) {
    EXPECT_FALSE(splitTarget(bad).ok()) << bad;
  }
  WorkerPool::Options o;
  EXPECT_FALSE(WorkerPool::create(o).ok());  // no workers
  o.targets = {"nonsense"};
  auto pool = WorkerPool::create(o);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(std::string::npos, pool.status().message().find("nonsense"));
}

TEST(Metrics, ExtensionOfAPath) {
  std::vector<std::pair<std::string, std::string>> mounts = {
      {"oauth2", "/"}, {"password", "/login/password"}, {"hello", "/hello"}};
  EXPECT_EQ("oauth2", extensionForPath("/token", mounts));
  EXPECT_EQ("password", extensionForPath("/login/password/", mounts));
  EXPECT_EQ("hello", extensionForPath("/hello", mounts));
  EXPECT_EQ("oauth2", extensionForPath("/hellox", mounts));
  EXPECT_EQ("host", extensionForPath("/login", mounts));
  EXPECT_EQ("host", extensionForPath("/static/style.css", mounts));
  EXPECT_EQ("host", extensionForPath("/admin/clients", mounts));
  EXPECT_EQ("host", extensionForPath("/x", {}));
}

TEST(Gateway, ForwardsAndBalancesOverHealthyWorkers) {
  Worker a("a"), b("b");
  ASSERT_TRUE(a.server->start().ok());
  ASSERT_TRUE(b.server->start().ok());
  auto pool = poolOf({a.target(), b.target()});
  EXPECT_EQ(2u, pool->healthyCount());
  GatewayDispatcher gateway(*pool, {});
  for (int i = 0; i < 20; ++i) {
    Request r = get("/x");
    r.headers.emplace_back("X-Request-Id", "id-" + std::to_string(i));
    r.body = std::string(100000, 'b');
    Response resp = gateway.dispatch(r);
    ASSERT_EQ(200, resp.status) << resp.body;
    EXPECT_NE(std::string::npos, resp.body.find(" GET /x"));
    EXPECT_EQ("id-" + std::to_string(i), *findHeader(resp.headers, "x-request-id"));
    EXPECT_EQ("100000", *findHeader(resp.headers, "x-body-size"));
  }
  // Round the set: both workers answered.
  EXPECT_GT(a.dispatcher.calls(), 0);
  EXPECT_GT(b.dispatcher.calls(), 0);
  EXPECT_EQ(20u, gateway.counters().forwarded.load());

  Metrics metrics;
  metrics.watchGateway(*pool, gateway);
  metrics.observe("oauth2", "/token", 200, 0.002);
  std::string text = metrics.render();
  EXPECT_NE(std::string::npos, text.find("habanero_gateway_workers_healthy 2"));
  EXPECT_NE(std::string::npos,
            text.find("habanero_gateway_requests_total{outcome=\"forwarded\"} 20"));
  EXPECT_NE(std::string::npos,
            text.find("habanero_http_requests_total{extension=\"oauth2\",route=\"/token\","
                      "status=\"200\"} 1"));
}

TEST(Gateway, NoWorkerIs503WithRetryAfter) {
  // A port nobody listens on: bind one and close it.
  Worker gone("gone");
  ASSERT_TRUE(gone.server->start().ok());
  std::string target = gone.target();
  gone.server->stop();
  auto pool = poolOf({target});
  EXPECT_EQ(0u, pool->healthyCount());
  GatewayDispatcher gateway(*pool, {});
  Request post = get("/token");
  post.method = "POST";
  Response r = gateway.dispatch(post);
  EXPECT_EQ(503, r.status);
  EXPECT_EQ("1", *findHeader(r.headers, "retry-after"));
  EXPECT_EQ(1u, gateway.counters().unavailable.load());
}

TEST(Gateway, AWorkerThatRefusesIsSkippedForAnyMethod) {
  // max_queued 0: the refuser turns every request away before running it.
  Worker refuser("refuser", 1, 0), ok("ok");
  ASSERT_TRUE(refuser.server->start().ok());
  ASSERT_TRUE(ok.server->start().ok());
  auto pool = poolOf({refuser.target(), ok.target()});
  GatewayDispatcher gateway(*pool, {});
  for (int i = 0; i < 10; ++i) {
    Request post = get("/token");
    post.method = "POST";
    Response r = gateway.dispatch(post);
    ASSERT_EQ(200, r.status) << r.body;
    EXPECT_EQ("ok POST /token", r.body);
  }
  EXPECT_EQ(0, refuser.dispatcher.calls());
  EXPECT_EQ(10, ok.dispatcher.calls());
  EXPECT_GT(gateway.counters().retried.load(), 0u);
}

TEST(Gateway, DrainingWorkerRefusesAndTheGatewayGoesElsewhere) {
  Worker a("a"), b("b");
  ASSERT_TRUE(a.server->start().ok());
  ASSERT_TRUE(b.server->start().ok());
  auto pool = poolOf({a.target(), b.target()});
  GatewayDispatcher gateway(*pool, {});
  a.server->drain();  // health NOT_SERVING; Dispatch refused without running
  for (int i = 0; i < 10; ++i) {
    Request post = get("/token");
    post.method = "POST";
    Response r = gateway.dispatch(post);
    ASSERT_EQ(200, r.status) << r.body;
    EXPECT_EQ("b POST /token", r.body);
  }
  EXPECT_EQ(0, a.dispatcher.calls());
}

TEST(Gateway, DeadlineIs504AndThePostIsNotResent) {
  Worker slow("slow"), other("other");
  ASSERT_TRUE(slow.server->start().ok());
  ASSERT_TRUE(other.server->start().ok());
  auto pool = poolOf({slow.target(), other.target()});
  GatewayDispatcher::Options o;
  o.request_timeout_ms = 300;
  GatewayDispatcher gateway(*pool, o);
  slow.dispatcher.hold();
  other.dispatcher.hold();
  Request post = get("/token");
  post.method = "POST";
  Response r = gateway.dispatch(post);
  EXPECT_EQ(504, r.status);
  slow.dispatcher.release();
  other.dispatcher.release();
  EXPECT_EQ(1, slow.dispatcher.calls() + other.dispatcher.calls());  // run once, never resent
  EXPECT_EQ(1u, gateway.counters().deadline.load());
}

TEST(Gateway, AWorkerLostMidRequestFailsAPostOnce) {
  Worker a("a");
  ASSERT_TRUE(a.server->start().ok());
  auto pool = poolOf({a.target()});
  GatewayDispatcher gateway(*pool, {});
  a.dispatcher.hold();
  Response result;
  std::thread t([&] {
    Request post = get("/token");
    post.method = "POST";
    result = gateway.dispatch(post);
  });
  a.dispatcher.waitForWaiting(1);
  // stop() waits out the grace, then cuts the call; it returns once the
  // handler (held here) has finished.
  std::thread stopper([&] { a.server->stop(); });
  t.join();
  EXPECT_EQ(502, result.status) << result.body;  // it may have run: never sent again
  EXPECT_EQ(1u, gateway.counters().failed_in_flight.load());
  a.dispatcher.release();
  stopper.join();
  EXPECT_EQ(1, a.dispatcher.calls());
}

TEST(Gateway, AWorkerLostMidRequestRetriesAGetElsewhere) {
  Worker a("a"), b("b");
  ASSERT_TRUE(a.server->start().ok());
  ASSERT_TRUE(b.server->start().ok());
  auto pool = poolOf({a.target(), b.target()});
  GatewayDispatcher gateway(*pool, {});
  a.dispatcher.hold();
  b.dispatcher.hold();
  Response result;
  std::thread t([&] { result = gateway.dispatch(get("/jwks.json")); });
  while (a.dispatcher.calls() + b.dispatcher.calls() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Worker& first = a.dispatcher.calls() ? a : b;
  Worker& second = a.dispatcher.calls() ? b : a;
  std::thread stopper([&] { first.server->stop(); });
  second.dispatcher.waitForWaiting(1);  // the gateway sent it again, to the other
  second.dispatcher.release();
  t.join();
  EXPECT_EQ(200, result.status) << result.body;
  EXPECT_EQ(second.dispatcher.calls(), 1);
  first.dispatcher.release();
  stopper.join();
}

// A CA, a worker certificate for 127.0.0.1 and a gateway (client) certificate,
// made with the openssl command line in a temporary directory.
class Certificates {
 public:
  Certificates() {
    char tmpl[] = "/tmp/habanero-mtls-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir_ = tmpl;
    std::string d = dir_;
    std::string script =
        "set -e; cd " + d + "; exec >/dev/null 2>&1;"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
        "  -subj /CN=test-ca -keyout ca.key -out ca.pem;"
        "for who in worker gateway other; do"
        "  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$who"
        "    -keyout $who.key -out $who.csr;"
        "done;"
        "echo subjectAltName=IP:127.0.0.1 > san.ext;"
        "openssl x509 -req -in worker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        "  -extfile san.ext -out worker.pem;"
        "openssl x509 -req -in gateway.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        "  -out gateway.pem;"
        // "other": signed by a CA of its own, which the worker does not trust.
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
        "  -subj /CN=other-ca -keyout other-ca.key -out other-ca.pem;"
        "openssl x509 -req -in other.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial"
        "  -days 2 -out other.pem";
    ok_ = std::system(("sh -c '" + script + "'").c_str()) == 0;
  }
  ~Certificates() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  TlsFiles files(const std::string& who) const {
    return {dir_ + "/" + who + ".pem", dir_ + "/" + who + ".key", dir_ + "/ca.pem"};
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(Gateway, MutualTlsAcceptsOnlyCertificatesOfTheCa) {
  Certificates certs;
  ASSERT_TRUE(certs.ok()) << "openssl failed";
  Worker w("tls", 2, 16, certs.files("worker"));
  ASSERT_TRUE(w.server->start().ok());

  auto pool = poolOf({w.target()}, certs.files("gateway"));
  EXPECT_EQ(1u, pool->healthyCount());
  GatewayDispatcher gateway(*pool, {});
  Response r = gateway.dispatch(get("/over-tls"));
  EXPECT_EQ(200, r.status) << r.body;
  EXPECT_EQ("tls GET /over-tls", r.body);

  // A gateway whose certificate another CA signed is refused: no healthy worker, 503.
  TlsFiles other = certs.files("other");
  auto stranger = poolOf({w.target()}, other);
  EXPECT_EQ(0u, stranger->healthyCount());
  GatewayDispatcher refused(*stranger, {});
  EXPECT_EQ(503, refused.dispatch(get("/over-tls")).status);
  // And one that presents no certificate at all.
  TlsFiles anonymous{"", "", certs.files("gateway").ca};
  auto nameless = poolOf({w.target()}, anonymous);
  EXPECT_EQ(0u, nameless->healthyCount());
  EXPECT_EQ(1, w.dispatcher.calls());

  // Misconfiguration is a clear error, not a crash.
  WorkerPool::Options o;
  o.targets = {w.target()};
  o.tls = {certs.files("gateway").cert, certs.files("gateway").key, "/nonexistent/ca.pem"};
  auto bad = WorkerPool::create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string::npos, bad.status().message().find("/nonexistent/ca.pem"));
}

}  // namespace
}  // namespace habanero::cluster
