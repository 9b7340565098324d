#include "cluster/gateway_dispatcher.h"

#include <openssl/rand.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "cluster/conversions.h"
#include "cluster/logging.h"

namespace habanero::cluster {
namespace {

using Clock = std::chrono::system_clock;

bool isSafeMethod(const std::string& method) { return method == "GET" || method == "HEAD"; }

// Whether `channel` is (or becomes, before `until`) connected. False means a
// request would not have been sent.
bool connected(grpc::Channel& channel, Clock::time_point until) {
  for (;;) {
    grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return true;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, until)) return false;  // timed out
  }
}

struct CallResult {
  grpc::Status status;
  bool not_run = false;  // the worker refused it before running it
};

// Worker.Dispatch through the callback API, waited for here (the HTTP front's
// dispatch thread is ours to block).
CallResult callWorker(WorkerPool::Worker& worker, const v1::DispatchRequest& request,
                      v1::DispatchResponse& response, Clock::time_point deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  CallResult result;
  worker.stub->async()->Dispatch(&ctx, &request, &response, [&](grpc::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    result.status = std::move(s);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!result.status.ok()) {
    const auto& trailers = ctx.GetServerTrailingMetadata();
    result.not_run = trailers.find(kNotRunKey) != trailers.end();
  }
  return result;
}

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

std::string requestIdOf(const Request& request) {
  if (const std::string* id = findHeader(request.headers, "x-request-id")) {
    if (!id->empty() && id->size() <= 128 && std::all_of(id->begin(), id->end(), isIdChar)) {
      return *id;
    }
  }
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) abort();  // no randomness: fatal, as OOM
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

GatewayDispatcher::GatewayDispatcher(WorkerPool& pool, Options options)
    : pool_(pool), options_(options) {}

Response GatewayDispatcher::dispatch(const Request& request) {
  const std::string id = requestIdOf(request);
  RequestIdScope scope(id);  // log lines of this request carry its id (cluster/logging.h)
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
  v1::DispatchRequest wire;
  toProto(request, id, options_.request_timeout_ms, wire);

  auto withId = [&id](Response r) {
    r.headers.emplace_back("X-Request-Id", id);
    return r;
  };
  std::vector<const WorkerPool::Worker*> tried;
  for (uint32_t attempt = 0; attempt < options_.max_attempts; ++attempt) {
    WorkerPool::WorkerRef worker = pool_.pick(tried);
    if (!worker) break;
    tried.push_back(worker.get());
    if (attempt > 0) counters_.retried.fetch_add(1);

    auto until = std::min(deadline, Clock::now() + std::chrono::milliseconds(
                                                       options_.connect_timeout_ms));
    if (!connected(*worker->channel, until)) {
      // Never sent: any method may go elsewhere.
      pool_.markUnhealthy(*worker);
      continue;
    }
    v1::DispatchResponse answer;
    worker->in_flight.fetch_add(1);
    CallResult result = callWorker(*worker, wire, answer, deadline);
    worker->in_flight.fetch_sub(1);
    if (result.status.ok()) {
      counters_.forwarded.fetch_add(1);
      spdlog::debug("gateway: {} {} -> worker {} -> {}", request.method, request.path,
                    worker->address, answer.status());
      return withId(fromProto(answer));
    }
    counters_.grpc_errors.fetch_add(1);
    grpc::StatusCode code = result.status.error_code();
    if (result.not_run && code != grpc::StatusCode::DEADLINE_EXCEEDED) {
      if (code == grpc::StatusCode::UNAVAILABLE) pool_.markUnhealthy(*worker);  // draining
      continue;
    }
    if (code == grpc::StatusCode::DEADLINE_EXCEEDED || Clock::now() >= deadline) {
      counters_.deadline.fetch_add(1);
      spdlog::warn("request {}: {} {}: worker {} did not answer within {} ms", id, request.method,
                   request.path, worker->address, options_.request_timeout_ms);
      return withId(Response::text(504, "gateway timeout: the worker did not answer in time\n"));
    }
    if (code == grpc::StatusCode::UNAVAILABLE) pool_.markUnhealthy(*worker);
    spdlog::warn("request {}: {} {}: worker {} failed: {} {}", id, request.method, request.path,
                 worker->address, static_cast<int>(code), result.status.error_message());
    if (isSafeMethod(request.method)) continue;
    counters_.failed_in_flight.fetch_add(1);
    return withId(Response::text(502, "bad gateway: the worker failed while answering\n"));
  }
  counters_.unavailable.fetch_add(1);
  Response r = Response::text(503, "service unavailable: no worker can answer now\n");
  r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_s));
  return withId(std::move(r));
}

}  // namespace habanero::cluster
