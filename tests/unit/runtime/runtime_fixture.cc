#include "runtime_fixture.h"

#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::runtime {

void RuntimeFixture::SetUp() {
  char tmpl[] = "/tmp/habanero-runtime-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  auto storage = store::SqliteStorage::open(dir_ + "/habanero.db", SystemClock::instance());
  ASSERT_TRUE(storage.ok()) << storage.status();
  storage_ = std::move(*storage);
  auto keys = crypto::KeyStore::open(*storage_, SystemClock::instance(), crypto::KeyStoreOptions{});
  ASSERT_TRUE(keys.ok()) << keys.status();
  keys_ = std::move(*keys);
  auto users = auth::Users::create(*storage_, SystemClock::instance(),
                                  crypto::Argon2Params{.time_cost = 1, .memory_kib = 1024});
  ASSERT_TRUE(users.ok()) << users.status();
  users_ = std::move(*users);
  auto clients = auth::Clients::open(*storage_, SystemClock::instance());
  ASSERT_TRUE(clients.ok()) << clients.status();
  clients_ = std::move(*clients);
  sessions_ = std::make_unique<auth::Sessions>(*storage_, SystemClock::instance());
  services_.storage = storage_.get();
  services_.signer = keys_.get();
  services_.users = users_.get();
  services_.clients = clients_.get();
  services_.sessions = sessions_.get();

  EngineOptions options;
  options.cache_dir = dir_ + "/cache";
  options.pool_instances = 32;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  engine_ = std::move(*engine);

  log_sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  auto logger = std::make_shared<spdlog::logger>("test", log_sink_);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

void RuntimeFixture::TearDown() {
  engine_.reset();
  sessions_.reset();
  clients_.reset();
  users_.reset();
  keys_.reset();
  storage_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RuntimeFixture::wasmPath(const std::string& name) {
  return absl::StrCat(HABANERO_WASM_OUT, "/", name, ".wasm");
}

ExtensionSpec RuntimeFixture::configFor(const std::string& name, std::vector<std::string> grants) {
  ExtensionSpec c;
  c.name = name;
  c.module = wasmPath(name);
  c.mount = "/" + name;
  c.grants.capabilities = std::move(grants);
  c.limits.memory_bytes = 16ull << 20;
  c.limits.deadline_ms = 300;
  return c;
}

absl::StatusOr<ExtensionPtr> RuntimeFixture::load(const ExtensionSpec& config) {
  return load(config, config.module);
}

absl::StatusOr<ExtensionPtr> RuntimeFixture::load(const ExtensionSpec& config,
                                                  const std::string& path) {
  return Extension::load(*engine_, config, path, services_);
}

Request RuntimeFixture::get(const std::string& path, const std::string& query) {
  Request r;
  r.method = "GET";
  r.path = path;
  r.query = query;
  r.remote_addr = "127.0.0.1";
  return r;
}

std::string RuntimeFixture::logText() const {
  return absl::StrJoin(log_sink_->last_formatted(), "");
}

void RuntimeFixture::clearLog() {
  log_sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  spdlog::default_logger()->sinks() = {log_sink_};
}

}  // namespace habanero::runtime
