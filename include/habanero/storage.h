// Durable key-value storage for the host and for extensions.
//
// Data lives in namespaces (one per extension, "_host/..." for the host's own
// records); keys and values are arbitrary bytes. Every operation is atomic and,
// once it returns OK, durable: it survives a crash of the process.
//
// Expiry: a record written with ttl_ms > 0 expires at now + ttl_ms on the
// storage's Clock; an expired record behaves exactly as an absent one for every
// operation. Backends may reclaim expired rows lazily.
//
// All methods are thread-safe. Errors: Unavailable when the backend cannot be
// reached or is busy past its timeout; InvalidArgument for over-long keys.
//
//   SqliteStorage::open(dir / "habanero.db", clock) -> StatusOr<StoragePtr>
//   store->put("hello", "visits", "1", /*ttl_ms=*/0);
//   ASSIGN_OR_RETURN(std::vector<KeyValue> all, store->list("_host/clients", 1000));
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "habanero/status.h"

namespace habanero {

// One record as list() returns it.
struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // The value, or std::nullopt when absent or expired.
  virtual absl::StatusOr<std::optional<std::string>> get(std::string_view ns,
                                                         std::string_view key) = 0;

  // Inserts or replaces. ttl_ms <= 0: never expires.
  virtual absl::Status put(std::string_view ns, std::string_view key, std::string_view value,
                           int64_t ttl_ms) = 0;

  // Removes the key; OK whether or not it existed.
  virtual absl::Status remove(std::string_view ns, std::string_view key) = 0;

  // Atomically reads and removes: of concurrent callers, exactly one gets the
  // value, the others std::nullopt.
  virtual absl::StatusOr<std::optional<std::string>> take(std::string_view ns,
                                                          std::string_view key) = 0;

  // Writes `value` only if the current value equals `expected`
  // (std::nullopt: only if absent or expired). Returns true if written, false
  // if another value was found. Of concurrent callers with the same
  // `expected`, at most one succeeds.
  virtual absl::StatusOr<bool> compareAndSet(std::string_view ns, std::string_view key,
                                             std::optional<std::string_view> expected,
                                             std::string_view value, int64_t ttl_ms) = 0;

  // Up to `limit` live (unexpired) records of namespace `ns`, ordered by key
  // (bytewise), for listings such as `habanero client list`. Not for request
  // paths: it reads the whole namespace up to `limit`. Empty for an unknown
  // namespace or limit 0. One consistent snapshot of the namespace.
  virtual absl::StatusOr<std::vector<KeyValue>> list(std::string_view ns, size_t limit) = 0;
};

using StoragePtr = std::unique_ptr<Storage>;

// An optional ability of a store shared by several processes (PostgreSQL):
// work queues whose consumers never contend for the same record. Find it with
// dynamic_cast<LeasingStorage*>(&storage); without it, callers lease records
// by compareAndSet().
class LeasingStorage {
 public:
  virtual ~LeasingStorage() = default;

  // Looks at up to `limit` live records of `ns` in key order, skipping those
  // another claim() holds right now (never waiting for them), and for each
  // asks `lease`: a new value to write (the record is then claimed), or
  // std::nullopt (left as it is). The writes commit together before claim()
  // returns; the claimed records, with their new values, in key order.
  // `lease` runs while the records are locked: keep it short, no I/O.
  virtual absl::StatusOr<std::vector<KeyValue>> claim(
      std::string_view ns, size_t limit,
      const std::function<std::optional<std::string>(const KeyValue&)>& lease) = 0;
};

}  // namespace habanero
