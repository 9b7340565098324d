// The in-process AbiHost. The one file of the suite that knows src/runtime's
// API (Extension::load and runtime::ExtensionSpec): adapt it when that changes.
#include "inprocess_host.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_join.h"
#include "auth/clients.h"
#include "auth/sessions.h"
#include "auth/users.h"
#include "crypto/key_store.h"
#include "events/outbox.h"
#include "habanero/strings.h"
#include "outbound/fetch.h"
#include "outbound/mail.h"
#include "outbound/sms.h"
#include "runtime/engine.h"
#include "runtime/extension.h"
#include "runtime/host_calls.h"
#include "runtime/extension_spec.h"
#include "store/sqlite/sqlite_storage.h"
#include "outside_parts.h"

namespace habanero::conformance {
namespace {

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The probe's manifest with its name replaced by the setup's: the host serves the
// module as an extension of that name (as an operator would install a copy).
absl::Status installAs(const std::string& wasm_dir, const std::string& probe,
                       const std::string& dir, const std::string& name) {
  std::string manifest = readAll(strCat(wasm_dir, "/", probe, ".manifest.toml"));
  std::string from = strCat("name = \"", probe, "\"");
  size_t at = manifest.find(from);
  if (at == std::string::npos) {
    return absl::NotFoundError(strCat(wasm_dir, "/", probe, ".manifest.toml: no ", from));
  }
  manifest.replace(at, from.size(), strCat("name = \"", name, "\""));
  std::ofstream(strCat(dir, "/", name, ".manifest.toml"), std::ios::trunc) << manifest;
  std::error_code ec;
  std::filesystem::copy_file(strCat(wasm_dir, "/", probe, ".wasm"), strCat(dir, "/", name, ".wasm"),
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return absl::NotFoundError(strCat(wasm_dir, "/", probe, ".wasm: ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

struct InProcessHost::Parts {
  std::string wasm_dir;
  std::string dir;  // temporary: database, installed modules (and the cache by default)
  std::string cache_dir;
  StoragePtr storage;
  std::unique_ptr<crypto::KeyStore> keys;
  std::unique_ptr<auth::Users> users;
  std::unique_ptr<auth::Clients> clients;
  std::unique_ptr<auth::Sessions> sessions;
  std::unique_ptr<events::Outbox> outbox;
  outbound::Fetcher fetcher;
  outbound::MailerPtr mailer;
  outbound::SmsSenderPtr sms;
  runtime::HostServices services;
  runtime::EnginePtr engine;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_sink;
  std::shared_ptr<spdlog::logger> previous_logger;

  std::map<std::string, runtime::ExtensionPtr> loaded;  // by mount
  std::map<std::string, absl::Status> refused;          // by setup name

  OutsideParts outside;  // SMTP, SMS API and web servers, started on first use

  absl::Status startMail() {
    if (mailer) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string url, outside.smtpUrl());
    ASSIGN_OR_RETURN(mailer, outbound::SmtpMailer::create(
                                 {.url = url,
                                  .from = "Conformance <conformance@example.com>",
                                  .timeout_ms = 10'000}));
    services.mailer = mailer.get();
    return absl::OkStatus();
  }

  absl::Status startSms() {
    if (sms) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string url, outside.smsUrl());
    ASSIGN_OR_RETURN(sms, outbound::createSmsSender({.url = url,
                                                     .from = "",
                                                     .timeout_ms = 10'000,
                                                     .ca_file = outside.smsCaFile()}));
    services.sms = sms.get();
    return absl::OkStatus();
  }
};

InProcessHost::InProcessHost(std::string wasm_dir, std::string cache_dir)
    : parts_(std::make_unique<Parts>()) {
  Parts& p = *parts_;
  p.wasm_dir = std::move(wasm_dir);
  p.cache_dir = std::move(cache_dir);
  char tmpl[] = "/tmp/habanero-conformance-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  p.dir = tmpl;
  std::filesystem::create_directories(p.dir + "/modules");

  p.log_sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
  p.previous_logger = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("conformance", p.log_sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

InProcessHost::~InProcessHost() {
  Parts& p = *parts_;
  p.loaded.clear();
  p.engine.reset();
  p.outbox.reset();
  p.sessions.reset();
  p.clients.reset();
  p.users.reset();
  p.keys.reset();
  p.storage.reset();
  std::error_code ec;
  std::filesystem::remove_all(p.dir, ec);
  if (p.previous_logger) spdlog::set_default_logger(p.previous_logger);
}

absl::Status InProcessHost::prepare(const nlohmann::json& fixtures) {
  Parts& p = *parts_;
  const Clock& clock = SystemClock::instance();
  ASSIGN_OR_RETURN(p.storage, store::SqliteStorage::open(p.dir + "/habanero.db", clock));
  ASSIGN_OR_RETURN(p.keys, crypto::KeyStore::open(*p.storage, clock, crypto::KeyStoreOptions{}));
  // Cheap Argon2id costs: the suite tests the ABI, not the hash.
  ASSIGN_OR_RETURN(p.users, auth::Users::create(*p.storage, clock,
                                               crypto::Argon2Params{.time_cost = 1,
                                                                    .memory_kib = 1024}));
  ASSIGN_OR_RETURN(p.clients, auth::Clients::open(*p.storage, clock));
  p.sessions = std::make_unique<auth::Sessions>(*p.storage, clock);
  p.outbox = std::make_unique<events::Outbox>(*p.storage, clock, events::OutboxOptions{});
  p.services.storage = p.storage.get();
  p.services.signer = p.keys.get();
  p.services.users = p.users.get();
  p.services.clients = p.clients.get();
  p.services.sessions = p.sessions.get();
  p.services.outbox = p.outbox.get();
  p.services.fetcher = &p.fetcher;
  // Loopback only, for the fixture server; every other special address stays refused.
  p.services.fetch_policy.allow_loopback = true;
  p.services.fetch_policy.timeout_ms = 5000;

  runtime::EngineOptions options;
  options.cache_dir = p.cache_dir.empty() ? p.dir + "/cache" : p.cache_dir;
  options.pool_instances = 16;
  ASSIGN_OR_RETURN(p.engine, runtime::Engine::create(options));

  for (const nlohmann::json& u : fixtures.value("users", nlohmann::json::array())) {
    auth::NewUser nu;
    nu.email = u.value("email", "");
    if (u.contains("password")) nu.password = u["password"].get<std::string>();
    nu.name = u.value("name", "");
    nu.phone_number = u.value("phone_number", "");
    nu.email_verified = u.value("email_verified", false);
    nu.phone_number_verified = u.value("phone_number_verified", false);
    auto added = p.users->add(nu);
    if (!added.ok() && added.status().code() != absl::StatusCode::kAlreadyExists) {
      return added.status();
    }
  }
  for (const nlohmann::json& c : fixtures.value("clients", nlohmann::json::array())) {
    auth::NewClient nc;
    nc.client_id = c.value("client_id", "");
    if (c.contains("secret")) nc.secret = c["secret"].get<std::string>();
    nc.is_public = c.value("public", false);
    nc.name = c.value("name", "");
    for (const auto& uri : c.value("redirect_uris", nlohmann::json::array())) {
      nc.redirect_uris.push_back(uri);
    }
    RETURN_IF_ERROR(p.clients->upsert(nc).status());
  }
  return absl::OkStatus();
}

absl::Status InProcessHost::load(const Setup& setup) {
  Parts& p = *parts_;
  if (p.engine == nullptr) return absl::FailedPreconditionError("prepare() first");
  if (p.loaded.contains(setup.mount())) return absl::OkStatus();
  if (auto it = p.refused.find(setup.name); it != p.refused.end()) return it->second;

  auto granted = [&](std::string_view cap) {
    return std::find(setup.grants.begin(), setup.grants.end(), cap) != setup.grants.end();
  };
  if (granted("mail")) RETURN_IF_ERROR(p.startMail());
  if (granted("sms")) RETURN_IF_ERROR(p.startSms());

  std::string modules = p.dir + "/modules";
  RETURN_IF_ERROR(installAs(p.wasm_dir, setup.probe, modules, setup.name));
  runtime::ExtensionSpec spec;
  spec.name = setup.name;
  spec.module = strCat(modules, "/", setup.name, ".wasm");
  spec.mount = setup.mount();
  spec.grants.capabilities = setup.grants;
  spec.grants.publish_topics = setup.publish;
  spec.grants.fetch_hosts = setup.fetch_hosts;
  spec.settings = setup.settings;
  spec.limits.memory_bytes = setup.memory_bytes;
  spec.limits.deadline_ms = setup.deadline_ms;
  auto ext = runtime::Extension::load(*p.engine, spec, spec.module, p.services);
  if (!ext.ok()) {
    p.refused[setup.name] = ext.status();
    return ext.status();
  }
  p.loaded[setup.mount()] = *ext;
  return absl::OkStatus();
}

Response InProcessHost::dispatch(const Request& request) {
  // The longest mount that is the path or a prefix of it followed by '/'.
  const runtime::ExtensionPtr* best = nullptr;
  size_t best_len = 0;
  for (const auto& [mount, ext] : parts_->loaded) {
    bool under = request.path == mount ||
                 (request.path.starts_with(mount) && request.path[mount.size()] == '/');
    if (under && mount.size() >= best_len) {
      best = &ext;
      best_len = mount.size();
    }
  }
  if (best == nullptr) return Response::text(404, "not found\n");
  return (*best)->handle(request);
}

std::optional<std::string> InProcessHost::fixture(std::string_view name) {
  if (name != "fetch_base") return std::nullopt;
  auto base = parts_->outside.webBase();
  if (!base.ok()) return std::nullopt;
  return *base;
}

std::optional<std::string> InProcessHost::log() {
  return absl::StrJoin(parts_->log_sink->last_formatted(), "");
}

void InProcessHost::clearLog() {
  parts_->log_sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
  spdlog::default_logger()->sinks() = {parts_->log_sink};
}

}  // namespace habanero::conformance
