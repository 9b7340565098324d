#include "cluster/worker_service.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "cluster/conversions.h"
#include "cluster/dispatch_pool.h"
#include "cluster/logging.h"
#include "habanero/v1/worker.grpc.pb.h"

namespace habanero::cluster {
namespace {

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

grpc::Status notRun(grpc::CallbackServerContext* ctx, grpc::StatusCode code, std::string why) {
  ctx->AddTrailingMetadata(kNotRunKey, "1");
  return grpc::Status(code, std::move(why));
}

class WorkerService final : public v1::Worker::CallbackService {
 public:
  WorkerService(Dispatcher& dispatcher, DispatchPool& pool, const std::atomic<bool>& draining,
                std::atomic<int64_t>& last_arrival_ms)
      : dispatcher_(dispatcher),
        pool_(pool),
        draining_(draining),
        last_arrival_ms_(last_arrival_ms) {}

  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx,
                                     const v1::DispatchRequest* request,
                                     v1::DispatchResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    last_arrival_ms_.store(steadyMs());
    if (draining_.load()) {
      reactor->Finish(notRun(ctx, grpc::StatusCode::UNAVAILABLE, "worker is draining"));
      return reactor;
    }
    // ctx, request and response live until Finish(): the task may use them.
    bool queued = pool_.tryPost([this, ctx, request, response, reactor] {
      if (ctx->IsCancelled() || std::chrono::system_clock::now() >= ctx->deadline()) {
        reactor->Finish(notRun(ctx, grpc::StatusCode::DEADLINE_EXCEEDED,
                               "deadline passed before the request could start"));
        return;
      }
      Request r = fromProto(*request);
      // Every line logged while it runs carries the gateway's id (cluster/logging.h).
      RequestIdScope scope(request->request_id());
      Response out = dispatcher_.dispatch(r);
      spdlog::debug("worker: {} {} -> {}", r.method, r.path, out.status);
      toProto(out, *response);
      reactor->Finish(grpc::Status::OK);
    });
    if (!queued) {
      reactor->Finish(notRun(ctx, grpc::StatusCode::RESOURCE_EXHAUSTED,
                             draining_.load() ? "worker is draining" : "worker queue is full"));
    }
    return reactor;
  }

 private:
  Dispatcher& dispatcher_;
  DispatchPool& pool_;
  const std::atomic<bool>& draining_;
  std::atomic<int64_t>& last_arrival_ms_;
};

class ControlService final : public v1::Control::CallbackService {
 public:
  ControlService(WorkerServer& server, WorkerServer::Hooks hooks, DispatchPool& pool)
      : server_(server), hooks_(std::move(hooks)), pool_(pool) {}

  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* ctx, const v1::ReloadRequest*,
                                   v1::ReloadResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (!hooks_.reload) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no reload"));
      return reactor;
    }
    // Reloading compiles modules: on the pool, not on a gRPC thread.
    bool queued = pool_.tryPost([this, response, reactor] {
      ReloadResult r = hooks_.reload();
      response->set_loaded(r.loaded);
      response->set_reused(r.reused);
      response->set_failed(r.failed);
      for (std::string& e : r.errors) response->add_errors(std::move(e));
      reactor->Finish(grpc::Status::OK);
    });
    if (!queued) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is busy or stopping"));
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* ctx, const v1::DrainRequest*,
                                  v1::DrainResponse* response) override {
    response->set_in_flight(static_cast<int32_t>(pool_.pending()));
    server_.drain();
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* ctx, const v1::DescribeRequest*,
                                     v1::DescribeResponse* response) override {
    if (hooks_.describe) {
      for (const ExtensionInfo& info : hooks_.describe()) {
        v1::Extension* e = response->add_extensions();
        e->set_name(info.name);
        e->set_mount(info.mount);
        e->set_kind(info.kind);
        e->set_display_name(info.display_name);
        e->set_loaded(info.loaded);
        e->set_error(info.error);
        for (const std::string& r : info.routes) e->add_routes(r);
      }
    }
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  WorkerServer& server_;
  WorkerServer::Hooks hooks_;
  DispatchPool& pool_;
};

}  // namespace

class WorkerServer::Impl {
 public:
  Impl(WorkerServer& owner, Options options, Dispatcher& dispatcher, Hooks hooks)
      : unready_(hooks.unready),
        options_(std::move(options)),
        pool_(options_.threads ? options_.threads
                               : std::max(2u, 2 * std::thread::hardware_concurrency()),
              options_.max_queued),
        worker_(dispatcher, pool_, owner.draining_, owner.last_arrival_ms_),
        control_(owner, std::move(hooks), pool_) {}

  // Follows unready_ and the drain flag into the health status, every second.
  void watchHealth(const std::atomic<bool>& draining) {
    bool serving = true;
    std::unique_lock<std::mutex> lock(health_mu_);
    while (!health_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return health_stop_; })) {
      lock.unlock();
      std::string why = draining.load() ? "draining" : unready_ ? unready_() : "";
      if (why.empty() != serving) {
        serving = why.empty();
        server_->GetHealthCheckService()->SetServingStatus(serving);
        if (serving) {
          spdlog::info("worker: serving again");
        } else {
          spdlog::warn("worker: not serving: {}", why);
        }
      }
      lock.lock();
    }
  }
  void stopWatching() {
    {
      std::lock_guard<std::mutex> lock(health_mu_);
      health_stop_ = true;
    }
    health_cv_.notify_all();
    if (health_thread_.joinable()) health_thread_.join();
  }

  std::function<std::string()> unready_;
  std::mutex health_mu_;
  std::condition_variable health_cv_;
  bool health_stop_ = false;  // guarded by health_mu_
  std::thread health_thread_;
  Options options_;
  DispatchPool pool_;
  WorkerService worker_;
  ControlService control_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool stopped_ = false;
};

WorkerServer::WorkerServer(Options options, Dispatcher& dispatcher, Hooks hooks)
    : impl_(std::make_unique<Impl>(*this, std::move(options), dispatcher, std::move(hooks))) {}

WorkerServer::~WorkerServer() { stop(); }

absl::Status WorkerServer::start() {
  if (impl_->server_) return absl::FailedPreconditionError("worker server already started");
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                   serverCredentials(impl_->options_.tls));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(impl_->options_.listen, creds, &impl_->port_);
  builder.RegisterService(&impl_->worker_);
  builder.RegisterService(&impl_->control_);
  // Requests and responses carry whole HTTP bodies (the front bounds them).
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  impl_->server_ = builder.BuildAndStart();
  if (!impl_->server_ || impl_->port_ == 0) {
    impl_->server_.reset();
    return absl::UnavailableError(
        strCat("cluster.listen: cannot listen on ", impl_->options_.listen));
  }
  impl_->server_->GetHealthCheckService()->SetServingStatus(true);
  if (impl_->unready_) {
    impl_->health_thread_ = std::thread([this] { impl_->watchHealth(draining_); });
  }
  spdlog::info("worker: serving gRPC on port {}{}", impl_->port_,
               impl_->options_.tls.empty() ? " (plaintext)"
               : impl_->options_.tls.ca.empty() ? " (TLS)" : " (mutual TLS)");
  return absl::OkStatus();
}

uint16_t WorkerServer::port() const { return static_cast<uint16_t>(impl_->port_); }

void WorkerServer::drain() {
  if (draining_.exchange(true)) return;
  if (impl_->server_) impl_->server_->GetHealthCheckService()->SetServingStatus(false);
  spdlog::info("worker: draining ({} request(s) in flight)", impl_->pool_.pending());
}

size_t WorkerServer::inFlight() const { return impl_->pool_.pending(); }

void WorkerServer::stop() {
  if (!impl_ || impl_->stopped_) return;
  impl_->stopped_ = true;
  drain();
  impl_->stopWatching();
  const int64_t start = steadyMs();
  const int64_t grace = impl_->options_.shutdown_grace_ms;
  // Gateways keep sending until they notice the drain (their next health
  // check, or a refusal): shut down once they have gone quiet.
  while (impl_->server_ && steadyMs() - start < grace) {
    int64_t quiet = steadyMs() - std::max(start, last_arrival_ms_.load());
    if (impl_->pool_.pending() == 0 && quiet >= impl_->options_.drain_quiet_ms) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (impl_->server_) {
    // Running requests finish on the pool; Shutdown waits for their replies
    // until the grace period ends, then cancels what is left.
    auto until = std::chrono::system_clock::now() +
                 std::chrono::milliseconds(impl_->options_.shutdown_grace_ms);
    impl_->server_->Shutdown(until);
  }
  impl_->pool_.stop();
  if (impl_->server_) impl_->server_->Wait();
}

}  // namespace habanero::cluster
