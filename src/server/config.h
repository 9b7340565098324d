// Habanero's configuration: embedded defaults, then a TOML file, then
// HABANERO_<SECTION>_<KEY> environment variables, then command-line flags.
//
// Every scalar key of [server], [runtime], [store], [log], [keys], [admin],
// [mail], [sms], [outbound], [events], [web] and [cluster] can be set from the environment, e.g.
// HABANERO_SERVER_LISTEN=0.0.0.0:9000 or HABANERO_KEYS_ALG=EdDSA;
// HABANERO_SMTP_URL and HABANERO_SMTP_FROM are aliases of HABANERO_MAIL_URL/_FROM. Errors name the key and, for the file,
// its path and line: "habanero.toml:12:1: server.threads: expected an integer".
//
//   ASSIGN_OR_RETURN(Config cfg, loadConfig("habanero.toml", environ));
//
// docs/habanero.example.toml is the commented reference of every key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "habanero/limits.h"
#include "habanero/status.h"

namespace habanero::server {

struct ExtensionConfig {
  std::string name;                      // unique; names the KV namespace and log tag
  std::string module;                    // .wasm path; relative paths resolve against runtime.extension_dir
  std::string mount;                     // path prefix, "/hello"; must start with '/'
  std::vector<std::string> grants;       // capabilities the operator grants (see docs/abi.md)
  uint64_t memory_bytes = limits::kMemoryBytes;  // TOML: memory_mb
  uint32_t table_elements = limits::kTableElements;
  uint32_t deadline_ms = limits::kDeadlineMs;
  // Most of its requests running at once (the rest wait in the dispatch
  // queue); 0 (unset): three quarters of [server] dispatch_threads.
  uint32_t max_concurrency = 0;
  std::map<std::string, std::string> settings;   // [extensions.settings], values as text
  std::vector<std::string> publish;      // event topics it may publish to (capability "events")
  std::vector<std::string> fetch_hosts;  // host allow-list for "fetch"; empty = any public host

  bool operator==(const ExtensionConfig&) const = default;
};

// A client registration declared in the file ([[clients]]). App::create
// upserts each into the client store; the registration rules are those of
// `habanero client add` (auth::Clients), checked there.
struct StaticClientConfig {
  std::string id;
  std::optional<std::string> secret;  // absent: a public client
  bool is_public = true;              // TOML: public; false requires a secret
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
  std::vector<std::string> grant_types = {"authorization_code", "refresh_token"};
  std::vector<std::string> scopes = {"openid", "profile", "email", "offline_access"};
  std::string name;
  bool first_party = false;
  std::string token_format = "jwt";
  // Where each key was written, "file:line:column" (and "" for the table
  // itself), so errors found later still name the file, line and key.
  std::map<std::string, std::string> source;

  bool operator==(const StaticClientConfig&) const = default;
};

struct Config {
  struct Server {
    std::string listen = "127.0.0.1:8080";  // ADDR:PORT; port 0 picks a free port
    std::string issuer;                     // "" -> http://localhost:<port>
    std::string data_dir = "data";
    uint32_t threads = 0;                   // 0 -> one per core
    uint64_t max_header_bytes = limits::kMaxHeaderBytes;
    uint64_t max_body_bytes = limits::kMaxBodyBytes;
    uint32_t read_timeout_ms = limits::kReadTimeoutMs;
    uint32_t idle_timeout_ms = limits::kIdleTimeoutMs;
    uint32_t shutdown_grace_ms = limits::kShutdownGraceMs;
    uint32_t dispatch_threads = limits::kDispatchThreads;   // requests run here, not on io threads
    uint64_t max_queued_requests = limits::kMaxQueuedRequests;
    uint32_t queue_timeout_ms = limits::kQueueTimeoutMs;
    std::string trusted_proxies;            // space-separated IPs/CIDRs whose X-Forwarded-* count
    uint32_t hsts_max_age_s = 31'536'000;   // Strict-Transport-Security on secure requests; 0: none
    std::string tls_cert;                   // PEM chain; TLS is on when both are set
    std::string tls_key;
  } server;

  struct Runtime {
    std::string extension_dir;              // "" -> the build's extension directory
    uint32_t epoch_tick_ms = limits::kEpochTickMs;
    bool module_cache = true;               // compiled modules under <data_dir>/cache
    uint32_t watch_interval_ms = 1000;      // poll extension files for changes; 0 = off
    uint32_t pool_instances = limits::kPoolTotalInstances;
  } runtime;

  struct Store {
    std::string backend = "sqlite";         // "sqlite", or "postgres" (implied by url)
    std::string path;                       // "" -> <data_dir>/habanero.db
    std::string synchronous = "full";       // sqlite: "full" or "normal"
    // postgres://user@host:port/db?sslmode=verify-full (HABANERO_STORE_URL); "" = SQLite.
    std::string url;
    std::string password_file;              // postgres: a file holding only the password
    uint32_t pool_size = 16;                // postgres: connections per process
    uint32_t connect_timeout_ms = 5000;     // postgres
    uint32_t statement_timeout_ms = 5000;   // postgres: also bounds waits for a connection
  } store;

  struct Log {
    std::string level = "info";             // trace, debug, info, warn, error
    // "text" or "json" (JSON lines: time, level, message, request_id when known;
    // src/cluster/logging.h).
    std::string format = "text";
  } log;

  struct Keys {
    std::string alg = "ES256";              // of new keys: ES256, RS256 or EdDSA
    uint32_t retention_days = 7;            // a retired key keeps verifying this long
    // The key-encryption key of the private keys at rest: a file holding 32
    // random bytes in base64 (`openssl rand -base64 32`). Required with a
    // PostgreSQL store; "" with SQLite = <data_dir>/kek, generated on first start.
    std::string kek_file;
    std::string kek;                        // the same, inline (HABANERO_KEYS_KEK); wins over kek_file
  } keys;

  // CORS for browser-based clients (src/server/cors.h). Lists are
  // space-separated. Paths are the request paths (the oauth2 extension's
  // defaults at mount "/").
  struct Cors {
    bool enabled = true;
    std::string paths = "/token /userinfo /revoke";
    std::string public_paths =
        "/.well-known/openid-configuration /.well-known/oauth-authorization-server /jwks.json";
    std::string allowed_origins;  // exact "https://app.example" origins besides the clients'
  } cors;

  struct Admin {
    bool enabled = false;                   // the /admin/ HTTP API (src/server/admin_api.h)
    std::string token;                      // bearer token; required when enabled
  } admin;

  // Outbound facilities (design 0002). Credentials live here only.
  struct Mail {
    std::string url;   // smtp://user:pass@host:587 (STARTTLS) or smtps://…:465; "" = no mail
    std::string from;  // "Habanero <login@example.com>"; required with url
    std::string ca_file;  // PEM CAs to trust for the server's certificate; "" = the system's
  } mail;

  struct Sms {
    std::string url;   // kannel://user:pass@host:13013 or twilio+https://SID:TOKEN@host; "" = none
    std::string from;  // sender id or number
    std::string ca_file;  // PEM CAs for a twilio+https gateway; "" = the system's
  } sms;

  struct Outbound {
    bool allow_loopback = false;            // development only: let "fetch" reach 127.0.0.1
    uint32_t fetch_timeout_ms = 5000;
    uint64_t fetch_max_bytes = 1 << 20;
    // Slow upstreams (outbound::FetchLimits): fetches in flight per target host:port and in
    // all (over either: the fetch fails at once), and how long a target whose connection
    // failed is refused without trying. 0 = no limit / no negative cache.
    uint32_t fetch_max_per_host = 4;
    uint32_t fetch_max_total = 32;
    uint32_t fetch_negative_cache_ms = 5000;
  } outbound;

  // Abuse limits of the host's authentication facilities (src/auth/).
  struct Auth {
    // Failed client authentication (client_authenticate), a token bucket per client id
    // (`client_auth_burst` failures at once) and one per source address
    // (`client_auth_address_burst`, larger: many clients may share an address), each
    // refilled by one every `client_auth_refill_ms`; an empty bucket refuses at once
    // (429 + Retry-After). A burst of 0 turns that bucket off.
    uint32_t client_auth_burst = 10;
    uint32_t client_auth_address_burst = 100;
    uint32_t client_auth_refill_ms = 6000;
    // Pending login attempts (cookieless /authorize): at most this many begun per
    // source address and in all within an attempt's 10 min lifetime; over either,
    // /authorize answers 503 + Retry-After. The total bounds the rows a flood leaves
    // (the SQLite store purges expired rows at about 1000 a minute).
    uint32_t login_attempts_per_address = 50;
    uint32_t login_attempts_total = 10000;
  } auth;

  struct Events {
    uint32_t poll_ms = 1000;                // the dispatcher also wakes on every publish
    uint32_t retry_base_ms = 2000;          // first retry delay; doubles per attempt (+ jitter)
    uint32_t retry_max_ms = 300000;
    uint32_t max_attempts = 12;             // then the record is marked failed
    uint32_t failed_ttl_s = 7 * 24 * 3600;  // failed records stay visible this long
    // How long a record leased for delivery stays with the process that leased it; a
    // process killed mid-delivery leaves it to another after this. Keep it longer than the
    // slowest delivery of a batch (docs/events.md), or a slow one may be delivered twice.
    uint32_t lease_ms = 120000;
    // NATS JetStream (docs/cluster.md): events go from the outbox to this broker, which
    // delivers them to subscribers; "" = in-process delivery. nats://[user:pass@]HOST:PORT
    // or tls://…, several comma-separated; credentials never appear in logs.
    std::string broker_url;
    std::string broker_creds_file;   // NATS .creds file (JWT + NKey seed)
    std::string broker_ca_file;      // CA for tls:// ("" = the system's)
    std::string broker_stream = "HABANERO";             // one stream per installation
    std::string broker_subject_prefix = "habanero.events";  // subject = prefix.topic
    uint32_t broker_ack_wait_ms = 120000;  // redelivery after a worker died; > any deadline
    uint32_t broker_duplicate_window_s = 120;
  } events;

  // The one shell of every HTML page: the host's and every extension's (the host hands it
  // to each as the setting "page_template"; sdk/cpp/habanero/page_shell.hh).
  struct Web {
    // An HTML file replacing the built-in web/page.html, read at start-up. It must hold the
    // placeholders {{title}} (the page title, escaped) and {{body}} (the page's markup).
    // "" = the built-in shell.
    std::string page_template;
  } web;

  // The cluster roles (docs/cluster.md, src/cluster/). "all" is one process.
  struct Cluster {
    std::string role = "all";               // all | gateway | worker (`serve --role`)
    // gateway: the workers, "HOST:PORT HOST:PORT" (spaces or commas); a host name
    // with several addresses is several workers (re-resolved every few seconds).
    std::string workers;
    std::string listen = "127.0.0.1:9090";  // worker: the gRPC port (ADDR:PORT)
    uint32_t threads = 0;                   // worker: request threads; 0 -> 2 per core
    uint32_t request_timeout_ms = 30000;    // gateway: a worker's answer, retries included
    uint32_t health_interval_ms = 1000;     // gateway: health checks of every worker
    uint32_t min_workers = 1;               // gateway: /readyz needs this many healthy
    // worker: ADDR:PORT of a small HTTP listener for /healthz, /readyz and /metrics
    // (other roles serve them on server.listen); "" = none.
    std::string probe_listen;
    // Mutual TLS between gateway and workers: each side's certificate and key, and
    // the CA that signs the other side's. All empty: plaintext.
    std::string tls_cert;
    std::string tls_key;
    std::string tls_ca;
  } cluster;

  std::vector<StaticClientConfig> clients;  // [[clients]]; none by default

  std::vector<ExtensionConfig> extensions;  // when the file has none: the default set
};

// The built-in defaults, including the default extension set.
Config defaultConfig();

// Loads `path` (may be empty: defaults only) and applies `env` (entries
// "NAME=VALUE", e.g. from `environ`; may be nullptr). InvalidArgument errors
// name the file, line and key; unknown keys are errors, not ignored.
absl::StatusOr<Config> loadConfig(const std::string& path, const char* const* env);

// Checks cross-field rules (mount prefixes unique and well-formed, grants
// known, sizes > 0, tls_cert and tls_key both or neither, keys.alg known,
// admin.token set when the admin API is on, static client ids unique).
// Static clients' registration rules are checked where they are stored.
absl::Status validateConfig(const Config& config);

// The operator's page shell (web.page_template), read and checked now; nullopt when none is
// configured (the built-in web/page.html applies). Errors name the key and the file:
// "web.page_template: /etc/habanero/page.html: lacks the placeholder {{body}}".
absl::StatusOr<std::optional<std::string>> readPageTemplate(const Config& config);

}  // namespace habanero::server
