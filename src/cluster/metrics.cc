#include "cluster/metrics.h"

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

namespace habanero::cluster {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("habanero_http_requests_total")
          .Help("HTTP requests answered, by extension and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("habanero_http_request_duration_seconds")
          .Help("Time from a request's arrival at the dispatcher to its response, by extension")
          .Register(*registry);

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

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe(const std::string& extension, int status, double seconds) {
  impl_->requests.Add({{"extension", extension}, {"status", std::to_string(status)}}).Increment();
  impl_->latency.Add({{"extension", extension}}, kBuckets).Observe(seconds);
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
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, m.registry->Collect());
  return out.str();
}

MeteredDispatcher::MeteredDispatcher(Dispatcher& next, Metrics& metrics, ExtensionOf extension_of)
    : next_(next), metrics_(metrics), extension_of_(std::move(extension_of)) {}

Response MeteredDispatcher::dispatch(const Request& request) {
  auto start = std::chrono::steady_clock::now();
  Response r = next_.dispatch(request);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string extension = extension_of_ ? extension_of_(request.path) : "host";
  metrics_.observe(extension.empty() ? "host" : extension, r.status, seconds);
  return r;
}

std::string extensionForPath(std::string_view path,
                             const std::vector<std::pair<std::string, std::string>>& mounts) {
  static constexpr std::string_view kHostPaths[] = {"/login", "/static", "/admin", "/readyz",
                                                    "/metrics", "/healthz"};
  for (std::string_view p : kHostPaths) {
    if (path == p || (path.starts_with(p) && path.size() > p.size() && path[p.size()] == '/')) {
      // /login/password is an extension's mount below the host's /login.
      bool deeper_mount = false;
      for (const auto& [name, mount] : mounts) {
        if (mount.size() > p.size() && (path == mount || path.starts_with(mount + "/"))) {
          deeper_mount = true;
        }
      }
      if (!deeper_mount) return "host";
    }
  }
  const std::pair<std::string, std::string>* best = nullptr;
  for (const auto& m : mounts) {
    const std::string& mount = m.second;
    bool holds = mount == "/" || path == mount || path.starts_with(mount + "/");
    if (holds && (!best || mount.size() > best->second.size())) best = &m;
  }
  return best ? best->first : "host";
}

}  // namespace habanero::cluster
