// Capability "clients": the host's client registrations (design 0001,
// docs/abi.md §6).
#include "auth/clients.h"
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
  // Unavailable: a shared store could not confirm the secret now (the guest answers 503).
  absl::StatusOr<bool> ok = c.services().clients->check(*id, *secret);
  if (!ok.ok()) return HABANERO_UNAVAILABLE;
  return *ok ? HABANERO_OK : HABANERO_MISMATCH;
}

}  // namespace habanero::runtime::host
