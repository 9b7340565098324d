#include "cluster/probes.h"

namespace habanero::cluster {

Probes::Probes(Dispatcher& next, ProblemsFn problems, MetricsFn metrics)
    : next_(next), problems_(std::move(problems)), metrics_(std::move(metrics)) {}

Response Probes::dispatch(const Request& request) {
  bool readyz = request.path == "/readyz";
  bool metrics = request.path == "/metrics" && metrics_;
  if (!readyz && !metrics) return next_.dispatch(request);
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = Response::text(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  Response r;
  if (metrics) {
    r = Response::text(200, metrics_());
    for (auto& [name, value] : r.headers) {
      if (name == "Content-Type") value = "text/plain; version=0.0.4; charset=utf-8";
    }
  } else {
    std::vector<std::string> problems = problems_ ? problems_() : std::vector<std::string>{};
    std::string body;
    for (const std::string& p : problems) body += p + "\n";
    r = problems.empty() ? Response::text(200, "ready\n") : Response::text(503, body);
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace habanero::cluster
