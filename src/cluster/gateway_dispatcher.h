// The gateway role's Dispatcher: every extension request goes to a worker
// over gRPC (Worker.Dispatch) and its answer comes back unchanged, plus an
// X-Request-Id header (the client's, when it sent a sane one).
//
//   GatewayDispatcher gateway(pool, options);
//   NativePages pages(gateway, sessions, ...);    // in front, as on one process
//
// Failure rules (fail closed, never run a request twice unless it is safe):
// - no healthy worker, or every one refused the request before running it
//   (queue full, draining, connection never established): 503 with
//   Retry-After;
// - a worker refused before running it: the next healthy worker gets it;
// - the connection broke after the request was sent: GET and HEAD go to the
//   next worker; any other method gets 502 (it may have run: a POST /token is
//   never run twice);
// - the deadline (request_timeout_ms from arrival) passed: 504.
//
// Thread-safe: dispatch() runs concurrently on the HTTP front's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "cluster/worker_pool.h"
#include "habanero/dispatch.h"

namespace habanero::cluster {

class GatewayDispatcher final : public Dispatcher {
 public:
  struct Options {
    uint32_t request_timeout_ms = 30000;  // the whole answer, retries included
    uint32_t connect_timeout_ms = 1000;   // waiting for a worker's connection
    uint32_t max_attempts = 3;            // workers tried per request
    uint32_t retry_after_s = 1;           // in the 503's Retry-After
  };
  // What happened to requests so far (for /metrics and tests).
  struct Counters {
    std::atomic<uint64_t> forwarded{0};        // answered by a worker
    std::atomic<uint64_t> retried{0};          // sent to another worker after a failure
    std::atomic<uint64_t> unavailable{0};      // 503: no worker could take it
    std::atomic<uint64_t> failed_in_flight{0}; // 502: connection lost after sending
    std::atomic<uint64_t> deadline{0};         // 504
    std::atomic<uint64_t> grpc_errors{0};      // Dispatch calls that did not return OK
  };

  // `pool` must outlive this.
  GatewayDispatcher(WorkerPool& pool, Options options);

  Response dispatch(const Request& request) override;
  const Counters& counters() const { return counters_; }

 private:
  WorkerPool& pool_;
  const Options options_;
  Counters counters_;
};

// The request's id: its X-Request-Id when that is 1..128 characters of
// [A-Za-z0-9._:-], else 16 random bytes in hex.
std::string requestIdOf(const Request& request);

}  // namespace habanero::cluster
