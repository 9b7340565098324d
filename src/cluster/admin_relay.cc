#include "cluster/admin_relay.h"

#include <spdlog/spdlog.h>

namespace habanero::cluster {

AdminRelay::AdminRelay(Dispatcher& next, const WorkerPool& pool) : next_(next), pool_(pool) {}

Response AdminRelay::dispatch(const Request& request) {
  Response r = next_.dispatch(request);
  bool admin = request.path == "/admin" || request.path.starts_with("/admin/");
  bool write = request.method != "GET" && request.method != "HEAD";
  if (admin && write && r.status >= 200 && r.status < 300) {
    int reloaded = pool_.reloadAll();
    spdlog::info("admin {} {}: {} worker(s) reloaded", request.method, request.path, reloaded);
  }
  return r;
}

}  // namespace habanero::cluster
