// The host's JWS signing keys: generated, persisted, rotated and published.
//
// Keys live in Storage namespace "_host/keys" as one record (so rotation is a
// single compare-and-set): each key's private key, kid, alg, created_ms and
// retired_ms. The kid is the key's RFC 7638 JWK thumbprint. With a
// key-encryption key (KeyStoreOptions::kek, crypto/kek.h) the private keys are
// stored sealed with AES-256-GCM (bound to their kid) and the record names the
// KEK's fingerprint; a record written without one (plain PKCS#8 PEM) is sealed
// on the first open that has a KEK. A wrong or missing KEK for a sealed record
// is an error at open — never a reason to make new keys.
//
// Exactly one key is active and signs. rotate() retires it in favour of a new
// one; a retired key still verifies and stays in the JWKS until
// retired_ms + retention_ms, so tokens it signed stay valid for that long.
// After that it is ignored, and the next rotate() deletes it.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<KeyStore> keys,
//                    KeyStore::open(storage, clock, {.alg = "ES256"}));
//   ASSIGN_OR_RETURN(std::string jwt, keys->sign(R"({"typ":"JWT"})", claims_json));
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include <mutex>
#include "habanero/clock.h"
#include "habanero/signer.h"
#include "habanero/status.h"
#include "habanero/storage.h"

namespace habanero::crypto {

struct KeyStoreOptions {
  // Algorithm of keys this store generates: "ES256" (P-256), "RS256" (RSA
  // 2048) or "EdDSA" (Ed25519). Existing keys keep theirs; to switch, change
  // it and rotate().
  std::string alg = "ES256";
  // How long a retired key keeps verifying; at least the longest token lifetime.
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  // The key-encryption key (32 bytes) sealing the private keys at rest; ""
  // stores them as plain PEM (tests; the server always sets one).
  std::string kek;
};

// One key as listKeys() reports it; no secret material.
struct KeyInfo {
  std::string kid;
  std::string alg;
  int64_t created_ms = 0;
  int64_t retired_ms = 0;  // 0: the active key
  int64_t expires_ms = 0;  // retired_ms + retention_ms; 0: never (active)
};

class KeyStore final : public Signer {
 public:
  // The records' location in Storage.
  static constexpr std::string_view kNamespace = "_host/keys";
  static constexpr std::string_view kRecordKey = "keyset";

  // Loads the keys from `storage`, generating and persisting an active key on
  // first start. `storage` and `clock` must outlive the KeyStore.
  // InvalidArgument for unknown options; DataLoss for an unreadable record;
  // storage errors as they come.
  static absl::StatusOr<std::unique_ptr<KeyStore>> open(Storage& storage, const Clock& clock,
                                                        KeyStoreOptions options = {});

  ~KeyStore() override;
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Signer. sign() and verify() work on an in-memory snapshot (no storage
  // access) and may run concurrently with each other and with the calls below.
  // Both refuse "crit" (no critical extensions are understood), so whatever
  // sign() returns, verify() accepts while the key is retained. Headers nest
  // JSON at most 16 deep.
  absl::StatusOr<std::string> sign(std::string_view header_json,
                                   std::string_view payload) const override;
  absl::StatusOr<std::string> verify(std::string_view jws) const override;
  std::string jwks() const override;

  // Generates a new active key (options.alg), retires the current one and
  // drops keys past their retention, atomically in storage; then signs with
  // the new key. Safe against a concurrent rotate() in another process.
  absl::Status rotate();

  // Re-reads storage to pick up a rotation made by another process (the CLI).
  // Cheap when nothing changed. On error the current keys stay in use.
  absl::Status reload();

  // Re-seals every private key of the stored record under `new_kek` (from
  // `old_kek`, or from plain PEM), atomically: `habanero keys rewrap`.
  // FailedPrecondition if `old_kek` does not open the record.
  static absl::Status rewrap(Storage& storage, std::string_view old_kek, std::string_view new_kek);

  // Each usable key's private key as PKCS#8 PEM, active first (for exports to
  // other hosts of the same issuer, e.g. `habanero edge export`). Secret.
  std::vector<std::pair<KeyInfo, std::string>> privateKeys() const;

  // The usable keys: active first, then retained ones, newest first.
  std::vector<KeyInfo> listKeys() const;

  struct Key;     // one loaded key (immutable)
  struct KeySet;  // an immutable snapshot of all keys

 private:
  enum class Mode { kOpen, kReload, kRotate };

  KeyStore(Storage& storage, const Clock& clock, KeyStoreOptions options);

  // Reads the record and installs it as the snapshot. kOpen writes a new key
  // set only if there is no active key; kRotate always adds a key.
  absl::Status load(Mode mode);
  std::shared_ptr<const KeySet> snapshot() const;

  Storage& storage_;
  const Clock& clock_;
  const KeyStoreOptions options_;

  std::mutex update_mu_;  // serialises load(): snapshots are installed in storage order
  mutable std::mutex mu_;
  std::shared_ptr<const KeySet> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace habanero::crypto
