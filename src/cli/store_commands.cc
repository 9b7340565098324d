// habanero migrate | store copy — the PostgreSQL store's schema and moving an
// installation onto it (issue 13).
//
//   habanero migrate [--config FILE] [--url URL]
//       applies missing schema migrations to the configured PostgreSQL store
//       (idempotent; safe while other processes start). SQLite migrates itself.
//   habanero store copy --from DIR --to URL [--overwrite]
//       copies every record of the SQLite data directory DIR into the
//       PostgreSQL store at URL (which must be empty unless --overwrite).
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "server/config.h"
#include "store/postgres/postgres_storage.h"
#include "store/store_copy.h"

extern char** environ;

namespace {

struct StoreFlags {
  std::string config_file;
  std::string url;
  std::string password_file;
  std::string from;
  bool overwrite = false;
};

int fail(const absl::Status& status) {
  std::cerr << "habanero: " << status.message() << "\n";
  return 1;
}

// The PostgreSQL options of the configuration, with --url/--password-file on top.
absl::StatusOr<habanero::store::PostgresOptions> postgresOptions(const StoreFlags& f) {
  ASSIGN_OR_RETURN(habanero::server::Config cfg,
                   habanero::server::loadConfig(f.config_file, environ));
  habanero::store::PostgresOptions o;
  o.url = f.url.empty() ? cfg.store.url : f.url;
  o.password_file = f.password_file.empty() ? cfg.store.password_file : f.password_file;
  o.connect_timeout_ms = cfg.store.connect_timeout_ms;
  o.statement_timeout_ms = cfg.store.statement_timeout_ms;
  o.pool_size = 1;
  o.purge_interval_ms = 0;
  return o;
}

int migrate(const StoreFlags& f) {
  absl::StatusOr<habanero::store::PostgresOptions> o = postgresOptions(f);
  if (!o.ok()) return fail(o.status());
  if (o->url.empty()) {
    std::cout << "The store is SQLite: its schema is brought up to date when a server or "
                 "command opens it. Nothing to do.\n";
    return 0;
  }
  absl::StatusOr<std::vector<int>> applied =
      habanero::store::PostgresStorage::migrateDatabase(*o);
  if (!applied.ok()) return fail(applied.status());
  const std::string url = habanero::store::redactUrl(o->url);
  if (applied->empty()) {
    std::cout << "Already up to date: " << url << " is at schema version "
              << habanero::store::PostgresStorage::latestSchemaVersion() << ".\n";
  } else {
    std::cout << "Applied " << applied->size() << " migration(s) to " << url
              << "; now at schema version " << applied->back() << ".\n";
  }
  return 0;
}

int storeCopy(const StoreFlags& f) {
  absl::StatusOr<habanero::store::PostgresOptions> o = postgresOptions(f);
  if (!o.ok()) return fail(o.status());
  if (o->url.empty()) return fail(absl::InvalidArgumentError("store copy: --to URL is required"));
  auto pg = habanero::store::PostgresStorage::open(*o);
  if (!pg.ok()) return fail(pg.status());
  const std::string db = f.from + "/habanero.db";
  auto report = habanero::store::copySqliteToPostgres(db, **pg, {.overwrite = f.overwrite});
  if (!report.ok()) return fail(report.status());
  std::cout << "Copied " << report->copied << " record(s) from " << db << " to "
            << (*pg)->displayUrl() << " (" << report->expired_skipped
            << " expired left behind).\n"
            << "Start the servers with [store] url set to it. The signing keys are encrypted "
               "under the data directory's key-encryption key: give the servers the same one "
               "([keys] kek_file, e.g. "
            << f.from << "/kek).\n";
  return 0;
}

}  // namespace

// Registers `habanero migrate` and `habanero store copy` (called once from main.cc).
void registerStoreCommands(CLI::App& cli) {
  static StoreFlags flags;
  CLI::App* mig = cli.add_subcommand("migrate", "bring the PostgreSQL store's schema up to date");
  mig->add_option("--config", flags.config_file, "TOML configuration file");
  mig->add_option("--url", flags.url, "postgres://… (default: [store] url)");
  mig->add_option("--password-file", flags.password_file, "a file holding the password");
  mig->callback([] { std::exit(migrate(flags)); });

  CLI::App* store = cli.add_subcommand("store", "move the data between stores");
  store->require_subcommand(1);
  CLI::App* copy = store->add_subcommand(
      "copy", "copy every record of a SQLite data directory into an empty PostgreSQL store");
  copy->add_option("--config", flags.config_file, "TOML configuration file");
  copy->add_option("--from", flags.from, "the SQLite data directory")->required();
  copy->add_option("--to", flags.url, "postgres://… (default: [store] url)");
  copy->add_option("--password-file", flags.password_file, "a file holding the password");
  copy->add_flag("--overwrite", flags.overwrite, "replace records the target already has");
  copy->callback([] { std::exit(storeCopy(flags)); });
}
