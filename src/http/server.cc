#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <future>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "http/dispatch_queue.h"

namespace habanero::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

using WireResponse = bhttp::response<bhttp::string_body>;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// Where parse errors keep the HTTP status the server answers with.
constexpr std::string_view kHttpStatusPayload = "type.habanero.dev/http-status";

// Bytes read per socket read; also the head-room of the read buffer beyond the
// header limit (see bufferLimit()).
constexpr size_t kReadChunk = 64 * 1024;

// After the last response on a connection: how long, and how much, we read and
// discard before closing, so the client sees the response rather than a reset.
constexpr uint32_t kLingerMs = 2000;
constexpr size_t kLingerBytes = 1024 * 1024;

// Debian's Abseil keeps its own absl::string_view (not an alias of std's).
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return absl::ascii_tolower(static_cast<unsigned char>(x)) ==
                  absl::ascii_tolower(static_cast<unsigned char>(y));
         });
}

// Strips optional whitespace (SP / HTAB) around a header value.
std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

absl::Status reject(int http_status, std::string_view text) {
  absl::string_view message = av(text);
  absl::Status status;
  switch (http_status) {
    case 413:
    case 431: status = absl::ResourceExhaustedError(message); break;
    case 501:
    case 505: status = absl::UnimplementedError(message); break;
    default: status = absl::InvalidArgumentError(message);
  }
  // Cord(absl::string_view), not the Cord(std::string&&) template: clang mangles
  // that template differently from the GCC build of Debian's libabsl_cord.
  const std::string code = std::to_string(http_status);
  status.SetPayload(av(kHttpStatusPayload), absl::Cord(absl::string_view(code)));
  return status;
}

uint32_t headerLimit(const Limits& limits) {
  return static_cast<uint32_t>(
      std::min<size_t>(std::max<size_t>(limits.max_header_bytes, 1), UINT32_MAX - kReadChunk));
}

// The read buffer never holds more than the header limit plus one read: a
// request header is refused (431) before it fills, and body bytes are moved
// out as they arrive. Chunk-size lines and trailers, which the parser does not
// count against the header limit, hit this bound instead.
size_t bufferLimit(const Limits& limits) { return size_t{headerLimit(limits)} + kReadChunk; }

// Parses one request straight into a habanero::Request: header fields in wire
// order with their names as sent, the body appended as it arrives (de-chunked),
// trailer fields dropped. One parser per request.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  RequestParser() = default;

  Request& request() { return request_; }
  std::string_view target() const { return target_; }
  bhttp::verb method() const { return method_; }
  unsigned version() const { return version_; }

 private:
  static std::string_view sv(beast::string_view s) { return std::string_view(s.data(), s.size()); }

  void on_request_impl(bhttp::verb method, beast::string_view method_str, beast::string_view target,
                       int version, beast::error_code& ec) override {
    method_ = method;
    version_ = static_cast<unsigned>(version);
    request_.method = std::string(sv(method_str));
    target_ = std::string(sv(target));
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    if (header_done_) return;  // a trailer field
    request_.headers.emplace_back(std::string(sv(name)), std::string(sv(value)));
  }
  void on_header_impl(beast::error_code&) override { header_done_ = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code&) override {
    // Content-Length is already within the body limit; still reserve at most
    // one read's worth up front, so idle clients that only announce big
    // bodies do not pin memory.
    if (content_length) request_.body.reserve(std::min<size_t>(*content_length, kReadChunk));
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request request_;
  std::string target_;
  bhttp::verb method_ = bhttp::verb::unknown;
  unsigned version_ = 11;
  bool header_done_ = false;
};

using Parser = RequestParser;

size_t countHeader(const Headers& headers, std::string_view name) {
  size_t n = 0;
  for (const auto& [k, v] : headers) n += iequals(k, name);
  return n;
}

void configureParser(Parser& parser, const Limits& limits) {
  parser.header_limit(headerLimit(limits));
  parser.body_limit(static_cast<uint64_t>(limits.max_body_bytes));
}

// True if the request line in `unparsed` ends in a well-formed "HTTP/d.d"
// (Beast refuses every version but 1.0 and 1.1 with the same error as garbage).
bool hasOtherHttpVersion(std::string_view unparsed) {
  std::string_view line = unparsed.substr(0, unparsed.find("\r\n"));
  if (line.size() < 9 || line.size() == unparsed.size()) return false;
  if (std::count(line.begin(), line.end(), ' ') != 2) return false;  // METHOD SP TARGET SP VERSION
  std::string_view v = line.substr(line.size() - 9);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return v.starts_with(" HTTP/") && digit(v[6]) && v[7] == '.' && digit(v[8]) && v != " HTTP/1.0" &&
         v != " HTTP/1.1";
}

// The HTTP status for a failed read, or 0 when there is nobody to answer
// (the client went away, timed out or the socket failed). `unparsed` is what
// the read buffer still holds.
int statusForReadError(const beast::error_code& ec, std::string_view unparsed) {
  static const auto& http_category = bhttp::make_error_code(bhttp::error::bad_method).category();
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) return 431;
  if (ec == bhttp::error::body_limit) return 413;
  if (ec == bhttp::error::bad_version && hasOtherHttpVersion(unparsed)) return 505;
  if (ec.category() != http_category) return 0;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == bhttp::error::need_more) {
    return 0;
  }
  return 400;  // bad_method, bad_target, bad_version, bad_field, bad_value, bad_chunk, ...
}

bool isTchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return isTchar(c); });
}

// Field values we are willing to put on the wire: no CR, LF, NUL or other
// controls except HTAB (obs-text bytes >= 0x80 are allowed).
bool isFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

// Splits a request-target into path and query. Accepts origin-form
// ("/p?q") and absolute-form ("http://host/p?q", whose authority is dropped:
// Host is the header's business).
absl::Status splitTarget(std::string_view target, std::string& path, std::string& query) {
  for (char ch : target) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7E || c == '#') return reject(400, "bad character in request target");
  }
  std::string_view rest = target;
  if (!rest.starts_with("/")) {
    std::string_view scheme_end = "://";
    size_t colon = rest.find(scheme_end);
    std::string_view scheme = colon == std::string_view::npos ? "" : rest.substr(0, colon);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
      return reject(400, "request target must be a path or an absolute http(s) URI");
    }
    rest.remove_prefix(colon + scheme_end.size());
    size_t end = rest.find_first_of("/?");
    if (end == 0) return reject(400, "absolute request target without authority");
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  size_t q = rest.find('?');
  std::string_view p = rest.substr(0, q);
  path = p.empty() ? "/" : std::string(p);
  query = q == std::string_view::npos ? std::string() : std::string(rest.substr(q + 1));
  return absl::OkStatus();
}

struct PendingRequest {
  bool expect_continue = false;
};

// Checks a parsed header and completes the Request's method, path and query.
// The one code path from the wire to a habanero::Request, shared by the
// server and parseRequestBytes().
absl::StatusOr<PendingRequest> beginRequest(Parser& parser) {
  Request& request = parser.request();
  unsigned version = parser.version();
  if (version != 10 && version != 11) return reject(505, "HTTP version not supported");
  if (parser.method() == bhttp::verb::connect) return reject(501, "CONNECT is not supported");

  size_t hosts = countHeader(request.headers, "host");
  if (hosts > 1 || (version == 11 && hosts == 0)) {
    return reject(400, "a request needs exactly one Host header");
  }

  // Beast only frames bodies by Content-Length or a final "chunked" coding; any
  // other coding would leave the body in the stream as the next request.
  size_t codings = countHeader(request.headers, "transfer-encoding");
  if (codings > 0) {
    if (version == 10) return reject(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (codings > 1 || !parser.chunked() ||
        !iequals(trimOws(*findHeader(request.headers, "transfer-encoding")), "chunked")) {
      return reject(501, "only the chunked transfer coding is supported");
    }
  }

  PendingRequest out;
  size_t expects = countHeader(request.headers, "expect");
  if (version == 11 && expects > 0) {  // HTTP/1.0: MUST ignore
    if (expects > 1 || !iequals(trimOws(*findHeader(request.headers, "expect")), "100-continue")) {
      return reject(417, "unsupported expectation");
    }
    out.expect_continue = true;
  }

  RETURN_IF_ERROR(splitTarget(parser.target(), request.path, request.query));
  return out;
}

std::string_view unparsed(const beast::flat_buffer& buffer) {
  return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
}

absl::Status readError(const beast::error_code& ec, const beast::flat_buffer& buffer) {
  int status = statusForReadError(ec, unparsed(buffer));
  if (status == 431) return reject(431, "request header too large");
  if (status == 413) return reject(413, "request body too large");
  if (status == 505) return reject(505, "HTTP version not supported");
  if (status == 400) return reject(400, absl::StrCat("malformed request: ", ec.message()));
  return reject(400, absl::StrCat("incomplete request: ", ec.message()));
}

// A SyncReadStream over bytes in memory, so parseRequestBytes() runs the same
// Beast read algorithm the server runs on a socket.
class MemoryReadStream {
 public:
  explicit MemoryReadStream(std::string_view data) : data_(data) {}

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
    if (data_.empty()) {
      ec = net::error::eof;
      return 0;
    }
    size_t n = net::buffer_copy(buffers, net::buffer(data_.data(), data_.size()));
    data_.remove_prefix(n);
    ec = {};
    return n;
  }

  // Required by the SyncReadStream concept; Beast's error_code overloads, the
  // only ones used here, never call it.
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code ec;
    return read_some(buffers, ec);
  }

 private:
  std::string_view data_;
};

std::string httpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                        kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                        tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// Headers the server owns; a Dispatcher's values for them are ignored.
bool isManagedHeader(std::string_view name) {
  for (std::string_view managed : {"content-length", "transfer-encoding", "connection",
                                   "keep-alive", "upgrade", "server", "date", "trailer"}) {
    if (iequals(name, managed)) return true;
  }
  return false;
}

// Builds the wire response. A Response the host must not send (status outside
// 200..599, a header that would break framing) becomes a 500.
WireResponse toWire(const Response& response, unsigned version, bool keep_alive) {
  const Response* r = &response;
  Response fallback;
  bool valid = r->status >= 200 && r->status <= 599;
  for (const auto& [name, value] : r->headers) {
    valid = valid && isToken(name) && isFieldValue(value);
  }
  if (!valid) {
    spdlog::error("http: dispatcher returned an invalid response (status {}); sending 500",
                  response.status);
    fallback = Response::text(500, "internal server error\n");
    r = &fallback;
  }

  WireResponse wire;
  wire.version(version == 10 ? 10 : 11);
  wire.result(static_cast<unsigned>(r->status));
  if (bhttp::int_to_status(static_cast<unsigned>(r->status)) == bhttp::status::unknown) {
    wire.reason("Unknown");
  }
  for (const auto& [name, value] : r->headers) {
    if (!isManagedHeader(name)) wire.insert(name, value);
  }
  wire.set(bhttp::field::server, "habanero");
  wire.set(bhttp::field::date, httpDate());
  if (r->status != 204 && r->status != 304) {
    wire.body() = r->body;
    wire.set(bhttp::field::content_length, std::to_string(r->body.size()));
  }
  wire.keep_alive(keep_alive);
  return wire;
}

std::string reasonText(int status) {
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  std::string text(reason.data(), reason.size());
  for (char& c : text) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return text + "\n";
}

std::string formatHostPort(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return absl::StrCat("[", av(host), "]:", port);
  return absl::StrCat(av(host), ":", port);
}

}  // namespace

absl::StatusOr<Request> parseRequestBytes(std::string_view bytes, const Limits& limits) {
  MemoryReadStream stream(bytes);
  beast::flat_buffer buffer(bufferLimit(limits));
  Parser parser;
  configureParser(parser, limits);
  beast::error_code ec;
  bhttp::read_header(stream, buffer, parser, ec);
  if (ec) return readError(ec, buffer);
  RETURN_IF_ERROR(beginRequest(parser).status());
  if (!parser.is_done()) {
    bhttp::read(stream, buffer, parser, ec);
    if (ec) return readError(ec, buffer);
  }
  return std::move(parser.request());
}

int httpStatusForError(const absl::Status& status) {
  auto payload = status.GetPayload(av(kHttpStatusPayload));
  int code = 0;
  if (payload.has_value() && absl::SimpleAtoi(std::string(*payload), &code)) return code;
  return 400;
}

absl::StatusOr<ListenAddress> parseListenAddress(std::string_view listen) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", av(listen), "\": ", av(why)));
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("expected HOST:PORT");
  std::string_view host = listen.substr(0, colon);
  std::string_view port_text = listen.substr(colon + 1);
  if (host.starts_with("[")) {
    if (!host.ends_with("]") || host.size() < 3) return bad("unbalanced '[' in IPv6 address");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("IPv6 addresses must be written in brackets, e.g. [::1]:8080");
  }
  if (host.empty()) return bad("missing host");
  uint32_t port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(av(port_text), &port) || port > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

// ---------------------------------------------------------------------------

class HttpServer::Impl {
 public:
  Impl(Options options, Dispatcher& dispatcher)
      : options_(std::move(options)),
        limits_{options_.max_header_bytes, options_.max_body_bytes},
        dispatcher_(dispatcher),
        ioc_(static_cast<int>(threadCount())),
        acceptor_(net::make_strand(ioc_)) {}

  ~Impl() { stop(); }

  absl::Status start();
  void stop();
  void wait() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return state_ != State::kRunning; });
  }
  uint16_t port() const { return port_.load(); }
  void setReady(bool ready) { ready_.store(ready); }
  QueueStats queueStats() const {
    std::lock_guard lock(queue_mu_);
    if (!queue_) return {};
    DispatchQueue::Stats s = queue_->stats();
    return QueueStats{s.queued, s.running, s.rejected, s.expired};
  }

 private:
  enum class State { kNew, kRunning, kStopped };

  // One accepted connection, as seen by stop(). `lowest` and `idle` are read
  // and written only on the connection's strand.
  struct Connection {
    uint64_t id = 0;
    net::any_io_executor strand;
    std::string remote_addr;
    beast::tcp_stream* lowest = nullptr;  // set while the session's stream exists
    bool idle = true;                     // no request in progress
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  // Clears Connection::lowest and unregisters when the session ends (also when
  // the io_context destroys a suspended session).
  class SessionGuard {
   public:
    SessionGuard(Impl& impl, ConnectionPtr conn, beast::tcp_stream& lowest)
        : impl_(impl), conn_(std::move(conn)) {
      conn_->lowest = &lowest;
    }
    ~SessionGuard() {
      conn_->lowest = nullptr;
      impl_.unregister(conn_->id);
    }

   private:
    Impl& impl_;
    ConnectionPtr conn_;
  };

  enum class CloseMode { kAbort, kLinger };

  uint32_t threadCount() const {
    if (options_.threads > 0) return options_.threads;
    return std::max(1u, std::thread::hardware_concurrency());
  }
  std::chrono::milliseconds readTimeout() const {
    return std::chrono::milliseconds(std::max<uint32_t>(options_.read_timeout_ms, 1));
  }
  std::chrono::milliseconds idleTimeout() const {
    return std::chrono::milliseconds(std::max<uint32_t>(options_.idle_timeout_ms, 1));
  }

  absl::Status loadTls();
  absl::Status loadTrustedProxies();
  bool trustedProxy(std::string_view address) const;
  // Applies X-Forwarded-Proto/-For from a trusted proxy (see Options).
  void applyForwarded(Request& request) const;
  void runIo();
  net::awaitable<void> acceptLoop();
  net::awaitable<void> session(tcp::socket socket, ConnectionPtr conn);
  template <class Stream>
  net::awaitable<CloseMode> serveRequests(Stream& stream, Connection& conn, bool secure);
  template <class Stream>
  net::awaitable<void> writeError(Stream& stream, int status, unsigned version);
  net::awaitable<void> lingeringClose(beast::tcp_stream& stream);
  Response healthz(const Request& request) const;
  Response busy() const;
  // Runs the Dispatcher for `request` on the dispatch queue and resumes the
  // calling coroutine on its own strand with the response. `request` must
  // stay alive until then (it lives in the suspended coroutine's frame).
  net::awaitable<Response> dispatchOffIo(const Request& request);
  void unregister(uint64_t id);
  void closeConnections(bool only_idle);

  const Options options_;
  const Limits limits_;
  Dispatcher& dispatcher_;
  std::unique_ptr<net::ssl::context> ssl_;  // set by start() when TLS is configured
  // Set by start() from Options::trusted_proxies; read-only afterwards.
  std::vector<net::ip::network_v4> trusted_v4_;
  std::vector<net::ip::network_v6> trusted_v6_;

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which then cannot see absl::Mutex's ordering.
  std::mutex lifecycle_mu_;  // serialises start() and stop()
  std::mutex mu_;
  std::condition_variable changed_;  // state_ or connections_ changed
  State state_ ABSL_GUARDED_BY(mu_) = State::kNew;
  std::unordered_map<uint64_t, ConnectionPtr> connections_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint16_t> port_{0};
  std::vector<std::thread> threads_;  // owned by start()/stop() under lifecycle_mu_
  // Created by start(), stopped by stop() after the io threads (every session
  // waiting on it has ended by then).
  mutable std::mutex queue_mu_;
  std::unique_ptr<DispatchQueue> queue_ ABSL_GUARDED_BY(queue_mu_);
  std::atomic<int64_t> last_full_log_s_{0};

  // Declared last: destroyed first. Destroying the io_context destroys
  // suspended sessions, whose guards still use mu_ and connections_.
  net::io_context ioc_;
  tcp::acceptor acceptor_;
};

absl::Status HttpServer::Impl::loadTls() {
  const std::string& cert = options_.tls_cert_file;
  const std::string& key = options_.tls_key_file;
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  beast::error_code ec;
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  ctx->use_certificate_chain_file(cert, ec);
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat("tls certificate ", cert, ": ", ec.message()));
  ctx->use_private_key_file(key, net::ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("tls key ", key, ": ", ec.message()));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls key ", key, " does not match certificate ", cert));
  }
  ssl_ = std::move(ctx);
  return absl::OkStatus();
}

absl::Status HttpServer::Impl::loadTrustedProxies() {
  for (const std::string& entry : options_.trusted_proxies) {
    std::string text = entry;
    if (text.find('/') == std::string::npos) {
      text += text.find(':') == std::string::npos ? "/32" : "/128";
    }
    beast::error_code ec;
    if (text.find(':') == std::string::npos) {
      auto network = net::ip::make_network_v4(text, ec);
      if (!ec) {
        trusted_v4_.push_back(network.canonical());
        continue;
      }
    } else {
      auto network = net::ip::make_network_v6(text, ec);
      if (!ec) {
        trusted_v6_.push_back(network.canonical());
        continue;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "trusted proxy '", entry, "' is not an IP address or CIDR range (e.g. 10.0.0.0/8)"));
  }
  return absl::OkStatus();
}

namespace {
std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool HttpServer::Impl::trustedProxy(std::string_view address) const {
  if (trusted_v4_.empty() && trusted_v6_.empty()) return false;
  beast::error_code ec;
  net::ip::address addr = net::ip::make_address(std::string(address), ec);
  if (ec) return false;
  if (addr.is_v4()) {
    for (const auto& n : trusted_v4_) {
      auto host = net::ip::network_v4(addr.to_v4(), 32);
      if (host.is_subnet_of(n) || host == n) return true;
    }
    return false;
  }
  for (const auto& n : trusted_v6_) {
    auto host = net::ip::network_v6(addr.to_v6(), 128);
    if (host.is_subnet_of(n) || host == n) return true;
  }
  return false;
}

void HttpServer::Impl::applyForwarded(Request& request) const {
  if (!trustedProxy(request.remote_addr)) return;
  if (const std::string* proto = findHeader(request.headers, "X-Forwarded-Proto")) {
    if (iequals(trimmed(*proto), "https")) request.secure = true;
  }
  if (const std::string* forwarded = findHeader(request.headers, "X-Forwarded-For")) {
    std::string_view list = *forwarded;
    size_t comma = list.rfind(',');
    std::string_view last = trimmed(comma == std::string_view::npos ? list : list.substr(comma + 1));
    beast::error_code ec;
    net::ip::address addr = net::ip::make_address(std::string(last), ec);
    if (!ec) request.remote_addr = addr.to_string();
  }
}

absl::Status HttpServer::Impl::start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kNew)
      return absl::FailedPreconditionError("HttpServer::start() called twice");
  }
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls: set both the certificate and the key, or neither");
  }
  if (!options_.tls_cert_file.empty()) RETURN_IF_ERROR(loadTls());
  RETURN_IF_ERROR(loadTrustedProxies());

  const std::string where = formatHostPort(options_.address, options_.port);
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(options_.address, std::to_string(options_.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address ", where, ": ", ec ? ec.message() : "no address"));
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  auto fail = [&](std::string_view what) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(absl::StrCat(av(what), " ", where, ": ", ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("socket for");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR on");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  port_.store(acceptor_.local_endpoint(ec).port());

  {
    std::lock_guard lock(queue_mu_);
    queue_ = std::make_unique<DispatchQueue>(DispatchQueue::Options{
        options_.dispatch_threads, options_.max_queued_requests, options_.queue_timeout_ms});
  }
  net::co_spawn(acceptor_.get_executor(), acceptLoop(), [](std::exception_ptr e) {
    if (e) spdlog::critical("http: accept loop failed with an exception");
  });
  uint32_t n = threadCount();
  threads_.reserve(n);
  try {
    for (uint32_t i = 0; i < n; ++i) threads_.emplace_back([this] { runIo(); });
  } catch (const std::system_error& e) {
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    {
      std::lock_guard lock(queue_mu_);
      queue_.reset();
    }
    beast::error_code ignored;
    acceptor_.close(ignored);
    return absl::ResourceExhaustedError(absl::StrCat("http: cannot start io threads: ", e.what()));
  }
  {
    std::lock_guard lock(mu_);
    state_ = State::kRunning;
  }
  spdlog::info("http: listening on {}{} ({} io threads, {} dispatch threads)",
               ssl_ ? "https://" : "http://",
               formatHostPort(endpoint.address().to_string(), port_.load()), n,
               std::max<uint32_t>(options_.dispatch_threads, 1));
  return absl::OkStatus();
}

void HttpServer::Impl::runIo() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      // Handlers do not throw by design; if one does, log and keep serving.
      spdlog::error("http: exception escaped an io handler: {}", e.what());
    }
  }
}

void HttpServer::Impl::stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kRunning) return;
  }
  stopping_.store(true);

  // Close the acceptor on its strand and wait for it, so no connection is
  // registered after this point (the accept loop drops late sockets).
  std::promise<void> closed;
  net::post(acceptor_.get_executor(), [this, &closed] {
    beast::error_code ec;
    acceptor_.close(ec);
    closed.set_value();
  });
  closed.get_future().wait();

  closeConnections(/*only_idle=*/true);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
  {
    std::unique_lock lock(mu_);
    changed_.wait_until(lock, deadline, [this] { return connections_.empty(); });
    if (!connections_.empty()) {
      spdlog::warn("http: shutdown grace period over; closing {} connection(s)",
                   connections_.size());
    }
  }
  closeConnections(/*only_idle=*/false);
  {
    // Sessions end promptly once closed, except one blocked in dispatch(),
    // which cannot be interrupted.
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return connections_.empty(); });
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard lock(queue_mu_);
    if (queue_) queue_->stop();
  }
  {
    std::lock_guard lock(mu_);
    state_ = State::kStopped;
  }
  changed_.notify_all();
  spdlog::info("http: stopped");
}

void HttpServer::Impl::closeConnections(bool only_idle) {
  std::vector<ConnectionPtr> conns;
  {
    std::lock_guard lock(mu_);
    conns.reserve(connections_.size());
    for (const auto& [id, conn] : connections_) conns.push_back(conn);
  }
  for (auto& conn : conns) {
    net::post(conn->strand, [conn, only_idle] {
      if (conn->lowest != nullptr && (!only_idle || conn->idle)) conn->lowest->close();
    });
  }
}

void HttpServer::Impl::unregister(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    connections_.erase(id);
  }
  changed_.notify_all();
}

net::awaitable<void> HttpServer::Impl::acceptLoop() {
  for (;;) {
    auto [ec, accepted] = co_await acceptor_.async_accept(net::make_strand(ioc_), kUseTuple);
    if (stopping_.load()) co_return;  // a late socket closes here
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
      // EMFILE and friends: back off so the loop does not spin.
      spdlog::warn("http: accept failed: {}", ec.message());
      net::steady_timer timer(co_await net::this_coro::executor, std::chrono::milliseconds(50));
      co_await timer.async_wait(kUseTuple);
      continue;
    }
    tcp::socket socket(std::move(accepted));
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    tcp::endpoint remote = socket.remote_endpoint(opt_ec);
    if (opt_ec) continue;  // already gone
    auto conn = std::make_shared<Connection>();
    conn->strand = socket.get_executor();
    net::ip::address addr = remote.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
      addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
    }
    conn->remote_addr = addr.to_string();
    {
      std::lock_guard lock(mu_);
      conn->id = ++next_id_;
      connections_.emplace(conn->id, conn);
    }
    net::co_spawn(conn->strand, session(std::move(socket), conn), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("http: connection ended by exception: {}", ex.what());
      } catch (...) {
        spdlog::error("http: connection ended by unknown exception");
      }
    });
  }
}

net::awaitable<void> HttpServer::Impl::session(tcp::socket socket, ConnectionPtr conn) {
  if (ssl_) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *ssl_);
    auto& lowest = beast::get_lowest_layer(stream);
    SessionGuard guard(*this, conn, lowest);
    lowest.expires_after(readTimeout());
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kUseTuple);
    if (ec || stopping_.load()) co_return;
    CloseMode mode = co_await serveRequests(stream, *conn, /*secure=*/true);
    if (mode == CloseMode::kLinger) {
      lowest.expires_after(std::min(readTimeout(), std::chrono::milliseconds(kLingerMs)));
      co_await stream.async_shutdown(kUseTuple);
    }
    lowest.close();
  } else {
    beast::tcp_stream stream(std::move(socket));
    SessionGuard guard(*this, conn, stream);
    CloseMode mode = co_await serveRequests(stream, *conn, /*secure=*/false);
    if (mode == CloseMode::kLinger) co_await lingeringClose(stream);
    stream.close();
  }
}

net::awaitable<void> HttpServer::Impl::lingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  stream.expires_after(std::min(readTimeout(), std::chrono::milliseconds(kLingerMs)));
  char scratch[4096];
  size_t drained = 0;
  while (drained < kLingerBytes) {
    auto [read_ec, n] = co_await stream.async_read_some(net::buffer(scratch), kUseTuple);
    if (read_ec) break;
    drained += n;
  }
}

template <class Stream>
net::awaitable<void> HttpServer::Impl::writeError(Stream& stream, int status, unsigned version) {
  WireResponse wire =
      toWire(Response::text(status, reasonText(status)), version, /*keep_alive=*/false);
  beast::get_lowest_layer(stream).expires_after(readTimeout());
  co_await bhttp::async_write(stream, wire, kUseTuple);
}

template <class Stream>
net::awaitable<HttpServer::Impl::CloseMode> HttpServer::Impl::serveRequests(Stream& stream,
                                                                            Connection& conn,
                                                                            bool secure) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer(bufferLimit(limits_));
  bool first = true;
  for (;;) {
    // Wait for the first byte of the next request: the idle phase.
    if (buffer.size() == 0) {
      if (stopping_.load()) co_return CloseMode::kAbort;
      conn.idle = true;
      lowest.expires_after(first ? readTimeout() : idleTimeout());
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kUseTuple);
      if (ec) co_return CloseMode::kAbort;  // closed, idle timeout or stop()
      buffer.commit(n);
    }
    conn.idle = false;
    first = false;

    // From the first byte, the whole request must arrive within read_timeout.
    lowest.expires_after(readTimeout());
    Parser parser;
    configureParser(parser, limits_);
    auto [header_ec, header_n] =
        co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
    if (header_ec) {
      int status = statusForReadError(header_ec, unparsed(buffer));
      if (status == 0) co_return CloseMode::kAbort;
      co_await writeError(stream, status, 11);
      co_return CloseMode::kLinger;
    }
    unsigned version = parser.version() == 10 ? 10 : 11;
    absl::StatusOr<PendingRequest> pending = beginRequest(parser);
    if (!pending.ok()) {
      co_await writeError(stream, httpStatusForError(pending.status()), version);
      co_return CloseMode::kLinger;
    }
    if (!parser.is_done()) {
      if (pending->expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [ec, n] = co_await net::async_write(
            stream, net::buffer(kContinue.data(), kContinue.size()), kUseTuple);
        if (ec) co_return CloseMode::kAbort;
      }
      auto [body_ec, body_n] = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
      if (body_ec) {
        int status = statusForReadError(body_ec, unparsed(buffer));
        if (status == 0) co_return CloseMode::kAbort;
        co_await writeError(stream, status, version);
        co_return CloseMode::kLinger;
      }
    }

    Request& request = parser.request();
    request.remote_addr = conn.remote_addr;
    request.secure = secure;
    applyForwarded(request);
    bool head = parser.method() == bhttp::verb::head;
    bool keep_alive = parser.keep_alive();

    // (Not a conditional expression: GCC 12 miscompiles co_await inside ?:.)
    Response response;
    if (request.path == "/healthz") {
      response = healthz(request);
    } else {
      response = co_await dispatchOffIo(request);
    }

    keep_alive = keep_alive && !stopping_.load();
    WireResponse wire = toWire(response, version, keep_alive);
    if (request.secure && options_.hsts_max_age_s > 0) {
      wire.set(bhttp::field::strict_transport_security,
               absl::StrCat("max-age=", options_.hsts_max_age_s));
    }
    lowest.expires_after(readTimeout());
    beast::error_code write_ec;
    if (head) {
      bhttp::response_serializer<bhttp::string_body> serializer(wire);
      auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, kUseTuple);
      write_ec = ec;
    } else {
      auto [ec, n] = co_await bhttp::async_write(stream, wire, kUseTuple);
      write_ec = ec;
    }
    if (write_ec) co_return CloseMode::kAbort;
    if (!keep_alive) co_return CloseMode::kLinger;
  }
}

Response HttpServer::Impl::healthz(const Request& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = Response::text(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  Response r = ready_.load() && !stopping_.load() ? Response::text(200, "ok")
                                                  : Response::text(503, "not ready");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response HttpServer::Impl::busy() const {
  Response r = Response::text(503, "server busy, retry later\n");
  r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_s));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

net::awaitable<Response> HttpServer::Impl::dispatchOffIo(const Request& request) {
  DispatchQueue* queue = nullptr;
  {
    std::lock_guard lock(queue_mu_);
    queue = queue_.get();
  }
  auto initiate = [this, queue, &request](auto handler) {
    // The handler resumes the coroutine; it is move-only, the queue's task
    // copyable: share it. It runs on the coroutine's strand (its associated
    // executor), never on the dispatch thread.
    using Handler = decltype(handler);
    auto shared = std::make_shared<Handler>(std::move(handler));
    auto complete = [shared](Response response) {
      auto ex = net::get_associated_executor(*shared);
      net::post(ex, [shared, response = std::move(response)]() mutable {
        (*shared)(std::move(response));
      });
    };
    DispatchQueue::Lane lane = options_.lane_of ? options_.lane_of(request) : DispatchQueue::Lane{};
    bool accepted = queue != nullptr && queue->submit([this, &request, complete](
                                                          DispatchQueue::Admission admission) {
      if (admission == DispatchQueue::Admission::kExpired) {
        complete(busy());
        return;
      }
      try {
        complete(dispatcher_.dispatch(request));
      } catch (const std::exception& e) {  // Dispatchers do not throw by design
        spdlog::error("http: exception escaped the dispatcher: {}", e.what());
        complete(Response::text(500, "internal error\n"));
      }
    }, std::move(lane));
    if (!accepted) {
      // Once per second at most, not once per refused request.
      int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
      if (last_full_log_s_.exchange(now) != now) {
        spdlog::warn("http: dispatch queue full ({} waiting); answering 503 + Retry-After",
                     options_.max_queued_requests);
      }
      complete(busy());
    }
  };
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(Response)>(
      initiate, net::use_awaitable);
}

// ---------------------------------------------------------------------------

HttpServer::HttpServer(Options options, Dispatcher& dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), dispatcher)) {}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::start() { return impl_->start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::setReady(bool ready) { impl_->setReady(ready); }
void HttpServer::stop() { impl_->stop(); }
void HttpServer::wait() { impl_->wait(); }
HttpServer::QueueStats HttpServer::queueStats() const { return impl_->queueStats(); }

}  // namespace habanero::http
