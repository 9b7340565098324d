// habanero — the command line. The only code the tests do not link.
//
//   habanero serve [--config FILE] [--listen ADDR:PORT] [--data-dir DIR] [--issuer URL]
//                  [--role all|gateway|worker] [--workers "HOST:PORT ..."]
//                  [--grpc-listen ADDR:PORT]
//                  (the cluster roles, docs/cluster.md; default all: one process)
//   habanero reload [--config FILE] [--data-dir DIR]   (SIGHUP to the running server)
//   habanero check  [--config FILE]                    (validate config and extensions)
//
// Records (design 0001); each takes [--config FILE] [--data-dir DIR], changes the
// database directly and then signals a running server (pid file in the data dir) to
// reload, so the change takes effect without a restart:
//   habanero client add --id ID [--secret SECRET | --public] --redirect-uri URI [...]
//                       [--post-logout-redirect-uri URI ...] [--grant-types a,b]
//                       [--scopes "openid email"] [--name NAME] [--first-party]
//                       [--token-format jwt|opaque]
//   habanero client list | client remove ID
//   habanero user add --email EMAIL [--password-stdin] [--name NAME] [--phone E164]
//                     [--email-verified]
//   habanero user list | user remove EMAIL
//   habanero keys rotate | keys list          (new keys use [keys] alg; retention_days)
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/users.h"
#include "crypto/key_store.h"
#include "events/outbox.h"
#include "habanero/clock.h"
#include "runtime/router.h"
#include "cluster/logging.h"
#include "server/app.h"
#include "server/config.h"

extern char** environ;
void registerEdgeCommands(CLI::App& cli);  // habanero edge export (edge_export.cc)
void registerStoreCommands(CLI::App& cli);  // habanero migrate, store copy (store_commands.cc)

namespace {

using habanero::server::Config;

struct CommonFlags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string issuer;
  std::string role;         // [cluster] role
  std::string workers;      // [cluster] workers
  std::string grpc_listen;  // [cluster] listen
};

// Defaults, file, environment, then flags; validated. Prints the error and
// returns nullopt on failure.
std::optional<Config> loadConfig(const CommonFlags& f) {
  auto cfg = habanero::server::loadConfig(f.config_file, environ);
  if (!cfg.ok()) {
    std::cerr << "habanero: " << cfg.status().message() << "\n";
    return std::nullopt;
  }
  if (!f.listen.empty()) cfg->server.listen = f.listen;
  if (!f.data_dir.empty()) cfg->server.data_dir = f.data_dir;
  if (!f.issuer.empty()) cfg->server.issuer = f.issuer;
  if (!f.role.empty()) cfg->cluster.role = f.role;
  if (!f.workers.empty()) cfg->cluster.workers = f.workers;
  if (!f.grpc_listen.empty()) cfg->cluster.listen = f.grpc_listen;
  absl::Status valid = habanero::server::validateConfig(*cfg);
  if (!valid.ok()) {
    std::cerr << "habanero: " << valid.message() << "\n";
    return std::nullopt;
  }
  spdlog::level::level_enum level = spdlog::level::from_str(cfg->log.level);
  spdlog::set_level(level);
  absl::Status format = habanero::cluster::setLogFormat(cfg->log.format);  // checked above
  if (!format.ok()) {
    std::cerr << "habanero: " << format.message() << "\n";
    return std::nullopt;
  }
  return *cfg;
}

int serve(const CommonFlags& flags) {
  // Signals are taken by sigwait() in this thread only: block them before any
  // other thread exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  auto app = habanero::server::App::create(*cfg);
  if (!app.ok()) {
    std::cerr << "habanero: " << app.status().message() << "\n";
    return 1;
  }
  absl::Status started = (*app)->start();
  if (!started.ok()) {
    std::cerr << "habanero: " << started.message() << "\n";
    return 1;
  }
  std::string issuer = (*app)->issuer();
  // With JSON logs the banner is one log line too, so the output stays JSON lines.
  std::ostringstream banner_text;
  std::ostream& banner = cfg->log.format == "json" ? banner_text : std::cout;
  if (cfg->cluster.role == "worker") {
    banner << "Habanero worker is running.\n"
           << "  gRPC:    port " << (*app)->port() << " (cluster.listen " << cfg->cluster.listen
           << ")\n";
    if (!cfg->cluster.probe_listen.empty()) {
      banner << "  probes:  /healthz /readyz /metrics (cluster.probe_listen "
             << cfg->cluster.probe_listen << ")\n";
    }
    banner << "  issuer:  " << issuer << "\n"
           << "Stop with Ctrl-C or SIGTERM (drains first)." << std::endl;
  } else if (cfg->cluster.role == "gateway") {
    banner << "Habanero gateway is running.\n"
           << "  issuer:  " << issuer << " (port " << (*app)->port() << ")\n"
           << "  workers: " << cfg->cluster.workers << "\n"
           << "Try:\n"
           << "  curl " << issuer << "/readyz\n"
           << "Stop with Ctrl-C or SIGTERM (drains first)." << std::endl;
  } else {
    banner << "Habanero is running.\n"
           << "  issuer:  " << issuer << "\n"
           << "  data:    " << cfg->server.data_dir << "\n"
           << "Try:\n"
           << "  curl " << issuer << "/healthz\n";
    for (const auto& e : (*app)->router().snapshot()->entries) {
      if (e.extension) {
        banner << "  curl '" << issuer << (e.spec.mount == "/" ? "" : e.spec.mount)
               << "/'    (extension " << e.spec.name << ")\n";
      }
    }
    banner << "Stop with Ctrl-C; reload extensions with `habanero reload` or SIGHUP."
           << std::endl;
  }
  if (cfg->log.format == "json") spdlog::info("{}", banner_text.str());

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading extensions");
      (*app)->reload();
      continue;
    }
    spdlog::info("{}: finishing in-flight requests, then stopping",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    (*app)->stop();
    return 0;
  }
}

int reload(const CommonFlags& flags) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  std::string path = habanero::server::pidFilePath(*cfg);
  std::ifstream in(path);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) {
    std::cerr << "habanero: " << path << ": no running server found (no pid file)\n";
    return 1;
  }
  if (::kill(pid, SIGHUP) != 0) {
    std::cerr << "habanero: cannot signal server pid " << pid << " from " << path << ": "
              << strerror(errno) << "\n";
    return 1;
  }
  std::cout << "asked server " << pid << " to reload its extensions\n";
  return 0;
}

int check(const CommonFlags& flags) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  cfg->cluster.role = "all";  // load the extensions here, whatever the role (no ports)
  auto app = habanero::server::App::create(*cfg);
  if (!app.ok()) {
    std::cerr << "habanero: " << app.status().message() << "\n";
    return 1;
  }
  int failed = 0;
  for (const auto& e : (*app)->router().snapshot()->entries) {
    if (e.error.empty()) {
      std::cout << "ok    " << e.spec.name << " at " << e.spec.mount << " (" << e.module_path
                << ")\n";
    } else {
      std::cout << "FAIL  " << e.spec.name << ": " << e.error << "\n";
      failed++;
    }
  }
  return failed == 0 ? 0 : 1;
}

// ---- records: clients, users, keys ---------------------------------------

// Signals the running server (if any) to reload, so a change made here takes
// effect at once. A stale pid file (no such process, or not a habanero) is
// ignored.
void notifyServer(const Config& cfg) {
  std::string path = habanero::server::pidFilePath(cfg);
  std::ifstream in(path);
  pid_t pid = 0;
  bool running = static_cast<bool>(in >> pid) && pid > 0 && ::kill(pid, 0) == 0;
  if (running) {
    // Never signal a process that merely reused the pid (SIGHUP would end most).
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    if (cmdline && std::getline(cmdline, argv0, '\0')) {
      running = std::filesystem::path(argv0).filename().string().find("habanero") !=
                std::string::npos;
    }
  }
  if (!running) {
    std::cout << "No running server found; the change applies when it starts.\n";
    return;
  }
  if (::kill(pid, SIGHUP) != 0) {
    std::cerr << "habanero: cannot signal server pid " << pid << ": " << strerror(errno)
              << "; run `habanero reload` or restart it\n";
    return;
  }
  std::cout << "Asked the running server (pid " << pid << ") to reload; the change applies now.\n";
}

// Opens the store named by the configuration; prints the error and returns
// nullptr on failure.
habanero::StoragePtr openStore(const Config& cfg) {
  auto storage = habanero::server::openStorage(cfg);
  if (!storage.ok()) {
    std::cerr << "habanero: " << storage.status().message() << "\n";
    return nullptr;
  }
  return std::move(*storage);
}

int fail(const absl::Status& status) {
  std::cerr << "habanero: " << status.message() << "\n";
  return 1;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string utcTime(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Prints rows as columns separated by two spaces (the last column unpadded).
void printTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

struct ClientFlags {
  std::string id;
  std::string secret;
  bool is_public = false;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
  std::string grant_types;
  std::string scopes;
  std::string name;
  bool first_party = false;
  std::string token_format = "jwt";
};

int clientAdd(const CommonFlags& flags, const ClientFlags& f, bool secret_given,
              bool grant_types_given, bool scopes_given) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto clients = habanero::auth::Clients::open(*storage, habanero::SystemClock::instance());
  if (!clients.ok()) return fail(clients.status());
  habanero::auth::NewClient c;
  c.client_id = f.id;
  if (secret_given) c.secret = f.secret;
  c.is_public = f.is_public;
  c.redirect_uris = f.redirect_uris;
  c.post_logout_redirect_uris = f.post_logout_redirect_uris;
  if (grant_types_given) c.grant_types = habanero::auth::splitList(f.grant_types);
  if (scopes_given) c.scopes = habanero::auth::splitList(f.scopes);
  c.name = f.name;
  c.first_party = f.first_party;
  c.token_format = f.token_format;
  auto added = (*clients)->add(c);
  if (!added.ok()) return fail(added.status());
  const habanero::auth::Client& client = added->client;
  std::cout << "Added " << (client.is_public ? "public" : "confidential") << " client '"
            << client.client_id << "'.\n";
  if (!added->generated_secret.empty()) {
    std::cout << "client_secret: " << added->generated_secret << "\n"
              << "Store the secret now: it is not kept and cannot be shown again.\n";
  } else if (secret_given && f.secret.size() < 16) {
    std::cerr << "habanero: warning: a secret of fewer than 16 characters is easy to guess\n";
  }
  notifyServer(*cfg);
  return 0;
}

int clientList(const CommonFlags& flags) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto clients = habanero::auth::Clients::open(*storage, habanero::SystemClock::instance());
  if (!clients.ok()) return fail(clients.status());
  auto all = (*clients)->list();
  if (!all.ok()) return fail(all.status());
  if (all->empty()) {
    std::cout << "No clients registered. Add one with `habanero client add`.\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"CLIENT ID", "TYPE", "FIRST PARTY", "TOKENS", "GRANT TYPES", "NAME", "REDIRECT URIS"}};
  for (const habanero::auth::Client& c : *all) {
    rows.push_back({c.client_id, c.is_public ? "public" : "confidential",
                    c.first_party ? "yes" : "no", c.token_format, join(c.grant_types, ","),
                    c.name.empty() ? "-" : c.name, join(c.redirect_uris, " ")});
  }
  printTable(rows);
  return 0;
}

int clientRemove(const CommonFlags& flags, const std::string& id) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto clients = habanero::auth::Clients::open(*storage, habanero::SystemClock::instance());
  if (!clients.ok()) return fail(clients.status());
  absl::Status removed = (*clients)->remove(id);
  if (!removed.ok()) return fail(removed);
  std::cout << "Removed client '" << id << "'.\n";
  notifyServer(*cfg);
  return 0;
}

struct UserFlags {
  std::string email;
  bool password_stdin = false;
  std::string name;
  std::string phone;
  bool email_verified = false;
  bool phone_verified = false;
  std::string website;
  std::string webid;
};

int userAdd(const CommonFlags& flags, const UserFlags& f) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::auth::NewUser u;
  u.email = f.email;
  u.name = f.name;
  u.phone_number = f.phone;
  u.email_verified = f.email_verified;
  u.phone_number_verified = f.phone_verified;
  u.website = f.website;
  u.webid = f.webid;
  if (f.email.empty() && f.phone.empty()) {
    std::cerr << "error: user add needs --email or --phone (or both)\n";
    return 2;
  }
  if (f.password_stdin) {
    std::string password((std::istreambuf_iterator<char>(std::cin)), {});
    if (password.ends_with('\n')) password.pop_back();
    if (password.ends_with('\r')) password.pop_back();
    u.password = std::move(password);
  }
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto users = habanero::auth::Users::create(*storage, habanero::SystemClock::instance());
  if (!users.ok()) return fail(users.status());
  auto added = (*users)->add(u);
  if (!added.ok()) return fail(added.status());
  std::cout << "Added user " << (added->email.empty() ? added->phone_number : added->email)
            << " (subject " << added->subject << ").\n";
  if (!added->has_password) {
    std::cout << "No password set: pass one with --password-stdin to allow password sign-in.\n";
  }
  notifyServer(*cfg);
  return 0;
}

int userList(const CommonFlags& flags) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto users = habanero::auth::Users::create(*storage, habanero::SystemClock::instance(),
                                             {.time_cost = 1, .memory_kib = 8});
  if (!users.ok()) return fail(users.status());
  auto all = (*users)->list();
  if (!all.ok()) return fail(all.status());
  if (all->empty()) {
    std::cout << "No users. Add one with `habanero user add`.\n";
    return 0;
  }
  std::sort(all->begin(), all->end(),
            [](const auto& a, const auto& b) { return a.email < b.email; });
  std::vector<std::vector<std::string>> rows = {
      {"EMAIL", "SUBJECT", "NAME", "PHONE", "PASSWORD", "VERIFIED", "CREATED"}};
  for (const habanero::auth::User& u : *all) {
    rows.push_back({u.email.empty() ? "-" : u.email, u.subject, u.name.empty() ? "-" : u.name,
                    u.phone_number.empty() ? "-" : u.phone_number, u.has_password ? "yes" : "no",
                    u.email_verified ? "yes" : "no", utcTime(u.created_ms)});
  }
  printTable(rows);
  return 0;
}

int userRemove(const CommonFlags& flags, const std::string& email) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto users = habanero::auth::Users::create(*storage, habanero::SystemClock::instance(),
                                             {.time_cost = 1, .memory_kib = 8});
  if (!users.ok()) return fail(users.status());
  absl::Status removed = (*users)->remove(email);
  if (!removed.ok()) return fail(removed);
  std::cout << "Removed user "
            << (email.starts_with("+") ? email
                                       : habanero::auth::normalizeEmail(email).value_or(email))
            << "; their sessions have ended.\n";
  notifyServer(*cfg);
  return 0;
}

int keysCommand(const CommonFlags& flags, bool rotate) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  auto key_options = habanero::server::keyStoreOptions(*cfg);
  if (!key_options.ok()) return fail(key_options.status());
  auto keys = habanero::crypto::KeyStore::open(*storage, habanero::SystemClock::instance(),
                                               *key_options);
  if (!keys.ok()) return fail(keys.status());
  if (rotate) {
    absl::Status rotated = (*keys)->rotate();
    if (!rotated.ok()) return fail(rotated);
  }
  std::vector<habanero::crypto::KeyInfo> infos = (*keys)->listKeys();
  if (rotate && !infos.empty()) {
    std::cout << "Rotated: new signing key " << infos[0].kid << " (" << infos[0].alg
              << "); the previous key keeps verifying until its retention ends.\n";
  }
  std::vector<std::vector<std::string>> rows = {{"KID", "ALG", "STATUS", "CREATED", "EXPIRES"}};
  for (const habanero::crypto::KeyInfo& k : infos) {
    rows.push_back({k.kid, k.alg, k.retired_ms == 0 ? "active" : "retired",
                    utcTime(k.created_ms), k.expires_ms == 0 ? "-" : utcTime(k.expires_ms)});
  }
  printTable(rows);
  if (rotate) notifyServer(*cfg);
  return 0;
}

// habanero outbox list|retry: the event outbox (design 0002). `list` shows
// what waits for delivery and what failed for good; `retry ID` makes a record
// due now (the running server picks it up on its next pass).
int outboxCommand(const CommonFlags& flags, const std::string& retry_id) {
  std::optional<Config> cfg = loadConfig(flags);
  if (!cfg) return 2;
  habanero::StoragePtr storage = openStore(*cfg);
  if (!storage) return 1;
  habanero::events::Outbox outbox(*storage, habanero::SystemClock::instance(), {});
  if (!retry_id.empty()) {
    absl::Status retried = outbox.retryNow(retry_id);
    if (!retried.ok()) return fail(retried);
    std::cout << "Record " << retry_id << " is due now.\n";
    return 0;
  }
  auto records = outbox.list();
  if (!records.ok()) return fail(records.status());
  if (records->empty()) {
    std::cout << "The outbox is empty: every event has been delivered.\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "TOPIC", "FOR", "STATE", "ATTEMPTS", "CREATED", "NEXT", "LAST ERROR"}};
  for (const habanero::events::Event& e : *records) {
    rows.push_back({e.id, e.topic, e.subscriber.empty() ? "(no subscriber)" : e.subscriber,
                    e.state, std::to_string(e.attempts), utcTime(e.created_ms),
                    e.state == "pending" ? utcTime(e.next_attempt_ms) : "-",
                    e.last_error.empty() ? "-" : e.last_error});
  }
  printTable(rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Habanero — an authorization server with WebAssembly extensions"};
  cli.require_subcommand(1);
  CommonFlags flags;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--config", flags.config_file, "TOML configuration file");
    sub->add_option("--data-dir", flags.data_dir, "data directory (database, keys, cache)");
  };
  CLI::App* serve_cmd = cli.add_subcommand("serve", "start the server in the foreground");
  add_common(serve_cmd);
  serve_cmd->add_option("--listen", flags.listen, "ADDR:PORT to listen on");
  serve_cmd->add_option("--issuer", flags.issuer, "the issuer (base) URL");
  serve_cmd->add_option("--role", flags.role, "all (default), gateway or worker ([cluster] role)")
      ->check(CLI::IsMember({"all", "gateway", "worker"}));
  serve_cmd->add_option("--workers", flags.workers,
                        "gateway: \"HOST:PORT HOST:PORT\" of the workers");
  serve_cmd->add_option("--grpc-listen", flags.grpc_listen, "worker: ADDR:PORT of its gRPC port");
  CLI::App* reload_cmd = cli.add_subcommand("reload", "reload the running server's extensions");
  add_common(reload_cmd);
  CLI::App* check_cmd = cli.add_subcommand("check", "validate configuration and extensions");
  add_common(check_cmd);
  cli.add_subcommand("version", "print the version")->callback([] {
    std::cout << "habanero " << HABANERO_VERSION << "\n";
  });

  // habanero client add|list|remove
  CLI::App* client_cmd = cli.add_subcommand("client", "manage OAuth client registrations");
  client_cmd->require_subcommand(1);
  ClientFlags cf;
  CLI::App* client_add = client_cmd->add_subcommand("add", "register a client");
  add_common(client_add);
  client_add->add_option("--id", cf.id, "the client_id")->required();
  CLI::Option* secret_opt = client_add->add_option(
      "--secret", cf.secret, "a secret you choose (default: a generated one, printed once)");
  CLI::Option* public_opt =
      client_add->add_flag("--public", cf.is_public, "a public client (no secret; PKCE)");
  secret_opt->excludes(public_opt);
  client_add->add_option("--redirect-uri", cf.redirect_uris, "an allowed redirect URI (repeat)");
  client_add->add_option("--post-logout-redirect-uri", cf.post_logout_redirect_uris,
                         "an allowed post-logout redirect URI (repeat)");
  CLI::Option* grants_opt = client_add->add_option(
      "--grant-types", cf.grant_types, "default authorization_code,refresh_token");
  CLI::Option* scopes_opt = client_add->add_option(
      "--scopes", cf.scopes, "default \"openid profile email offline_access\"");
  client_add->add_option("--name", cf.name, "a display name");
  client_add->add_flag("--first-party", cf.first_party, "trusted: consent may be skipped");
  client_add
      ->add_option("--token-format", cf.token_format, "access tokens: jwt (default) or opaque")
      ->check(CLI::IsMember({"jwt", "opaque"}));
  CLI::App* client_list = client_cmd->add_subcommand("list", "list the registered clients");
  add_common(client_list);
  std::string remove_id;
  CLI::App* client_remove = client_cmd->add_subcommand("remove", "delete a client registration");
  add_common(client_remove);
  client_remove->add_option("ID", remove_id, "the client_id")->required();

  // habanero user add|list|remove
  CLI::App* user_cmd = cli.add_subcommand("user", "manage users");
  user_cmd->require_subcommand(1);
  UserFlags uf;
  CLI::App* user_add = user_cmd->add_subcommand("add", "add a user");
  add_common(user_add);
  user_add->add_option("--email", uf.email, "the user's email (unique; or give --phone)");
  user_add->add_flag("--password-stdin", uf.password_stdin,
                     "read the password from standard input (one line)");
  user_add->add_option("--name", uf.name, "the user's name");
  user_add->add_option("--phone", uf.phone, "a phone number in E.164 form, e.g. +14155550100");
  user_add->add_flag("--email-verified", uf.email_verified, "mark the email as verified");
  user_add->add_flag("--phone-verified", uf.phone_verified, "mark the phone number as verified");
  user_add->add_option("--website", uf.website,
                       "the user's own site, usable as IndieAuth profile URL once it links here");
  user_add->add_option("--webid", uf.webid,
                       "an external WebID, used once its profile names this issuer");
  CLI::App* user_list = user_cmd->add_subcommand("list", "list users");
  add_common(user_list);
  std::string remove_email;
  CLI::App* user_remove = user_cmd->add_subcommand("remove", "delete a user");
  add_common(user_remove);
  user_remove->add_option("EMAIL", remove_email, "the user's email (or +phone number)")
      ->required();

  // habanero keys rotate|list
  CLI::App* keys_cmd = cli.add_subcommand("keys", "manage the signing keys");
  keys_cmd->require_subcommand(1);
  CLI::App* keys_rotate = keys_cmd->add_subcommand("rotate", "make a new active signing key");
  add_common(keys_rotate);
  CLI::App* keys_list = keys_cmd->add_subcommand("list", "list the signing keys in use");
  add_common(keys_list);

  // habanero outbox list|retry
  CLI::App* outbox_cmd = cli.add_subcommand("outbox", "inspect the event outbox");
  outbox_cmd->require_subcommand(1);
  CLI::App* outbox_list = outbox_cmd->add_subcommand("list", "list pending and failed events");
  add_common(outbox_list);
  std::string retry_id;
  CLI::App* outbox_retry = outbox_cmd->add_subcommand("retry", "make a record due now");
  add_common(outbox_retry);
  outbox_retry->add_option("ID", retry_id, "the record's id (from outbox list)")->required();

  registerEdgeCommands(cli);
  registerStoreCommands(cli);
  CLI11_PARSE(cli, argc, argv);
  if (outbox_list->parsed()) return outboxCommand(flags, "");
  if (outbox_retry->parsed()) return outboxCommand(flags, retry_id);
  if (serve_cmd->parsed()) return serve(flags);
  if (reload_cmd->parsed()) return reload(flags);
  if (check_cmd->parsed()) return check(flags);
  if (client_add->parsed()) {
    return clientAdd(flags, cf, secret_opt->count() > 0, grants_opt->count() > 0,
                     scopes_opt->count() > 0);
  }
  if (client_list->parsed()) return clientList(flags);
  if (client_remove->parsed()) return clientRemove(flags, remove_id);
  if (user_add->parsed()) return userAdd(flags, uf);
  if (user_list->parsed()) return userList(flags);
  if (user_remove->parsed()) return userRemove(flags, remove_email);
  if (keys_rotate->parsed()) return keysCommand(flags, /*rotate=*/true);
  if (keys_list->parsed()) return keysCommand(flags, /*rotate=*/false);
  return 0;
}
