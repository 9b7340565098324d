// habanero — the command line. The only code the tests do not link.
//
//   habanero serve [--config FILE] [--listen ADDR:PORT] [--data-dir DIR] [--issuer URL]
//   habanero reload [--config FILE] [--data-dir DIR]   (SIGHUP to the running server)
//   habanero check  [--config FILE]                    (validate config and extensions)
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "runtime/router.h"
#include "server/app.h"
#include "server/config.h"

extern char** environ;

namespace {

using habanero::server::Config;

struct CommonFlags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string issuer;
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
  absl::Status valid = habanero::server::validateConfig(*cfg);
  if (!valid.ok()) {
    std::cerr << "habanero: " << valid.message() << "\n";
    return std::nullopt;
  }
  spdlog::level::level_enum level = spdlog::level::from_str(cfg->log.level);
  spdlog::set_level(level);
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
  std::cout << "Habanero is running.\n"
            << "  issuer:  " << issuer << "\n"
            << "  data:    " << cfg->server.data_dir << "\n"
            << "Try:\n"
            << "  curl " << issuer << "/healthz\n";
  for (const auto& e : (*app)->router().snapshot()->entries) {
    if (e.extension) {
      std::cout << "  curl '" << issuer << (e.config.mount == "/" ? "" : e.config.mount)
                << "/'    (extension " << e.config.name << ")\n";
    }
  }
  std::cout << "Stop with Ctrl-C; reload extensions with `habanero reload` or SIGHUP." << std::endl;

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
  auto app = habanero::server::App::create(*cfg);
  if (!app.ok()) {
    std::cerr << "habanero: " << app.status().message() << "\n";
    return 1;
  }
  int failed = 0;
  for (const auto& e : (*app)->router().snapshot()->entries) {
    if (e.error.empty()) {
      std::cout << "ok    " << e.config.name << " at " << e.config.mount << " (" << e.module_path
                << ")\n";
    } else {
      std::cout << "FAIL  " << e.config.name << ": " << e.error << "\n";
      failed++;
    }
  }
  return failed == 0 ? 0 : 1;
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
  CLI::App* reload_cmd = cli.add_subcommand("reload", "reload the running server's extensions");
  add_common(reload_cmd);
  CLI::App* check_cmd = cli.add_subcommand("check", "validate configuration and extensions");
  add_common(check_cmd);
  cli.add_subcommand("version", "print the version")->callback([] {
    std::cout << "habanero " << HABANERO_VERSION << "\n";
  });
  CLI11_PARSE(cli, argc, argv);
  if (serve_cmd->parsed()) return serve(flags);
  if (reload_cmd->parsed()) return reload(flags);
  if (check_cmd->parsed()) return check(flags);
  return 0;
}
