// Hashes, MACs, constant-time comparison and password hashing.
//
//   std::string digest = crypto::sha256(data);                    // 32 raw bytes
//   if (!crypto::constantTimeEqual(crypto::hmacSha256(key, msg), mac)) return denied;
//   ASSIGN_OR_RETURN(std::string stored, crypto::argon2idHash(password));
//   ASSIGN_OR_RETURN(bool ok, crypto::argon2idVerify(stored, attempt));
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "habanero/status.h"

namespace habanero::crypto {

inline constexpr size_t kSha256Bytes = 32;

// The raw SHA-256 digest (kSha256Bytes bytes) of `data`. Thread-safe.
std::string sha256(std::string_view data);

// The raw HMAC-SHA-256 (RFC 2104) of `data` under `key` (any length). Thread-safe.
std::string hmacSha256(std::string_view key, std::string_view data);

// True iff a == b. The running time depends only on a.size(), never on the
// contents or on where they differ: pass the secret/expected value as `a`.
bool constantTimeEqual(std::string_view a, std::string_view b);

// Argon2id cost parameters. The defaults follow the OWASP password storage
// recommendation (19 MiB, 2 passes, 1 lane).
struct Argon2Params {
  uint32_t time_cost = 2;
  uint32_t memory_kib = 19 * 1024;
  uint32_t parallelism = 1;
  uint32_t salt_bytes = 16;
  uint32_t hash_bytes = 32;
};

// Ceilings on the costs argon2idVerify accepts from an encoded string, so a
// tampered record cannot make one verification exhaust memory or CPU.
inline constexpr uint32_t kArgon2MaxMemoryKib = 1u << 20;  // 1 GiB
inline constexpr uint32_t kArgon2MaxTimeCost = 64;
inline constexpr uint32_t kArgon2MaxParallelism = 16;

// Hashes `password` with a fresh random salt and returns the PHC encoded
// string ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), which carries
// everything argon2idVerify needs. InvalidArgument for parameters libargon2
// refuses. Thread-safe; costs time and memory by design, so it runs on
// CpuPool::passwordHashing() (cpu_pool.h) while the caller waits: never call it
// on an io thread.
absl::StatusOr<std::string> argon2idHash(std::string_view password,
                                         const Argon2Params& params = {});

// True if `password` matches `encoded` (from argon2idHash), false if not.
// InvalidArgument if `encoded` is not an argon2id encoding or its costs exceed
// the ceilings above. Thread-safe; runs on CpuPool::passwordHashing() like
// argon2idHash.
absl::StatusOr<bool> argon2idVerify(std::string_view encoded, std::string_view password);

}  // namespace habanero::crypto
