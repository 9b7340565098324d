// What the runtime tells an embedder about its work, for metrics: instances
// created, traps, deadline (epoch) interruptions and host calls that failed.
//
//   class Counting : public runtime::Observer { ... };
//   Counting counting;
//   services.observer = &counting;          // HostServices; null: nobody is told
//
// The runtime owns this interface and knows nothing of who implements it (the
// server's Prometheus metrics, a test). Unset (null, the default) costs one
// pointer test per event. Every method may be called from any request or
// event thread at once, while a request runs: keep it short, never block,
// never call back into the runtime. `extension` is the configured name;
// `call` is a host call's import name (host_call_list.h); the views live only
// for the call.
#pragma once

#include <string_view>

#include "../../sdk/c/habanero.h"

namespace habanero::runtime {

class Observer {
 public:
  virtual ~Observer() = default;

  // A fresh instance was created for a request or an event delivery.
  virtual void instanceCreated(std::string_view extension) = 0;
  // The guest trapped (unreachable, out-of-bounds access, stack overflow …),
  // during instantiation, _initialize or its entry point.
  virtual void trapped(std::string_view extension) = 0;
  // The guest ran past its deadline and the epoch interrupted it.
  virtual void deadlineExceeded(std::string_view extension) = 0;
  // A host call answered a result that reports a failure (isHostCallError()).
  virtual void hostCallFailed(std::string_view extension, std::string_view call,
                              habanero_result_t result) = 0;
};

// Whether a host call's result reports a failure: the guest's mistake
// (INVALID_MEMORY, INVALID_ARGUMENT, LIMIT_EXCEEDED), a refusal (DENIED,
// REJECTED) or the host's trouble (UNAVAILABLE, BAD_STATE). Answers that are
// part of a call's normal protocol (OK, NOT_FOUND, BUFFER_TOO_SMALL,
// DUPLICATE, CONFLICT, MISMATCH) are not.
constexpr bool isHostCallError(habanero_result_t r) {
  return r == HABANERO_INVALID_MEMORY || r == HABANERO_INVALID_ARGUMENT ||
         r == HABANERO_LIMIT_EXCEEDED || r == HABANERO_UNAVAILABLE || r == HABANERO_BAD_STATE ||
         r == HABANERO_DENIED || r == HABANERO_REJECTED;
}

// The result's name in lower case ("unavailable"), for metric labels.
constexpr std::string_view resultName(habanero_result_t r) {
  switch (r) {
    case HABANERO_OK: return "ok";
    case HABANERO_NOT_FOUND: return "not_found";
    case HABANERO_INVALID_MEMORY: return "invalid_memory";
    case HABANERO_BUFFER_TOO_SMALL: return "buffer_too_small";
    case HABANERO_INVALID_ARGUMENT: return "invalid_argument";
    case HABANERO_DUPLICATE: return "duplicate";
    case HABANERO_CONFLICT: return "conflict";
    case HABANERO_MISMATCH: return "mismatch";
    case HABANERO_LIMIT_EXCEEDED: return "limit_exceeded";
    case HABANERO_UNAVAILABLE: return "unavailable";
    case HABANERO_BAD_STATE: return "bad_state";
    case HABANERO_DENIED: return "denied";
    case HABANERO_REJECTED: return "rejected";
  }
  return "other";
}

}  // namespace habanero::runtime
