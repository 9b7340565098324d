// The wired server: storage, keys, the host's records (users, clients,
// sessions), the Wasmtime engine, the extension router behind the host's own
// pages (/login, /static/style.css) and the HTTP front, built from one Config.
//
//   ASSIGN_OR_RETURN(AppPtr app, App::create(config));
//   RETURN_IF_ERROR(app->start());      // listening; /healthz answers 200
//   app->reload();                      // e.g. on SIGHUP
//   app->stop();                        // graceful: in-flight requests finish
//
// Thread-safety: start/stop/reload from one controlling thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "habanero/status.h"
#include "habanero/storage.h"
#include "server/config.h"

namespace habanero::runtime {
class Engine;
class ExtensionRouter;
}  // namespace habanero::runtime

namespace habanero::auth {
class Clients;
class Sessions;
class Users;
}  // namespace habanero::auth

namespace habanero::crypto {
class KeyStore;
struct KeyStoreOptions;
}  // namespace habanero::crypto

namespace habanero::events {
class Outbox;
}  // namespace habanero::events

namespace habanero::server {

class App {
 public:
  // Opens the data directory (creating it), the store and the signing keys,
  // stores the configuration's static clients (replacing registrations with
  // the same ids; an invalid one is an error naming file:line:key), creates
  // the engine and loads the extensions. An extension that fails to
  // load is logged and does not stop the server.
  static absl::StatusOr<std::unique_ptr<App>> create(const Config& config);
  ~App();

  // Binds and serves; returns once ready. [cluster] role "worker": the gRPC
  // port (cluster.listen) instead of HTTP; port() is then that port.
  absl::Status start();
  // Re-reads signing keys, client registrations and extension files
  // (configuration stays as it was). What the CLI changes takes effect here.
  void reload();
  // Graceful stop; returns when every in-flight request has finished or the
  // grace period is over. A worker first turns NOT_SERVING so gateways stop
  // sending to it.
  void stop();

  uint16_t port() const;
  // The issuer URL: the configured one, else http(s)://localhost:<port>. Every
  // extension gets it as the setting "issuer" unless its configuration sets one.
  std::string issuer() const;
  // Not on a gateway (it has neither).
  runtime::ExtensionRouter& router();
  runtime::Engine& engine();
  auth::Users& users();
  auth::Clients& clients();
  auth::Sessions& sessions();
  crypto::KeyStore& keys();
  events::Outbox& outbox();

 private:
  struct Parts;
  explicit App(std::unique_ptr<Parts> parts);
  // The cluster roles (docs/cluster.md): a gateway has no engine or router and
  // forwards extension requests to workers; a worker serves gRPC, not HTTP.
  static absl::StatusOr<std::unique_ptr<App>> createGateway(std::unique_ptr<Parts> parts);
  absl::Status startWorker();
  std::unique_ptr<Parts> parts_;
};

using AppPtr = std::unique_ptr<App>;

// Where `habanero serve` writes its process id, for `habanero reload`.
std::string pidFilePath(const Config& config);

// Creates the data directory if needed and opens the configured store (as
// App::create does; the CLI uses it to change records next to a running
// server). Errors name the directory, file or setting.
absl::StatusOr<StoragePtr> openStorage(const Config& config);

// The KeyStore options of [keys] (alg of new keys, retention, the
// key-encryption key), for App::create and the CLI's `keys` commands. The KEK
// is [keys] kek (HABANERO_KEYS_KEK), else the file kek_file, else — SQLite
// only — <data_dir>/kek, generated (0600) on first use; a PostgreSQL store
// requires one of the first two (FailedPrecondition naming them).
absl::StatusOr<crypto::KeyStoreOptions> keyStoreOptions(const Config& config);

// Where the KEK of keyStoreOptions() comes from, for messages: "HABANERO_KEYS_KEK",
// the kek_file path or <data_dir>/kek.
std::string kekSource(const Config& config);

}  // namespace habanero::server
