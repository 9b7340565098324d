// HttpServer against real sockets on 127.0.0.1, port 0. The client side is
// raw Boost.Asio (plus Beast's response parser), with a deadline on every read
// so a misbehaving server fails the test instead of hanging it.
#include "http/server.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace habanero::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using WireResponse = bhttp::response<bhttp::string_body>;

// Echoes the request; /slow sleeps first; /bad-header returns a header that
// would split the response.
class TestDispatcher : public Dispatcher {
 public:
  Response dispatch(const Request& request) override {
    calls.fetch_add(1);
    if (request.path == "/gate") {  // blocks until the test opens the gate
      std::unique_lock lock(gate_mu);
      ++gated;
      gate_cv.notify_all();
      gate_cv.wait(lock, [this] { return gate_open; });
      return Response::text(200, "gate passed");
    }
    if (request.path == "/slow") {
      slow_started.store(true);
      std::this_thread::sleep_for(slow_for);
      return Response::text(200, "slow done");
    }
    if (request.path == "/bad-header") {
      Response r = Response::text(200, "x");
      r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: injected=1");
      return r;
    }
    if (request.path == "/no-content")
      return Response{.status = 204, .headers = {}, .body = "ignored"};
    Response r = Response::text(200, request.method + " " + request.path + "?" + request.query +
                                         "|" + request.body + "|" + request.remote_addr + "|" +
                                         (request.secure ? "tls" : "plain"));
    r.headers.emplace_back("X-Test", "1");
    r.headers.emplace_back("Content-Length", "999");  // must be ignored
    return r;
  }

  // Waits until `n` requests are blocked at /gate; false after 10 s.
  bool waitGated(int n) {
    std::unique_lock lock(gate_mu);
    return gate_cv.wait_for(lock, 10s, [&] { return gated >= n; });
  }
  void openGate() {
    std::lock_guard lock(gate_mu);
    gate_open = true;
    gate_cv.notify_all();
  }

  std::mutex gate_mu;
  std::condition_variable gate_cv;
  int gated = 0;
  bool gate_open = false;
  std::atomic<int> calls{0};
  std::atomic<bool> slow_started{false};
  std::chrono::milliseconds slow_for{500};
};

// A blocking test client with per-operation deadlines.
class Client {
 public:
  explicit Client(uint16_t port, net::ssl::context* tls = nullptr) : plain_(ioc_) {
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    if (tls != nullptr) {
      tls_ = std::make_unique<net::ssl::stream<tcp::socket>>(ioc_, *tls);
      tls_->next_layer().connect(endpoint, connect_ec_);
    } else {
      plain_.connect(endpoint, connect_ec_);
    }
  }

  beast::error_code connectError() const { return connect_ec_; }

  beast::error_code handshake(const std::string& host) {
    SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
    tls_->set_verify_mode(net::ssl::verify_peer);
    tls_->set_verify_callback(net::ssl::host_name_verification(host));
    return run(
        [&](auto handler) {
          tls_->async_handshake(net::ssl::stream_base::client,
                                [handler](beast::error_code ec) mutable { handler(ec, 0); });
        },
        5s);
  }

  beast::error_code send(std::string_view data) {
    return run(
        [&](auto handler) {
          with([&](auto& s) {
            net::async_write(s, net::buffer(data.data(), data.size()), handler);
          });
        },
        5s);
  }

  // One response; std::nullopt on error, EOF or timeout. `head`: the response
  // to a HEAD request (no body follows its Content-Length).
  std::optional<WireResponse> read(std::chrono::milliseconds timeout = 5s, bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    if (head) parser.skip(true);
    beast::error_code ec = run(
        [&](auto handler) {
          with([&](auto& s) { bhttp::async_read(s, buffer_, parser, handler); });
        },
        timeout);
    if (ec) return std::nullopt;
    return parser.release();
  }

  void close() {
    beast::error_code ignored;
    lowest().close(ignored);
  }

  // True when the server closes (EOF, reset, TLS truncation) within `timeout`;
  // false if data arrives or nothing happens.
  bool closedWithin(std::chrono::milliseconds timeout) {
    if (buffer_.size() > 0) return false;
    char byte;
    beast::error_code ec = run(
        [&](auto handler) {
          with([&](auto& s) { s.async_read_some(net::buffer(&byte, 1), handler); });
        },
        timeout);
    return ec && ec != net::error::timed_out;
  }

 private:
  template <class F>
  void with(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(plain_);
    }
  }

  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : plain_; }

  // Starts an async operation (`start(handler)`) and runs it to completion or
  // `timeout`; on timeout the socket's operations are cancelled and timed_out
  // is returned.
  template <class Start>
  beast::error_code run(Start start, std::chrono::milliseconds timeout) {
    std::optional<beast::error_code> result;
    start([&result](beast::error_code ec, std::size_t) { result = ec; });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!result) {
      beast::error_code ignored;
      lowest().cancel(ignored);
      ioc_.restart();
      ioc_.run();
      return net::error::timed_out;
    }
    return *result;
  }

  net::io_context ioc_;
  tcp::socket plain_;
  std::unique_ptr<net::ssl::stream<tcp::socket>> tls_;
  beast::flat_buffer buffer_;
  beast::error_code connect_ec_;
};

std::string get(std::string_view target, std::string_view extra = "") {
  return std::string("GET ")
      .append(target)
      .append(" HTTP/1.1\r\nHost: localhost\r\n")
      .append(extra)
      .append("\r\n");
}

std::string post(std::string_view target, std::string_view body) {
  return std::string("POST ")
      .append(target)
      .append(" HTTP/1.1\r\nHost: localhost\r\nContent-Length: ")
      .append(std::to_string(body.size()))
      .append("\r\n\r\n")
      .append(body);
}

HttpServer::Options testOptions() {
  HttpServer::Options options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.read_timeout_ms = 2000;
  options.idle_timeout_ms = 5000;
  options.shutdown_grace_ms = 3000;
  return options;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void startServer(HttpServer::Options options = testOptions()) {
    server_ = std::make_unique<HttpServer>(std::move(options), dispatcher_);
    absl::Status status = server_->start();
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    dispatcher_.openGate();
    if (server_) server_->stop();
  }

  TestDispatcher dispatcher_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  startServer();
  Client client(server_->port());
  ASSERT_FALSE(client.connectError());
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(client.send(post("/echo?i=" + std::to_string(i), "body" + std::to_string(i))));
    auto response = client.read();
    ASSERT_TRUE(response.has_value()) << "request " << i;
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_EQ(response->body(), "POST /echo?i=" + std::to_string(i) + "|body" + std::to_string(i) +
                                    "|127.0.0.1|plain");
    EXPECT_TRUE(response->keep_alive());
    EXPECT_EQ((*response)[bhttp::field::server], "habanero");
    EXPECT_FALSE((*response)[bhttp::field::date].empty());
    EXPECT_EQ((*response)["X-Test"], "1");
    EXPECT_EQ((*response)[bhttp::field::content_length], std::to_string(response->body().size()));
  }
  EXPECT_EQ(dispatcher_.calls.load(), 3);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  startServer();
  Client client(server_->port());
  ASSERT_FALSE(client.send(get("/one") + post("/two", "2") + get("/three?x")));
  const char* expected[] = {"GET /one?||127.0.0.1|plain", "POST /two?|2|127.0.0.1|plain",
                            "GET /three?x||127.0.0.1|plain"};
  for (const char* body : expected) {
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body(), body);
  }
}

TEST_F(HttpServerTest, HealthzFollowsReadiness) {
  startServer();
  Client client(server_->port());
  ASSERT_FALSE(client.send(get("/healthz")));
  auto before = client.read();
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->result_int(), 503);

  server_->setReady(true);
  ASSERT_FALSE(client.send(get("/healthz")));
  auto after = client.read();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->result_int(), 200);
  EXPECT_EQ(after->body(), "ok");

  ASSERT_FALSE(client.send(post("/healthz", "")));
  auto post_response = client.read();
  ASSERT_TRUE(post_response.has_value());
  EXPECT_EQ(post_response->result_int(), 405);
  EXPECT_EQ(dispatcher_.calls.load(), 0);
}

TEST_F(HttpServerTest, HugeHeadersGet431AndClose) {
  auto options = testOptions();
  options.max_header_bytes = 1024;
  startServer(options);
  Client client(server_->port());
  client.send(get("/", "X-Big: " + std::string(8192, 'a') + "\r\n"));
  auto response = client.read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 431);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.closedWithin(3s));
  EXPECT_EQ(dispatcher_.calls.load(), 0);
}

TEST_F(HttpServerTest, HugeBodyGets413) {
  auto options = testOptions();
  options.max_body_bytes = 1000;
  startServer(options);
  {
    // Refused from Content-Length alone, before the body is sent.
    Client client(server_->port());
    client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->result_int(), 413);
    EXPECT_TRUE(client.closedWithin(3s));
  }
  {
    Client client(server_->port());
    std::string chunk(800, 'b');
    client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" +
                chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->result_int(), 413);
  }
  {
    Client client(server_->port());
    client.send(post("/echo", std::string(1000, 'c')));
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->result_int(), 200);
  }
  EXPECT_EQ(dispatcher_.calls.load(), 1);
}

TEST_F(HttpServerTest, MalformedRequestLineGets400AndClose) {
  startServer();
  Client client(server_->port());
  client.send("THIS IS NOT HTTP\r\n\r\n");
  auto response = client.read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 400);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.closedWithin(3s));
  EXPECT_EQ(dispatcher_.calls.load(), 0);
}

TEST_F(HttpServerTest, UnsupportedTransferCodingGets501) {
  startServer();
  Client client(server_->port());
  client.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxxxx");
  auto response = client.read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 501);
  EXPECT_TRUE(client.closedWithin(3s));
}

TEST_F(HttpServerTest, SlowClientIsCutOffAtReadTimeout) {
  auto options = testOptions();
  options.read_timeout_ms = 300;
  startServer(options);
  Client client(server_->port());
  const std::string request = get("/echo", "X-Padding: " + std::string(40, 'p') + "\r\n");
  auto start = Clock::now();
  bool closed = false;
  // One byte every 50 ms: each byte is "on time", the request as a whole is not.
  for (char c : request) {
    client.send(std::string_view(&c, 1));
    if (client.closedWithin(50ms)) {
      closed = true;
      break;
    }
  }
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed) << "the server kept a slow client for the whole request";
  EXPECT_LT(elapsed, 2s);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_EQ(dispatcher_.calls.load(), 0);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  auto options = testOptions();
  options.idle_timeout_ms = 200;
  startServer(options);
  Client client(server_->port());
  client.send(get("/echo"));
  ASSERT_TRUE(client.read().has_value());
  auto start = Clock::now();
  EXPECT_TRUE(client.closedWithin(3s));
  EXPECT_GE(Clock::now() - start, 150ms);
}

TEST_F(HttpServerTest, Expect100ContinueGetsInterimResponse) {
  startServer();
  Client client(server_->port());
  client.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  auto interim = client.read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100);
  client.send("data");
  auto response = client.read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body(), "POST /echo?|data|127.0.0.1|plain");
}

TEST_F(HttpServerTest, HeadSendsLengthButNoBody) {
  startServer();
  Client client(server_->port());
  client.send("HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n" + get("/after"));
  auto head = client.read(5s, /*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->result_int(), 200);
  EXPECT_EQ((*head)[bhttp::field::content_length],
            std::to_string(std::string("HEAD /echo?||127.0.0.1|plain").size()));
  auto next = client.read();  // would be garbage if a body had been sent
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "GET /after?||127.0.0.1|plain");
}

TEST_F(HttpServerTest, NoContentHasNoBody) {
  startServer();
  Client client(server_->port());
  client.send(get("/no-content") + get("/after"));
  auto none = client.read();
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->result_int(), 204);
  EXPECT_TRUE(none->body().empty());
  auto next = client.read();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "GET /after?||127.0.0.1|plain");
}

TEST_F(HttpServerTest, ResponseSplittingHeaderBecomes500) {
  startServer();
  Client client(server_->port());
  client.send(get("/bad-header"));
  auto response = client.read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 500);
  EXPECT_EQ(response->count("Set-Cookie"), 0u);
  EXPECT_EQ(response->count("X-Evil"), 0u);
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  startServer();
  {
    Client client(server_->port());
    client.send("GET /echo HTTP/1.0\r\n\r\n");
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->version(), 10u);
    EXPECT_TRUE(client.closedWithin(3s));
  }
  {
    Client client(server_->port());
    client.send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_TRUE(response->keep_alive());
    client.send("GET /echo2 HTTP/1.0\r\n\r\n");
    auto second = client.read();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->body(), "GET /echo2?||127.0.0.1|plain");
  }
}

TEST_F(HttpServerTest, GracefulStopLetsInFlightRequestFinish) {
  dispatcher_.slow_for = 500ms;
  startServer();
  uint16_t port = server_->port();
  Client client(port);
  client.send(get("/slow"));
  while (!dispatcher_.slow_started.load()) std::this_thread::sleep_for(5ms);

  auto stop_start = Clock::now();
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  auto response = client.read();
  ASSERT_TRUE(response.has_value()) << "the in-flight request was cut off";
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body(), "slow done");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.closedWithin(3s));
  client.close();
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_LT(Clock::now() - stop_start, 2s);  // the slow request, not the 3 s grace period

  Client late(port);
  EXPECT_TRUE(late.connectError()) << "still accepting after stop()";
  server_->wait();  // returns at once
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsWithoutWaitingForGrace) {
  auto options = testOptions();
  options.shutdown_grace_ms = 10'000;
  startServer(options);
  Client client(server_->port());
  client.send(get("/echo"));
  ASSERT_TRUE(client.read().has_value());
  Client silent(server_->port());  // connected, never sends
  std::this_thread::sleep_for(50ms);

  auto start = Clock::now();
  server_->stop();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_TRUE(client.closedWithin(1s));
  EXPECT_TRUE(silent.closedWithin(1s));
}

TEST_F(HttpServerTest, WaitReturnsAfterStopFromAnotherThread) {
  startServer();
  auto waiter = std::async(std::launch::async, [&] { server_->wait(); });
  EXPECT_EQ(waiter.wait_for(100ms), std::future_status::timeout);
  server_->stop();
  EXPECT_EQ(waiter.wait_for(5s), std::future_status::ready);
}

TEST_F(HttpServerTest, BindErrorNamesTheAddress) {
  startServer();
  auto options = testOptions();
  options.port = server_->port();
  HttpServer second(options, dispatcher_);
  absl::Status status = second.start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos)
      << status;
}

TEST_F(HttpServerTest, StartTwiceFails) {
  startServer();
  EXPECT_EQ(server_->start().code(), absl::StatusCode::kFailedPrecondition);
}

// --- TLS ----------------------------------------------------------------------

// A self-signed certificate for "localhost" / 127.0.0.1, written as PEM files.
struct TestCertificate {
  std::string dir;
  std::string cert_path;
  std::string key_path;

  static TestCertificate create() {
    TestCertificate out;
    std::string tmpl = ::testing::TempDir() + "habanero_tls_XXXXXX";
    char* dir = mkdtemp(tmpl.data());
    EXPECT_NE(dir, nullptr);
    out.dir = tmpl;
    out.cert_path = out.dir + "/cert.pem";
    out.key_path = out.dir + "/key.pem";

    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x509 = X509_new();
    X509_set_version(x509, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
    X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x509), 24 * 3600);
    X509_set_pubkey(x509, key);
    X509_NAME* name = X509_get_subject_name(x509);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x509, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(x509, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(x509, key, EVP_sha256());

    FILE* f = fopen(out.cert_path.c_str(), "w");
    PEM_write_X509(f, x509);
    fclose(f);
    f = fopen(out.key_path.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
    X509_free(x509);
    EVP_PKEY_free(key);
    return out;
  }

  ~TestCertificate() {
    if (!dir.empty()) {
      unlink(cert_path.c_str());
      unlink(key_path.c_str());
      rmdir(dir.c_str());
    }
  }
};

TEST_F(HttpServerTest, ServesHttpsWithSelfSignedCertificate) {
  TestCertificate cert = TestCertificate::create();
  auto options = testOptions();
  options.tls_cert_file = cert.cert_path;
  options.tls_key_file = cert.key_path;
  startServer(options);

  net::ssl::context client_tls(net::ssl::context::tls_client);
  client_tls.load_verify_file(cert.cert_path);
  Client client(server_->port(), &client_tls);
  ASSERT_FALSE(client.connectError());
  beast::error_code ec = client.handshake("localhost");
  ASSERT_FALSE(ec) << ec.message();
  for (int i = 0; i < 2; ++i) {
    client.send(post("/secure", "s"));
    auto response = client.read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_EQ(response->body(), "POST /secure?|s|127.0.0.1|tls");
    EXPECT_EQ(response->at("Strict-Transport-Security"), "max-age=31536000");
  }

  // Plain HTTP on the TLS port gets nothing but a closed connection.
  Client plain(server_->port());
  plain.send(get("/echo"));
  EXPECT_FALSE(plain.read(3s).has_value());
  EXPECT_EQ(dispatcher_.calls.load(), 2);
}

TEST_F(HttpServerTest, BadTlsFilesAreReported) {
  auto options = testOptions();
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  HttpServer server(options, dispatcher_);
  absl::Status status = server.start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("/nonexistent/cert.pem"), std::string::npos) << status;

  options.tls_key_file = "";
  HttpServer half(options, dispatcher_);
  EXPECT_EQ(half.start().code(), absl::StatusCode::kInvalidArgument);
}


// The execution model (issue 12): io threads only parse and write. With one io
// thread and four requests blocked in the Dispatcher, another request is still
// read, dispatched and answered. (Before the dispatch queue, the first blocked
// request held the only io thread and nothing else was even read.)
TEST_F(HttpServerTest, IoThreadsNeverWaitOnTheDispatcher) {
  auto options = testOptions();
  options.threads = 1;
  options.dispatch_threads = 8;
  startServer(options);
  std::vector<std::unique_ptr<Client>> blocked;
  for (int i = 0; i < 4; ++i) {
    blocked.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_FALSE(blocked.back()->send(get("/gate")));
  }
  ASSERT_TRUE(dispatcher_.waitGated(4)) << "the blocked requests did not all reach the Dispatcher";

  Client other(server_->port());
  other.send(get("/echo"));
  auto answer = other.read();
  ASSERT_TRUE(answer.has_value()) << "a request waited for blocked ones";
  EXPECT_EQ(answer->result_int(), 200);
  // The /echo thread hands its response to the io thread before it stops counting as
  // running, so the answer can arrive while it still counts: wait for it to finish.
  for (int i = 0; i < 2000 && server_->queueStats().running != 4u; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(server_->queueStats().running, 4u);

  dispatcher_.openGate();
  for (auto& client : blocked) {
    auto r = client->read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body(), "gate passed");
  }
}

// Back-pressure: past max_queued_requests waiting, a request gets 503 with
// Retry-After at once and never reaches the Dispatcher.
TEST_F(HttpServerTest, FullDispatchQueueAnswers503WithRetryAfter) {
  auto options = testOptions();
  options.dispatch_threads = 1;
  options.max_queued_requests = 1;
  options.retry_after_s = 7;
  startServer(options);
  Client running(server_->port()), queued(server_->port()), refused(server_->port());
  running.send(get("/gate"));
  ASSERT_TRUE(dispatcher_.waitGated(1));
  queued.send(get("/echo"));
  for (int i = 0; i < 1000 && server_->queueStats().queued < 1; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server_->queueStats().queued, 1u);

  refused.send(get("/echo"));
  auto busy = refused.read();
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->result_int(), 503);
  EXPECT_EQ(busy->at("Retry-After"), "7");
  EXPECT_EQ(server_->queueStats().rejected, 1u);

  dispatcher_.openGate();
  auto first = running.read();
  auto second = queued.read();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->result_int(), 200);
  EXPECT_EQ(second->result_int(), 200);
  EXPECT_EQ(dispatcher_.calls.load(), 2);  // the refused one never ran
}

// A request that waited longer than queue_timeout_ms for a dispatch thread is
// answered 503 + Retry-After without running.
TEST_F(HttpServerTest, RequestThatWaitedTooLongGets503) {
  auto options = testOptions();
  options.dispatch_threads = 1;
  // Not 1 ms: on a loaded machine the first request itself could wait that long for the
  // idle thread and expire (as DispatchQueueTest's twin did once).
  options.queue_timeout_ms = 100;
  startServer(options);
  Client running(server_->port()), waiting(server_->port());
  running.send(get("/gate"));
  ASSERT_TRUE(dispatcher_.waitGated(1));
  waiting.send(get("/echo"));
  for (int i = 0; i < 1000 && server_->queueStats().queued < 1; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server_->queueStats().queued, 1u);
  std::this_thread::sleep_for(300ms);  // well past the 100 ms queue timeout
  dispatcher_.openGate();

  auto late = waiting.read();
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->result_int(), 503);
  EXPECT_EQ(late->at("Retry-After"), "1");
  EXPECT_EQ(server_->queueStats().expired, 1u);
  EXPECT_EQ(dispatcher_.calls.load(), 1);
}

// Behind a TLS-terminating proxy (issue 16): X-Forwarded-Proto/-For count
// only from trusted proxy addresses; secure requests get HSTS.
TEST_F(HttpServerTest, ForwardedHeadersCountOnlyFromTrustedProxies) {
  auto options = testOptions();
  options.trusted_proxies = {"127.0.0.0/8"};
  startServer(options);
  Client client(server_->port());
  client.send(get("/echo", "X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.9, 198.51.100.7\r\n"));
  auto r = client.read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "GET /echo?||198.51.100.7|tls");
  EXPECT_EQ(r->at("Strict-Transport-Security"), "max-age=31536000");
}

TEST_F(HttpServerTest, ForwardedHeadersFromOthersAreIgnored) {
  auto options = testOptions();
  options.trusted_proxies = {"10.0.0.0/8", "::2"};
  startServer(options);
  Client client(server_->port());
  client.send(get("/echo", "X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.9\r\n"));
  auto r = client.read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "GET /echo?||127.0.0.1|plain");
  EXPECT_EQ(r->count("Strict-Transport-Security"), 0u);
}

TEST_F(HttpServerTest, BadTrustedProxyIsNamed) {
  auto options = testOptions();
  options.trusted_proxies = {"10.0.0.0/33"};
  HttpServer server(options, dispatcher_);
  absl::Status status = server.start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("10.0.0.0/33"), std::string_view::npos) << status;
}

}  // namespace
}  // namespace habanero::http
