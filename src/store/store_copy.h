// Moving a single-node installation to PostgreSQL: `habanero store copy`.
//
// Every record of the SQLite database (every namespace: users, clients, keys,
// sessions, the outbox, extensions' data) is written to the PostgreSQL store
// in one transaction, keeping its absolute expiry; records already expired are
// left behind. Nothing is half-copied: on any error the target is unchanged.
//
//   ASSIGN_OR_RETURN(CopyReport r, copySqliteToPostgres(dir + "/habanero.db", *pg, {}));
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "habanero/status.h"
#include "store/postgres/postgres_storage.h"

namespace habanero::store {

struct CopyOptions {
  // Replace records the target already has; false: refuse a non-empty target
  // (FailedPrecondition), so a copy never mixes two installations silently.
  bool overwrite = false;
  // Records that expire at or before this (ms since the epoch) are skipped;
  // nullopt: the system clock's now.
  std::optional<int64_t> now_ms;
};

struct CopyReport {
  size_t copied = 0;
  size_t expired_skipped = 0;
};

// Reads every record of the SQLite database file `sqlite_path` (opened read-only).
// NotFound if the file does not exist; errors name the path.
absl::Status forEachSqliteRecord(const std::string& sqlite_path,
                                 const std::function<void(RawRecord record)>& fn);

absl::StatusOr<CopyReport> copySqliteToPostgres(const std::string& sqlite_path,
                                                PostgresStorage& to, const CopyOptions& options);

}  // namespace habanero::store
