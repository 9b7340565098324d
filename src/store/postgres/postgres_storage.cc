#include "store/postgres/postgres_storage.h"

#include <endian.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "habanero/limits.h"
#include "store/postgres/migrations.h"

namespace habanero::store {
namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;

// "now" in ms since the epoch: the injected clock's value ($n) or, when NULL,
// the database's (one value per statement).
#define HABANERO_PG_NOW(n) \
  "COALESCE(" n "::int8, (extract(epoch FROM statement_timestamp()) * 1000)::int8)"
#define HABANERO_PG_LIVE(n) "(expires_at IS NULL OR expires_at > " HABANERO_PG_NOW(n) ")"
// now + ttl, saturating at int8's maximum; NULL (never) for ttl <= 0.
#define HABANERO_PG_EXPIRY(ttl, n)                                                        \
  "CASE WHEN " ttl "::int8 > 0 THEN LEAST(" HABANERO_PG_NOW(n) "::numeric + " ttl \
  "::int8, 9223372036854775807)::int8 END"

struct Statement {
  const char* name;
  const char* sql;
  std::vector<Oid> types;
};

enum StatementIndex { kGet, kPut, kRemove, kTake, kCasAbsent, kCasValue, kList, kPurge };

const Statement kStatements[] = {
    {"hab_get",
     "SELECT value FROM kv WHERE ns = $1 AND key = $2 AND " HABANERO_PG_LIVE("$3"),
     {kByteaOid, kByteaOid, kInt8Oid}},
    {"hab_put",
     "INSERT INTO kv (ns, key, value, expires_at) VALUES ($1, $2, $3, " HABANERO_PG_EXPIRY(
         "$4", "$5") ") ON CONFLICT (ns, key) DO UPDATE "
                     "SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at",
     {kByteaOid, kByteaOid, kByteaOid, kInt8Oid, kInt8Oid}},
    {"hab_remove", "DELETE FROM kv WHERE ns = $1 AND key = $2", {kByteaOid, kByteaOid}},
    // Deletes an expired row too; its second column says whether it was live.
    {"hab_take",
     "DELETE FROM kv WHERE ns = $1 AND key = $2 RETURNING value, " HABANERO_PG_LIVE("$3"),
     {kByteaOid, kByteaOid, kInt8Oid}},
    // Written only if absent or expired: a concurrent insert of the same key
    // makes this one see the conflict and re-check the WHERE on the winner's row.
    {"hab_cas_absent",
     "INSERT INTO kv AS cur (ns, key, value, expires_at) VALUES ($1, $2, $3, " HABANERO_PG_EXPIRY(
         "$4", "$5") ") ON CONFLICT (ns, key) DO UPDATE "
                     "SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at "
                     "WHERE cur.expires_at IS NOT NULL AND cur.expires_at <= " HABANERO_PG_NOW(
                         "$5") " RETURNING 1",
     {kByteaOid, kByteaOid, kByteaOid, kInt8Oid, kInt8Oid}},
    // Read committed: a concurrent writer's update makes this one re-check the
    // WHERE on the new row version, so of equal `expected`s at most one wins.
    {"hab_cas_value",
     "UPDATE kv SET value = $3, expires_at = " HABANERO_PG_EXPIRY(
         "$4", "$5") " WHERE ns = $1 AND key = $2 AND value = $6 AND " HABANERO_PG_LIVE("$5")
                     " RETURNING 1",
     {kByteaOid, kByteaOid, kByteaOid, kInt8Oid, kInt8Oid, kByteaOid}},
    // bytea orders bytewise (memcmp, then length).
    {"hab_list",
     "SELECT key, value FROM kv WHERE ns = $1 AND " HABANERO_PG_LIVE("$2") " ORDER BY key LIMIT $3",
     {kByteaOid, kInt8Oid, kInt8Oid}},
    // The outer re-check keeps a row rewritten with a new expiry meanwhile.
    {"hab_purge",
     "DELETE FROM kv WHERE (ns, key) IN (SELECT ns, key FROM kv WHERE expires_at <= " HABANERO_PG_NOW(
         "$1") " LIMIT $2) AND expires_at <= " HABANERO_PG_NOW("$1"),
     {kInt8Oid, kInt8Oid}},
};

#undef HABANERO_PG_EXPIRY
#undef HABANERO_PG_LIVE
#undef HABANERO_PG_NOW

// Advisory lock key serialising migrations across processes ("habanero").
constexpr int64_t kMigrationLock = 0x68616261'6e65726f;

absl::Status checkKey(std::string_view key) {
  if (key.size() > limits::kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        strCat("key of ", key.size(), " bytes exceeds ", limits::kMaxKeyBytes));
  }
  return absl::OkStatus();
}

std::string columnBytes(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return std::string();
  return std::string(PQgetvalue(result, row, column),
                     static_cast<size_t>(PQgetlength(result, row, column)));
}

bool columnBool(const PGresult* result, int row, int column) {
  return !PQgetisnull(result, row, column) && PQgetlength(result, row, column) == 1 &&
         PQgetvalue(result, row, column)[0] != 0;
}

// SQLSTATE classes that mean "the database is not usable right now".
bool isTransient(std::string_view sqlstate) {
  return sqlstate.starts_with("08") ||     // connection exception
         sqlstate.starts_with("53") ||     // insufficient resources
         sqlstate.starts_with("57P") ||    // admin/crash shutdown, cannot connect now
         sqlstate == "57014" ||            // query canceled (statement_timeout)
         sqlstate.starts_with("40") ||     // serialization failure, deadlock
         sqlstate == "55P03" ||            // lock not available
         sqlstate == "25006";              // read-only transaction (a standby)
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool isPostgresUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

std::string redactUrl(std::string_view url) {
  std::string out(url);
  // userinfo: scheme://user:password@host
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t end = out.find_first_of("/?", start);
    if (end == std::string::npos) end = out.size();
    size_t at = out.rfind('@', end);
    if (at != std::string::npos && at > start) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=… in the query string.
  size_t query = out.find('?');
  while (query != std::string::npos) {
    size_t key = out.find("password=", query);
    if (key == std::string::npos) break;
    if (out[key - 1] != '?' && out[key - 1] != '&') {
      query = key + 1;
      continue;
    }
    size_t value = key + std::strlen("password=");
    size_t end = out.find('&', value);
    if (end == std::string::npos) end = out.size();
    out.replace(value, end - value, "***");
    query = value;
  }
  return out;
}

void PostgresStorage::ConnCloser::operator()(pg_conn* conn) const { PQfinish(conn); }
void PostgresStorage::ResultClearer::operator()(pg_result* result) const { PQclear(result); }

int PostgresStorage::latestSchemaVersion() { return migrations().back().version; }

PostgresStorage::PostgresStorage(const PostgresOptions& options)
    : options_(options), display_url_(redactUrl(options.url)) {}

PostgresStorage::~PostgresStorage() {
  {
    std::lock_guard<std::mutex> lock(purge_mu_);
    stopping_ = true;
  }
  purge_cv_.notify_all();
  if (purge_thread_.joinable()) purge_thread_.join();
}

absl::StatusOr<std::unique_ptr<PostgresStorage>> PostgresStorage::open(
    const PostgresOptions& options) {
  std::unique_ptr<PostgresStorage> storage(new PostgresStorage(options));
  RETURN_IF_ERROR(storage->init());
  return storage;
}

absl::Status PostgresStorage::checkOptions() {
  if (!isPostgresUrl(options_.url)) {
    return absl::InvalidArgumentError(strCat(
        "store url \"", display_url_, "\": expected postgres://user@host:port/database"));
  }
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options_.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error ? trimmed(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return absl::InvalidArgumentError(
        strCat("store url \"", display_url_, "\": malformed: ", why));
  }
  std::string bad_port;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) != "port" || o->val == nullptr) continue;
    std::string_view ports = o->val;
    while (!ports.empty()) {
      std::string_view port = ports.substr(0, ports.find(','));
      ports.remove_prefix(std::min(ports.size(), port.size() + 1));
      int value = 0;
      bool digits = !port.empty() && port.size() <= 5 &&
                    std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) value = std::atoi(std::string(port).c_str());
      if (!digits || value < 1 || value > 65535) bad_port = std::string(port);
    }
  }
  PQconninfoFree(parsed);
  if (!bad_port.empty()) {
    return absl::InvalidArgumentError(
        strCat("store url \"", display_url_, "\": malformed: port \"", bad_port, "\""));
  }
  if (options_.pool_size == 0) {
    return absl::InvalidArgumentError("store: pool size must be at least 1");
  }
  if (!options_.password_file.empty()) {
    std::ifstream in(options_.password_file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          strCat("store password file ", options_.password_file, ": cannot be read"));
    }
    std::stringstream text;
    text << in.rdbuf();
    password_ = trimmed(text.str());
    if (password_.empty()) {
      return absl::InvalidArgumentError(
          strCat("store password file ", options_.password_file, ": empty"));
    }
  }

  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> PostgresStorage::migrateDatabase(const PostgresOptions& options) {
  std::unique_ptr<PostgresStorage> storage(new PostgresStorage(options));
  RETURN_IF_ERROR(storage->checkOptions());
  ASSIGN_OR_RETURN(ConnHandle conn, storage->connect());
  return runMigrations(conn.get(), kMigrationLock, storage->display_url_);
}

absl::Status PostgresStorage::init() {
  RETURN_IF_ERROR(checkOptions());
  {
    // The first connection names a wrong password or host now, then migrates.
    ASSIGN_OR_RETURN(ConnHandle conn, connect());
    if (options_.migrate) {
      RETURN_IF_ERROR(runMigrations(conn.get(), kMigrationLock, display_url_).status());
    } else {
      ASSIGN_OR_RETURN(int version, readSchemaVersion(conn.get(), display_url_));
      if (version < latestSchemaVersion()) {
        return absl::FailedPreconditionError(strCat(
            "postgres ", display_url_, ": schema version ", version, ", this build needs ",
            latestSchemaVersion(), ": run `habanero migrate`"));
      }
    }
    ASSIGN_OR_RETURN(int version, readSchemaVersion(conn.get(), display_url_));
    if (version > latestSchemaVersion()) {
      return absl::FailedPreconditionError(
          strCat("postgres ", display_url_, ": schema version ", version,
                       " is newer than this build's ", latestSchemaVersion()));
    }
    for (const Statement& s : kStatements) {
      ResultHandle result(PQprepare(conn.get(), s.name, s.sql, static_cast<int>(s.types.size()),
                                    s.types.data()));
      if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        return error(conn.get(), result.get(), strCat("prepare ", s.name));
      }
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    ++open_count_;
    idle_.push_back(std::move(conn));
  }
  if (options_.purge_interval_ms > 0) purge_thread_ = std::thread([this] { purgeLoop(); });
  return absl::OkStatus();
}

absl::StatusOr<PostgresStorage::ConnHandle> PostgresStorage::connect() {
  if (!healthy_.load() && steadyMs() < next_connect_ms_.load()) {
    // Fail fast while the database is known down: one caller per interval probes it.
    return absl::UnavailableError(
        strCat("postgres ", display_url_, ": unreachable (retrying)"));
  }
  const std::string connect_timeout =
      std::to_string(std::max<uint32_t>(2, (options_.connect_timeout_ms + 999) / 1000));
  const std::string options =
      strCat("-c client_min_messages=warning -c statement_timeout=", options_.statement_timeout_ms,
                   " -c lock_timeout=", options_.statement_timeout_ms,
                   " -c idle_in_transaction_session_timeout=", options_.statement_timeout_ms * 2);
  // Past this a dead peer fails the call instead of hanging it.
  const std::string tcp_user_timeout = std::to_string(options_.statement_timeout_ms + 1000);
  std::vector<const char*> keys = {"dbname",   "connect_timeout", "options", "application_name",
                                   "tcp_user_timeout", "keepalives_idle", "keepalives_interval"};
  std::vector<const char*> values = {options_.url.c_str(), connect_timeout.c_str(),
                                     options.c_str(),      "habanero",
                                     tcp_user_timeout.c_str(), "10", "5"};
  if (!password_.empty()) {
    keys.push_back("password");
    values.push_back(password_.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  ConnHandle conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn) return absl::ResourceExhaustedError("postgres: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(conn.get()));
    std::string message = strCat("postgres ", display_url_, ": connect: ", why);
    // Configuration errors are not outages: named as they are, never retried quietly.
    if (why.find("authentication failed") != std::string::npos ||
        why.find("no password supplied") != std::string::npos) {
      return absl::UnauthenticatedError(message);
    }
    if (why.find("does not exist") != std::string::npos) {
      return absl::FailedPreconditionError(message);
    }
    next_connect_ms_ = steadyMs() + kReconnectIntervalMs;
    noteHealth(false, why);
    return absl::UnavailableError(message);
  }
  noteHealth(true, "");
  return conn;
}

absl::StatusOr<PostgresStorage::ConnHandle> PostgresStorage::acquire() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(options_.pool_wait_ms);
  while (idle_.empty() && open_count_ >= options_.pool_size) {
    if (pool_cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_count_ >= options_.pool_size) {
      return absl::UnavailableError(
          strCat("postgres ", display_url_, ": all ", options_.pool_size,
                       " connections busy for ", options_.pool_wait_ms, " ms"));
    }
  }
  if (!idle_.empty()) {
    ConnHandle conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }
  ++open_count_;  // reserve the slot while connecting without the lock
  lock.unlock();
  absl::StatusOr<ConnHandle> conn = connect();
  if (conn.ok()) {
    for (const Statement& s : kStatements) {
      ResultHandle result(PQprepare(conn->get(), s.name, s.sql, static_cast<int>(s.types.size()),
                                    s.types.data()));
      if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        conn = error(conn->get(), result.get(), strCat("prepare ", s.name));
        break;
      }
    }
  }
  if (!conn.ok()) {
    lock.lock();
    --open_count_;
    pool_cv_.notify_one();
  }
  return conn;
}

void PostgresStorage::release(ConnHandle conn) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (conn && PQstatus(conn.get()) == CONNECTION_OK &&
      PQtransactionStatus(conn.get()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    conn.reset();
    --open_count_;
    // The server may have restarted: the idle connections are probably dead too.
    open_count_ -= idle_.size();
    idle_.clear();
  }
  pool_cv_.notify_one();
}

void PostgresStorage::noteHealth(bool reachable, std::string_view why) {
  bool was = healthy_.exchange(reachable);
  if (was && !reachable) {
    spdlog::error("store: postgres {} unreachable: {} (requests get 503 until it is back)",
                  display_url_, std::string(why));
  } else if (!was && reachable) {
    spdlog::info("store: postgres {} reachable again", display_url_);
  }
}

absl::Status PostgresStorage::error(pg_conn* conn, pg_result* result, std::string_view what) {
  std::string message = trimmed(result ? PQresultErrorMessage(result) : "");
  if (message.empty() && conn) message = trimmed(PQerrorMessage(conn));
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = state ? state : "";
  std::string text = strCat("postgres ", display_url_, ": ", what, ": ", message);
  if ((conn && PQstatus(conn) != CONNECTION_OK) || isTransient(sqlstate) ||
      (state == nullptr && result == nullptr)) {
    if (conn && PQstatus(conn) != CONNECTION_OK) noteHealth(false, message);
    return absl::UnavailableError(text);
  }
  if (sqlstate.starts_with("22")) return absl::InvalidArgumentError(text);
  if (sqlstate.starts_with("28")) return absl::UnauthenticatedError(text);
  return absl::InternalError(text);
}

PostgresStorage::Param PostgresStorage::nowParam() const {
  return options_.clock ? Param::of(options_.clock->nowMs()) : Param::null();
}

absl::StatusOr<PostgresStorage::ResultHandle> PostgresStorage::run(
    int index, const std::vector<Param>& params) {
  const Statement& statement = kStatements[index];
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size(), 1);
  std::vector<uint64_t> numbers(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    switch (params[i].kind) {
      case Param::Kind::kBytes:
        // A non-null pointer even for zero bytes: NULL would mean SQL NULL.
        values[i] = params[i].bytes.empty() ? "" : params[i].bytes.data();
        lengths[i] = static_cast<int>(params[i].bytes.size());
        break;
      case Param::Kind::kInt:
        numbers[i] = htobe64(static_cast<uint64_t>(params[i].number));
        values[i] = reinterpret_cast<const char*>(&numbers[i]);
        lengths[i] = sizeof(uint64_t);
        break;
      case Param::Kind::kNull:
        values[i] = nullptr;
        break;
    }
  }
  // A pooled connection the server dropped (a restart, a failover) fails the
  // first call on it; statements whose repetition changes nothing are sent
  // once more on a fresh connection, so a restart costs them no error.
  const bool idempotent = index == kGet || index == kPut || index == kRemove ||
                          index == kList || index == kPurge;
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(ConnHandle conn, acquire());
    ResultHandle result(PQexecPrepared(conn.get(), statement.name,
                                       static_cast<int>(params.size()), values.data(),
                                       lengths.data(), formats.data(), /*resultFormat=*/1));
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      noteHealth(true, "");
      release(std::move(conn));
      return result;
    }
    const bool dropped = PQstatus(conn.get()) != CONNECTION_OK;
    absl::Status failure = error(conn.get(), result.get(), statement.name + 4);
    release(std::move(conn));
    if (!(dropped && idempotent && attempt == 0)) return failure;
  }
}

absl::StatusOr<std::optional<std::string>> PostgresStorage::get(std::string_view ns,
                                                                std::string_view key) {
  RETURN_IF_ERROR(checkKey(key));
  ASSIGN_OR_RETURN(ResultHandle r, run(kGet, {Param::of(ns), Param::of(key), nowParam()}));
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return columnBytes(r.get(), 0, 0);
}

absl::Status PostgresStorage::put(std::string_view ns, std::string_view key,
                                  std::string_view value, int64_t ttl_ms) {
  RETURN_IF_ERROR(checkKey(key));
  return run(kPut, {Param::of(ns), Param::of(key), Param::of(value), Param::of(ttl_ms),
                    nowParam()})
      .status();
}

absl::Status PostgresStorage::remove(std::string_view ns, std::string_view key) {
  RETURN_IF_ERROR(checkKey(key));
  return run(kRemove, {Param::of(ns), Param::of(key)}).status();
}

absl::StatusOr<std::optional<std::string>> PostgresStorage::take(std::string_view ns,
                                                                 std::string_view key) {
  RETURN_IF_ERROR(checkKey(key));
  ASSIGN_OR_RETURN(ResultHandle r, run(kTake, {Param::of(ns), Param::of(key), nowParam()}));
  if (PQntuples(r.get()) == 0 || !columnBool(r.get(), 0, 1)) return std::nullopt;
  return columnBytes(r.get(), 0, 0);
}

absl::StatusOr<bool> PostgresStorage::compareAndSet(std::string_view ns, std::string_view key,
                                                    std::optional<std::string_view> expected,
                                                    std::string_view value, int64_t ttl_ms) {
  RETURN_IF_ERROR(checkKey(key));
  std::vector<Param> params = {Param::of(ns), Param::of(key), Param::of(value),
                               Param::of(ttl_ms), nowParam()};
  if (expected) params.push_back(Param::of(*expected));
  ASSIGN_OR_RETURN(ResultHandle r, run(expected ? kCasValue : kCasAbsent, params));
  return PQntuples(r.get()) > 0;
}

absl::StatusOr<std::vector<KeyValue>> PostgresStorage::list(std::string_view ns, size_t limit) {
  std::vector<KeyValue> records;
  if (limit == 0) return records;
  int64_t bounded = static_cast<int64_t>(
      std::min<uint64_t>(limit, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  ASSIGN_OR_RETURN(ResultHandle r, run(kList, {Param::of(ns), nowParam(), Param::of(bounded)}));
  int rows = PQntuples(r.get());
  records.reserve(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    records.push_back(KeyValue{columnBytes(r.get(), i, 0), columnBytes(r.get(), i, 1)});
  }
  return records;
}

absl::StatusOr<std::vector<KeyValue>> PostgresStorage::claim(
    std::string_view ns, size_t limit,
    const std::function<std::optional<std::string>(const KeyValue&)>& lease) {
  std::vector<KeyValue> claimed;
  if (limit == 0) return claimed;
  ASSIGN_OR_RETURN(ConnHandle conn, acquire());
  auto run_params = [&](const char* sql, std::vector<Param> params) -> absl::StatusOr<ResultHandle> {
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size()), formats(params.size(), 1);
    std::vector<uint64_t> numbers(params.size());
    std::vector<Oid> types(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].kind == Param::Kind::kInt) {
        numbers[i] = htobe64(static_cast<uint64_t>(params[i].number));
        values[i] = reinterpret_cast<const char*>(&numbers[i]);
        lengths[i] = 8;
        types[i] = kInt8Oid;
      } else if (params[i].kind == Param::Kind::kBytes) {
        values[i] = params[i].bytes.empty() ? "" : params[i].bytes.data();
        lengths[i] = static_cast<int>(params[i].bytes.size());
        types[i] = kByteaOid;
      } else {
        values[i] = nullptr;
        types[i] = kInt8Oid;
      }
    }
    ResultHandle r(PQexecParams(conn.get(), sql, static_cast<int>(params.size()), types.data(),
                                values.data(), lengths.data(), formats.data(), 1));
    ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error(conn.get(), r.get(), "claim");
    return r;
  };
  auto body = [&]() -> absl::Status {
    RETURN_IF_ERROR(run_params("BEGIN", {}).status());
    int64_t bounded = static_cast<int64_t>(
        std::min<uint64_t>(limit, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
    ASSIGN_OR_RETURN(
        ResultHandle rows,
        run_params("SELECT key, value FROM kv WHERE ns = $1 AND (expires_at IS NULL OR "
                   "expires_at > COALESCE($2::int8, (extract(epoch FROM statement_timestamp()) "
                   "* 1000)::int8)) ORDER BY key LIMIT $3 FOR UPDATE SKIP LOCKED",
                   {Param::of(ns), nowParam(), Param::of(bounded)}));
    for (int i = 0; i < PQntuples(rows.get()); ++i) {
      KeyValue current{columnBytes(rows.get(), i, 0), columnBytes(rows.get(), i, 1)};
      std::optional<std::string> next = lease(current);
      if (!next) continue;
      RETURN_IF_ERROR(run_params("UPDATE kv SET value = $3 WHERE ns = $1 AND key = $2",
                                 {Param::of(ns), Param::of(current.key), Param::of(*next)})
                          .status());
      claimed.push_back(KeyValue{std::move(current.key), std::move(*next)});
    }
    return run_params("COMMIT", {}).status();
  };
  absl::Status status = body();
  if (!status.ok()) {
    claimed.clear();
    if (PQstatus(conn.get()) == CONNECTION_OK && PQtransactionStatus(conn.get()) != PQTRANS_IDLE) {
      ResultHandle(PQexec(conn.get(), "ROLLBACK"));
    }
  }
  release(std::move(conn));
  if (!status.ok()) return status;
  return claimed;
}

absl::StatusOr<size_t> PostgresStorage::purgeExpired(int batch) {
  ASSIGN_OR_RETURN(ResultHandle r, run(kPurge, {nowParam(), Param::of(int64_t{batch})}));
  const char* tuples = PQcmdTuples(r.get());
  return static_cast<size_t>(std::strtoull(tuples ? tuples : "0", nullptr, 10));
}

void PostgresStorage::purgeLoop() {
  std::unique_lock<std::mutex> lock(purge_mu_);
  while (!stopping_) {
    purge_cv_.wait_for(lock, std::chrono::milliseconds(options_.purge_interval_ms),
                       [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // Small batches keep each statement short; a full one means more may wait.
    for (int round = 0; round < 100; ++round) {
      absl::StatusOr<size_t> purged = purgeExpired();
      if (!purged.ok() || *purged < static_cast<size_t>(kPurgeBatchRows)) break;
    }
    lock.lock();
  }
}

absl::Status PostgresStorage::importRecords(const std::vector<RawRecord>& records,
                                           bool overwrite) {
  ASSIGN_OR_RETURN(ConnHandle conn, acquire());
  auto simple = [&](const char* sql) -> absl::Status {
    ResultHandle r(PQexec(conn.get(), sql));
    ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return error(conn.get(), r.get(), sql);
    }
    if (!overwrite && status == PGRES_TUPLES_OK && PQntuples(r.get()) > 0) {
      return absl::FailedPreconditionError(
          strCat("postgres ", display_url_,
                 ": the store already holds records; copy into an empty database "
                 "(or overwrite them explicitly)"));
    }
    return absl::OkStatus();
  };
  auto body = [&]() -> absl::Status {
    RETURN_IF_ERROR(simple("BEGIN"));
    RETURN_IF_ERROR(simple("LOCK TABLE kv IN EXCLUSIVE MODE"));
    RETURN_IF_ERROR(simple("SELECT 1 FROM kv LIMIT 1"));
    const Oid types[] = {kByteaOid, kByteaOid, kByteaOid, kInt8Oid};
    for (const RawRecord& r : records) {
      uint64_t expires = htobe64(static_cast<uint64_t>(r.expires_at.value_or(0)));
      const char* values[] = {r.ns.empty() ? "" : r.ns.data(), r.key.empty() ? "" : r.key.data(),
                              r.value.empty() ? "" : r.value.data(),
                              r.expires_at ? reinterpret_cast<const char*>(&expires) : nullptr};
      const int lengths[] = {static_cast<int>(r.ns.size()), static_cast<int>(r.key.size()),
                             static_cast<int>(r.value.size()), sizeof expires};
      const int formats[] = {1, 1, 1, 1};
      ResultHandle result(PQexecParams(
          conn.get(),
          "INSERT INTO kv (ns, key, value, expires_at) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, "
          "expires_at = EXCLUDED.expires_at",
          4, types, values, lengths, formats, 1));
      if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        return error(conn.get(), result.get(), "import");
      }
    }
    ResultHandle commit(PQexec(conn.get(), "COMMIT"));
    if (PQresultStatus(commit.get()) != PGRES_COMMAND_OK) {
      return error(conn.get(), commit.get(), "import: commit");
    }
    return absl::OkStatus();
  };
  absl::Status status = body();
  if (!status.ok() && PQtransactionStatus(conn.get()) != PQTRANS_IDLE) {
    ResultHandle(PQexec(conn.get(), "ROLLBACK"));
  }
  release(std::move(conn));
  return status;
}

absl::StatusOr<std::vector<RawRecord>> PostgresStorage::exportRecords() {
  ASSIGN_OR_RETURN(ConnHandle conn, acquire());
  ResultHandle r(PQexecParams(conn.get(),
                              "SELECT ns, key, value, expires_at FROM kv ORDER BY ns, key", 0,
                              nullptr, nullptr, nullptr, nullptr, 1));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    absl::Status status = error(conn.get(), r.get(), "export");
    release(std::move(conn));
    return status;
  }
  release(std::move(conn));
  std::vector<RawRecord> records;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    RawRecord record{columnBytes(r.get(), i, 0), columnBytes(r.get(), i, 1),
                     columnBytes(r.get(), i, 2), std::nullopt};
    if (!PQgetisnull(r.get(), i, 3) && PQgetlength(r.get(), i, 3) == 8) {
      uint64_t be;
      std::memcpy(&be, PQgetvalue(r.get(), i, 3), 8);
      record.expires_at = static_cast<int64_t>(be64toh(be));
    }
    records.push_back(std::move(record));
  }
  return records;
}

absl::StatusOr<std::vector<int>> PostgresStorage::migrate() {
  ASSIGN_OR_RETURN(ConnHandle conn, connect());
  return runMigrations(conn.get(), kMigrationLock, display_url_);
}

absl::StatusOr<int> PostgresStorage::schemaVersion() {
  ASSIGN_OR_RETURN(ConnHandle conn, connect());
  return readSchemaVersion(conn.get(), display_url_);
}

}  // namespace habanero::store
