#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace habanero::server {
namespace {

// Every field as text, so two configs compare with one EXPECT_EQ.
std::string describe(const Config& c) {
  std::ostringstream out;
  const auto& s = c.server;
  out << "server " << s.listen << " " << s.issuer << " " << s.data_dir << " " << s.threads << " "
      << s.max_header_bytes << " " << s.max_body_bytes << " " << s.read_timeout_ms << " "
      << s.idle_timeout_ms << " " << s.shutdown_grace_ms << " " << s.tls_cert << " " << s.tls_key
      << "\n";
  const auto& r = c.runtime;
  out << "runtime " << r.extension_dir << " " << r.epoch_tick_ms << " " << r.module_cache << " "
      << r.watch_interval_ms << " " << r.pool_instances << "\n";
  out << "store " << c.store.backend << " " << c.store.path << " " << c.store.synchronous << "\n";
  out << "log " << c.log.level << " " << c.log.format << "\n";
  const auto& k = c.cluster;
  out << "cluster " << k.role << " " << k.workers << " " << k.listen << " " << k.threads << " "
      << k.request_timeout_ms << " " << k.health_interval_ms << " " << k.min_workers << " "
      << k.probe_listen << " " << k.tls_cert << " " << k.tls_key << " " << k.tls_ca << "\n";
  out << "keys " << c.keys.alg << " " << c.keys.retention_days << "\n";
  out << "admin " << c.admin.enabled << " " << c.admin.token << "\n";
  for (const auto& cl : c.clients) {
    out << "client " << cl.id << " " << cl.secret.value_or("<none>") << " " << cl.is_public
        << " " << cl.name << " " << cl.first_party << " " << cl.token_format << " [";
    for (const auto& u : cl.redirect_uris) out << u << ",";
    out << "] [";
    for (const auto& u : cl.post_logout_redirect_uris) out << u << ",";
    out << "] [";
    for (const auto& g : cl.grant_types) out << g << ",";
    out << "] [";
    for (const auto& sc : cl.scopes) out << sc << ",";
    out << "]\n";
  }
  for (const auto& e : c.extensions) {
    out << "ext " << e.name << " " << e.module << " " << e.mount << " [";
    for (const auto& g : e.grants) out << g << ",";
    out << "] " << e.memory_bytes << " " << e.table_elements << " " << e.deadline_ms << " {";
    for (const auto& [k, v] : e.settings) out << k << "=" << v << ",";
    out << "}\n";
  }
  return out.str();
}

class ConfigTest : public ::testing::Test {
 protected:
  // Writes `text` to a fresh file and returns its path.
  std::string writeFile(const std::string& text) {
    std::string path = ::testing::TempDir() + "habanero_config_test_" + std::to_string(getpid()) +
                       "_" + std::to_string(files_.size()) + ".toml";
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }

  void TearDown() override {
    for (const auto& f : files_) unlink(f.c_str());
  }

  // loadConfig on `text`; expects an error and returns its message.
  std::string loadError(const std::string& text, std::vector<const char*> env = {}) {
    std::string path = writeFile(text);
    env.push_back(nullptr);
    auto config = loadConfig(path, env.data());
    EXPECT_FALSE(config.ok()) << text;
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(config.status().message());
  }

  std::vector<std::string> files_;
};

TEST_F(ConfigTest, Defaults) {
  Config c = defaultConfig();
  EXPECT_EQ(c.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.server.max_header_bytes, limits::kMaxHeaderBytes);
  EXPECT_EQ(c.server.read_timeout_ms, limits::kReadTimeoutMs);
  EXPECT_EQ(c.runtime.epoch_tick_ms, limits::kEpochTickMs);
  EXPECT_TRUE(c.runtime.module_cache);
  EXPECT_EQ(c.store.backend, "sqlite");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.keys.alg, "ES256");
  EXPECT_EQ(c.keys.retention_days, 7u);
  EXPECT_FALSE(c.admin.enabled);
  EXPECT_EQ(c.admin.token, "");
  EXPECT_TRUE(c.clients.empty());
  ASSERT_EQ(c.extensions.size(), 4u);  // hello, oauth2 at "/", password, indieauth
  EXPECT_EQ(c.extensions[3].name, "indieauth");
  EXPECT_EQ(c.extensions[3].mount, "/indieauth");
  EXPECT_EQ(c.mail.url, "");
  EXPECT_EQ(c.sms.url, "");
  EXPECT_FALSE(c.outbound.allow_loopback);
  EXPECT_EQ(c.events.max_attempts, 12u);
  EXPECT_EQ(c.extensions[1].name, "oauth2");
  EXPECT_EQ(c.extensions[1].mount, "/");
  EXPECT_EQ(c.extensions[2].name, "password");
  EXPECT_EQ(c.extensions[2].mount, "/login/password");
  const ExtensionConfig& hello = c.extensions[0];
  EXPECT_EQ(hello.name, "hello");
  EXPECT_EQ(hello.module, "hello.wasm");
  EXPECT_EQ(hello.mount, "/hello");
  EXPECT_EQ(hello.grants,
            (std::vector<std::string>{"http", "log", "kv", "clock", "settings", "crypto"}));
  EXPECT_EQ(hello.memory_bytes, limits::kMemoryBytes);
  EXPECT_EQ(hello.settings.at("greeting"), "Hello");
  EXPECT_TRUE(validateConfig(c).ok()) << validateConfig(c);
}

TEST_F(ConfigTest, EmptyPathAndNullEnvGiveDefaults) {
  auto c = loadConfig("", nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(describe(*c), describe(defaultConfig()));
}

TEST_F(ConfigTest, ExampleFileIsExactlyTheDefaults) {
  auto c = loadConfig(std::string(HABANERO_SOURCE_DIR) + "/docs/habanero.example.toml", nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(describe(*c), describe(defaultConfig()));
}

TEST_F(ConfigTest, ParsesFile) {
  std::string path = writeFile(R"(
[server]
listen = "0.0.0.0:9000"
threads = 4
max_body_bytes = 2048
tls_cert = "c.pem"
tls_key = "k.pem"

[runtime]
module_cache = false
epoch_tick_ms = 10

[store]
synchronous = "normal"

[log]
level = "debug"

[[extensions]]
name = "oauth2"
module = "/opt/oauth2.wasm"
mount = "/oauth2"
grants = ["http", "kv", "keys"]
memory_mb = 128
deadline_ms = 250
max_concurrency = 3

[extensions.settings]
title = "Sign in"
max_attempts = 5
remember = true
ratio = 0.5
whole = 2.0

[[extensions]]
name = "root"
module = "root.wasm"
mount = "/"
)");
  auto c = loadConfig(path, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(c->server.threads, 4u);
  EXPECT_EQ(c->server.max_body_bytes, 2048u);
  EXPECT_EQ(c->server.max_header_bytes, limits::kMaxHeaderBytes);  // untouched default
  EXPECT_FALSE(c->runtime.module_cache);
  EXPECT_EQ(c->runtime.epoch_tick_ms, 10u);
  EXPECT_EQ(c->store.synchronous, "normal");
  EXPECT_EQ(c->log.level, "debug");
  ASSERT_EQ(c->extensions.size(), 2u);  // the file's set replaces the default one
  const auto& e = c->extensions[0];
  EXPECT_EQ(e.name, "oauth2");
  EXPECT_EQ(e.grants, (std::vector<std::string>{"http", "kv", "keys"}));
  EXPECT_EQ(e.memory_bytes, 128ull << 20);
  EXPECT_EQ(e.deadline_ms, 250u);
  EXPECT_EQ(e.max_concurrency, 3u);
  EXPECT_EQ(c->extensions[1].max_concurrency, 0u) << "unset: the server's default";
  EXPECT_EQ(e.table_elements, limits::kTableElements);
  EXPECT_EQ(e.settings.at("title"), "Sign in");
  EXPECT_EQ(e.settings.at("max_attempts"), "5");
  EXPECT_EQ(e.settings.at("remember"), "true");
  EXPECT_EQ(e.settings.at("ratio"), "0.5");
  EXPECT_EQ(e.settings.at("whole"), "2.0");
  EXPECT_TRUE(c->extensions[1].grants.empty());
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);
}

TEST_F(ConfigTest, EmptyExtensionsArrayMeansNone) {
  auto c = loadConfig(writeFile("extensions = []\n"), nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->extensions.empty());
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
  std::string path = writeFile("[server]\nlisten = \"127.0.0.1:1\"\nthreads = 2\n");
  const char* env[] = {"PATH=/usr/bin",
                       "HABANERO_SERVER_LISTEN=0.0.0.0:9000",
                       "HABANERO_SERVER_MAX_BODY_BYTES=4096",
                       "HABANERO_RUNTIME_EPOCH_TICK_MS=10",
                       "HABANERO_RUNTIME_MODULE_CACHE=false",
                       "HABANERO_STORE_PATH=/var/lib/h.db",
                       "HABANERO_LOG_LEVEL=warn",
                       "HABANERO_CACHE_DIR=/tmp/not-config",  // not a config section: ignored
                       nullptr};
  auto c = loadConfig(path, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(c->server.threads, 2u);  // from the file
  EXPECT_EQ(c->server.max_body_bytes, 4096u);
  EXPECT_EQ(c->runtime.epoch_tick_ms, 10u);
  EXPECT_FALSE(c->runtime.module_cache);
  EXPECT_EQ(c->store.path, "/var/lib/h.db");
  EXPECT_EQ(c->log.level, "warn");
}

TEST_F(ConfigTest, EnvironmentWithoutFile) {
  const char* env[] = {"HABANERO_SERVER_THREADS=3", nullptr};
  auto c = loadConfig("", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.threads, 3u);
}

TEST_F(ConfigTest, EnvironmentErrorsNameTheVariable) {
  struct Case {
    const char* entry;
    const char* expected;
  };
  for (const Case& tc : {
           Case{"HABANERO_SERVER_THREADS=many", "HABANERO_SERVER_THREADS: server.threads:"},
           Case{"HABANERO_SERVER_THREADS=-1", "HABANERO_SERVER_THREADS"},
           Case{"HABANERO_SERVER_THREADS=4294967296", "at most 4294967295"},
           Case{"HABANERO_RUNTIME_MODULE_CACHE=maybe",
                "HABANERO_RUNTIME_MODULE_CACHE: runtime.module_cache"},
           Case{"HABANERO_SERVER_LISTN=x", "HABANERO_SERVER_LISTN: unknown"},
           Case{"HABANERO_SERVER_listen=x", "HABANERO_SERVER_listen"},
       }) {
    const char* env[] = {tc.entry, nullptr};
    auto c = loadConfig("", env);
    ASSERT_FALSE(c.ok()) << tc.entry;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(tc.expected), std::string::npos)
        << tc.entry << " -> " << c.status();
  }
}

TEST_F(ConfigTest, ParseErrorNamesFileLineAndColumn) {
  std::string path = writeFile("[server]\nlisten = \"unterminated\n");
  auto c = loadConfig(path, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().find(path + ":2:"), 0u) << c.status();
}

TEST_F(ConfigTest, TypeErrorsNameFileLineAndKey) {
  std::string message = loadError("[server]\n\nthreads = \"four\"\n");
  EXPECT_NE(message.find(":3:11: server.threads: expected an integer, got a string"),
            std::string::npos)
      << message;

  message = loadError("[runtime]\nmodule_cache = 1\n");
  EXPECT_NE(message.find(":2:16: runtime.module_cache: expected a boolean"), std::string::npos)
      << message;

  message = loadError("[server]\nlisten = 8080\n");
  EXPECT_NE(message.find(":2:10: server.listen: expected a string, got an integer"),
            std::string::npos)
      << message;

  message = loadError("[server]\nread_timeout_ms = -5\n");
  EXPECT_NE(message.find("server.read_timeout_ms: expected a non-negative integer"),
            std::string::npos)
      << message;

  message = loadError("[server]\nthreads = 5000000000\n");
  EXPECT_NE(message.find("server.threads: must be at most 4294967295"), std::string::npos)
      << message;

  message = loadError("[server]\nmax_body_bytes = 1.5\n");
  EXPECT_NE(message.find("server.max_body_bytes: expected an integer, got a float"),
            std::string::npos)
      << message;

  message = loadError("server = 3\n");
  EXPECT_NE(message.find(":1:10: server: expected a table"), std::string::npos) << message;
}

TEST_F(ConfigTest, UnknownKeysAreRejected) {
  std::string message = loadError("[server]\nlisten = \"127.0.0.1:1\"\nthread = 4\n");
  EXPECT_NE(message.find(":3:1: server.thread: unknown key"), std::string::npos) << message;

  message = loadError("[servre]\nlisten = \"x\"\n");
  EXPECT_NE(message.find("servre: unknown key"), std::string::npos) << message;

  message = loadError("top = 1\n");
  EXPECT_NE(message.find(":1:1: top: unknown key"), std::string::npos) << message;

  message = loadError("[server.tls]\ncert = \"x\"\n");
  EXPECT_NE(message.find("server.tls: unknown key"), std::string::npos) << message;

  message =
      loadError("[[extensions]]\nname = \"a\"\nmodule = \"a.wasm\"\nmount = \"/a\"\nmemory = 3\n");
  EXPECT_NE(message.find(":5:1: extensions[0].memory: unknown key"), std::string::npos) << message;
}

TEST_F(ConfigTest, ExtensionErrors) {
  std::string message = loadError("[[extensions]]\nname = \"a\"\nmount = \"/a\"\n");
  EXPECT_NE(message.find("extensions[0].module: required key missing"), std::string::npos)
      << message;

  message = loadError(
      "[[extensions]]\nname = \"a\"\nmodule = \"a\"\nmount = \"/a\"\ngrants = [\"kv\", 3]\n");
  EXPECT_NE(message.find(":5:17: extensions[0].grants[1]: expected a string, got an integer"),
            std::string::npos)
      << message;

  message =
      loadError("[[extensions]]\nname = \"a\"\nmodule = \"a\"\nmount = \"/a\"\nmemory_mb = 0\n");
  EXPECT_NE(message.find("extensions[0].memory_mb: must be between 1 and 4096"), std::string::npos)
      << message;

  message = loadError(
      "[[extensions]]\nname = \"a\"\nmodule = \"a\"\nmount = \"/a\"\nmax_concurrency = 0\n");
  EXPECT_NE(message.find(":5:19: extensions[0].max_concurrency: must be between 1 and 100000"),
            std::string::npos)
      << message;

  message = loadError(
      "[[extensions]]\nname = \"a\"\nmodule = \"a\"\nmount = \"/a\"\n[extensions.settings]\nnested "
      "= { x = 1 }\n");
  EXPECT_NE(
      message.find("extensions[0].settings.nested: expected a string, integer, float or boolean"),
      std::string::npos)
      << message;

  message = loadError("[extensions]\nname = \"a\"\n");
  EXPECT_NE(message.find("extensions: expected an array of tables"), std::string::npos) << message;
}

TEST_F(ConfigTest, OutboundSectionsAndTheirEnvironmentAliases) {
  std::string path = writeFile(R"(
[mail]
url = "smtps://u:p@mail.example:465"
from = "Example <login@example.com>"
[sms]
url = "kannel://u:p@127.0.0.1:13013"
[outbound]
allow_loopback = true
[events]
retry_base_ms = 100
retry_max_ms = 1000
[[extensions]]
name = "m"
module = "m.wasm"
mount = "/m"
publish = ["m.deliver"]
fetch_hosts = ["example.com"]
)");
  const char* env[] = {"HABANERO_SMTP_URL=smtp://other:587", "HABANERO_SMTP_FROM=x@example.com",
                       "HABANERO_SMS_FROM=Example", nullptr};
  auto c = loadConfig(path, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mail.url, "smtp://other:587");  // the alias overrides the file
  EXPECT_EQ(c->mail.from, "x@example.com");
  EXPECT_EQ(c->sms.url, "kannel://u:p@127.0.0.1:13013");
  EXPECT_EQ(c->sms.from, "Example");
  EXPECT_TRUE(c->outbound.allow_loopback);
  EXPECT_EQ(c->events.retry_base_ms, 100u);
  ASSERT_EQ(c->extensions.size(), 1u);
  EXPECT_EQ(c->extensions[0].publish, std::vector<std::string>{"m.deliver"});
  EXPECT_EQ(c->extensions[0].fetch_hosts, std::vector<std::string>{"example.com"});
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);
}

TEST_F(ConfigTest, OutboundRulesAreChecked) {
  Config c = defaultConfig();
  c.mail.url = "http://mail.example";
  c.sms.url = "sms://x";
  c.events.retry_max_ms = 1;
  c.extensions[0].publish = {"Bad Topic"};
  c.extensions[0].fetch_hosts = {"http://example.com/"};
  std::string message(validateConfig(c).message());
  EXPECT_NE(message.find("mail.url: must start with smtp://"), std::string::npos) << message;
  EXPECT_NE(message.find("mail.from: must be set when mail.url is set"), std::string::npos)
      << message;
  EXPECT_NE(message.find("sms.url: must start with kannel://"), std::string::npos) << message;
  EXPECT_NE(message.find("events.retry_max_ms"), std::string::npos) << message;
  EXPECT_NE(message.find("\"Bad Topic\" is not a topic name"), std::string::npos) << message;
  EXPECT_NE(message.find("is not a host name"), std::string::npos) << message;
}

TEST_F(ConfigTest, ParsesKeysAndAdmin) {
  std::string path = writeFile(R"(
[keys]
alg = "EdDSA"
retention_days = 30

[admin]
enabled = true
token = "0123456789abcdef0123"
)");
  auto c = loadConfig(path, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->keys.alg, "EdDSA");
  EXPECT_EQ(c->keys.retention_days, 30u);
  EXPECT_TRUE(c->admin.enabled);
  EXPECT_EQ(c->admin.token, "0123456789abcdef0123");
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);

  const char* env[] = {"HABANERO_KEYS_ALG=RS256", "HABANERO_KEYS_RETENTION_DAYS=2",
                       "HABANERO_ADMIN_ENABLED=false", "HABANERO_ADMIN_TOKEN=from-env", nullptr};
  c = loadConfig(path, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->keys.alg, "RS256");
  EXPECT_EQ(c->keys.retention_days, 2u);
  EXPECT_FALSE(c->admin.enabled);
  EXPECT_EQ(c->admin.token, "from-env");

  const char* bad_env[] = {"HABANERO_KEYS_ALGO=x", nullptr};
  auto bad = loadConfig("", bad_env);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("HABANERO_KEYS_ALGO: unknown setting"), std::string::npos)
      << bad.status();

  std::string message = loadError("[keys]\nalg = 256\n");
  EXPECT_NE(message.find(":2:7: keys.alg: expected a string, got an integer"), std::string::npos)
      << message;
  message = loadError("[admin]\nenabled = \"yes\"\n");
  EXPECT_NE(message.find(":2:11: admin.enabled: expected a boolean"), std::string::npos)
      << message;
  message = loadError("[admin]\npassword = \"x\"\n");
  EXPECT_NE(message.find(":2:1: admin.password: unknown key"), std::string::npos) << message;
}

TEST_F(ConfigTest, ParsesStaticClients) {
  std::string path = writeFile(R"([[clients]]
id = "web"
secret = "a-long-operator-secret"
redirect_uris = ["https://app.example/cb"]
post_logout_redirect_uris = ["https://app.example/bye"]
grant_types = ["authorization_code"]
scopes = ["openid", "email"]
name = "Web App"
first_party = true
token_format = "opaque"

[[clients]]
id = "spa"
redirect_uris = ["http://localhost:3000/cb"]
)");
  auto c = loadConfig(path, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->clients.size(), 2u);
  const StaticClientConfig& web = c->clients[0];
  EXPECT_EQ(web.id, "web");
  EXPECT_EQ(web.secret, "a-long-operator-secret");
  EXPECT_FALSE(web.is_public);
  EXPECT_EQ(web.redirect_uris, std::vector<std::string>{"https://app.example/cb"});
  EXPECT_EQ(web.post_logout_redirect_uris, std::vector<std::string>{"https://app.example/bye"});
  EXPECT_EQ(web.grant_types, std::vector<std::string>{"authorization_code"});
  EXPECT_EQ(web.scopes, (std::vector<std::string>{"openid", "email"}));
  EXPECT_EQ(web.name, "Web App");
  EXPECT_TRUE(web.first_party);
  EXPECT_EQ(web.token_format, "opaque");
  EXPECT_EQ(web.source.at(""), path + ":1:1");
  EXPECT_EQ(web.source.at("redirect_uris"), path + ":4:17");
  const StaticClientConfig& spa = c->clients[1];
  EXPECT_EQ(spa.id, "spa");
  EXPECT_FALSE(spa.secret.has_value());
  EXPECT_TRUE(spa.is_public);  // no secret: public
  EXPECT_EQ(spa.grant_types, (std::vector<std::string>{"authorization_code", "refresh_token"}));
  EXPECT_EQ(spa.token_format, "jwt");
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);
}

TEST_F(ConfigTest, StaticClientErrors) {
  std::string message = loadError("[[clients]]\nname = \"x\"\n");
  EXPECT_NE(message.find(":1:1: clients[0].id: required key missing"), std::string::npos)
      << message;

  message = loadError("[[clients]]\nid = \"c\"\npublic = false\n");
  EXPECT_NE(message.find(":3:10: clients[0].secret: a confidential client (public = false) needs "
                         "a secret"),
            std::string::npos)
      << message;

  message = loadError("[[clients]]\nid = \"c\"\npublic = true\nsecret = \"s\"\n");
  EXPECT_NE(message.find(":4:10: clients[0].secret: a public client"), std::string::npos)
      << message;

  message = loadError("[[clients]]\nid = \"c\"\nredirect_uris = \"https://a/\"\n");
  EXPECT_NE(message.find(":3:17: clients[0].redirect_uris: expected an array of strings"),
            std::string::npos)
      << message;

  message = loadError("[[clients]]\nid = \"c\"\nsecrets = \"x\"\n");
  EXPECT_NE(message.find(":3:1: clients[0].secrets: unknown key"), std::string::npos) << message;

  message = loadError("[clients]\nid = \"c\"\n");
  EXPECT_NE(message.find("clients: expected an array of tables ([[clients]])"), std::string::npos)
      << message;
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  auto c = loadConfig("/nonexistent/habanero.toml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/habanero.toml"), std::string::npos);
}

// [cluster] and [log] format (issue 14): every key from the file and from the
// environment, and each bad value rejected naming the file, line and key (type
// errors) or the key (rules checked by validateConfig).
TEST_F(ConfigTest, ClusterSectionFromFileAndEnvironment) {
  std::string path = writeFile(R"(
extensions = []
[server]
issuer = "https://login.example.com"
[log]
format = "json"
[cluster]
role = "gateway"
workers = "10.0.0.11:9090, workers.internal:9090"
listen = "0.0.0.0:9191"
threads = 8
request_timeout_ms = 2000
health_interval_ms = 250
min_workers = 2
probe_listen = "0.0.0.0:9092"
tls_cert = "/tls/gw.pem"
tls_key = "/tls/gw.key"
tls_ca = "/tls/ca.pem"
)");
  auto c = loadConfig(path, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ("json", c->log.format);
  EXPECT_EQ("gateway", c->cluster.role);
  EXPECT_EQ("10.0.0.11:9090, workers.internal:9090", c->cluster.workers);
  EXPECT_EQ("0.0.0.0:9191", c->cluster.listen);
  EXPECT_EQ(8u, c->cluster.threads);
  EXPECT_EQ(2000u, c->cluster.request_timeout_ms);
  EXPECT_EQ(250u, c->cluster.health_interval_ms);
  EXPECT_EQ(2u, c->cluster.min_workers);
  EXPECT_EQ("0.0.0.0:9092", c->cluster.probe_listen);
  EXPECT_EQ("/tls/gw.pem", c->cluster.tls_cert);
  EXPECT_EQ("/tls/gw.key", c->cluster.tls_key);
  EXPECT_EQ("/tls/ca.pem", c->cluster.tls_ca);
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);

  const char* env[] = {"HABANERO_CLUSTER_ROLE=worker", "HABANERO_CLUSTER_PROBE_LISTEN=[::1]:0",
                       "HABANERO_CLUSTER_MIN_WORKERS=3", "HABANERO_LOG_FORMAT=text", nullptr};
  c = loadConfig(path, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ("worker", c->cluster.role);
  EXPECT_EQ("[::1]:0", c->cluster.probe_listen);
  EXPECT_EQ(3u, c->cluster.min_workers);
  EXPECT_EQ("text", c->log.format);
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);

  // Defaults: one process, no probe listener, text logs.
  Config d = defaultConfig();
  EXPECT_EQ("all", d.cluster.role);
  EXPECT_EQ("", d.cluster.probe_listen);
  EXPECT_EQ("text", d.log.format);
}

TEST_F(ConfigTest, ClusterTypeErrorsNameFileLineAndKey) {
  std::string message = loadError("[cluster]\nthreads = \"many\"\n");
  EXPECT_NE(message.find(":2:11: cluster.threads: expected an integer, got a string"),
            std::string::npos)
      << message;
  message = loadError("[cluster]\nrole = 1\n");
  EXPECT_NE(message.find(":2:8: cluster.role: expected a string, got an integer"),
            std::string::npos)
      << message;
  message = loadError("[cluster]\nmin_workers = -1\n");
  EXPECT_NE(message.find("cluster.min_workers: expected a non-negative integer"),
            std::string::npos)
      << message;
  message = loadError("[cluster]\nprobe_listen = 9092\n");
  EXPECT_NE(message.find(":2:16: cluster.probe_listen: expected a string"), std::string::npos)
      << message;
  message = loadError("[cluster]\nworker = \"x:1\"\n");
  EXPECT_NE(message.find(":2:1: cluster.worker: unknown key"), std::string::npos) << message;
  message = loadError("[log]\nformat = true\n");
  EXPECT_NE(message.find(":2:10: log.format: expected a string"), std::string::npos) << message;

  const char* env[] = {"HABANERO_CLUSTER_REQUEST_TIMEOUT_MS=soon", nullptr};
  auto c = loadConfig("", env);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(
                "HABANERO_CLUSTER_REQUEST_TIMEOUT_MS: cluster.request_timeout_ms"),
            std::string::npos)
      << c.status();
}

TEST_F(ConfigTest, ClusterRulesNameTheKey) {
  struct Case {
    const char* name;
    void (*breakIt)(Config&);
    const char* expected;
  };
  const Case cases[] = {
      {"role", [](Config& c) { c.cluster.role = "primary"; }, "cluster.role: must be"},
      {"gateway without workers",
       [](Config& c) {
         c.cluster.role = "gateway";
         c.cluster.workers = " , ";
       },
       "cluster.workers: must list the workers"},
      {"worker without issuer",
       [](Config& c) {
         c.cluster.role = "worker";
         c.server.issuer = "";
       },
       "server.issuer: must be set in a cluster"},
      {"request timeout", [](Config& c) { c.cluster.request_timeout_ms = 0; },
       "cluster.request_timeout_ms: must be > 0"},
      {"health interval", [](Config& c) { c.cluster.health_interval_ms = 0; },
       "cluster.health_interval_ms: must be > 0"},
      {"tls half", [](Config& c) { c.cluster.tls_key = "k.pem"; }, "cluster.tls_cert"},
      {"gateway tls without ca",
       [](Config& c) {
         c.cluster.role = "gateway";
         c.cluster.tls_cert = "c.pem";
         c.cluster.tls_key = "k.pem";
       },
       "cluster.tls_ca: must be set with tls_cert on a gateway"},
      {"listen", [](Config& c) { c.cluster.listen = "9090"; },
       "cluster.listen: expected HOST:PORT"},
      {"probe listen", [](Config& c) { c.cluster.probe_listen = "0.0.0.0:http"; },
       "cluster.probe_listen: port must be a number"},
      {"probe listen v6", [](Config& c) { c.cluster.probe_listen = "::1:9092"; },
       "cluster.probe_listen: IPv6 addresses must be written in brackets"},
      {"probe on the gRPC port",
       [](Config& c) {
         c.cluster.role = "worker";
         c.cluster.probe_listen = c.cluster.listen;
       },
       "cluster.probe_listen: must differ from cluster.listen"},
      {"log format", [](Config& c) { c.log.format = "xml"; },
       "log.format: must be \"text\" or \"json\""},
  };
  for (const Case& tc : cases) {
    Config c = defaultConfig();
    c.server.issuer = "https://login.example.com";
    c.cluster.workers = "127.0.0.1:9091";
    tc.breakIt(c);
    absl::Status status = validateConfig(c);
    ASSERT_FALSE(status.ok()) << tc.name;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << tc.name;
    EXPECT_NE(status.message().find(tc.expected), std::string::npos) << tc.name << ": " << status;
  }
  // And the good ones pass.
  for (const char* role : {"all", "gateway", "worker"}) {
    Config c = defaultConfig();
    c.server.issuer = "https://login.example.com";
    c.cluster.role = role;
    c.cluster.workers = "workers.internal:9090";
    c.cluster.probe_listen = "0.0.0.0:9092";
    c.log.format = "json";
    EXPECT_TRUE(validateConfig(c).ok()) << role << ": " << validateConfig(c);
  }
}

// validateConfig: each case breaks one rule of a valid config and expects the
// message to name the key.
TEST_F(ConfigTest, ValidateRejectsBrokenRules) {
  struct Case {
    const char* name;
    void (*breakIt)(Config&);
    const char* expected;
  };
  const Case cases[] = {
      {"listen", [](Config& c) { c.server.listen = "localhost"; }, "server.listen"},
      {"listen port", [](Config& c) { c.server.listen = "localhost:99999"; }, "server.listen"},
      {"issuer", [](Config& c) { c.server.issuer = "ftp://x"; }, "server.issuer"},
      {"header size", [](Config& c) { c.server.max_header_bytes = 0; }, "server.max_header_bytes"},
      {"body size", [](Config& c) { c.server.max_body_bytes = 0; }, "server.max_body_bytes"},
      {"read timeout", [](Config& c) { c.server.read_timeout_ms = 0; }, "server.read_timeout_ms"},
      {"tls half", [](Config& c) { c.server.tls_cert = "c.pem"; }, "server.tls_cert"},
      {"epoch", [](Config& c) { c.runtime.epoch_tick_ms = 0; }, "runtime.epoch_tick_ms"},
      {"backend", [](Config& c) { c.store.backend = "mysql"; }, "store.backend"},
      {"sync", [](Config& c) { c.store.synchronous = "off"; }, "store.synchronous"},
      {"level", [](Config& c) { c.log.level = "verbose"; }, "log.level"},
      {"name chars", [](Config& c) { c.extensions[0].name = "Hello"; }, "extensions[0].name"},
      {"name empty", [](Config& c) { c.extensions[0].name = ""; }, "extensions[0].name"},
      {"name dup",
       [](Config& c) {
         c.extensions.push_back(c.extensions[0]);
         c.extensions[1].mount = "/other";
       },
       "extensions[1].name"},
      {"mount dup",
       [](Config& c) {
         c.extensions.push_back(c.extensions[0]);
         c.extensions[1].name = "other";
       },
       "extensions[1].mount"},
      {"mount slash", [](Config& c) { c.extensions[0].mount = "hello"; }, "extensions[0].mount"},
      {"mount trailing", [](Config& c) { c.extensions[0].mount = "/hello/"; },
       "extensions[0].mount"},
      {"mount dotdot", [](Config& c) { c.extensions[0].mount = "/a/../b"; }, "extensions[0].mount"},
      {"mount empty seg", [](Config& c) { c.extensions[0].mount = "/a//b"; },
       "extensions[0].mount"},
      {"mount query", [](Config& c) { c.extensions[0].mount = "/a?b"; }, "extensions[0].mount"},
      {"mount healthz", [](Config& c) { c.extensions[0].mount = "/healthz"; },
       "extensions[0].mount"},
      {"grant", [](Config& c) { c.extensions[0].grants.push_back("root"); },
       "unknown grant \"root\""},
      {"grant dup", [](Config& c) { c.extensions[0].grants.push_back("kv"); },
       "\"kv\" is listed twice"},
      {"module", [](Config& c) { c.extensions[0].module = ""; }, "extensions[0].module"},
      {"memory", [](Config& c) { c.extensions[0].memory_bytes = 0; }, "extensions[0].memory_mb"},
      {"deadline", [](Config& c) { c.extensions[0].deadline_ms = 0; }, "extensions[0].deadline_ms"},
      {"mount admin", [](Config& c) { c.extensions[0].mount = "/admin/x"; },
       "extensions[0].mount: \"/admin\" is reserved"},
      {"keys alg", [](Config& c) { c.keys.alg = "HS256"; },
       "keys.alg: must be one of ES256, RS256, EdDSA"},
      {"keys retention", [](Config& c) { c.keys.retention_days = 0; }, "keys.retention_days"},
      {"admin token", [](Config& c) { c.admin.enabled = true; }, "admin.token: must be at least"},
      {"admin short token",
       [](Config& c) {
         c.admin.enabled = true;
         c.admin.token = "short";
       },
       "admin.token"},
      {"client dup",
       [](Config& c) {
         c.clients.resize(2);
         c.clients[0].id = c.clients[1].id = "web";
         c.clients[1].source["id"] = "h.toml:9:6";
       },
       "h.toml:9:6: clients[1].id: \"web\" is used by an earlier client"},
  };
  for (const Case& tc : cases) {
    Config c = defaultConfig();
    c.extensions.resize(1);  // hello alone, so indexes in the messages are predictable
    tc.breakIt(c);
    absl::Status status = validateConfig(c);
    ASSERT_FALSE(status.ok()) << tc.name;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << tc.name;
    EXPECT_NE(status.message().find(tc.expected), std::string::npos) << tc.name << ": " << status;
  }
}

TEST_F(ConfigTest, ValidateAcceptsEdgeCases) {
  Config c = defaultConfig();
  c.extensions.resize(1);  // hello alone
  c.server.listen = "[::1]:0";
  c.server.tls_cert = "c.pem";
  c.server.tls_key = "k.pem";
  c.server.issuer = "https://auth.example.com/tenant";
  c.extensions[0].mount = "/";
  c.extensions[0].grants.push_back("keys");
  ExtensionConfig nested = c.extensions[0];
  nested.name = "nested_2-x";
  nested.mount = "/a/b.c/~d";
  ExtensionConfig administrator = c.extensions[0];
  administrator.name = "administrator";
  administrator.mount = "/administrator";  // only /admin and below are reserved
  c.extensions.push_back(administrator);
  c.admin.token = "";  // not needed while the API is off
  c.extensions.push_back(nested);
  EXPECT_TRUE(validateConfig(c).ok()) << validateConfig(c);
  c.extensions.clear();
  EXPECT_TRUE(validateConfig(c).ok());
}

TEST_F(ConfigTest, ValidateReportsEveryProblem) {
  Config c = defaultConfig();
  c.log.level = "loud";
  c.store.backend = "x";
  absl::Status status = validateConfig(c);
  EXPECT_NE(status.message().find("log.level"), std::string::npos);
  EXPECT_NE(status.message().find("store.backend"), std::string::npos);
}

// [web] page_template: the operator's page shell, read at start-up; a missing file or one
// without a required placeholder is an error naming the key and the file.
TEST_F(ConfigTest, PageTemplate) {
  std::string good = writeFile("<title>{{title}}</title><main>{{ body }}</main>");
  std::string noBody = writeFile("<title>{{title}}</title>");
  auto c = loadConfig(writeFile("[web]\npage_template = \"" + good + "\"\n"), nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->web.page_template, good);
  absl::StatusOr<std::optional<std::string>> shell = readPageTemplate(*c);
  ASSERT_TRUE(shell.ok()) << shell.status();
  EXPECT_EQ(shell->value_or(""), "<title>{{title}}</title><main>{{ body }}</main>");
  EXPECT_TRUE(validateConfig(*c).ok()) << validateConfig(*c);

  std::string env = "HABANERO_WEB_PAGE_TEMPLATE=" + noBody;
  const char* envp[] = {env.c_str(), nullptr};
  auto fromEnv = loadConfig("", envp);
  ASSERT_TRUE(fromEnv.ok()) << fromEnv.status();
  absl::Status status = validateConfig(*fromEnv);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("web.page_template: " + noBody + ": lacks the placeholder {{body}}"));
  EXPECT_FALSE(readPageTemplate(*fromEnv).ok());

  Config missing = defaultConfig();
  missing.web.page_template = "/nonexistent/habanero-page.html";
  EXPECT_THAT(std::string(validateConfig(missing).message()),
              ::testing::HasSubstr("web.page_template: /nonexistent/habanero-page.html: cannot open"));

  EXPECT_EQ(readPageTemplate(defaultConfig()).value(), std::nullopt) << "none: the built-in";
}

}  // namespace
}  // namespace habanero::server
