// The worker role's gRPC server: habanero.v1.Worker (Dispatch), habanero.v1.Control
// (Reload, Drain, Describe) and grpc.health.v1.Health (grpc++'s default health
// service), all on one port (proto/habanero/v1/worker.proto).
//
//   WorkerServer server(options, router, hooks);
//   RETURN_IF_ERROR(server.start());   // serving; health SERVING
//   ... server.port() ...
//   server.stop();                     // drain, finish in flight, shut down
//
// Each Dispatch runs on the server's own DispatchPool (never on a gRPC
// thread). A request is refused without running — Dispatch fails with
// trailing metadata "habanero-not-run: 1", so a gateway may send it elsewhere —
// when the queue is full (RESOURCE_EXHAUSTED) or the worker drains
// (UNAVAILABLE). One whose deadline passed while it waited fails with
// DEADLINE_EXCEEDED, also without running.
//
// Thread-safety: start/drain/stop from one controlling thread; everything else
// runs on gRPC's and the pool's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/credentials.h"
#include "habanero/dispatch.h"
#include "habanero/status.h"

namespace habanero::cluster {

// What a worker reports about one extension (Control.Describe).
struct ExtensionInfo {
  std::string name;
  std::string mount;
  std::string kind;          // the manifest's kind, e.g. "authenticator"
  std::string display_name;
  bool loaded = false;
  std::string error;
  std::vector<std::string> routes;  // the manifest's, below the mount
};

// The outcome of Control.Reload.
struct ReloadResult {
  int loaded = 0;
  int reused = 0;
  int failed = 0;
  std::vector<std::string> errors;
};

// The trailing metadata that marks a request the worker refused before running it.
inline constexpr char kNotRunKey[] = "habanero-not-run";

class WorkerServer {
 public:
  struct Options {
    std::string listen = "127.0.0.1:9090";  // ADDR:PORT; port 0 picks one (see port())
    uint32_t threads = 0;                   // pool threads; 0: 2 per core
    uint32_t max_queued = 1024;             // waiting requests before RESOURCE_EXHAUSTED
    uint32_t shutdown_grace_ms = 10000;     // stop(): how long in-flight requests may take
    // stop(): after draining, shut down only once no request has arrived for
    // this long (gateways have noticed), within shutdown_grace_ms.
    uint32_t drain_quiet_ms = 1000;
    TlsFiles tls;
  };
  struct Hooks {
    std::function<ReloadResult()> reload;                  // Control.Reload
    std::function<std::vector<ExtensionInfo>()> describe;  // Control.Describe
    // Why the worker cannot serve now ("" when it can), asked every second:
    // health is SERVING only while this is "" and the worker is not draining
    // (e.g. the store does not answer). Optional.
    std::function<std::string()> unready;
  };

  // `dispatcher` (the extension router) must outlive the server.
  WorkerServer(Options options, Dispatcher& dispatcher, Hooks hooks);
  ~WorkerServer();  // stop()

  // Binds and serves. Errors: InvalidArgument (TLS files), Unavailable when the
  // address cannot be bound (the message names it).
  absl::Status start();
  uint16_t port() const;

  // Health turns NOT_SERVING and new Dispatch calls are refused; running ones
  // finish. Idempotent.
  void drain();
  bool draining() const { return draining_.load(); }
  // Requests queued or running.
  size_t inFlight() const;
  // drain(); waits (within shutdown_grace_ms) until nothing is in flight and
  // no request has arrived for drain_quiet_ms; then shuts the server down.
  // Idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> last_arrival_ms_{0};  // steady clock, of the latest Dispatch
};

}  // namespace habanero::cluster
