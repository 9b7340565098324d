// Capability "clients": the host's client registrations (design 0001,
// docs/abi.md §6).
#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/throttle.h"
#include "habanero/strings.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result clientGet(Call& c, uint32_t id_ptr, uint32_t id_len, uint32_t out, uint32_t cap,
                 uint32_t out_len) {
  auto id = c.mem.view(id_ptr, id_len);
  if (!id || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  std::shared_ptr<const auth::RegisteredClient> client = c.services().clients->find(*id);
  if (client == nullptr) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, client->json);
}

Result clientAuthenticate(Call& c, uint32_t id_ptr, uint32_t id_len, uint32_t secret_ptr,
                          uint32_t secret_len) {
  auto id = c.mem.view(id_ptr, id_len);
  auto secret = c.mem.view(secret_ptr, secret_len);
  if (!id || !secret) return HABANERO_INVALID_MEMORY;
  // Throttled (auth::Throttle, per client id and per source address): a try
  // holds a token of each while the secret is checked and gives them back
  // unless it fails; an empty bucket refuses before the secret costs anything
  // (the host sets Retry-After, the guest answers 429). A secret the snapshot
  // proves right without Argon2id (generated, or chosen and verified before)
  // bypasses the buckets: it costs nothing, failures never come from it, and
  // so neither a flood of wrong guesses nor many concurrent right requests
  // (each holding a token while checked) can lock its client out.
  auth::Throttle* by_client = c.services().client_auth_by_client;
  auth::Throttle* by_address = c.services().client_auth_by_address;
  const std::string& address = c.request().remote_addr;
  if (c.services().clients->matchesCheaply(*id, *secret)) {
    absl::StatusOr<bool> ok = c.services().clients->check(*id, *secret);
    if (!ok.ok()) return HABANERO_UNAVAILABLE;
    if (*ok) return HABANERO_OK;
    // A shared store no longer has it with this secret (removed elsewhere).
    spdlog::info("[{}] client_authenticate: client '{}' from {} no longer has this secret",
                 c.st.extension, logSafe(*id), logSafe(address));
    return HABANERO_MISMATCH;
  }
  int64_t wait_ms = by_client != nullptr ? by_client->take(*id) : 0;
  if (wait_ms == 0 && by_address != nullptr) {
    wait_ms = by_address->take(address);
    if (wait_ms > 0 && by_client != nullptr) by_client->refund(*id);
  }
  if (wait_ms > 0) {
    int64_t wait_s = (wait_ms + 999) / 1000;
    spdlog::info("[{}] client_authenticate: client '{}' from {} throttled after failed "
                 "attempts (retry in {} s)",
                 c.st.extension, logSafe(*id), logSafe(address), wait_s);
    hostHeader(c.st, "Retry-After", std::to_string(wait_s));
    return HABANERO_DENIED;
  }
  auto refund = [&] {
    if (by_client != nullptr) by_client->refund(*id);
    if (by_address != nullptr) by_address->refund(address);
  };
  // Unavailable: a shared store could not confirm the secret now (the guest answers 503).
  absl::StatusOr<bool> ok = c.services().clients->check(*id, *secret);
  if (!ok.ok() || *ok) refund();
  if (!ok.ok()) return HABANERO_UNAVAILABLE;
  if (*ok) return HABANERO_OK;
  spdlog::info("[{}] client_authenticate: wrong secret for client '{}' from {}", c.st.extension,
               logSafe(*id), logSafe(address));
  return HABANERO_MISMATCH;
}

}  // namespace habanero::runtime::host
