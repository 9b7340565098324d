// The operator's endpoints in front of every HTTP role: GET/HEAD /readyz
// (200 "ready", or 503 listing what is missing, one line each) and, when a
// metrics source is set, GET /metrics (Prometheus text format). /healthz
// stays the HTTP front's own (process alive).
//
//   Probes probes(next, [&] { return readinessProblems(); });
//   HttpServer server(options, probes);
//
// Everything else goes to `next`. Thread-safe when the callbacks are.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "habanero/dispatch.h"

namespace habanero::cluster {

class Probes final : public Dispatcher {
 public:
  // What keeps the process from serving (empty: ready). Called per /readyz.
  using ProblemsFn = std::function<std::vector<std::string>()>;
  // The metrics page (Prometheus text exposition format 0.0.4).
  using MetricsFn = std::function<std::string()>;

  // `next` is borrowed and must outlive this.
  Probes(Dispatcher& next, ProblemsFn problems, MetricsFn metrics = {});

  Response dispatch(const Request& request) override;

 private:
  Dispatcher& next_;
  ProblemsFn problems_;
  MetricsFn metrics_;
};

}  // namespace habanero::cluster

namespace habanero::cluster {

// Answers 404 to everything: what stands behind the Probes of a listener that
// serves only them (a worker's cluster.probe_listen).
class NotFound final : public Dispatcher {
 public:
  Response dispatch(const Request&) override { return Response::text(404, "not found\n"); }
};

}  // namespace habanero::cluster
