// On a gateway, a change made through the admin API (a client added, a key
// rotated, a user removed) is written to the shared store by the gateway; the
// workers cache clients and keys, so they are told to reload (Control.Reload)
// before the admin API's answer goes back. Requests other than successful
// writes under /admin pass through untouched.
//
//   AdminRelay relay(admin_api, pool);
//   Probes probes(relay, ...);
//
// Thread-safe.
#pragma once

#include "cluster/worker_pool.h"
#include "habanero/dispatch.h"

namespace habanero::cluster {

class AdminRelay final : public Dispatcher {
 public:
  // Both borrowed; they must outlive this.
  AdminRelay(Dispatcher& next, const WorkerPool& pool);

  Response dispatch(const Request& request) override;

 private:
  Dispatcher& next_;
  const WorkerPool& pool_;
};

}  // namespace habanero::cluster
