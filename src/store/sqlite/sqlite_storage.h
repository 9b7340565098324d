// Storage on one SQLite database file (WAL mode).
//
// Several processes may open the same file (the server and the CLI): writes
// take SQLite's write lock and wait up to kBusyTimeoutMs for it; reads never
// block writers. Within a process one connection is shared behind a mutex.
//
//   ASSIGN_OR_RETURN(StoragePtr store,
//                    SqliteStorage::open(data_dir + "/habanero.db", SystemClock::instance()));
//   RETURN_IF_ERROR(store->put("hello", "visits", "1", /*ttl_ms=*/0));
#pragma once

#include <cstdint>
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
  absl::StatusOr<StmtHandle> prepare(std::string_view sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The status for a failed SQLite call `what`, naming the database path.
  absl::Status error(int rc, std::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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

  std::mutex mu_;
  DbHandle db_ ABSL_GUARDED_BY(mu_);  // declared before the statements: closed last
  StmtHandle get_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle put_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle remove_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle take_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle purge_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle list_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle begin_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle commit_stmt_ ABSL_GUARDED_BY(mu_);
  StmtHandle rollback_stmt_ ABSL_GUARDED_BY(mu_);
  int64_t next_purge_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace habanero::store
