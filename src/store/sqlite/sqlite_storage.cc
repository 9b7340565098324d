#include "store/sqlite/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "habanero/limits.h"

namespace habanero::store {
namespace {

// Schema version kept in PRAGMA user_version; bump with a migration.
constexpr int kSchemaVersion = 1;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  expires_at INTEGER,  -- ms since the Unix epoch on the storage's clock; NULL: never
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
)sql";

constexpr std::string_view kGetSql =
    "SELECT value FROM kv WHERE ns = ?1 AND key = ?2 "
    "AND (expires_at IS NULL OR expires_at > ?3)";
constexpr std::string_view kPutSql =
    "INSERT INTO kv (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
constexpr std::string_view kRemoveSql = "DELETE FROM kv WHERE ns = ?1 AND key = ?2";
// Deletes expired rows too; the caller treats those as absent.
constexpr std::string_view kTakeSql =
    "DELETE FROM kv WHERE ns = ?1 AND key = ?2 RETURNING value, expires_at";
// Keys are BLOBs, so ORDER BY key compares bytewise (memcmp).
constexpr std::string_view kListSql =
    "SELECT key, value FROM kv WHERE ns = ?1 AND (expires_at IS NULL OR expires_at > ?2) "
    "ORDER BY key LIMIT ?3";
constexpr std::string_view kPurgeSql =
    "DELETE FROM kv WHERE (ns, key) IN "
    "(SELECT ns, key FROM kv WHERE expires_at <= ?1 LIMIT ?2)";

// Resets a reused statement and drops its bindings when the scope ends, so
// no statement keeps a read transaction open between calls.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// Binds bytes as a BLOB; an empty view binds a zero-length BLOB, never NULL.
int bindBlob(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  if (bytes.empty()) return sqlite3_bind_zeroblob(stmt, index, 0);
  return sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(), SQLITE_STATIC);
}

int bindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.empty() ? "" : text.data(), text.size(),
                             SQLITE_STATIC, SQLITE_UTF8);
}

int bindKey(sqlite3_stmt* stmt, std::string_view ns, std::string_view key) {
  int rc = bindText(stmt, 1, ns);
  return rc == SQLITE_OK ? bindBlob(stmt, 2, key) : rc;
}

std::string columnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

// now + ttl_ms, saturating; std::nullopt (never expires) for ttl_ms <= 0.
std::optional<int64_t> expiryFor(int64_t now, int64_t ttl_ms) {
  if (ttl_ms <= 0) return std::nullopt;
  if (now > std::numeric_limits<int64_t>::max() - ttl_ms) {
    return std::numeric_limits<int64_t>::max();
  }
  return now + ttl_ms;
}

absl::Status checkKey(std::string_view key) {
  if (key.size() > limits::kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key of ", key.size(), " bytes exceeds ", limits::kMaxKeyBytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Synchronous> parseSynchronous(std::string_view text) {
  if (text == "full") return Synchronous::kFull;
  if (text == "normal") return Synchronous::kNormal;
  return absl::InvalidArgumentError(absl::StrCat(
      "synchronous: expected \"full\" or \"normal\", got \"", std::string(text), "\""));
}

void SqliteStorage::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void SqliteStorage::StmtFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

SqliteStorage::SqliteStorage(std::string path, const Clock& clock)
    : path_(std::move(path)), clock_(clock) {}

SqliteStorage::~SqliteStorage() = default;

absl::StatusOr<StoragePtr> SqliteStorage::open(const std::string& path, const Clock& clock,
                                               Synchronous sync) {
  std::unique_ptr<SqliteStorage> storage(new SqliteStorage(path, clock));
  RETURN_IF_ERROR(storage->init(sync));
  return storage;
}

absl::Status SqliteStorage::init(Synchronous sync) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError("sqlite: library built without thread safety");
  }
  // Owner-only files whatever the umask: SQLite gives the -wal and -shm files
  // the database file's mode, so creating it 0600 first covers all three.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string file = path_ + suffix;
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC | (*suffix ? 0 : O_CREAT), 0600);
    if (fd < 0) continue;  // absent (or not creatable: sqlite3_open_v2 names the error)
    ::fchmod(fd, 0600);
    ::close(fd);
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: mu_ serialises every use of the connection.
  int rc =
      sqlite3_open_v2(path_.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);  // a handle is returned (and must be closed) even on failure
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("sqlite ", path_, ": open: ", raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db_.get(), 1);
  if ((rc = sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs)) != SQLITE_OK) {
    return error(rc, "busy_timeout");
  }

  // Switching to WAL needs the write lock, so it runs after the busy timeout is set.
  {
    ASSIGN_OR_RETURN(StmtHandle wal, prepare("PRAGMA journal_mode = WAL"));
    rc = sqlite3_step(wal.get());
    if (rc != SQLITE_ROW) return error(rc, "journal_mode");
    std::string mode = columnBytes(wal.get(), 0);
    if (mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("sqlite ", path_, ": cannot use WAL journal mode (got \"", mode, "\")"));
    }
  }
  RETURN_IF_ERROR(exec(sync == Synchronous::kFull ? "PRAGMA synchronous = FULL"
                                                  : "PRAGMA synchronous = NORMAL"));

  // Schema, created once; a newer schema is refused rather than misread.
  RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  int version = 0;
  {
    ASSIGN_OR_RETURN(StmtHandle stmt, prepare("PRAGMA user_version"));
    rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) {
      exec("ROLLBACK").IgnoreError();
      return error(rc, "user_version");
    }
    version = sqlite3_column_int(stmt.get(), 0);
  }
  if (version > kSchemaVersion) {
    exec("ROLLBACK").IgnoreError();
    return absl::FailedPreconditionError(absl::StrCat("sqlite ", path_, ": schema version ",
                                                      version, " is newer than this build's ",
                                                      kSchemaVersion));
  }
  absl::Status status = exec(kSchemaSql);
  if (status.ok() && version < kSchemaVersion) {
    status = exec(absl::StrCat("PRAGMA user_version = ", kSchemaVersion).c_str());
  }
  if (status.ok()) status = exec("COMMIT");
  if (!status.ok()) {
    if (!sqlite3_get_autocommit(db_.get())) exec("ROLLBACK").IgnoreError();
    return status;
  }

  ASSIGN_OR_RETURN(get_stmt_, prepare(kGetSql));
  ASSIGN_OR_RETURN(put_stmt_, prepare(kPutSql));
  ASSIGN_OR_RETURN(remove_stmt_, prepare(kRemoveSql));
  ASSIGN_OR_RETURN(take_stmt_, prepare(kTakeSql));
  ASSIGN_OR_RETURN(purge_stmt_, prepare(kPurgeSql));
  ASSIGN_OR_RETURN(begin_stmt_, prepare("BEGIN IMMEDIATE"));
  ASSIGN_OR_RETURN(commit_stmt_, prepare("COMMIT"));
  ASSIGN_OR_RETURN(rollback_stmt_, prepare("ROLLBACK"));
  return initReader();
}

absl::Status SqliteStorage::initReader() {
  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  reader_.reset(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("sqlite ", path_, ": open (reader): ",
                                               raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(reader_.get(), 1);
  if ((rc = sqlite3_busy_timeout(reader_.get(), kBusyTimeoutMs)) != SQLITE_OK ||
      (rc = sqlite3_exec(reader_.get(), "PRAGMA query_only = 1", nullptr, nullptr, nullptr)) !=
          SQLITE_OK) {
    return readError(rc, "reader set-up");
  }
  for (auto [sql, stmt] : {std::pair{kGetSql, &read_get_stmt_}, {kListSql, &read_list_stmt_}}) {
    sqlite3_stmt* prepared = nullptr;
    rc = sqlite3_prepare_v3(reader_.get(), sql.data(), static_cast<int>(sql.size()),
                            SQLITE_PREPARE_PERSISTENT, &prepared, nullptr);
    stmt->reset(prepared);
    if (rc != SQLITE_OK) return readError(rc, absl::StrCat("prepare \"", std::string(sql), "\""));
  }
  return absl::OkStatus();
}

SqliteStorage::WriteStats SqliteStorage::writeStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

absl::Status SqliteStorage::step(sqlite3_stmt* stmt, std::string_view what) {
  ScopedReset reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return error(rc, what);
  return absl::OkStatus();
}

absl::Status SqliteStorage::write(std::function<absl::Status(bool in_batch)> apply) {
  Write mine{std::move(apply)};
  std::unique_lock<std::mutex> queue(queue_mu_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leading_) {
      queue_cv_.wait(queue);
      continue;
    }
    // Lead: take what is queued (ours among it, unless kMaxBatch older
    // writes come first: then we lead again after them).
    leading_ = true;
    std::vector<Write*> batch;
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    queue.unlock();
    runBatch(batch);
    queue.lock();
    for (Write* w : batch) w->done = true;
    leading_ = false;
    queue_cv_.notify_all();
  }
  return mine.status;
}

void SqliteStorage::runBatch(const std::vector<Write*>& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto alone = [&](Write* w) {
    w->status = w->apply(/*in_batch=*/false);
    if (w->status.ok()) {
      ++stats_.commits;
      ++stats_.writes;
    }
  };
  if (batch.size() == 1) {
    alone(batch.front());
    return;
  }
  absl::Status status = step(begin_stmt_.get(), "begin");
  if (!status.ok()) {
    for (Write* w : batch) w->status = status;
    return;
  }
  for (Write* w : batch) {
    w->status = w->apply(/*in_batch=*/true);
    if (!w->status.ok()) {
      // One failed: undo the batch and give every write its own transaction.
      rollbackIfActive();
      for (Write* again : batch) alone(again);
      return;
    }
  }
  status = step(commit_stmt_.get(), "commit");
  if (!status.ok()) {
    rollbackIfActive();
    for (Write* w : batch) w->status = status;
    return;
  }
  ++stats_.commits;
  stats_.writes += batch.size();
}

absl::StatusOr<SqliteStorage::StmtHandle> SqliteStorage::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StmtHandle stmt(raw);
  if (rc != SQLITE_OK) return error(rc, absl::StrCat("prepare \"", std::string(sql), "\""));
  return stmt;
}

absl::Status SqliteStorage::exec(const char* sql) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, sql);
  return absl::OkStatus();
}

absl::Status SqliteStorage::error(int rc, std::string_view what) const {
  return errorOf(db_.get(), path_, rc, what);
}

absl::Status SqliteStorage::readError(int rc, std::string_view what) const {
  return errorOf(reader_.get(), path_, rc, what);
}

absl::Status SqliteStorage::errorOf(sqlite3* db, const std::string& path, int rc,
                                    std::string_view what) {
  std::string message = absl::StrCat("sqlite ", path, ": ", std::string(what), ": ",
                                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
      return absl::UnavailableError(message);
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return absl::InvalidArgumentError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::optional<std::string>> SqliteStorage::getLocked(std::string_view ns,
                                                                    std::string_view key,
                                                                    int64_t now) {
  sqlite3_stmt* stmt = get_stmt_.get();
  ScopedReset reset(stmt);
  int rc = bindKey(stmt, ns, key);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 3, now);
  if (rc != SQLITE_OK) return error(rc, "get: bind");
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return error(rc, "get");
  return columnBytes(stmt, 0);
}

absl::Status SqliteStorage::putLocked(std::string_view ns, std::string_view key,
                                      std::string_view value, std::optional<int64_t> expires_at) {
  sqlite3_stmt* stmt = put_stmt_.get();
  ScopedReset reset(stmt);
  int rc = bindKey(stmt, ns, key);
  if (rc == SQLITE_OK) rc = bindBlob(stmt, 3, value);
  if (rc == SQLITE_OK) {
    rc = expires_at ? sqlite3_bind_int64(stmt, 4, *expires_at) : sqlite3_bind_null(stmt, 4);
  }
  if (rc != SQLITE_OK) return error(rc, "put: bind");
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return error(rc, "put");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> SqliteStorage::get(std::string_view ns,
                                                              std::string_view key) {
  RETURN_IF_ERROR(checkKey(key));
  int64_t now = clock_.nowMs();
  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3_stmt* stmt = read_get_stmt_.get();
  ScopedReset reset(stmt);
  int rc = bindKey(stmt, ns, key);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 3, now);
  if (rc != SQLITE_OK) return readError(rc, "get: bind");
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return readError(rc, "get");
  return columnBytes(stmt, 0);
}

absl::Status SqliteStorage::put(std::string_view ns, std::string_view key, std::string_view value,
                                int64_t ttl_ms) {
  RETURN_IF_ERROR(checkKey(key));
  int64_t now = clock_.nowMs();
  return write([&](bool) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    RETURN_IF_ERROR(putLocked(ns, key, value, expiryFor(now, ttl_ms)));
    maybePurge(now);
    return absl::OkStatus();
  });
}

absl::Status SqliteStorage::remove(std::string_view ns, std::string_view key) {
  RETURN_IF_ERROR(checkKey(key));
  return write([&](bool) ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    sqlite3_stmt* stmt = remove_stmt_.get();
    ScopedReset reset(stmt);
    int rc = bindKey(stmt, ns, key);
    if (rc != SQLITE_OK) return error(rc, "remove: bind");
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return error(rc, "remove");
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<std::string>> SqliteStorage::take(std::string_view ns,
                                                               std::string_view key) {
  RETURN_IF_ERROR(checkKey(key));
  int64_t now = clock_.nowMs();
  std::optional<std::string> value;
  RETURN_IF_ERROR(write([&](bool) ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    value.reset();
    sqlite3_stmt* stmt = take_stmt_.get();
    ScopedReset reset(stmt);
    int rc = bindKey(stmt, ns, key);
    if (rc != SQLITE_OK) return error(rc, "take: bind");
    // One statement: the read and the delete happen under the write lock, in
    // the batch's transaction or alone (stepping to SQLITE_DONE commits it).
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      bool live =
          sqlite3_column_type(stmt, 1) == SQLITE_NULL || sqlite3_column_int64(stmt, 1) > now;
      if (live) value = columnBytes(stmt, 0);
    }
    if (rc != SQLITE_DONE) return error(rc, "take");
    return absl::OkStatus();
  }));
  return value;
}

absl::StatusOr<bool> SqliteStorage::compareAndSet(std::string_view ns, std::string_view key,
                                                  std::optional<std::string_view> expected,
                                                  std::string_view value, int64_t ttl_ms) {
  RETURN_IF_ERROR(checkKey(key));
  int64_t now = clock_.nowMs();
  bool matches = false;
  RETURN_IF_ERROR(write([&](bool in_batch) ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    matches = false;
    // Alone, BEGIN IMMEDIATE takes the write lock up front, so the read below
    // cannot be invalidated by another connection before the write; in a
    // batch, the batch's transaction already holds it.
    if (!in_batch) RETURN_IF_ERROR(step(begin_stmt_.get(), "compareAndSet: begin"));
    absl::StatusOr<std::optional<std::string>> current = getLocked(ns, key, now);
    if (!current.ok()) {
      if (!in_batch) rollbackIfActive();
      return current.status();
    }
    matches = expected ? (current->has_value() && **current == *expected) : !current->has_value();
    if (matches) {
      absl::Status status = putLocked(ns, key, value, expiryFor(now, ttl_ms));
      if (!status.ok()) {
        if (!in_batch) rollbackIfActive();
        return status;
      }
    }
    if (!in_batch) {
      absl::Status status = step(commit_stmt_.get(), "compareAndSet: commit");
      if (!status.ok()) {
        rollbackIfActive();
        return status;
      }
    }
    if (matches) maybePurge(now);
    return absl::OkStatus();
  }));
  return matches;
}

absl::StatusOr<std::vector<KeyValue>> SqliteStorage::list(std::string_view ns, size_t limit) {
  std::vector<KeyValue> records;
  if (limit == 0) return records;
  int64_t now = clock_.nowMs();
  std::lock_guard<std::mutex> lock(read_mu_);
  sqlite3_stmt* stmt = read_list_stmt_.get();
  ScopedReset reset(stmt);
  int64_t bounded = static_cast<int64_t>(
      std::min<uint64_t>(limit, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  int rc = bindText(stmt, 1, ns);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 2, now);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 3, bounded);
  if (rc != SQLITE_OK) return readError(rc, "list: bind");
  // One statement: SQLite reads it in one implicit transaction (a snapshot).
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    records.push_back(KeyValue{columnBytes(stmt, 0), columnBytes(stmt, 1)});
  }
  if (rc != SQLITE_DONE) return readError(rc, "list");
  return records;
}

void SqliteStorage::rollbackIfActive() {
  if (sqlite3_get_autocommit(db_.get())) return;  // no transaction, or an error ended it
  ScopedReset reset(rollback_stmt_.get());
  sqlite3_step(rollback_stmt_.get());
}

void SqliteStorage::maybePurge(int64_t now) {
  if (now < next_purge_ms_) return;
  sqlite3_stmt* stmt = purge_stmt_.get();
  ScopedReset reset(stmt);
  if (sqlite3_bind_int64(stmt, 1, now) != SQLITE_OK ||
      sqlite3_bind_int(stmt, 2, kPurgeBatchRows) != SQLITE_OK ||
      sqlite3_step(stmt) != SQLITE_DONE) {
    next_purge_ms_ = now + kPurgeIntervalMs;  // don't retry a failing purge on every write
    return;
  }
  // A full batch means more may be waiting: purge again on the next write.
  if (sqlite3_changes(db_.get()) < kPurgeBatchRows) next_purge_ms_ = now + kPurgeIntervalMs;
}

}  // namespace habanero::store
