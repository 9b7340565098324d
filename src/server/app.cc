#include "server/app.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <spdlog/spdlog.h>

#include "absl/strings/str_split.h"

#include "auth/clients.h"
#include "auth/domain_events.h"
#include "auth/sessions.h"
#include "auth/throttle.h"
#include "auth/users.h"
#include "cluster/admin_relay.h"
#include "cluster/gateway_dispatcher.h"
#include "cluster/logging.h"
#include "cluster/metrics.h"
#include "cluster/probes.h"
#include "cluster/worker_pool.h"
#include "cluster/worker_service.h"
#include "habanero/strings.h"
#include "crypto/kek.h"
#include "crypto/key_store.h"
#include "events/nats_broker.h"
#include "events/outbox.h"
#include "outbound/fetch.h"
#include "outbound/mail.h"
#include "outbound/sms.h"
#include "habanero/clock.h"
#include "http/server.h"
#include "runtime/engine.h"
#include "runtime/router.h"
#include "server/cors.h"
#include "server/admin_api.h"
#include "server/extension_spec.h"
#include "server/native_pages.h"
#include "server/web_assets.h"
#include "store/postgres/change_watcher.h"
#include "store/postgres/postgres_storage.h"
#include "store/sqlite/sqlite_storage.h"

#ifndef HABANERO_DEFAULT_EXTENSION_DIR
#define HABANERO_DEFAULT_EXTENSION_DIR ""
#endif

namespace habanero::server {

struct App::Parts {
  Config config;
  StoragePtr storage;
  std::unique_ptr<crypto::KeyStore> keys;
  std::unique_ptr<auth::Users> users;
  std::unique_ptr<auth::Clients> clients;
  std::unique_ptr<auth::Sessions> sessions;
  std::unique_ptr<auth::Throttle> client_auth_by_client;   // failed client authentication
  std::unique_ptr<auth::Throttle> client_auth_by_address;
  outbound::MailerPtr mailer;        // null without [mail] url
  outbound::SmsSenderPtr sms;        // null without [sms] url
  std::unique_ptr<outbound::Fetcher> fetcher;
  std::unique_ptr<events::Outbox> outbox;
  std::unique_ptr<events::Subscribers> subscribers;  // the router's extensions
  std::unique_ptr<auth::DomainEvents> domain_events;  // the host's own events, to the outbox
  events::BrokerPtr broker;  // [events] broker_url: relays the outbox, delivers events
  runtime::HostServices services;
  runtime::EnginePtr engine;
  std::unique_ptr<runtime::ExtensionRouter> router;
  std::unique_ptr<Cors> cors;          // CORS for browser clients, in front of the router
  std::unique_ptr<NativePages> pages;  // /login and /static/ in front of CORS (or the router)
  std::string page_template;  // the shell of every page: [web] page_template or web/page.html
  std::unique_ptr<AdminApi> admin;     // /admin/ in front of the pages
  std::unique_ptr<http::HttpServer> http;
  std::string pid_file;
  // PostgreSQL: reloads clients and keys when any process changes them.
  // Declared after them: destroyed (its thread stopped) first.
  std::unique_ptr<store::ChangeWatcher> watcher;
  // The cluster roles (src/cluster). gateway: the workers and the dispatcher
  // that forwards to them (in place of engine and router), and the relay that
  // has workers reload after an admin API change. worker: the gRPC server (in
  // place of http). Every HTTP role: /readyz (and /metrics) in front of admin.
  std::unique_ptr<cluster::WorkerPool> workers;
  std::unique_ptr<cluster::GatewayDispatcher> gateway;
  std::unique_ptr<cluster::AdminRelay> admin_relay;
  std::unique_ptr<cluster::WorkerServer> worker_server;
  std::unique_ptr<cluster::Probes> probes;
  std::unique_ptr<cluster::Metrics> metrics;               // /metrics
  std::unique_ptr<cluster::MeteredDispatcher> metered;     // the HTTP front's dispatcher
  // worker: its Dispatch calls, metered; and with cluster.probe_listen, /healthz,
  // /readyz and /metrics on a small HTTP listener (`http`, in front of `probes`).
  std::unique_ptr<cluster::MeteredDispatcher> worker_metered;
  std::unique_ptr<cluster::NotFound> not_found;

  ~Parts() {
    // The HTTP front goes first (no new requests), then the router (its
    // extensions hold modules of the engine), then the engine.
    http.reset();
    if (worker_server) worker_server->stop();  // its threads run the router
    if (outbox) outbox->stop();  // no delivery may outlive the router
    if (broker) broker->stop();
    admin.reset();
    pages.reset();
    cors.reset();
    router.reset();
    engine.reset();
  }
};

namespace {

// The extensions' configurations with the settings "issuer" and "page_template"
// (the one page shell, sdk/cpp/habanero/page_shell.hh) filled in where the
// operator did not set them, so every extension knows both.
std::vector<ExtensionConfig> withIssuer(std::vector<ExtensionConfig> extensions,
                                        const std::string& issuer,
                                        const std::string& page_template) {
  for (ExtensionConfig& e : extensions) {
    e.settings.try_emplace("issuer", issuer);
    e.settings.try_emplace(std::string(sdk::kPageTemplateSetting), page_template);
  }
  return extensions;
}

// The issuer derivable before binding: the configured one, or the listen
// port's (empty when that port is 0 and only known after start()).
std::string issuerBeforeStart(const Config& c) {
  if (!c.server.issuer.empty()) return c.server.issuer;
  auto listen = http::parseListenAddress(c.server.listen);
  if (!listen.ok() || listen->port == 0) return "";
  return strCat(c.server.tls_cert.empty() ? "http" : "https", "://localhost:", listen->port);
}

// The label auth::Clients puts before a complaint ("redirect URI: …") and
// the [[clients]] key it is about.
constexpr std::pair<std::string_view, std::string_view> kClientFields[] = {
    {"client id", "id"},
    {"name", "name"},
    {"secret", "secret"},
    {"redirect URI", "redirect_uris"},
    {"post-logout redirect URI", "post_logout_redirect_uris"},
    {"grant types", "grant_types"},
    {"scopes", "scopes"},
    {"token format", "token_format"},
};

// Stores the configuration's [[clients]], replacing registrations with the
// same ids. Errors name the file, line and key of the offending entry.
absl::Status applyStaticClients(const Config& c, auth::Clients& clients) {
  for (size_t i = 0; i < c.clients.size(); ++i) {
    const StaticClientConfig& sc = c.clients[i];
    auth::NewClient n;
    n.client_id = sc.id;
    n.secret = sc.secret;
    n.is_public = sc.is_public;
    n.redirect_uris = sc.redirect_uris;
    n.post_logout_redirect_uris = sc.post_logout_redirect_uris;
    n.grant_types = sc.grant_types;
    n.scopes = sc.scopes;
    n.name = sc.name;
    n.first_party = sc.first_party;
    n.token_format = sc.token_format;
    absl::StatusOr<auth::AddedClient> stored = clients.upsert(n);
    if (stored.ok()) continue;
    std::string_view message = sv(stored.status().message());
    std::string key;
    for (auto [label, field] : kClientFields) {
      // "redirect URI: …" or "redirect URI 'http://x': …"
      bool about = message.starts_with(label) && message.size() > label.size() &&
                   (message[label.size()] == ':' || message[label.size()] == ' ');
      if (about && sc.source.contains(std::string(field))) {
        key = std::string(field);
        break;
      }
    }
    auto at = sc.source.find(key);
    std::string where = at != sc.source.end() ? strCat(at->second, ": ") : "";
    return absl::Status(stored.status().code(),
                        strCat(where, "clients[", i, "]", key.empty() ? "" : ".", key, ": ",
                               message));
  }
  return absl::OkStatus();
}

// Events go to the extensions of the router's current set whose manifests
// subscribe to the topic (design 0002).
class RouterSubscribers final : public events::Subscribers {
 public:
  explicit RouterSubscribers(const runtime::ExtensionRouter& router) : router_(router) {}

  std::vector<std::string> subscribersOf(std::string_view topic) const override {
    std::vector<std::string> names;
    for (const runtime::LoadedExtension& e : router_.snapshot()->entries) {
      if (!e.extension) continue;
      const std::vector<std::string>& topics = e.extension->manifest().subscribes;
      if (std::find(topics.begin(), topics.end(), topic) != topics.end()) {
        names.push_back(e.spec.name);
      }
    }
    return names;
  }

  std::optional<events::Delivery> deliver(const events::Event& event) const override {
    // Holding the snapshot keeps the extension alive through a reload.
    std::shared_ptr<const runtime::ExtensionSet> set = router_.snapshot();
    for (const runtime::LoadedExtension& e : set->entries) {
      if (e.extension && e.spec.name == event.subscriber) {
        return e.extension->handleEvent(event);
      }
    }
    return std::nullopt;
  }

  std::vector<std::pair<std::string, std::string>> subscriptions() const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const runtime::LoadedExtension& e : router_.snapshot()->entries) {
      if (!e.extension) continue;
      for (const std::string& topic : e.extension->manifest().subscribes) {
        out.emplace_back(e.spec.name, topic);
      }
    }
    return out;
  }

 private:
  const runtime::ExtensionRouter& router_;
};

events::OutboxOptions outboxOptions(const Config& c) {
  events::OutboxOptions o;
  o.poll_ms = c.events.poll_ms;
  o.retry_base_ms = c.events.retry_base_ms;
  o.retry_max_ms = c.events.retry_max_ms;
  o.max_attempts = c.events.max_attempts;
  o.failed_ttl_s = c.events.failed_ttl_s;
  o.broker = !c.events.broker_url.empty();
  o.lease_ms = c.events.lease_ms;
  return o;
}

// What keeps a process from serving, for /readyz: the store must answer a
// read; a router's extensions must all be loaded; a gateway needs
// cluster.min_workers healthy workers whose extensions are loaded.
std::vector<std::string> readinessProblems(Storage& storage, const runtime::ExtensionRouter* router,
                                           const cluster::WorkerPool* workers,
                                           uint32_t min_workers,
                                           const events::Broker* broker = nullptr) {
  std::vector<std::string> problems;
  absl::StatusOr<std::optional<std::string>> ping = storage.get("habanero.readyz", "ping");
  if (!ping.ok()) problems.push_back(strCat("store: ", sv(ping.status().message())));
  if (broker) {  // [events] broker_url: its outage delays events (they wait in the outbox)
    if (std::string b = broker->problem(); !b.empty()) problems.push_back(std::move(b));
  }
  if (router) {
    for (const runtime::LoadedExtension& e : router->snapshot()->entries) {
      if (!e.extension) problems.push_back(strCat("extension ", e.spec.name, ": ", e.error));
    }
  }
  if (workers) {
    size_t healthy = workers->healthyCount();
    if (healthy < min_workers) {
      problems.push_back(strCat("workers: ", healthy, " of ", workers->snapshot().size(),
                                " healthy (cluster.min_workers = ", min_workers, ")"));
    }
    for (const cluster::ExtensionInfo& e : workers->extensions()) {
      if (!e.loaded) problems.push_back(strCat("extension ", e.name, ": ", e.error));
    }
  }
  return problems;
}

// The metrics labels of a path on a process that runs extensions: the router's
// mounts and manifest routes, rebuilt only when its extension set changes.
class RouterRoutes {
 public:
  explicit RouterRoutes(const runtime::ExtensionRouter& router) : router_(router) {}

  cluster::RouteLabel operator()(std::string_view path) {
    std::shared_ptr<const runtime::ExtensionSet> set = router_.snapshot();
    std::shared_ptr<const std::vector<cluster::MountedExtension>> table;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (of_.lock() != set || !table_) {
        auto built = std::make_shared<std::vector<cluster::MountedExtension>>();
        for (const runtime::LoadedExtension& e : set->entries) {
          built->push_back({e.spec.name, e.spec.mount,
                            e.extension ? e.extension->manifest().routes
                                        : std::vector<std::string>{}});
        }
        table_ = std::move(built);
        of_ = set;
      }
      table = table_;
    }
    return cluster::routeForPath(path, *table);
  }

 private:
  const runtime::ExtensionRouter& router_;
  std::mutex mu_;
  std::weak_ptr<const runtime::ExtensionSet> of_;                        // guarded by mu_
  std::shared_ptr<const std::vector<cluster::MountedExtension>> table_;  // guarded by mu_
};

cluster::TlsFiles clusterTls(const Config& c) {
  return {c.cluster.tls_cert, c.cluster.tls_key, c.cluster.tls_ca};
}

// Keys, then clients, then extensions: what SIGHUP, `habanero reload` and a
// gateway's Control.Reload do.
runtime::ReloadReport reloadRecords(crypto::KeyStore& keys, auth::Clients& clients,
                                    runtime::ExtensionRouter* router) {
  // Keys first: a rotation done by `habanero keys rotate` takes effect here.
  absl::Status k = keys.reload();
  if (!k.ok()) spdlog::error("reload: signing keys: {}", sv(k.message()));
  // Clients next: `habanero client add/remove` takes effect here. (Users and
  // sessions are not cached: nothing to reload.)
  absl::Status cl = clients.reload();
  if (!cl.ok()) spdlog::error("reload: clients: {}", sv(cl.message()));
  return router ? router->reload() : runtime::ReloadReport{};
}

}  // namespace

// The pid file, owner-only whatever the umask (it lives in the data directory).
static void writePidFile(const std::string& path) {
  std::ofstream(path, std::ios::trunc) << ::getpid() << "\n";
  std::error_code ec;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace, ec);
}

std::string pidFilePath(const Config& config) {
  return strCat(config.server.data_dir, "/habanero.pid");
}

App::App(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

App::~App() {
  if (parts_ && parts_->http) parts_->http->stop();
  if (parts_ && !parts_->pid_file.empty()) ::unlink(parts_->pid_file.c_str());
}

absl::StatusOr<StoragePtr> openStorage(const Config& c) {
  std::error_code ec;
  std::filesystem::create_directories(c.server.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        strCat(c.server.data_dir, ": cannot create data directory: ", ec.message()));
  }
  // Owner only, whatever the umask: it holds the database and the key-encryption key.
  std::filesystem::permissions(c.server.data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) {
    spdlog::warn("{}: cannot make the data directory owner-only: {}", c.server.data_dir,
                 ec.message());
  }
  if (!c.store.url.empty() || c.store.backend == "postgres") {
    store::PostgresOptions o;
    o.url = c.store.url;
    o.password_file = c.store.password_file;
    o.pool_size = c.store.pool_size;
    o.connect_timeout_ms = c.store.connect_timeout_ms;
    o.statement_timeout_ms = c.store.statement_timeout_ms;
    o.pool_wait_ms = c.store.statement_timeout_ms;
    ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStorage> pg, store::PostgresStorage::open(o));
    return StoragePtr(std::move(pg));
  }
  if (c.store.backend != "sqlite") {
    return absl::InvalidArgumentError(
        strCat("store.backend: unknown backend '", c.store.backend, "' (known: sqlite, postgres)"));
  }
  ASSIGN_OR_RETURN(store::Synchronous sync, store::parseSynchronous(c.store.synchronous));
  std::string db = c.store.path.empty() ? strCat(c.server.data_dir, "/habanero.db")
                                        : c.store.path;
  return store::SqliteStorage::open(db, SystemClock::instance(), sync);
}

std::string kekSource(const Config& c) {
  if (!c.keys.kek.empty()) return "keys.kek (HABANERO_KEYS_KEK)";
  if (!c.keys.kek_file.empty()) return c.keys.kek_file;
  return strCat(c.server.data_dir, "/kek");
}

absl::StatusOr<crypto::KeyStoreOptions> keyStoreOptions(const Config& config) {
  crypto::KeyStoreOptions o;
  o.alg = config.keys.alg;
  o.retention_ms = static_cast<int64_t>(config.keys.retention_days) * 24 * 3600 * 1000;
  if (!config.keys.kek.empty()) {
    ASSIGN_OR_RETURN(o.kek, crypto::parseKek(config.keys.kek, "keys.kek (HABANERO_KEYS_KEK)"));
  } else if (!config.keys.kek_file.empty()) {
    ASSIGN_OR_RETURN(o.kek, crypto::readKekFile(config.keys.kek_file));
  } else if (!config.store.url.empty() || config.store.backend == "postgres") {
    return absl::FailedPreconditionError(
        "keys.kek_file (or HABANERO_KEYS_KEK) is required with a PostgreSQL store: every "
        "server must seal the signing keys with the same key-encryption key; make one with "
        "`openssl rand -base64 32 > kek` (and chmod 600 it)");
  } else {
    const std::string path = kekSource(config);
    absl::StatusOr<std::string> created = crypto::createKekFile(path);
    if (created.ok()) {
      spdlog::info("keys: generated the key-encryption key {} (back it up with the data)", path);
      o.kek = std::move(*created);
    } else if (created.status().code() == absl::StatusCode::kAlreadyExists) {
      ASSIGN_OR_RETURN(o.kek, crypto::readKekFile(path));
    } else {
      return created.status();
    }
  }
  return o;
}

absl::StatusOr<std::unique_ptr<App>> App::create(const Config& config) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  const Config& c = parts->config;
  const Clock& clock = SystemClock::instance();

  ASSIGN_OR_RETURN(parts->storage, openStorage(c));
  ASSIGN_OR_RETURN(crypto::KeyStoreOptions key_options, keyStoreOptions(c));
  ASSIGN_OR_RETURN(parts->keys, crypto::KeyStore::open(*parts->storage, clock, key_options));
  ASSIGN_OR_RETURN(parts->users, auth::Users::create(*parts->storage, clock));
  ASSIGN_OR_RETURN(parts->clients, auth::Clients::open(*parts->storage, clock));
  RETURN_IF_ERROR(applyStaticClients(c, *parts->clients));
  if (auto* pg = dynamic_cast<store::PostgresStorage*>(parts->storage.get())) {
    // Several processes share this store: a client or key changed by any of
    // them (CLI, admin API) reaches this one within ChangeWatcher's poll.
    parts->clients->setConfirmWithStorage(true);
    auth::Clients* clients = parts->clients.get();
    crypto::KeyStore* keys = parts->keys.get();
    ASSIGN_OR_RETURN(
        parts->watcher,
        store::ChangeWatcher::start(
            pg->options(),
            {std::string(auth::Clients::kNamespace), std::string(crypto::KeyStore::kNamespace)},
            [clients, keys](const std::string& ns) {
              absl::Status s =
                  ns == crypto::KeyStore::kNamespace ? keys->reload() : clients->reload();
              if (!s.ok()) spdlog::error("store: reloading {}: {}", ns, sv(s.message()));
            }));
    // A change between the loads above and the watcher's first look.
    RETURN_IF_ERROR(parts->keys->reload());
    RETURN_IF_ERROR(parts->clients->reload());
  }
  auth::SessionOptions session_options;
  session_options.max_attempts_per_address = c.auth.login_attempts_per_address;
  session_options.max_attempts_total = c.auth.login_attempts_total;
  parts->sessions = std::make_unique<auth::Sessions>(*parts->storage, clock, session_options);
  auth::ThrottleOptions by_client;
  by_client.burst = c.auth.client_auth_burst;
  by_client.refill_ms = c.auth.client_auth_refill_ms;
  auth::ThrottleOptions by_address = by_client;
  by_address.burst = c.auth.client_auth_address_burst;
  parts->client_auth_by_client = std::make_unique<auth::Throttle>(clock, by_client);
  parts->client_auth_by_address = std::make_unique<auth::Throttle>(clock, by_address);
  parts->services.client_auth_by_client = parts->client_auth_by_client.get();
  parts->services.client_auth_by_address = parts->client_auth_by_address.get();
  parts->services.storage = parts->storage.get();
  parts->services.signer = parts->keys.get();
  parts->services.clock = &clock;
  parts->services.users = parts->users.get();
  parts->services.clients = parts->clients.get();
  parts->services.sessions = parts->sessions.get();
  if (!c.mail.url.empty()) {
    outbound::SmtpConfig smtp;
    smtp.url = c.mail.url;
    smtp.from = c.mail.from;
    smtp.ca_file = c.mail.ca_file;
    ASSIGN_OR_RETURN(parts->mailer, outbound::SmtpMailer::create(smtp));
  }
  if (!c.sms.url.empty()) {
    outbound::SmsConfig sms;
    sms.url = c.sms.url;
    sms.from = c.sms.from;
    sms.ca_file = c.sms.ca_file;
    ASSIGN_OR_RETURN(parts->sms, outbound::createSmsSender(sms));
  }
  outbound::FetchLimits fetch_limits;
  fetch_limits.max_per_host = c.outbound.fetch_max_per_host;
  fetch_limits.max_total = c.outbound.fetch_max_total;
  fetch_limits.negative_cache_ms = c.outbound.fetch_negative_cache_ms;
  parts->fetcher = std::make_unique<outbound::Fetcher>(clock, fetch_limits);
  parts->outbox = std::make_unique<events::Outbox>(*parts->storage, clock, outboxOptions(c));
  parts->services.mailer = parts->mailer.get();
  parts->services.sms = parts->sms.get();
  parts->services.fetcher = parts->fetcher.get();
  parts->services.fetch_policy.allow_loopback = c.outbound.allow_loopback;
  parts->services.fetch_policy.timeout_ms = c.outbound.fetch_timeout_ms;
  parts->services.fetch_policy.max_bytes = c.outbound.fetch_max_bytes;
  // What an operator does about a missing facility, in load errors.
  parts->services.missing_facility_hints = {
      {"mailer", "configure [mail] url and from, or HABANERO_SMTP_URL and HABANERO_SMTP_FROM"},
      {"sms", "configure [sms] url, or HABANERO_SMS_URL"}};
  parts->services.outbox = parts->outbox.get();
  {
    // The host's domain events (docs/events.md): only topics an extension subscribes to.
    Parts* p = parts.get();
    parts->domain_events = std::make_unique<auth::DomainEvents>(
        [p](std::string_view topic, std::string_view payload) {
          return p->outbox->publish(auth::kHostPublisher, topic, payload);
        },
        [p](std::string_view topic) {
          return p->subscribers != nullptr && !p->subscribers->subscribersOf(topic).empty();
        },
        clock);
    parts->services.domain_events = parts->domain_events.get();
  }
  if (!c.events.broker_url.empty()) {
    events::NatsBrokerOptions bo;
    bo.url = c.events.broker_url;
    bo.creds_file = c.events.broker_creds_file;
    bo.ca_file = c.events.broker_ca_file;
    bo.stream = c.events.broker_stream;
    bo.subject_prefix = c.events.broker_subject_prefix;
    bo.ack_wait_ms = c.events.broker_ack_wait_ms;
    bo.duplicate_window_s = c.events.broker_duplicate_window_s;
    bo.max_deliver = c.events.max_attempts;
    bo.retry_base_ms = c.events.retry_base_ms;
    bo.retry_max_ms = c.events.retry_max_ms;
    bo.failed_ttl_s = c.events.failed_ttl_s;
    bo.poll_ms = c.events.poll_ms;
    ASSIGN_OR_RETURN(parts->broker, events::NatsBroker::create(bo, *parts->storage, clock));
    events::Broker* broker = parts->broker.get();
    parts->outbox->setPublishListener([broker] { broker->wake(); });
    spdlog::info("events: delivered through the broker {} (stream {})",
                 events::redactBrokerUrl(c.events.broker_url), c.events.broker_stream);
  }
  if (c.outbound.allow_loopback) {
    spdlog::warn("outbound.allow_loopback is on: extensions may fetch loopback addresses "
                 "(development only)");
  }

  ASSIGN_OR_RETURN(std::optional<std::string> shell, readPageTemplate(c));
  parts->page_template = shell ? std::move(*shell) : std::string(web::kPageHtml);
  if (shell) spdlog::info("pages use the shell {}", c.web.page_template);
  if (c.cluster.role == "gateway") return createGateway(std::move(parts));

  runtime::EngineOptions eo;
  eo.epoch_tick_ms = c.runtime.epoch_tick_ms;
  eo.pool_instances = c.runtime.pool_instances;
  for (const ExtensionConfig& e : c.extensions) {
    eo.max_memory_bytes = std::max(eo.max_memory_bytes, e.memory_bytes);
    eo.max_table_elements = std::max(eo.max_table_elements, e.table_elements);
  }
  if (c.runtime.module_cache) eo.cache_dir = strCat(c.server.data_dir, "/cache/modules");
  ASSIGN_OR_RETURN(parts->engine, runtime::Engine::create(eo));
  // /metrics: requests (a worker's Dispatch calls are habanero_worker_*), the runtime's
  // instances, traps, deadlines and failed host calls, the outbox's depth and age.
  parts->metrics = std::make_unique<cluster::Metrics>(
      c.cluster.role == "worker" ? "habanero_worker" : "habanero_http");
  parts->services.observer = &parts->metrics->runtimeObserver();
  parts->metrics->watchOutbox(*parts->outbox, clock);

  std::string ext_dir = c.runtime.extension_dir.empty() ? HABANERO_DEFAULT_EXTENSION_DIR
                                                        : c.runtime.extension_dir;
  parts->router =
      std::make_unique<runtime::ExtensionRouter>(*parts->engine, parts->services, ext_dir);
  runtime::ReloadReport report =
      parts->router->load(toExtensionSpecs(
          withIssuer(c.extensions, issuerBeforeStart(c), parts->page_template)));
  spdlog::info("{} extension(s) loaded, {} failed; {} client(s) registered", report.loaded,
               report.failed, parts->clients->size());
  runtime::ExtensionRouter* router = parts->router.get();
  parts->subscribers = std::make_unique<RouterSubscribers>(*router);
  parts->outbox->setSubscribers(parts->subscribers.get());
  Dispatcher* behind_pages = router;
  if (c.cors.enabled) {
    Cors::Options co;
    for (std::string_view p : words(c.cors.paths))
      co.paths.emplace(p);
    for (std::string_view p : words(c.cors.public_paths))
      co.public_paths.emplace(p);
    for (std::string_view o : words(c.cors.allowed_origins))
      co.allowed_origins.emplace_back(o);
    parts->cors = std::make_unique<Cors>(*router, *parts->clients, std::move(co));
    behind_pages = parts->cors.get();
  }
  parts->pages = std::make_unique<NativePages>(*behind_pages, *parts->sessions, [router] {
    std::vector<LoginMethod> methods;
    for (const runtime::LoadedExtension& e : router->snapshot()->entries) {
      if (!e.extension || e.extension->manifest().kind != "authenticator") continue;
      const std::string& display = e.extension->manifest().display_name;
      methods.push_back({e.spec.mount, display.empty() ? e.spec.name : display});
    }
    std::sort(methods.begin(), methods.end(), [](const LoginMethod& a, const LoginMethod& b) {
      return a.display_name < b.display_name;
    });
    return methods;
  }, parts->page_template);
  parts->admin = std::make_unique<AdminApi>(c.admin, *parts->pages, *parts->users,
                                            *parts->clients, *parts->keys,
                                            parts->domain_events.get());
  if (c.admin.enabled) spdlog::info("admin API enabled at /admin/");
  Parts* p = parts.get();
  auto routes = std::make_shared<RouterRoutes>(*router);
  auto route_of = [routes](std::string_view path) { return (*routes)(path); };
  if (c.cluster.role != "worker") {
    parts->probes = std::make_unique<cluster::Probes>(
        *parts->admin,
        [p] {
          return readinessProblems(*p->storage, p->router.get(), nullptr, 0, p->broker.get());
        },
        [p] { return p->metrics->render(); });
    parts->metered =
        std::make_unique<cluster::MeteredDispatcher>(*parts->probes, *parts->metrics, route_of);
  }
  if (c.cluster.role == "worker") {
    cluster::WorkerServer::Options wo;
    wo.listen = c.cluster.listen;
    wo.threads = c.cluster.threads;
    wo.shutdown_grace_ms = c.server.shutdown_grace_ms;
    wo.tls = clusterTls(c);
    cluster::WorkerServer::Hooks hooks;
    hooks.reload = [p] {
      runtime::ReloadReport r = reloadRecords(*p->keys, *p->clients, p->router.get());
      spdlog::info("reload (from a gateway): {} reloaded, {} unchanged, {} failed", r.loaded,
                   r.reused, r.failed);
      return cluster::ReloadResult{r.loaded, r.reused, r.failed, r.errors};
    };
    hooks.describe = [p] {
      std::vector<cluster::ExtensionInfo> infos;
      for (const runtime::LoadedExtension& e : p->router->snapshot()->entries) {
        cluster::ExtensionInfo info{e.spec.name, e.spec.mount, "", "", e.extension != nullptr,
                                    e.error, {}};
        if (e.extension) {
          info.kind = e.extension->manifest().kind;
          info.display_name = e.extension->manifest().display_name;
          info.routes = e.extension->manifest().routes;
        }
        infos.push_back(std::move(info));
      }
      return infos;
    };
    // Health turns NOT_SERVING while the store does not answer: gateways send elsewhere
    // (or answer 503 when no worker can), as /readyz does on an HTTP role.
    hooks.unready = [p] {
      absl::StatusOr<std::optional<std::string>> ping = p->storage->get("habanero.readyz", "ping");
      return ping.ok() ? std::string() : strCat("store: ", sv(ping.status().message()));
    };
    parts->worker_metered =
        std::make_unique<cluster::MeteredDispatcher>(*parts->router, *parts->metrics, route_of);
    parts->worker_server = std::make_unique<cluster::WorkerServer>(
        std::move(wo), *parts->worker_metered, std::move(hooks));
    if (!c.cluster.probe_listen.empty()) {
      // /readyz: the store answers, every extension is loaded, not draining.
      parts->not_found = std::make_unique<cluster::NotFound>();
      parts->probes = std::make_unique<cluster::Probes>(
          *parts->not_found,
          [p] {
            // Not the broker: a worker that is not ready leaves its Service, and a broker
            // outage only delays events (they wait in the outbox).
            std::vector<std::string> problems =
                readinessProblems(*p->storage, p->router.get(), nullptr, 0);
            if (p->worker_server->draining()) problems.push_back("worker: draining");
            return problems;
          },
          [p] { return p->metrics->render(); });
    }
  }
  return std::unique_ptr<App>(new App(std::move(parts)));
}

absl::StatusOr<std::unique_ptr<App>> App::createGateway(std::unique_ptr<Parts> parts) {
  const Config& c = parts->config;
  cluster::WorkerPool::Options po;
  for (absl::string_view t : absl::StrSplit(c.cluster.workers, absl::ByAnyChar(" ,\t"),
                                           absl::SkipEmpty())) {
    po.targets.emplace_back(t.data(), t.size());
  }
  po.tls = clusterTls(c);
  po.health_interval_ms = c.cluster.health_interval_ms;
  ASSIGN_OR_RETURN(parts->workers, cluster::WorkerPool::create(std::move(po)));
  cluster::GatewayDispatcher::Options go;
  go.request_timeout_ms = c.cluster.request_timeout_ms;
  parts->gateway = std::make_unique<cluster::GatewayDispatcher>(*parts->workers, go);
  cluster::WorkerPool* workers = parts->workers.get();
  // The login page offers the authenticators the workers report.
  parts->pages = std::make_unique<NativePages>(*parts->gateway, *parts->sessions, [workers] {
    std::vector<LoginMethod> methods;
    for (const cluster::ExtensionInfo& e : workers->extensions()) {
      if (!e.loaded || e.kind != "authenticator") continue;
      methods.push_back({e.mount, e.display_name.empty() ? e.name : e.display_name});
    }
    std::sort(methods.begin(), methods.end(), [](const LoginMethod& a, const LoginMethod& b) {
      return a.display_name < b.display_name;
    });
    return methods;
  }, parts->page_template);
  parts->admin = std::make_unique<AdminApi>(c.admin, *parts->pages, *parts->users,
                                            *parts->clients, *parts->keys);
  parts->admin_relay = std::make_unique<cluster::AdminRelay>(*parts->admin, *parts->workers);
  Parts* p = parts.get();
  parts->metrics = std::make_unique<cluster::Metrics>();
  parts->metrics->watchGateway(*parts->workers, *parts->gateway);
  parts->probes = std::make_unique<cluster::Probes>(
      *parts->admin_relay,
      [p] {
        return readinessProblems(*p->storage, nullptr, p->workers.get(),
                                 p->config.cluster.min_workers, p->broker.get());
      },
      [p] { return p->metrics->render(); });
  parts->metered = std::make_unique<cluster::MeteredDispatcher>(
      *parts->probes, *parts->metrics, [workers](std::string_view path) {
        // The mounts and routes the workers report (Control.Describe).
        std::vector<cluster::MountedExtension> extensions;
        for (cluster::ExtensionInfo& e : workers->extensions()) {
          extensions.push_back({std::move(e.name), std::move(e.mount), std::move(e.routes)});
        }
        return cluster::routeForPath(path, extensions);
      });
  spdlog::info("gateway: forwarding extension requests to {}", c.cluster.workers);
  return std::unique_ptr<App>(new App(std::move(parts)));
}

absl::Status App::startWorker() {
  const Config& c = parts_->config;
  parts_->router->startWatching(c.runtime.watch_interval_ms);
  if (parts_->broker) {
    parts_->broker->start(parts_->subscribers.get());  // relay + this worker's consumers
  } else {
    parts_->outbox->start();
  }
  RETURN_IF_ERROR(parts_->worker_server->start());
  if (parts_->probes) {
    ASSIGN_OR_RETURN(http::ListenAddress listen, http::parseListenAddress(c.cluster.probe_listen));
    http::HttpServer::Options o;
    o.address = listen.host;
    o.port = listen.port;
    o.threads = 1;
    o.dispatch_threads = 2;
    o.max_body_bytes = 4096;
    o.shutdown_grace_ms = 1000;
    parts_->http = std::make_unique<http::HttpServer>(o, *parts_->probes);
    absl::Status started = parts_->http->start();
    if (!started.ok()) {
      return absl::Status(started.code(),
                          strCat("cluster.probe_listen: ", sv(started.message())));
    }
    parts_->http->setReady(true);
    spdlog::info("worker: /healthz, /readyz and /metrics on port {}", parts_->http->port());
  }
  parts_->pid_file = pidFilePath(c);
  writePidFile(parts_->pid_file);
  return absl::OkStatus();
}

absl::Status App::start() {
  const Config& c = parts_->config;
  if (c.cluster.role == "worker") return startWorker();
  ASSIGN_OR_RETURN(http::ListenAddress listen, http::parseListenAddress(c.server.listen));
  http::HttpServer::Options o;
  o.address = listen.host;
  o.port = listen.port;
  o.threads = c.server.threads;
  o.max_header_bytes = c.server.max_header_bytes;
  o.max_body_bytes = c.server.max_body_bytes;
  o.read_timeout_ms = c.server.read_timeout_ms;
  o.idle_timeout_ms = c.server.idle_timeout_ms;
  o.shutdown_grace_ms = c.server.shutdown_grace_ms;
  for (std::string_view proxy : words(c.server.trusted_proxies))
    o.trusted_proxies.emplace_back(proxy);
  o.hsts_max_age_s = c.server.hsts_max_age_s;
  o.dispatch_threads = c.server.dispatch_threads;
  o.max_queued_requests = c.server.max_queued_requests;
  o.queue_timeout_ms = c.server.queue_timeout_ms;
  if (runtime::ExtensionRouter* router = parts_->router.get()) {
    // One lane per extension: a slow one holds at most its max_concurrency
    // dispatch threads (default: three quarters of them).
    const uint32_t fallback = std::max<uint32_t>(1, c.server.dispatch_threads * 3 / 4);
    o.lane_of = [router, fallback](const Request& request) {
      auto [name, limit] = router->concurrencyOf(request.path);
      const uint32_t bound = name.empty() ? 0 : (limit ? limit : fallback);
      return http::DispatchQueue::Lane{std::move(name), bound};
    };
  }
  o.tls_cert_file = c.server.tls_cert;
  o.tls_key_file = c.server.tls_key;
  parts_->http = std::make_unique<http::HttpServer>(o, *parts_->metered);
  RETURN_IF_ERROR(parts_->http->start());
  if (parts_->workers) parts_->workers->start();  // gateway: knows its workers before ready
  if (parts_->router && issuerBeforeStart(c).empty()) {
    // Port 0: only now is the issuer known; hand it to the extensions.
    parts_->router->load(
        toExtensionSpecs(withIssuer(c.extensions, issuer(), parts_->page_template)));
  }
  if (parts_->router) {  // not on a gateway: its workers run extensions and deliver events
    parts_->router->startWatching(c.runtime.watch_interval_ms);
    // After the issuer is known: event handlers build links from it.
    if (parts_->broker) {
      parts_->broker->start(parts_->subscribers.get());
    } else {
      parts_->outbox->start();
    }
  } else if (parts_->broker) {
    parts_->broker->start(nullptr);  // a gateway relays what it publishes; workers deliver
  }

  parts_->pid_file = pidFilePath(c);
  writePidFile(parts_->pid_file);
  parts_->http->setReady(true);
  return absl::OkStatus();
}

void App::reload() {
  runtime::ReloadReport r = reloadRecords(*parts_->keys, *parts_->clients, parts_->router.get());
  // A gateway's workers cache keys and clients too: the CLI's change reaches them.
  if (parts_->workers) spdlog::info("reload: {} worker(s) reloaded", parts_->workers->reloadAll());
  spdlog::info("reload: {} reloaded, {} unchanged, {} failed; {} client(s) registered", r.loaded,
               r.reused, r.failed, parts_->clients->size());
}

void App::stop() {
  // A worker's probes answer while it drains (/readyz says so); they stop last.
  if (parts_->worker_server) parts_->worker_server->stop();
  if (parts_->http) parts_->http->stop();
  if (parts_->outbox) parts_->outbox->stop();
  if (parts_->broker) parts_->broker->stop();
}

uint16_t App::port() const {
  if (parts_->worker_server) return parts_->worker_server->port();
  return parts_->http ? parts_->http->port() : 0;
}

std::string App::issuer() const {
  if (!parts_->config.server.issuer.empty()) return parts_->config.server.issuer;
  bool tls = !parts_->config.server.tls_cert.empty();
  return strCat(tls ? "https" : "http", "://localhost:", port());
}

runtime::ExtensionRouter& App::router() { return *parts_->router; }
runtime::Engine& App::engine() { return *parts_->engine; }
auth::Users& App::users() { return *parts_->users; }
auth::Clients& App::clients() { return *parts_->clients; }
auth::Sessions& App::sessions() { return *parts_->sessions; }
crypto::KeyStore& App::keys() { return *parts_->keys; }
events::Outbox& App::outbox() { return *parts_->outbox; }

}  // namespace habanero::server
