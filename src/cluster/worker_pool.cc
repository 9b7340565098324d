#include "cluster/worker_pool.h"

#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace habanero::cluster {
namespace {

using Clock = std::chrono::system_clock;

bool isIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Every address `host` has in the system's resolver (text, sorted, unique).
std::vector<std::string> systemResolve(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, ip, sizeof ip);
      out.emplace_back(ip);
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, ip, sizeof ip);
      out.emplace_back(ip);
    }
  }
  freeaddrinfo(res);
  return out;
}

// Every address of `ips` as a gRPC target "IP:PORT" / "[IP6]:PORT", sorted and
// unique; entries that are not IP addresses are left out.
std::vector<std::string> targetsOf(const std::vector<std::string>& ips, const std::string& port) {
  std::vector<std::string> out;
  unsigned char buf[sizeof(struct in6_addr)];
  for (const std::string& ip : ips) {
    if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
      out.push_back(strCat(ip, ":", port));
    } else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
      out.push_back(strCat("[", ip, "]:", port));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Waits until every callback of a round has run.
class Latch {
 public:
  explicit Latch(size_t n) : n_(n) {}
  void done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_;
};

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> splitTarget(std::string_view target) {
  std::string_view host, port;
  if (target.starts_with('[')) {
    size_t close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':') {
      return absl::InvalidArgumentError(
          strCat("cluster.workers: '", target, "' is not [IPV6]:PORT"));
    }
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    size_t colon = target.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          strCat("cluster.workers: '", target, "' lacks a port (HOST:PORT)"));
    }
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool port_ok = !port.empty() && port.size() <= 5 &&
                 std::all_of(port.begin(), port.end(), digit) &&
                 std::stoi(std::string(port)) > 0 && std::stoi(std::string(port)) <= 65535;
  if (host.empty() || !port_ok) {
    return absl::InvalidArgumentError(
        strCat("cluster.workers: '", target, "' is not HOST:PORT with a port 1..65535"));
  }
  return std::make_pair(std::string(host), std::string(port));
}

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::create(Options options) {
  if (options.targets.empty()) {
    return absl::InvalidArgumentError("cluster.workers: a gateway needs at least one worker");
  }
  for (const std::string& t : options.targets) RETURN_IF_ERROR(splitTarget(t).status());
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                   channelCredentials(options.tls));
  auto pool = std::unique_ptr<WorkerPool>(new WorkerPool(std::move(options), std::move(creds)));
  pool->resolve();
  return pool;
}

WorkerPool::WorkerPool(Options options, std::shared_ptr<grpc::ChannelCredentials> creds)
    : options_(std::move(options)), creds_(std::move(creds)) {}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WorkerPool::start() {
  checkHealth();
  describe();
  thread_ = std::thread([this] { run(); });
}

void WorkerPool::run() {
  auto last_resolve = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(run_mu_);
      if (run_cv_.wait_for(lock, std::chrono::milliseconds(options_.health_interval_ms),
                           [this] { return stop_; })) {
        return;
      }
    }
    if (std::chrono::steady_clock::now() - last_resolve >=
        std::chrono::milliseconds(options_.resolve_interval_ms)) {
      resolve();
      last_resolve = std::chrono::steady_clock::now();
    }
    checkHealth();
    describe();
  }
}

void WorkerPool::resolve() {
  std::vector<std::pair<std::string, std::string>> wanted;  // address, target
  std::set<std::string> unresolved;                         // targets that failed now
  for (const std::string& t : options_.targets) {
    auto [host, port] = *splitTarget(t);
    std::vector<std::string> addresses =
        isIpLiteral(host) ? std::vector<std::string>{t}
                          : targetsOf(options_.resolver ? options_.resolver(host)
                                                        : systemResolve(host),
                                      port);
    if (addresses.empty()) {
      unresolved.insert(t);
      spdlog::warn("gateway: worker target {} does not resolve (will retry)", t);
    }
    for (std::string& a : addresses) wanted.emplace_back(std::move(a), t);
  }

  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WorkerRef> next;
  for (const WorkerRef& w : workers_) {
    // A target that failed to resolve keeps the workers it had.
    bool keep = unresolved.contains(w->target) ||
                std::any_of(wanted.begin(), wanted.end(),
                            [&](const auto& a) { return a.first == w->address; });
    if (keep) {
      next.push_back(w);
    } else {
      spdlog::info("gateway: worker {} left (no longer in DNS for {})", w->address, w->target);
    }
  }
  for (auto& [address, target] : wanted) {
    bool known = std::any_of(next.begin(), next.end(),
                             [&](const WorkerRef& w) { return w->address == address; });
    if (known) continue;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    auto [host, port] = *splitTarget(target);
    if (!options_.tls.empty() && !isIpLiteral(host)) args.SetSslTargetNameOverride(host);
    // One channel per worker, never shared: its state is that worker's.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto w = std::make_shared<Worker>();
    w->address = address;
    w->target = target;
    w->channel = grpc::CreateCustomChannel(address, creds_, args);
    w->stub = v1::Worker::NewStub(w->channel);
    w->control = v1::Control::NewStub(w->channel);
    spdlog::info("gateway: worker {} added (from {})", address, target);
    next.push_back(std::move(w));
  }
  workers_ = std::move(next);
}

void WorkerPool::checkHealth() {
  std::vector<WorkerRef> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers = workers_;
  }
  if (workers.empty()) return;
  struct Call {
    std::unique_ptr<grpc::health::v1::Health::Stub> stub;
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  Latch latch(workers.size());
  for (const WorkerRef& w : workers) {
    auto call = std::make_unique<Call>();
    call->stub = grpc::health::v1::Health::NewStub(w->channel);
    call->ctx.set_deadline(Clock::now() + std::chrono::milliseconds(options_.health_timeout_ms));
    Call* c = call.get();
    c->stub->async()->Check(&c->ctx, &c->request, &c->response, [c, &latch](grpc::Status s) {
      c->status = std::move(s);
      latch.done();
    });
    calls.push_back(std::move(call));
  }
  latch.wait();
  for (size_t i = 0; i < workers.size(); ++i) {
    const Call& c = *calls[i];
    bool healthy = c.status.ok() &&
                   c.response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    bool was = workers[i]->healthy.exchange(healthy);
    if (was != healthy) {
      if (healthy) {
        spdlog::info("gateway: worker {} is healthy", workers[i]->address);
      } else {
        spdlog::warn("gateway: worker {} is unhealthy: {}", workers[i]->address,
                     c.status.ok() ? "not serving" : c.status.error_message());
      }
    }
  }
}

void WorkerPool::describe() {
  WorkerRef w = pick({});
  if (!w) return;
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + std::chrono::milliseconds(options_.health_timeout_ms));
  v1::DescribeRequest request;
  v1::DescribeResponse response;
  grpc::Status s = w->control->Describe(&ctx, request, &response);
  if (!s.ok()) return;
  std::vector<ExtensionInfo> infos;
  for (const v1::Extension& e : response.extensions()) {
    infos.push_back({e.name(), e.mount(), e.kind(), e.display_name(), e.loaded(), e.error(),
                     {e.routes().begin(), e.routes().end()}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  extensions_ = std::move(infos);
}

WorkerPool::WorkerRef WorkerPool::pick(const std::vector<const Worker*>& exclude) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = workers_.size();
  if (n == 0) return nullptr;
  size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  WorkerRef best;
  for (size_t i = 0; i < n; ++i) {
    const WorkerRef& w = workers_[(start + i) % n];
    if (!w->healthy.load()) continue;
    if (std::find(exclude.begin(), exclude.end(), w.get()) != exclude.end()) continue;
    if (!best || w->in_flight.load() < best->in_flight.load()) best = w;
  }
  return best;
}

void WorkerPool::markUnhealthy(Worker& worker) {
  if (worker.healthy.exchange(false)) {
    spdlog::warn("gateway: worker {} is unhealthy: a request found its connection broken",
                 worker.address);
  }
}

size_t WorkerPool::healthyCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(workers_.begin(), workers_.end(),
                       [](const WorkerRef& w) { return w->healthy.load(); });
}

std::vector<WorkerPool::WorkerState> WorkerPool::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WorkerState> out;
  for (const WorkerRef& w : workers_) {
    out.push_back({w->address, w->healthy.load(), w->in_flight.load()});
  }
  return out;
}

std::vector<ExtensionInfo> WorkerPool::extensions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return extensions_;
}

int WorkerPool::reloadAll(uint32_t timeout_ms) const {
  std::vector<WorkerRef> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const WorkerRef& w : workers_) {
      if (w->healthy.load()) workers.push_back(w);
    }
  }
  if (workers.empty()) return 0;
  struct Call {
    grpc::ClientContext ctx;
    v1::ReloadRequest request;
    v1::ReloadResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  Latch latch(workers.size());
  for (const WorkerRef& w : workers) {
    auto call = std::make_unique<Call>();
    call->ctx.set_deadline(Clock::now() + std::chrono::milliseconds(timeout_ms));
    Call* c = call.get();
    w->control->async()->Reload(&c->ctx, &c->request, &c->response, [c, &latch](grpc::Status s) {
      c->status = std::move(s);
      latch.done();
    });
    calls.push_back(std::move(call));
  }
  latch.wait();
  int ok = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (calls[i]->status.ok()) {
      ++ok;
    } else {
      spdlog::warn("gateway: reload of worker {} failed: {}", workers[i]->address,
                   calls[i]->status.error_message());
    }
  }
  return ok;
}

}  // namespace habanero::cluster
