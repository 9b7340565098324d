// /metrics on every role, in Prometheus text format (prometheus-cpp):
//
//   <p>_requests_total{extension,route,status}   answered requests; <p> is
//   <p>_request_duration_seconds{extension,route} habanero_http on an HTTP role,
//                                                  habanero_worker on a worker
//   habanero_runtime_instances_total{extension}   (runtime) instances created
//   habanero_runtime_traps_total{extension}       (runtime) guest traps
//   habanero_runtime_deadlines_total{extension}   (runtime) epoch interruptions
//   habanero_runtime_host_call_errors_total{extension,call,result}
//                                                  (runtime) failed host calls
//   habanero_outbox_pending_records               (outbox) records to deliver
//   habanero_outbox_oldest_pending_age_seconds    (outbox) 0 when none
//   habanero_gateway_workers_total / _healthy             (gateway) the worker set
//   habanero_gateway_worker_up{worker}                    (gateway) 1 healthy, 0 not
//   habanero_gateway_worker_in_flight{worker}             (gateway)
//   habanero_gateway_requests_total{outcome}              (gateway) forwarded, retried,
//                                                          unavailable, failed_in_flight, deadline
//   habanero_gateway_grpc_errors_total                     (gateway) failed Dispatch calls
//
// "extension" is the name of the extension whose mount holds the path, or
// "host" for the host's own pages (/login, /static, /admin, /readyz, /metrics).
// "route" is bounded, never the raw path: the manifest route that matched,
// joined to the mount ("/token", "/webid/*", "/login/password/"), "unmatched"
// when none did, or the host page's prefix ("/login", "/admin").
//
//   Metrics metrics;
//   metrics.watchGateway(pool, gateway);          // gateway only
//   services.observer = &metrics.runtimeObserver();  // roles that run extensions
//   Probes probes(next, problems, [&] { return metrics.render(); });
//   MeteredDispatcher front(probes, metrics, routeOf);
//
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "habanero/clock.h"
#include "habanero/dispatch.h"
#include "runtime/observer.h"

namespace habanero::events {
class Outbox;
}

namespace habanero::cluster {

class GatewayDispatcher;
class WorkerPool;

class Metrics {
 public:
  // `request_prefix` names the request families: "habanero_http" in front of
  // an HTTP role, "habanero_worker" for a worker's Dispatch calls.
  explicit Metrics(std::string_view request_prefix = "habanero_http");
  ~Metrics();

  void observe(const std::string& extension, const std::string& route, int status,
               double seconds);
  // Both must outlive this.
  void watchGateway(const WorkerPool& pool, const GatewayDispatcher& gateway);
  // Outbox depth and age, read at each scrape (at most kOutboxScrapeLimit
  // records are counted). Both must outlive this.
  void watchOutbox(const events::Outbox& outbox, const Clock& clock);
  static constexpr size_t kOutboxScrapeLimit = 10000;
  // The runtime's instances, traps, deadlines and failed host calls; lives as
  // long as this.
  runtime::Observer& runtimeObserver();
  // The exposition text (format 0.0.4).
  std::string render();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The labels of one request: see the overview.
struct RouteLabel {
  std::string extension;
  std::string route;
};

// An extension as the labels need it: its name, mount and manifest routes.
struct MountedExtension {
  std::string name;
  std::string mount;
  std::vector<std::string> routes;  // as in the manifest ("/token", "/webid/*")
};

// Times and counts every request it passes to `next`.
class MeteredDispatcher final : public Dispatcher {
 public:
  // The labels of a request's path.
  using RouteOf = std::function<RouteLabel(std::string_view path)>;

  // `next` and `metrics` are borrowed and must outlive this.
  MeteredDispatcher(Dispatcher& next, Metrics& metrics, RouteOf route_of);

  Response dispatch(const Request& request) override;

 private:
  Dispatcher& next_;
  Metrics& metrics_;
  RouteOf route_of_;
};

// The labels of `path`: the longest mount of `extensions` holding it (as the
// router matches) and the manifest route that matches below it; extension
// "host" for the host's own paths and when no mount holds it.
RouteLabel routeForPath(std::string_view path, const std::vector<MountedExtension>& extensions);

// routeForPath(...).extension, for (name, mount) pairs.
std::string extensionForPath(std::string_view path,
                             const std::vector<std::pair<std::string, std::string>>& mounts);

}  // namespace habanero::cluster
