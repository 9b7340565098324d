#include "store/store_copy.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "habanero/strings.h"

namespace habanero::store {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

std::string columnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

absl::Status forEachSqliteRecord(const std::string& sqlite_path,
                                 const std::function<void(RawRecord record)>& fn) {
  std::error_code ec;
  if (!std::filesystem::exists(sqlite_path, ec)) {
    return absl::NotFoundError(strCat(sqlite_path, ": no such database"));
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(sqlite_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  auto failed = [&](std::string_view what) {
    return absl::UnavailableError(strCat("sqlite ", sqlite_path, ": ", what, ": ",
                                         db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  };
  if (rc != SQLITE_OK) return failed("open");
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_stmt* stmt_raw = nullptr;
  // One statement: one consistent snapshot even while a server writes.
  rc = sqlite3_prepare_v2(db.get(), "SELECT ns, key, value, expires_at FROM kv ORDER BY ns, key",
                          -1, &stmt_raw, nullptr);
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt(stmt_raw);
  if (rc != SQLITE_OK) return failed("read");
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    RawRecord r;
    r.ns = columnBytes(stmt.get(), 0);
    r.key = columnBytes(stmt.get(), 1);
    r.value = columnBytes(stmt.get(), 2);
    if (sqlite3_column_type(stmt.get(), 3) != SQLITE_NULL) {
      r.expires_at = sqlite3_column_int64(stmt.get(), 3);
    }
    fn(std::move(r));
  }
  if (rc != SQLITE_DONE) return failed("read");
  return absl::OkStatus();
}

absl::StatusOr<CopyReport> copySqliteToPostgres(const std::string& sqlite_path,
                                                PostgresStorage& to, const CopyOptions& options) {
  const int64_t now = options.now_ms.value_or(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  CopyReport report;
  std::vector<RawRecord> records;
  RETURN_IF_ERROR(forEachSqliteRecord(sqlite_path, [&](RawRecord r) {
    if (r.expires_at && *r.expires_at <= now) {
      ++report.expired_skipped;
      return;
    }
    records.push_back(std::move(r));
  }));
  RETURN_IF_ERROR(to.importRecords(records, options.overwrite));
  report.copied = records.size();
  return report;
}

}  // namespace habanero::store
