#include "cluster/metrics.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <sstream>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "cluster/gateway_dispatcher.h"
#include "cluster/worker_pool.h"
#include "events/outbox.h"

namespace habanero::cluster {

// The runtime's events as counters (runtime/observer.h).
class RuntimeCounters final : public runtime::Observer {
 public:
  explicit RuntimeCounters(prometheus::Registry& registry)
      : instances_(prometheus::BuildCounter()
                       .Name("habanero_runtime_instances_total")
                       .Help("Wasm instances created (one per request or event delivery)")
                       .Register(registry)),
        traps_(prometheus::BuildCounter()
                   .Name("habanero_runtime_traps_total")
                   .Help("Guest traps, by extension")
                   .Register(registry)),
        deadlines_(prometheus::BuildCounter()
                       .Name("habanero_runtime_deadlines_total")
                       .Help("Guests stopped at their deadline (epoch interruption)")
                       .Register(registry)),
        host_call_errors_(prometheus::BuildCounter()
                              .Name("habanero_runtime_host_call_errors_total")
                              .Help("Host calls that answered a failure, by call and result")
                              .Register(registry)) {}

  void instanceCreated(std::string_view extension) override {
    instances_.Add({{"extension", std::string(extension)}}).Increment();
  }
  void trapped(std::string_view extension) override {
    traps_.Add({{"extension", std::string(extension)}}).Increment();
  }
  void deadlineExceeded(std::string_view extension) override {
    deadlines_.Add({{"extension", std::string(extension)}}).Increment();
  }
  void hostCallFailed(std::string_view extension, std::string_view call,
                      habanero_result_t result) override {
    host_call_errors_
        .Add({{"extension", std::string(extension)},
              {"call", std::string(call)},
              {"result", std::string(runtime::resultName(result))}})
        .Increment();
  }

 private:
  prometheus::Family<prometheus::Counter>& instances_;
  prometheus::Family<prometheus::Counter>& traps_;
  prometheus::Family<prometheus::Counter>& deadlines_;
  prometheus::Family<prometheus::Counter>& host_call_errors_;
};

struct Metrics::Impl {
  explicit Impl(std::string_view prefix)
      : requests(prometheus::BuildCounter()
                     .Name(std::string(prefix) + "_requests_total")
                     .Help("Requests answered, by extension, route and status")
                     .Register(*registry)),
        latency(prometheus::BuildHistogram()
                    .Name(std::string(prefix) + "_request_duration_seconds")
                    .Help("Time from a request's arrival at the dispatcher to its response, by "
                          "extension and route")
                    .Register(*registry)),
        runtime(*registry) {}

  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  RuntimeCounters runtime;

  // Outbox only (null otherwise).
  const events::Outbox* outbox = nullptr;
  const Clock* clock = nullptr;
  prometheus::Gauge* outbox_pending = nullptr;
  prometheus::Gauge* outbox_age = nullptr;

  // Gateway only (null otherwise).
  const WorkerPool* pool = nullptr;
  const GatewayDispatcher* gateway = nullptr;
  prometheus::Family<prometheus::Gauge>* workers_total = nullptr;
  prometheus::Family<prometheus::Gauge>* workers_healthy = nullptr;
  prometheus::Family<prometheus::Gauge>* worker_up = nullptr;
  prometheus::Family<prometheus::Gauge>* worker_in_flight = nullptr;
  prometheus::Family<prometheus::Counter>* outcomes = nullptr;
  prometheus::Family<prometheus::Counter>* grpc_errors = nullptr;

  std::mutex render_mu;  // one scrape at a time (gauges are rewritten per scrape)
};

namespace {

const prometheus::Histogram::BucketBoundaries kBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// Brings a Prometheus counter up to `total` (counters only grow).
void catchUp(prometheus::Counter& counter, uint64_t total) {
  double delta = static_cast<double>(total) - counter.Value();
  if (delta > 0) counter.Increment(delta);
}

}  // namespace

Metrics::Metrics(std::string_view request_prefix)
    : impl_(std::make_unique<Impl>(request_prefix)) {}
Metrics::~Metrics() = default;

void Metrics::observe(const std::string& extension, const std::string& route, int status,
                      double seconds) {
  impl_->requests
      .Add({{"extension", extension}, {"route", route}, {"status", std::to_string(status)}})
      .Increment();
  impl_->latency.Add({{"extension", extension}, {"route", route}}, kBuckets).Observe(seconds);
}

runtime::Observer& Metrics::runtimeObserver() { return impl_->runtime; }

void Metrics::watchOutbox(const events::Outbox& outbox, const Clock& clock) {
  Impl& m = *impl_;
  m.outbox = &outbox;
  m.clock = &clock;
  m.outbox_pending = &prometheus::BuildGauge()
                          .Name("habanero_outbox_pending_records")
                          .Help("Event records waiting for delivery (counted up to 10000)")
                          .Register(*m.registry)
                          .Add({});
  m.outbox_age = &prometheus::BuildGauge()
                      .Name("habanero_outbox_oldest_pending_age_seconds")
                      .Help("Age of the oldest event record waiting for delivery (0: none)")
                      .Register(*m.registry)
                      .Add({});
}

void Metrics::watchGateway(const WorkerPool& pool, const GatewayDispatcher& gateway) {
  Impl& m = *impl_;
  m.pool = &pool;
  m.gateway = &gateway;
  m.workers_total = &prometheus::BuildGauge()
                         .Name("habanero_gateway_workers_total")
                         .Help("Workers the gateway knows (configured or resolved)")
                         .Register(*m.registry);
  m.workers_healthy = &prometheus::BuildGauge()
                           .Name("habanero_gateway_workers_healthy")
                           .Help("Workers answering health checks as SERVING")
                           .Register(*m.registry);
  m.worker_up = &prometheus::BuildGauge()
                     .Name("habanero_gateway_worker_up")
                     .Help("1 when the worker is healthy, else 0")
                     .Register(*m.registry);
  m.worker_in_flight = &prometheus::BuildGauge()
                            .Name("habanero_gateway_worker_in_flight")
                            .Help("Requests the gateway has sent to the worker and awaits")
                            .Register(*m.registry);
  m.outcomes = &prometheus::BuildCounter()
                    .Name("habanero_gateway_requests_total")
                    .Help("Extension requests by outcome at the gateway")
                    .Register(*m.registry);
  m.grpc_errors = &prometheus::BuildCounter()
                       .Name("habanero_gateway_grpc_errors_total")
                       .Help("Worker.Dispatch calls that failed (any gRPC status but OK)")
                       .Register(*m.registry);
}

std::string Metrics::render() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.render_mu);
  if (m.pool) {
    std::vector<WorkerPool::WorkerState> workers = m.pool->snapshot();
    size_t healthy = 0;
    for (const WorkerPool::WorkerState& w : workers) {
      healthy += w.healthy ? 1 : 0;
      m.worker_up->Add({{"worker", w.address}}).Set(w.healthy ? 1 : 0);
      m.worker_in_flight->Add({{"worker", w.address}}).Set(w.in_flight);
    }
    m.workers_total->Add({}).Set(static_cast<double>(workers.size()));
    m.workers_healthy->Add({}).Set(static_cast<double>(healthy));
    const GatewayDispatcher::Counters& c = m.gateway->counters();
    catchUp(m.outcomes->Add({{"outcome", "forwarded"}}), c.forwarded.load());
    catchUp(m.outcomes->Add({{"outcome", "retried"}}), c.retried.load());
    catchUp(m.outcomes->Add({{"outcome", "unavailable"}}), c.unavailable.load());
    catchUp(m.outcomes->Add({{"outcome", "failed_in_flight"}}), c.failed_in_flight.load());
    catchUp(m.outcomes->Add({{"outcome", "deadline"}}), c.deadline.load());
    catchUp(m.grpc_errors->Add({}), c.grpc_errors.load());
  }
  if (m.outbox) {
    // A store that does not answer leaves the last values (and /readyz says why).
    absl::StatusOr<events::Outbox::Stats> stats = m.outbox->stats(kOutboxScrapeLimit);
    if (stats.ok()) {
      m.outbox_pending->Set(static_cast<double>(stats->pending));
      int64_t age_ms = stats->pending ? m.clock->nowMs() - stats->oldest_created_ms : 0;
      m.outbox_age->Set(static_cast<double>(std::max<int64_t>(age_ms, 0)) / 1000.0);
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, m.registry->Collect());
  return out.str();
}

MeteredDispatcher::MeteredDispatcher(Dispatcher& next, Metrics& metrics, RouteOf route_of)
    : next_(next), metrics_(metrics), route_of_(std::move(route_of)) {}

Response MeteredDispatcher::dispatch(const Request& request) {
  auto start = std::chrono::steady_clock::now();
  Response r = next_.dispatch(request);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RouteLabel label = route_of_ ? route_of_(request.path) : RouteLabel{"host", "unmatched"};
  metrics_.observe(label.extension.empty() ? "host" : label.extension, label.route, r.status,
                   seconds);
  return r;
}

namespace {

bool holds(std::string_view mount, std::string_view path) {
  return mount == "/" || path == mount ||
         (path.starts_with(mount) && path.size() > mount.size() && path[mount.size()] == '/');
}

// The manifest route that `sub` (the path below the mount) matches, as
// runtime::Manifest::matchesRoute decides; nullptr when none does.
const std::string* matchingRoute(std::string_view sub, const std::vector<std::string>& routes) {
  for (const std::string& r : routes) {
    if (r.size() >= 2 && r.ends_with("/*")) {
      std::string_view prefix(r.data(), r.size() - 1);  // keeps the '/'
      if (sub.starts_with(prefix) || sub == prefix.substr(0, prefix.size() - 1)) return &r;
    } else if (sub == r) {
      return &r;
    }
  }
  return nullptr;
}

}  // namespace

RouteLabel routeForPath(std::string_view path, const std::vector<MountedExtension>& extensions) {
  static constexpr std::string_view kHostPaths[] = {"/login", "/static", "/admin", "/readyz",
                                                    "/metrics", "/healthz"};
  for (std::string_view p : kHostPaths) {
    if (!holds(p, path)) continue;
    // /login/password is an extension's mount below the host's /login.
    bool deeper_mount = std::any_of(extensions.begin(), extensions.end(), [&](const auto& e) {
      return e.mount.size() > p.size() && holds(e.mount, path);
    });
    if (!deeper_mount) return {"host", std::string(p)};
  }
  const MountedExtension* best = nullptr;
  for (const MountedExtension& e : extensions) {
    if (holds(e.mount, path) && (!best || e.mount.size() > best->mount.size())) best = &e;
  }
  if (!best) return {"host", "unmatched"};
  std::string_view sub = best->mount == "/"   ? path
                         : path == best->mount ? std::string_view("/")
                                               : path.substr(best->mount.size());
  const std::string* route = matchingRoute(sub, best->routes);
  if (!route) return {best->name, "unmatched"};
  return {best->name, best->mount == "/" ? *route : best->mount + *route};
}

std::string extensionForPath(std::string_view path,
                             const std::vector<std::pair<std::string, std::string>>& mounts) {
  std::vector<MountedExtension> extensions;
  for (const auto& [name, mount] : mounts) extensions.push_back({name, mount, {}});
  return routeForPath(path, extensions).extension;
}

}  // namespace habanero::cluster
