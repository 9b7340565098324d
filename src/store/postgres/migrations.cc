#include "store/postgres/migrations.h"

#include <libpq-fe.h>

#include <memory>

#include "habanero/strings.h"

namespace habanero::store {
namespace {

struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultClearer>;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

absl::Status failed(pg_conn* conn, PGresult* result, std::string_view display_url,
                    std::string_view what) {
  std::string message = trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  if (message.empty()) message = trimmed(PQerrorMessage(conn));
  std::string text = strCat("postgres ", display_url, ": ", what, ": ", message);
  if (PQstatus(conn) != CONNECTION_OK) return absl::UnavailableError(text);
  return absl::InternalError(text);
}

// Runs `sql` (no parameters, text results); the result of its last statement.
absl::StatusOr<Result> exec(pg_conn* conn, const std::string& sql, std::string_view display_url,
                            std::string_view what) {
  Result result(PQexec(conn, sql.c_str()));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return failed(conn, result.get(), display_url, what);
  }
  return result;
}

void rollback(pg_conn* conn) {
  if (PQtransactionStatus(conn) != PQTRANS_IDLE) Result(PQexec(conn, "ROLLBACK"));
}

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version integer PRIMARY KEY,"
    "  name text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "key-value records",
       R"sql(
CREATE TABLE kv (
  ns bytea NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  expires_at bigint,  -- ms since the Unix epoch; NULL: never
  PRIMARY KEY (ns, key)
);
CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
)sql"},
      // Every write to a namespace that processes cache (clients, keys) bumps
      // its generation and notifies listeners, in the writing transaction.
      {2, "change generations of cached namespaces",
       R"sql(
CREATE TABLE generations (
  ns bytea PRIMARY KEY,
  generation bigint NOT NULL
);
CREATE FUNCTION kv_cached_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  changed bytea := CASE WHEN TG_OP = 'DELETE' THEN OLD.ns ELSE NEW.ns END;
BEGIN
  INSERT INTO generations (ns, generation) VALUES (changed, 1)
    ON CONFLICT (ns) DO UPDATE SET generation = generations.generation + 1;
  PERFORM pg_notify('habanero_changes', convert_from(changed, 'UTF8'));
  RETURN NULL;
END
$fn$;
CREATE TRIGGER kv_cached_written AFTER INSERT OR UPDATE ON kv FOR EACH ROW
  WHEN (NEW.ns IN ('\x5f686f73742f636c69656e7473'::bytea, '\x5f686f73742f6b657973'::bytea))
  EXECUTE FUNCTION kv_cached_changed();
CREATE TRIGGER kv_cached_deleted AFTER DELETE ON kv FOR EACH ROW
  WHEN (OLD.ns IN ('\x5f686f73742f636c69656e7473'::bytea, '\x5f686f73742f6b657973'::bytea))
  EXECUTE FUNCTION kv_cached_changed();
)sql"},
  };
  return all;
}

absl::StatusOr<int> readSchemaVersion(pg_conn* conn, std::string_view display_url) {
  // Two statements: a query naming a missing table fails even in an untaken branch.
  ASSIGN_OR_RETURN(Result exists,
                   exec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL", display_url,
                        "read schema version"));
  if (PQntuples(exists.get()) != 1 || std::string_view(PQgetvalue(exists.get(), 0, 0)) != "t") {
    return 0;
  }
  ASSIGN_OR_RETURN(Result result, exec(conn, "SELECT COALESCE(max(version), 0) FROM schema_migrations",
                                       display_url, "read schema version"));
  if (PQntuples(result.get()) != 1) return absl::InternalError("schema version: no row");
  return std::atoi(PQgetvalue(result.get(), 0, 0));
}

absl::StatusOr<std::vector<int>> runMigrations(pg_conn* conn, int64_t lock_key,
                                               std::string_view display_url) {
  std::vector<int> applied;
  const int latest = migrations().back().version;
  {
    // The common case, without the lock: already up to date.
    ASSIGN_OR_RETURN(int version, readSchemaVersion(conn, display_url));
    if (version == latest) return applied;
  }
  for (const Migration& m : migrations()) {
    auto step = [&]() -> absl::Status {
      RETURN_IF_ERROR(exec(conn, "BEGIN", display_url, "migrate: begin").status());
      RETURN_IF_ERROR(exec(conn, strCat("SELECT pg_advisory_xact_lock(", lock_key, ")"),
                           display_url, "migrate: lock")
                          .status());
      RETURN_IF_ERROR(
          exec(conn, kCreateMigrationsTable, display_url, "migrate: schema_migrations").status());
      ASSIGN_OR_RETURN(int version, readSchemaVersion(conn, display_url));
      if (version > latest) {
        return absl::FailedPreconditionError(
            strCat("postgres ", display_url, ": schema version ", version,
                         " is newer than this build's ", latest));
      }
      if (version < m.version) {
        RETURN_IF_ERROR(exec(conn, m.sql, display_url,
                             strCat("migration ", m.version, " (", m.name, ")"))
                            .status());
        RETURN_IF_ERROR(exec(conn,
                             strCat("INSERT INTO schema_migrations (version, name) VALUES (",
                                          m.version, ", '", m.name, "')"),
                             display_url, "migrate: record")
                            .status());
        applied.push_back(m.version);
      }
      return exec(conn, "COMMIT", display_url, "migrate: commit").status();
    };
    absl::Status status = step();
    if (!status.ok()) {
      rollback(conn);
      if (!applied.empty() && applied.back() == m.version) applied.pop_back();
      return status;
    }
  }
  return applied;
}

}  // namespace habanero::store
