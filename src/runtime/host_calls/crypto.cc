// Capability "crypto": randomness, hashes, comparisons, JWK-based JWS checks
// (docs/abi.md §6). No host-held keys: those are "keys".
#include "crypto/hash.h"
#include "crypto/jwk.h"
#include "crypto/random.h"
#include "habanero/limits.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {
namespace {

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Result cryptoRandom(Call& c, uint32_t out_ptr, uint32_t len) {
  auto out = c.mem.slice(out_ptr, len);
  if (!out) return HABANERO_INVALID_MEMORY;
  if (out->size() > limits::kMaxRandomBytes) return HABANERO_LIMIT_EXCEEDED;
  if (!crypto::randomBytes(*out).ok()) return HABANERO_UNAVAILABLE;
  return HABANERO_OK;
}

Result cryptoSha256(Call& c, uint32_t data_ptr, uint32_t len, uint32_t out32) {
  auto data = c.mem.view(data_ptr, len);
  if (!data || !c.mem.slice(out32, 32)) return HABANERO_INVALID_MEMORY;
  auto digest = crypto::sha256(*data);
  c.mem.write(out32, asBytes(digest));
  return HABANERO_OK;
}

Result cryptoHmacSha256(Call& c, uint32_t key_ptr, uint32_t key_len, uint32_t data_ptr,
                        uint32_t data_len, uint32_t out32) {
  auto key = c.mem.view(key_ptr, key_len);
  auto data = c.mem.view(data_ptr, data_len);
  if (!key || !data || !c.mem.slice(out32, 32)) return HABANERO_INVALID_MEMORY;
  auto mac = crypto::hmacSha256(*key, *data);
  c.mem.write(out32, asBytes(mac));
  return HABANERO_OK;
}

Result cryptoEqual(Call& c, uint32_t a_ptr, uint32_t a_len, uint32_t b_ptr, uint32_t b_len) {
  auto a = c.mem.view(a_ptr, a_len);
  auto b = c.mem.view(b_ptr, b_len);
  if (!a || !b) return HABANERO_INVALID_MEMORY;
  return crypto::constantTimeEqual(*a, *b) ? HABANERO_OK : HABANERO_MISMATCH;
}

Result cryptoJwsVerifyJwk(Call& c, uint32_t jws_ptr, uint32_t jws_len, uint32_t jwk_ptr,
                          uint32_t jwk_len, uint32_t out, uint32_t cap, uint32_t out_len) {
  auto jws = c.mem.view(jws_ptr, jws_len);
  auto jwk = c.mem.view(jwk_ptr, jwk_len);
  if (!jws || !jwk || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto payload = crypto::verifyJwsWithJwk(*jws, *jwk);
  if (!payload.ok()) {
    return payload.status().code() == absl::StatusCode::kPermissionDenied
               ? HABANERO_MISMATCH
               : HABANERO_INVALID_ARGUMENT;
  }
  return c.writeOut(out, cap, out_len, *payload);
}

Result cryptoJwkThumbprint(Call& c, uint32_t jwk_ptr, uint32_t jwk_len, uint32_t out,
                           uint32_t cap, uint32_t out_len) {
  auto jwk = c.mem.view(jwk_ptr, jwk_len);
  if (!jwk || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto thumbprint = crypto::jwkThumbprint(*jwk);
  if (!thumbprint.ok()) return HABANERO_INVALID_ARGUMENT;
  return c.writeOut(out, cap, out_len, *thumbprint);
}

}  // namespace habanero::runtime::host
