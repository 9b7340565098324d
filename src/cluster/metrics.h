// /metrics for every HTTP role, in Prometheus text format (prometheus-cpp):
//
//   habanero_http_requests_total{extension,status}        answered requests
//   habanero_http_request_duration_seconds{extension}     latency histogram
//   habanero_gateway_workers_total / _healthy             (gateway) the worker set
//   habanero_gateway_worker_up{worker}                    (gateway) 1 healthy, 0 not
//   habanero_gateway_worker_in_flight{worker}             (gateway)
//   habanero_gateway_requests_total{outcome}              (gateway) forwarded, retried,
//                                                          unavailable, failed_in_flight, deadline
//   habanero_gateway_grpc_errors_total                     (gateway) failed Dispatch calls
//
// "extension" is the name of the extension whose mount holds the path, or
// "host" for the host's own pages (/login, /static, /admin, /readyz, /metrics).
//
//   Metrics metrics;
//   metrics.watchGateway(pool, gateway);          // gateway only
//   Probes probes(next, problems, [&] { return metrics.render(); });
//   MeteredDispatcher front(probes, metrics, extensionOf);
//
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "habanero/dispatch.h"

namespace habanero::cluster {

class GatewayDispatcher;
class WorkerPool;

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void observe(const std::string& extension, int status, double seconds);
  // Both must outlive this.
  void watchGateway(const WorkerPool& pool, const GatewayDispatcher& gateway);
  // The exposition text (format 0.0.4).
  std::string render();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Times and counts every request it passes to `next`.
class MeteredDispatcher final : public Dispatcher {
 public:
  // The extension a path belongs to ("" or "host" for the host's own pages).
  using ExtensionOf = std::function<std::string(std::string_view path)>;

  // `next` and `metrics` are borrowed and must outlive this.
  MeteredDispatcher(Dispatcher& next, Metrics& metrics, ExtensionOf extension_of);

  Response dispatch(const Request& request) override;

 private:
  Dispatcher& next_;
  Metrics& metrics_;
  ExtensionOf extension_of_;
};

// The longest mount of `mounts` (name, mount) holding `path`, as the router
// matches; "host" for the host's own paths and when none holds it.
std::string extensionForPath(std::string_view path,
                             const std::vector<std::pair<std::string, std::string>>& mounts);

}  // namespace habanero::cluster
