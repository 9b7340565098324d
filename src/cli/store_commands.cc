// habanero migrate | store copy — the PostgreSQL store's schema and moving an
// installation onto it (issue 13).
//
//   habanero migrate [--config FILE] [--url URL]
//       applies missing schema migrations to the configured PostgreSQL store
//       (idempotent; safe while other processes start). SQLite migrates itself.
//   habanero keys rewrap --new-kek-file FILE [--config FILE] [--data-dir DIR]
//       re-seals the signing keys under the KEK in FILE (created if absent).
//   habanero store copy --from DIR --to URL [--overwrite]
//       copies every record of the SQLite data directory DIR into the
//       PostgreSQL store at URL (which must be empty unless --overwrite).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "crypto/kek.h"
#include "crypto/key_store.h"
#include "server/app.h"
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
  std::string data_dir;
  std::string new_kek_file;
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

int keysRewrap(const StoreFlags& f) {
  auto cfg = habanero::server::loadConfig(f.config_file, environ);
  if (!cfg.ok()) return fail(cfg.status());
  if (!f.data_dir.empty()) cfg->server.data_dir = f.data_dir;
  if (absl::Status valid = habanero::server::validateConfig(*cfg); !valid.ok()) return fail(valid);
  auto old_options = habanero::server::keyStoreOptions(*cfg);
  if (!old_options.ok()) return fail(old_options.status());
  absl::StatusOr<std::string> new_kek = habanero::crypto::readKekFile(f.new_kek_file);
  bool created = false;
  if (!new_kek.ok() && !std::filesystem::exists(f.new_kek_file)) {
    new_kek = habanero::crypto::createKekFile(f.new_kek_file);
    created = true;
  }
  if (!new_kek.ok()) return fail(new_kek.status());
  auto storage = habanero::server::openStorage(*cfg);
  if (!storage.ok()) return fail(storage.status());
  absl::Status rewrapped =
      habanero::crypto::KeyStore::rewrap(**storage, old_options->kek, *new_kek);
  if (!rewrapped.ok()) return fail(rewrapped);
  std::cout << "The signing keys are now sealed under " << f.new_kek_file
            << (created ? " (a new key-encryption key)" : "") << " (kek id "
            << habanero::crypto::kekId(*new_kek) << ").\n";
  if (cfg->keys.kek.empty() && cfg->keys.kek_file.empty()) {
    const std::string own = habanero::server::kekSource(*cfg);
    absl::Status replaced = habanero::crypto::writeKekFile(own, *new_kek);
    if (!replaced.ok()) return fail(replaced);
    std::cout << "Replaced " << own << " with it; restart the server.\n";
  } else {
    std::cout << "Point [keys] kek_file (or HABANERO_KEYS_KEK) of every server at it and "
                 "restart them; until then they keep signing with the keys they loaded.\n";
  }
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

  if (CLI::App* keys = cli.get_subcommand("keys")) {
    CLI::App* rewrap = keys->add_subcommand(
        "rewrap", "re-seal the signing keys under a new key-encryption key");
    rewrap->add_option("--config", flags.config_file, "TOML configuration file");
    rewrap->add_option("--data-dir", flags.data_dir, "data directory");
    rewrap
        ->add_option("--new-kek-file", flags.new_kek_file,
                     "the new KEK (base64 of 32 bytes); created with a random one if absent")
        ->required();
    rewrap->callback([] { std::exit(keysRewrap(flags)); });
  }

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
