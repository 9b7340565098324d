// The gateway's view of its workers: which exist, which are healthy, which to
// send the next request to.
//
//   WorkerPool::Options o;
//   o.targets = {"10.0.0.5:9090", "workers.internal:9090"};
//   ASSIGN_OR_RETURN(WorkerPoolPtr pool, WorkerPool::create(o));
//   pool->start();                          // health and DNS follow-up begins
//   WorkerPool::WorkerRef w = pool->pick({});
//
// Targets are "HOST:PORT" ("[V6]:PORT" for IPv6). A host name is resolved
// again every resolve_interval_ms and each of its addresses is one worker, so
// a DNS name with several A records (a Kubernetes headless Service) is a
// worker set that grows and shrinks. Health follows grpc.health.v1 Check
// every health_interval_ms (SERVING = healthy); a worker whose connection
// fails is marked unhealthy at once by the gateway (markUnhealthy) and comes
// back when a later Check succeeds.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/channel.h>

#include "cluster/credentials.h"
#include "cluster/worker_service.h"
#include "habanero/status.h"
#include "habanero/v1/worker.grpc.pb.h"

namespace habanero::cluster {

class WorkerPool {
 public:
  struct Options {
    std::vector<std::string> targets;  // at least one
    TlsFiles tls;
    uint32_t health_interval_ms = 1000;
    uint32_t health_timeout_ms = 1000;
    uint32_t resolve_interval_ms = 5000;
    // The IP addresses (text, v4 or v6) a host name has now; empty when it
    // does not resolve. Empty function: the system's resolver (getaddrinfo).
    // A seam for tests; called from the pool's own thread and create().
    std::function<std::vector<std::string>(const std::string& host)> resolver;
  };

  struct Worker {
    std::string address;  // "IP:PORT" as resolved
    std::string target;   // the configured target it came from
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Worker::Stub> stub;
    std::unique_ptr<v1::Control::Stub> control;
    std::atomic<bool> healthy{false};
    std::atomic<int> in_flight{0};
  };
  using WorkerRef = std::shared_ptr<Worker>;

  // A worker as reported by snapshot() (for /readyz and /metrics).
  struct WorkerState {
    std::string address;
    bool healthy = false;
    int in_flight = 0;
  };

  // InvalidArgument for a malformed target or TLS setting; resolves every
  // target once (a name that does not resolve yet is retried later, not an
  // error). Nothing is contacted before start().
  static absl::StatusOr<std::unique_ptr<WorkerPool>> create(Options options);
  ~WorkerPool();

  // Runs one health round now (so a gateway starts knowing its workers), then
  // follows health and DNS in the background until destruction.
  void start();

  // The healthy worker with the fewest requests in flight (ties go round the
  // set), never one in `exclude`; nullptr when none is healthy.
  WorkerRef pick(const std::vector<const Worker*>& exclude) const;
  // A request on `worker` found its connection broken.
  void markUnhealthy(Worker& worker);

  size_t healthyCount() const;
  std::vector<WorkerState> snapshot() const;
  // The extensions the last healthy worker asked reported (empty before one answered).
  std::vector<ExtensionInfo> extensions() const;

  // Control.Reload on every healthy worker, concurrently; returns when all
  // answered or timed out. The number of workers that reloaded.
  int reloadAll(uint32_t timeout_ms = 30000) const;

 private:
  explicit WorkerPool(Options options, std::shared_ptr<grpc::ChannelCredentials> creds);
  void resolve();
  void checkHealth();
  void describe();
  void run();

  const Options options_;
  const std::shared_ptr<grpc::ChannelCredentials> creds_;

  mutable std::mutex mu_;
  std::vector<WorkerRef> workers_;           // guarded by mu_
  std::vector<ExtensionInfo> extensions_;    // guarded by mu_
  mutable std::atomic<size_t> next_{0};      // round-robin start

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ = false;  // guarded by run_mu_
  std::thread thread_;
};

using WorkerPoolPtr = std::unique_ptr<WorkerPool>;

// "HOST:PORT" / "[V6]:PORT" split; InvalidArgument when either is missing.
absl::StatusOr<std::pair<std::string, std::string>> splitTarget(std::string_view target);

}  // namespace habanero::cluster
