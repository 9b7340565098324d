// Key-encryption keys (KEK) for secrets at rest, and the AES-256-GCM sealing
// that uses them (the signing keys' private keys, crypto/key_store.h).
//
// A KEK is 32 random bytes, written as base64 — what `openssl rand -base64 32`
// prints. It comes from configuration ([keys] kek_file or HABANERO_KEYS_KEK)
// or, for a single SQLite node, is generated into the data directory (0600).
//
//   ASSIGN_OR_RETURN(std::string kek, crypto::readKekFile("/run/secrets/kek"));
//   ASSIGN_OR_RETURN(std::string sealed, crypto::seal(kek, pem, /*aad=*/kid));
//   ASSIGN_OR_RETURN(std::string pem2, crypto::unseal(kek, sealed, kid));
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "habanero/status.h"

namespace habanero::crypto {

inline constexpr size_t kKekBytes = 32;

// The KEK in `text` (standard base64 of exactly 32 bytes; surrounding
// whitespace ignored). InvalidArgument naming `what` otherwise; never echoes the text.
absl::StatusOr<std::string> parseKek(std::string_view text, std::string_view what);

// Reads and parses a KEK file. Errors name the path (never the contents).
absl::StatusOr<std::string> readKekFile(const std::string& path);

// Creates `path` (mode 0600, whatever the umask) holding a new random KEK;
// AlreadyExists if the file exists (it is never overwritten). Returns the KEK.
absl::StatusOr<std::string> createKekFile(const std::string& path);

// Replaces `path` atomically (mode 0600) with `kek` in base64.
absl::Status writeKekFile(const std::string& path, std::string_view kek);

// A short public fingerprint of a KEK (not usable to recover it), stored next
// to what it sealed so a wrong KEK is named as such.
std::string kekId(std::string_view kek);

// AES-256-GCM with a random 96-bit nonce: nonce || ciphertext || tag, bound to
// `aad`. InvalidArgument for a KEK of the wrong size.
absl::StatusOr<std::string> seal(std::string_view kek, std::string_view plaintext,
                                 std::string_view aad);
// The inverse; PermissionDenied when the KEK or `aad` is wrong or the box was altered.
absl::StatusOr<std::string> unseal(std::string_view kek, std::string_view sealed,
                                   std::string_view aad);

}  // namespace habanero::crypto
