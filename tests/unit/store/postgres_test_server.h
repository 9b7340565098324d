// PostgreSQL for tests: one throw-away server (tests/integration/postgres_server.py)
// and a fresh database per test.
//
// Under ctest the server is the shared fixture "postgres" (started once for
// the run, stopped at its end; HABANERO_TEST_POSTGRES names its state
// directory). A test binary run on its own starts a private server on first
// use and stops it at exit. Never skips: a missing PostgreSQL fails the test.
//
//   std::string url = habanero::testing::createPostgresDatabase();
//   ASSIGN_OR_RETURN(auto store, PostgresStorage::open({.url = url}));
//   …
//   habanero::testing::dropPostgresDatabase(url);
#pragma once

#include <filesystem>
#include <string>

#include "habanero/clock.h"
#include "habanero/status.h"
#include "habanero/storage.h"

namespace habanero::testing {

// The superuser URL of the test server (database "postgres"), starting it if needed.
// Aborts the test binary with a message if no server can be started.
const std::string& postgresAdminUrl();

// A new empty database on the test server; its URL (with the password).
std::string createPostgresDatabase();

// Drops the database `url` names, closing its connections. Best effort.
void dropPostgresDatabase(const std::string& url);

// The database of test directory `dir`: created on first call and written to
// dir/postgres.url, read back by later calls (a reopen, a forked child).
std::string postgresDatabaseFor(const std::filesystem::path& dir);
// Drops the database of `dir`, if it has one.
void dropPostgresDatabaseFor(const std::filesystem::path& dir);

// Opens PostgresStorage on the database of `dir`, expiring by `clock`.
absl::StatusOr<StoragePtr> openPostgresFor(const std::filesystem::path& dir, const Clock& clock);

// Runs one SQL statement as superuser on database `url`; its first column of
// the first row ("" if none). Aborts on error.
std::string postgresQuery(const std::string& url, const std::string& sql);

}  // namespace habanero::testing

namespace habanero::testing {

// The backend a suite registered with habanero_store_test() runs on this time:
// "postgres" when HABANERO_TEST_STORE=postgres (the ctest entries prefixed
// "postgres."), else "sqlite".
std::string testStoreBackend();

// Opens the test store of directory `dir` on testStoreBackend(): SQLite at
// dir/habanero.db, or the PostgreSQL database of `dir`. Called again with the
// same `dir`, it reopens the same data (another connection, or a restart).
absl::StatusOr<StoragePtr> openTestStore(const std::filesystem::path& dir, const Clock& clock);

// Releases what openTestStore() made outside `dir`; call before removing `dir`.
void cleanupTestStore(const std::filesystem::path& dir);

}  // namespace habanero::testing
