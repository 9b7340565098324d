// Cryptographically secure randomness (OpenSSL's DRBG, seeded by the OS).
//
//   ASSIGN_OR_RETURN(std::string state, crypto::randomBytes(32));
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "habanero/status.h"

namespace habanero::crypto {

// Fills `out` entirely. Internal if the generator fails (then `out` must not
// be used). Thread-safe.
absl::Status randomBytes(std::span<uint8_t> out);

// Returns `n` random bytes. Thread-safe.
absl::StatusOr<std::string> randomBytes(size_t n);

}  // namespace habanero::crypto
