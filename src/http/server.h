// The HTTP/1.1 front: accepts connections, turns each request into a
// habanero::Request, hands it to a Dispatcher and writes the Response back.
//
//   HttpServer::Options options;
//   options.address = "127.0.0.1";
//   options.port = 0;                        // any free port
//   HttpServer server(options, dispatcher);
//   RETURN_IF_ERROR(server.start());
//   server.setReady(true);                   // GET /healthz now answers 200
//   ... server.port() ...
//   server.stop();                           // graceful; or wait() from another thread
//
// What the server guarantees to the Dispatcher: method, path (origin-form,
// starts with '/', printable ASCII, no fragment), query, headers exactly as
// sent (in order, trailers dropped), a complete de-chunked body within
// max_body_bytes, remote_addr and secure. Framing is the server's: the
// Dispatcher's Content-Length, Transfer-Encoding, Connection, Keep-Alive,
// Upgrade, Trailer, Server and Date headers are ignored and set by the server.
// A Response the server must not send (status outside 200..599, a header name
// that is not a token, a value with CR/LF/NUL) is replaced by a 500. 204 and
// 304 go out without a body; HEAD responses carry Content-Length, no body.
// "/healthz" never reaches the Dispatcher (see setReady()).
//
// Client mistakes get a 4xx (or 501/505) and never reach the Dispatcher:
// headers over max_header_bytes -> 431, body over max_body_bytes -> 413,
// malformed request line/headers/chunks -> 400, a transfer coding other than
// "chunked" -> 501, an HTTP version other than 1.0/1.1 -> 505, an Expect other
// than 100-continue -> 417. After any of these the connection is closed. A
// request (or a response write) that does not complete within read_timeout_ms
// from its first byte, or a keep-alive connection idle for idle_timeout_ms, is
// closed without a response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "habanero/dispatch.h"
#include "http/dispatch_queue.h"
#include "habanero/limits.h"
#include "habanero/status.h"

namespace habanero::http {

// Size limits applied while parsing a request.
struct Limits {
  size_t max_header_bytes = limits::kMaxHeaderBytes;  // request line + header fields (+ trailers)
  size_t max_body_bytes = limits::kMaxBodyBytes;      // decoded body
};

// Parses one request from `bytes` with the same parser, limits, checks and
// conversion the server uses on a connection. `bytes` must hold a complete
// request; anything after it (a pipelined request) is ignored. The Request has
// remote_addr "" and secure false. On failure the status carries the HTTP
// status the server would answer with; read it with httpStatusForError().
// Pure and thread-safe.
absl::StatusOr<Request> parseRequestBytes(std::string_view bytes, const Limits& limits);

// The HTTP status for a parseRequestBytes() error: 400, 413, 417, 431, 501 or
// 505. 400 for any status that did not come from the parser.
int httpStatusForError(const absl::Status& status);

// "HOST:PORT" or "[V6]:PORT" (as in server.listen) split into host and port.
// InvalidArgument if either part is missing or the port is not 0..65535.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
absl::StatusOr<ListenAddress> parseListenAddress(std::string_view listen);

class HttpServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";  // IP literal or resolvable host name
    uint16_t port = 8080;               // 0: an ephemeral port, see port()
    uint32_t threads = 0;               // io threads; 0: one per core
    size_t max_header_bytes = limits::kMaxHeaderBytes;
    size_t max_body_bytes = limits::kMaxBodyBytes;
    // The whole request (from its first byte to its last), the TLS handshake,
    // and the writing of each response must finish within this.
    uint32_t read_timeout_ms = limits::kReadTimeoutMs;
    // A keep-alive connection with no request in progress is closed after this.
    uint32_t idle_timeout_ms = limits::kIdleTimeoutMs;
    // stop(): how long in-flight requests may take before connections are cut.
    uint32_t shutdown_grace_ms = limits::kShutdownGraceMs;
    // The dispatch queue (dispatch_queue.h): the Dispatcher runs on these
    // threads, never on an io thread. A request that finds max_queued_requests
    // waiting, or waits longer than queue_timeout_ms, gets 503 with
    // Retry-After: retry_after_s, without reaching the Dispatcher.
    uint32_t dispatch_threads = limits::kDispatchThreads;
    size_t max_queued_requests = limits::kMaxQueuedRequests;
    uint32_t queue_timeout_ms = limits::kQueueTimeoutMs;
    uint32_t retry_after_s = limits::kRetryAfterSeconds;
    // The queue lane of a request (DispatchQueue::Lane: e.g. its extension and
    // that extension's concurrency limit), called on the io thread; must be
    // cheap and thread-safe. Unset: no lanes.
    std::function<DispatchQueue::Lane(const Request&)> lane_of;
    // Behind a TLS-terminating proxy: requests whose peer address is one of
    // these (IP addresses or CIDR ranges, e.g. "10.0.0.0/8") may say how the
    // client reached the proxy. From them, and only from them,
    // "X-Forwarded-Proto: https" makes Request::secure true, and the last
    // address of X-Forwarded-For becomes Request::remote_addr. From anyone
    // else both headers are ignored. start() refuses an entry that is not an
    // address or range (InvalidArgument naming it).
    std::vector<std::string> trusted_proxies;
    // Strict-Transport-Security max-age on every response to a secure request
    // (TLS here, or a trusted proxy's https); 0 sends none.
    uint32_t hsts_max_age_s = 31'536'000;
    // PEM files. When both are set the server speaks HTTPS only (TLS 1.2+).
    std::string tls_cert_file;  // certificate chain, leaf first
    std::string tls_key_file;
  };

  // `dispatcher` must outlive the server; it is called concurrently from the
  // dispatch threads (never from an io thread, which only parses and writes).
  HttpServer(Options options, Dispatcher& dispatcher);
  // Stops (gracefully) if still running.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the io threads. Call once. Errors: InvalidArgument
  // for a bad address or TLS file (the message names it), Unavailable when the
  // address cannot be bound (the message names ADDR:PORT), FailedPrecondition
  // when called twice.
  absl::Status start();

  // The bound port (the real one when Options::port was 0); 0 before start().
  uint16_t port() const;

  // GET/HEAD /healthz answers 200 "ok" while ready, 503 otherwise (and always
  // 503 once stop() has begun); other methods get 405. Not ready initially.
  // Thread-safe.
  void setReady(bool ready);

  // Graceful shutdown: stops accepting, closes idle keep-alive connections,
  // lets requests in progress finish (their responses carry Connection: close)
  // for up to shutdown_grace_ms, then closes whatever is left and joins the io
  // threads. A dispatch() still running at that point is waited for (it
  // cannot be interrupted). Returns when everything is down. Idempotent and
  // thread-safe, but must not be called from inside dispatch() (deadlock).
  void stop();

  // Blocks until stop() has completed; returns at once if the server never
  // started or has already stopped.
  void wait();

  // The dispatch queue's counters (all zero before start()). Thread-safe.
  struct QueueStats {
    size_t queued = 0, running = 0;
    uint64_t rejected = 0, expired = 0;
  };
  QueueStats queueStats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace habanero::http
