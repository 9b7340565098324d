// Capability "fetch": outbound HTTP GET (design 0002, docs/abi.md §6). The
// policy (SSRF guard, limits) and the JSON shapes are src/outbound's; the
// host's base policy comes from HostServices, narrowed by the extension's
// fetch_hosts grant. Waits on the network (Wait::kNetwork).
#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "outbound/json_api.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result httpFetch(Call& c, uint32_t request_ptr, uint32_t request_len, uint32_t out, uint32_t cap,
                 uint32_t out_len) {
  auto request = c.mem.view(request_ptr, request_len);
  if (!request || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  HostState& st = c.st;
  std::string key(*request);
  std::string answer;
  // An answer that did not fit the guest's buffer is held for the retry with
  // the same request, so the retry does not fetch again.
  if (auto held = st.held_fetches.find(key); held != st.held_fetches.end()) {
    answer = std::move(held->second);
    st.held_fetches.erase(held);
  } else {
    outbound::FetchPolicy policy = c.services().fetch_policy;
    if (st.spec != nullptr) policy.allowed_hosts = st.spec->grants.fetch_hosts;
    auto fetched = outbound::fetchJson(*c.services().fetcher, *request, policy);
    if (!fetched.ok()) {
      spdlog::info("[{}] http_fetch: {}", st.extension, logSafe(sv(fetched.status().message())));
      switch (fetched.status().code()) {
        case absl::StatusCode::kInvalidArgument: return HABANERO_INVALID_ARGUMENT;
        case absl::StatusCode::kPermissionDenied: return HABANERO_DENIED;
        case absl::StatusCode::kResourceExhausted: return HABANERO_LIMIT_EXCEEDED;
        default: return HABANERO_UNAVAILABLE;
      }
    }
    answer = std::move(*fetched);
  }
  Result r = c.writeOut(out, cap, out_len, answer);
  if (r == HABANERO_BUFFER_TOO_SMALL) {
    st.held_fetches.clear();  // at most one held answer per request
    st.held_fetches.emplace(std::move(key), std::move(answer));
  }
  return r;
}

}  // namespace habanero::runtime::host
