// The PostgreSQL schema as numbered migrations (table schema_migrations).
// Internal to src/store/postgres/.
//
// Each migration runs in its own transaction under a transaction-scoped
// advisory lock, after re-reading the applied version, so any number of
// processes may migrate at once: one applies, the others find it applied.
// Migrations are append-only: never edit one that has shipped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "habanero/status.h"

struct pg_conn;

namespace habanero::store {

struct Migration {
  int version;
  const char* name;
  const char* sql;  // one or more statements
};

// Every migration, oldest first; versions 1, 2, 3, … without gaps.
const std::vector<Migration>& migrations();

// The highest applied version on `conn` (0: none, no schema_migrations table).
absl::StatusOr<int> readSchemaVersion(pg_conn* conn, std::string_view display_url);

// Applies the missing migrations on `conn`, each in one transaction holding
// advisory lock `lock_key`; returns the versions it applied.
// FailedPrecondition for a database newer than this build.
absl::StatusOr<std::vector<int>> runMigrations(pg_conn* conn, int64_t lock_key,
                                               std::string_view display_url);

}  // namespace habanero::store
