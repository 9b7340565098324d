// Capability "keys": JWS with host-held keys; the private keys never enter
// guest memory (docs/abi.md §6).
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result jwsSign(Call& c, uint32_t header_ptr, uint32_t header_len, uint32_t payload_ptr,
               uint32_t payload_len, uint32_t out, uint32_t cap, uint32_t out_len) {
  auto header = c.mem.view(header_ptr, header_len);
  auto payload = c.mem.view(payload_ptr, payload_len);
  if (!header || !payload || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto jws = c.services().signer->sign(*header, *payload);
  if (!jws.ok()) {
    if (jws.status().code() == absl::StatusCode::kInvalidArgument) return HABANERO_INVALID_ARGUMENT;
    return c.unavailable(jws.status());
  }
  return c.writeOut(out, cap, out_len, *jws);
}

Result jwsVerify(Call& c, uint32_t jws_ptr, uint32_t jws_len, uint32_t out, uint32_t cap,
                 uint32_t out_len) {
  auto jws = c.mem.view(jws_ptr, jws_len);
  if (!jws || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto payload = c.services().signer->verify(*jws);
  if (!payload.ok()) return HABANERO_MISMATCH;
  return c.writeOut(out, cap, out_len, *payload);
}

Result jwksGet(Call& c, uint32_t out, uint32_t cap, uint32_t out_len) {
  if (!c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  return c.writeOut(out, cap, out_len, c.services().signer->jwks());
}

}  // namespace habanero::runtime::host
