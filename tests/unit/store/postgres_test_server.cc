#include "postgres_test_server.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>

#include "store/postgres/postgres_storage.h"
#include "store/sqlite/sqlite_storage.h"

#ifndef HABANERO_SOURCE_DIR
#error "HABANERO_SOURCE_DIR must name the source tree"
#endif

namespace habanero::testing {
namespace {

const std::string kScript =
    std::string(HABANERO_SOURCE_DIR) + "/tests/integration/postgres_server.py";

[[noreturn]] void die(const std::string& message) {
  std::cerr << "postgres test server: " << message << std::endl;
  std::abort();
}

// Runs `command`, returning its stdout without the trailing newline.
std::string capture(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) die("cannot run " + command);
  std::string out;
  std::array<char, 512> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (status != 0) die(command + " failed (status " + std::to_string(status) + ")");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string private_state_dir;  // a server this process started

void stopPrivateServer() {
  if (private_state_dir.empty()) return;
  std::string command = "python3 " + kScript + " stop " + private_state_dir;
  if (std::system(command.c_str()) != 0) std::cerr << "postgres test server: stop failed\n";
  std::error_code ignored;
  std::filesystem::remove_all(private_state_dir, ignored);
}

std::string startOrFind() {
  if (const char* shared = std::getenv("HABANERO_TEST_POSTGRES"); shared && *shared) {
    std::filesystem::path url_file = std::filesystem::path(shared) / "url";
    if (std::filesystem::exists(url_file)) return readFile(url_file);
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-pgstate-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) die("mkdtemp failed");
  private_state_dir = tmpl;
  std::string url = capture("python3 " + kScript + " start " + tmpl);
  std::atexit(stopPrivateServer);
  return url;
}

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};

// The database URL with its last path segment replaced by `name`.
std::string withDatabase(const std::string& url, const std::string& name) {
  size_t slash = url.rfind('/');
  return url.substr(0, slash + 1) + name;
}

std::string databaseOf(const std::string& url) {
  std::string db = url.substr(url.rfind('/') + 1);
  return db.substr(0, db.find('?'));
}

}  // namespace

const std::string& postgresAdminUrl() {
  static const std::string url = startOrFind();
  return url;
}

std::string postgresQuery(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, PgConnCloser> conn(PQconnectdb(url.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    die("connect " + habanero::store::redactUrl(url) + ": " + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, PgResultClearer> result(PQexec(conn.get(), sql.c_str()));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    die(sql + ": " + PQresultErrorMessage(result.get()));
  }
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 && PQnfields(result.get()) > 0) {
    return PQgetvalue(result.get(), 0, 0);
  }
  return "";
}

std::string createPostgresDatabase() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu);
    char buf[32];
    std::snprintf(buf, sizeof buf, "t_%016llx", static_cast<unsigned long long>(rng()));
    name = buf;
  }
  const std::string& admin = postgresAdminUrl();
  postgresQuery(admin, "CREATE DATABASE \"" + name + "\"");
  return withDatabase(admin, name);
}

void dropPostgresDatabase(const std::string& url) {
  std::string name = databaseOf(url);
  if (name.empty() || name == "postgres") return;
  postgresQuery(postgresAdminUrl(), "DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
}

std::string postgresDatabaseFor(const std::filesystem::path& dir) {
  std::filesystem::path file = dir / "postgres.url";
  if (std::filesystem::exists(file)) return readFile(file);
  std::string url = createPostgresDatabase();
  std::ofstream(file) << url << "\n";
  return url;
}

void dropPostgresDatabaseFor(const std::filesystem::path& dir) {
  std::filesystem::path file = dir / "postgres.url";
  if (std::filesystem::exists(file)) dropPostgresDatabase(readFile(file));
}

absl::StatusOr<StoragePtr> openPostgresFor(const std::filesystem::path& dir, const Clock& clock) {
  store::PostgresOptions o;
  o.url = postgresDatabaseFor(dir);
  o.clock = &clock;
  o.pool_size = 4;
  ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStorage> storage, store::PostgresStorage::open(o));
  return StoragePtr(std::move(storage));
}

}  // namespace habanero::testing

namespace habanero::testing {

std::string testStoreBackend() {
  const char* backend = std::getenv("HABANERO_TEST_STORE");
  return backend && std::string_view(backend) == "postgres" ? "postgres" : "sqlite";
}

absl::StatusOr<StoragePtr> openTestStore(const std::filesystem::path& dir, const Clock& clock) {
  if (testStoreBackend() == "postgres") return openPostgresFor(dir, clock);
  return store::SqliteStorage::open((dir / "habanero.db").string(), clock);
}

void cleanupTestStore(const std::filesystem::path& dir) {
  if (testStoreBackend() == "postgres") dropPostgresDatabaseFor(dir);
}

}  // namespace habanero::testing
