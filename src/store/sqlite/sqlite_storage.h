// Storage on one SQLite database file (WAL mode).
//
// Several processes may open the same file (the server and the CLI): writes
// take SQLite's write lock and wait up to kBusyTimeoutMs for it; reads never
// block writers.
//
// Within a process, writes are group-committed: one thread at a time (the
// leader) runs every write queued since the last commit — up to kMaxBatch —
// in one transaction on the write connection, and one COMMIT (one fsync with
// synchronous = FULL) makes them all durable before any of their callers
// returns. A lone write costs what it did before; N concurrent writers share
// one fsync instead of waiting for N. Each write still sees the writes queued
// before it (compareAndSet and take keep their atomicity); if any write of a
// batch fails, the batch is rolled back and its writes run again one by one,
// so one bad write never fails another. Reads use a second connection and
// never wait for a commit in progress: they see what has been committed.
//
//   ASSIGN_OR_RETURN(StoragePtr store,
//                    SqliteStorage::open(data_dir + "/habanero.db", SystemClock::instance()));
//   RETURN_IF_ERROR(store->put("hello", "visits", "1", /*ttl_ms=*/0));
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include <mutex>
#include "habanero/clock.h"
#include "habanero/status.h"
#include "habanero/storage.h"

struct sqlite3;
struct sqlite3_stmt;

namespace habanero::store {

// PRAGMA synchronous. Both survive a crash of the process once a write has
// returned OK; only kFull also survives a power loss or OS crash.
enum class Synchronous { kFull, kNormal };

// Parses the configuration spelling: "full" or "normal". InvalidArgument otherwise.
absl::StatusOr<Synchronous> parseSynchronous(std::string_view text);

class SqliteStorage final : public Storage {
 public:
  // How long a write waits for another connection's write lock before
  // failing with Unavailable.
  static constexpr int kBusyTimeoutMs = 5'000;
  // Expired rows are reclaimed at most this often, on a write, in batches.
  static constexpr int64_t kPurgeIntervalMs = 60'000;
  static constexpr int kPurgeBatchRows = 1'000;
  // Most writes one commit makes durable together.
  static constexpr size_t kMaxBatch = 64;

  // Opens or creates the database at `path` (its directory must exist) and
  // its schema. `clock` decides expiry and must outlive the storage.
  // Unavailable if the file cannot be opened; every error names `path`.
  static absl::StatusOr<StoragePtr> open(const std::string& path, const Clock& clock,
                                         Synchronous sync = Synchronous::kFull);

  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

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

  // Commits and writes so far (for benchmarks and tests of the grouping).
  struct WriteStats {
    uint64_t commits = 0;  // transactions that committed writes
    uint64_t writes = 0;   // writes they made durable
  };
  WriteStats writeStats() const;

  // Move-only owners of the C handles; public so the .cc can name them.
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
  using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

 private:
  SqliteStorage(std::string path, const Clock& clock);

  absl::Status init(Synchronous sync);
  absl::Status initReader();

  // One queued write: `apply` runs on the write connection with mu_ held, in
  // the batch's transaction (in_batch) or alone in autocommit mode; it may run
  // twice (see the overview) and must leave its result only in its captures.
  struct Write {
    std::function<absl::Status(bool in_batch)> apply;
    absl::Status status;
    bool done = false;
  };
  // Queues `apply`, waits until it is durable (or failed), returns its status.
  absl::Status write(std::function<absl::Status(bool in_batch)> apply);
  // Runs `batch` as one transaction (or one write alone); sets every status.
  void runBatch(const std::vector<Write*>& batch);
  absl::Status step(sqlite3_stmt* stmt, std::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<StmtHandle> prepare(std::string_view sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The status for a failed SQLite call `what`, naming the database path.
  absl::Status error(int rc, std::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status readError(int rc, std::string_view what) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  static absl::Status errorOf(sqlite3* db, const std::string& path, int rc, std::string_view what);
  absl::StatusOr<std::optional<std::string>> getLocked(std::string_view ns, std::string_view key,
                                                       int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status putLocked(std::string_view ns, std::string_view key, std::string_view value,
                         std::optional<int64_t> expires_at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the open transaction, if any, discarding its changes.
  void rollbackIfActive() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reclaims one batch of expired rows if kPurgeIntervalMs has passed. Best
  // effort: failures are ignored (expired rows are invisible anyway).
  void maybePurge(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const Clock& clock_;

  mutable std::mutex mu_;
  DbHandle db_ ABSL_GUARDED_BY(mu_);  // declared before the statements: closed last
  StmtHandle get_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle put_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle remove_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle take_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle purge_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle begin_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle commit_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle rollback_stmt_ ABSL_GUARDED_BY(mu_);
  int64_t next_purge_ms_ ABSL_GUARDED_BY(mu_) = 0;
  WriteStats stats_ ABSL_GUARDED_BY(mu_);

  // The queue of writes and whether a leader is running a batch.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Write*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool leading_ ABSL_GUARDED_BY(queue_mu_) = false;

  // The read connection (query_only) and its statements.
  std::mutex read_mu_;
  DbHandle reader_ ABSL_GUARDED_BY(read_mu_);
  StmtHandle read_get_stmt_ ABSL_GUARDED_BY(read_mu_);
  StmtHandle read_list_stmt_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace habanero::store
