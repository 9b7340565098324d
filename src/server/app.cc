#include "server/app.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/sessions.h"
#include "auth/users.h"
#include "habanero/strings.h"
#include "crypto/kek.h"
#include "crypto/key_store.h"
#include "events/outbox.h"
#include "outbound/fetch.h"
#include "outbound/mail.h"
#include "outbound/sms.h"
#include "habanero/clock.h"
#include "http/server.h"
#include "runtime/engine.h"
#include "runtime/router.h"
#include "server/admin_api.h"
#include "server/extension_spec.h"
#include "server/native_pages.h"
#include "server/web_assets.h"
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
  outbound::MailerPtr mailer;        // null without [mail] url
  outbound::SmsSenderPtr sms;        // null without [sms] url
  std::unique_ptr<outbound::Fetcher> fetcher;
  std::unique_ptr<events::Outbox> outbox;
  std::unique_ptr<events::Subscribers> subscribers;  // the router's extensions
  runtime::HostServices services;
  runtime::EnginePtr engine;
  std::unique_ptr<runtime::ExtensionRouter> router;
  std::unique_ptr<NativePages> pages;  // /login and /static/ in front of the router
  std::string page_template;  // the shell of every page: [web] page_template or web/page.html
  std::unique_ptr<AdminApi> admin;     // /admin/ in front of the pages
  std::unique_ptr<http::HttpServer> http;
  std::string pid_file;

  ~Parts() {
    // The HTTP front goes first (no new requests), then the router (its
    // extensions hold modules of the engine), then the engine.
    http.reset();
    if (outbox) outbox->stop();  // no delivery may outlive the router
    admin.reset();
    pages.reset();
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
  return o;
}

}  // namespace

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
  parts->sessions = std::make_unique<auth::Sessions>(*parts->storage, clock);
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
  parts->fetcher = std::make_unique<outbound::Fetcher>(clock);
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
  if (c.outbound.allow_loopback) {
    spdlog::warn("outbound.allow_loopback is on: extensions may fetch loopback addresses "
                 "(development only)");
  }

  ASSIGN_OR_RETURN(std::optional<std::string> shell, readPageTemplate(c));
  parts->page_template = shell ? std::move(*shell) : std::string(web::kPageHtml);
  if (shell) spdlog::info("pages use the shell {}", c.web.page_template);

  runtime::EngineOptions eo;
  eo.epoch_tick_ms = c.runtime.epoch_tick_ms;
  eo.pool_instances = c.runtime.pool_instances;
  for (const ExtensionConfig& e : c.extensions) {
    eo.max_memory_bytes = std::max(eo.max_memory_bytes, e.memory_bytes);
    eo.max_table_elements = std::max(eo.max_table_elements, e.table_elements);
  }
  if (c.runtime.module_cache) eo.cache_dir = strCat(c.server.data_dir, "/cache/modules");
  ASSIGN_OR_RETURN(parts->engine, runtime::Engine::create(eo));

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
  parts->pages = std::make_unique<NativePages>(*router, *parts->sessions, [router] {
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
                                            *parts->clients, *parts->keys);
  if (c.admin.enabled) spdlog::info("admin API enabled at /admin/");
  return std::unique_ptr<App>(new App(std::move(parts)));
}

absl::Status App::start() {
  const Config& c = parts_->config;
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
  o.tls_cert_file = c.server.tls_cert;
  o.tls_key_file = c.server.tls_key;
  parts_->http = std::make_unique<http::HttpServer>(o, *parts_->admin);
  RETURN_IF_ERROR(parts_->http->start());
  if (issuerBeforeStart(c).empty()) {
    // Port 0: only now is the issuer known; hand it to the extensions.
    parts_->router->load(
        toExtensionSpecs(withIssuer(c.extensions, issuer(), parts_->page_template)));
  }
  parts_->router->startWatching(c.runtime.watch_interval_ms);
  // After the issuer is known: event handlers build links from it.
  parts_->outbox->start();

  parts_->pid_file = pidFilePath(c);
  std::ofstream(parts_->pid_file, std::ios::trunc) << ::getpid() << "\n";
  parts_->http->setReady(true);
  return absl::OkStatus();
}

void App::reload() {
  // Keys first: a rotation done by `habanero keys rotate` takes effect here.
  absl::Status keys = parts_->keys->reload();
  if (!keys.ok()) spdlog::error("reload: signing keys: {}", sv(keys.message()));
  // Clients next: `habanero client add/remove` takes effect here. (Users and
  // sessions are not cached: nothing to reload.)
  absl::Status clients = parts_->clients->reload();
  if (!clients.ok()) spdlog::error("reload: clients: {}", sv(clients.message()));
  runtime::ReloadReport r = parts_->router->reload();
  spdlog::info("reload: {} reloaded, {} unchanged, {} failed; {} client(s) registered", r.loaded,
               r.reused, r.failed, parts_->clients->size());
}

void App::stop() {
  if (parts_->http) parts_->http->stop();
  if (parts_->outbox) parts_->outbox->stop();
}

uint16_t App::port() const { return parts_->http ? parts_->http->port() : 0; }

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
