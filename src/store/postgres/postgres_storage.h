// Storage on PostgreSQL 15+ (libpq): the shared store of every process in a
// cluster (issue 13). SQLite stays the embedded default.
//
// Every operation is one SQL statement on one pooled connection: take() is a
// DELETE … RETURNING, compareAndSet() a conditional upsert (or a conditional
// UPDATE when a value is expected), so atomicity holds across processes
// without explicit transactions. Expiry uses the database's clock
// (clock_timestamp()), so processes with skewed clocks agree; a test may
// inject its own Clock instead. Expired rows are invisible at once and
// reclaimed by a background thread in small batches, off the request path.
//
// The schema is versioned (schema_migrations); open() applies missing
// migrations, each in one transaction under an advisory lock, so several
// processes starting at once are safe. `habanero migrate` calls migrate().
//
// Connections: a bounded pool (PostgresOptions::pool_size), opened lazily;
// a call waits at most pool_wait_ms for a free connection, each statement at
// most statement_timeout_ms, a connect at most connect_timeout_ms. A broken
// connection is dropped and replaced on the next call. While the database is
// unreachable calls fail fast with Unavailable (and the outage is logged once,
// its end once).
//
//   PostgresOptions o;
//   o.url = "postgres://habanero@db.internal/habanero?sslmode=verify-full";
//   o.password_file = "/run/secrets/db-password";
//   ASSIGN_OR_RETURN(StoragePtr store, PostgresStorage::open(o));
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "habanero/clock.h"
#include "habanero/status.h"
#include "habanero/storage.h"

struct pg_conn;
struct pg_result;

namespace habanero::store {

struct PostgresOptions {
  // A libpq connection URI: postgres://[user[:password]@]host[:port]/dbname[?param=value…]
  // (sslmode, sslrootcert, … as libpq documents them). Never logged with its password.
  std::string url;
  // A file holding only the password (a trailing newline is ignored); "" = the
  // URL's password, if any. Overrides the URL's password.
  std::string password_file;
  size_t pool_size = 8;
  uint32_t connect_timeout_ms = 5'000;
  uint32_t statement_timeout_ms = 5'000;
  uint32_t pool_wait_ms = 5'000;  // waiting for a free connection
  // Expiry clock; nullptr = the database's clock (production). Must outlive the storage.
  const Clock* clock = nullptr;
  // Reclaims expired rows every purge_interval_ms, kPurgeBatchRows at a time; 0 = never.
  uint32_t purge_interval_ms = 60'000;
  // Apply missing migrations in open() (the server and CLI do); false: refuse
  // a database whose schema is behind (FailedPrecondition naming `habanero migrate`).
  bool migrate = true;
};

// One record with its absolute expiry, as `habanero store copy` moves it.
struct RawRecord {
  std::string ns;
  std::string key;
  std::string value;
  std::optional<int64_t> expires_at;  // ms since the epoch; nullopt: never
  bool operator==(const RawRecord&) const = default;
};

// The URL with its password (and any password= parameter) replaced by "***",
// for logs and errors.
std::string redactUrl(std::string_view url);

// Whether `url` names a PostgreSQL store (postgres:// or postgresql://).
bool isPostgresUrl(std::string_view url);

class PostgresStorage final : public Storage, public LeasingStorage {
 public:
  static constexpr int kPurgeBatchRows = 500;
  // While the database is down, a new connection is tried at most this often;
  // calls in between fail at once with Unavailable.
  static constexpr int64_t kReconnectIntervalMs = 500;
  // The newest schema version this build knows.
  static int latestSchemaVersion();

  // Checks the URL, connects once (so a malformed URL, an unreachable server
  // or a wrong password is named now), applies migrations (options.migrate)
  // and starts the purge thread. InvalidArgument for a malformed URL or
  // unreadable password file; Unauthenticated for refused credentials;
  // Unavailable when the server cannot be reached; FailedPrecondition for a
  // schema newer than this build. Messages name the redacted URL.
  static absl::StatusOr<std::unique_ptr<PostgresStorage>> open(const PostgresOptions& options);

  // Connects once and applies missing migrations (`habanero migrate`); the
  // versions applied (empty: up to date). Errors as open().
  static absl::StatusOr<std::vector<int>> migrateDatabase(const PostgresOptions& options);

  // Applies missing migrations; returns the versions applied (empty: up to date).
  // Safe to run from several processes at once.
  absl::StatusOr<std::vector<int>> migrate();
  // The schema version of the database (0: no schema yet).
  absl::StatusOr<int> schemaVersion();

  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  absl::StatusOr<std::optional<std::string>> get(std::string_view ns,
                                                 std::string_view key) override;
  absl::Status put(std::string_view ns, std::string_view key, std::string_view value,
                   int64_t ttl_ms) override;
  absl::Status remove(std::string_view ns, std::string_view key) override;
  absl::StatusOr<std::optional<std::string>> take(std::string_view ns,
                                                  std::string_view key) override;
  absl::StatusOr<bool> compareAndSet(std::string_view ns, std::string_view key,
                                     std::optional<std::string_view> expected,
                                     std::string_view value, int64_t ttl_ms) override;
  absl::StatusOr<std::vector<KeyValue>> list(std::string_view ns, size_t limit) override;

  // LeasingStorage: SELECT … FOR UPDATE SKIP LOCKED, then the updates, in one transaction.
  absl::StatusOr<std::vector<KeyValue>> claim(
      std::string_view ns, size_t limit,
      const std::function<std::optional<std::string>(const KeyValue&)>& lease) override;

  // Deletes up to `batch` expired rows now; returns how many. The purge thread
  // calls it; public for tests.
  absl::StatusOr<size_t> purgeExpired(int batch = kPurgeBatchRows);

  // Writes `records` in one transaction (all or nothing), keeping their
  // expiry. Unless `overwrite`, refuses (FailedPrecondition) when the store
  // already holds records. For `habanero store copy`.
  absl::Status importRecords(const std::vector<RawRecord>& records, bool overwrite);
  // Every record, expired ones included, ordered by namespace and key. For
  // checking a copy; reads the whole table.
  absl::StatusOr<std::vector<RawRecord>> exportRecords();

  // The options it was opened with (for a ChangeWatcher on the same database).
  const PostgresOptions& options() const { return options_; }

  // The redacted URL, for messages.
  const std::string& displayUrl() const { return display_url_; }

  // Move-only owners of libpq handles; public so the .cc can name them.
  struct ConnCloser {
    void operator()(pg_conn* conn) const;
  };
  struct ResultClearer {
    void operator()(pg_result* result) const;
  };
  using ConnHandle = std::unique_ptr<pg_conn, ConnCloser>;
  using ResultHandle = std::unique_ptr<pg_result, ResultClearer>;

  // A statement parameter: bytes (binary), an int64 or NULL.
  struct Param {
    enum class Kind { kBytes, kInt, kNull } kind = Kind::kNull;
    std::string_view bytes;
    int64_t number = 0;
    static Param of(std::string_view b) { return {Kind::kBytes, b, 0}; }
    static Param of(int64_t n) { return {Kind::kInt, {}, n}; }
    static Param null() { return {}; }
  };

 private:
  explicit PostgresStorage(const PostgresOptions& options);

  // Checks the URL and reads the password file.
  absl::Status checkOptions();
  absl::Status init();
  // A connection from the pool (or a new one); Unavailable after pool_wait_ms.
  absl::StatusOr<ConnHandle> acquire();
  // Returns a healthy connection to the pool; a broken one is closed.
  void release(ConnHandle conn);
  absl::StatusOr<ConnHandle> connect();
  // Runs prepared statement `index` (kStatements) with binary parameters and
  // binary results on a pooled connection.
  absl::StatusOr<ResultHandle> run(int index, const std::vector<Param>& params);
  // The Status for a failed result or connection, naming `what` and the URL.
  absl::Status error(pg_conn* conn, pg_result* result, std::string_view what);
  // Records the database as reachable or not; logs only the transitions.
  void noteHealth(bool reachable, std::string_view why);
  // The injected clock's now, or NULL for the database's clock.
  Param nowParam() const;
  void purgeLoop();

  const PostgresOptions options_;
  const std::string display_url_;
  std::string password_;  // from password_file; never logged

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<ConnHandle> idle_ ABSL_GUARDED_BY(pool_mu_);
  size_t open_count_ ABSL_GUARDED_BY(pool_mu_) = 0;  // idle + in use + connecting

  std::atomic<bool> healthy_{true};
  // While unhealthy, connects before this steady-clock time fail at once.
  std::atomic<int64_t> next_connect_ms_{0};

  std::mutex purge_mu_;
  std::condition_variable purge_cv_;
  bool stopping_ ABSL_GUARDED_BY(purge_mu_) = false;
  std::thread purge_thread_;
};

}  // namespace habanero::store
