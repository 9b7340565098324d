// habanero edge export — copies a server's records into the files Fastly's
// local stores take (docs/edge.md), so the edge host (edge/) serves the same
// clients, users, sessions and signing keys:
//
//   habanero edge export [--config FILE] [--data-dir DIR] [--issuer URL] --out DIR
//
// writes into DIR:
//   records.json   KV store habanero_records: _host/clients, _host/users,
//                  _host/users_by_email, _host/users_by_phone
//   sessions.json  KV store habanero_sessions: _host/sessions (with their expiry)
//   kv.json        KV store habanero_kv: empty (extension data stays at the origin)
//   keys.json      secret store habanero_keys: "keyset" (private keys, PKCS#8 PEM, and
//                  the public JWKS)
//   settings.json  config store habanero_settings: "<extension>.<setting>" for every
//                  configured extension, with "issuer" filled in as the server does, and
//                  "issuer" alone for extensions the configuration does not list
//   jwks.json      the public JWKS, for reference
//   records.ndjson records.json as `fastly kv-store-entry create --file` takes it (one
//                  {"key","value":base64} per line), for a real KV store
//   fastly.toml    a manifest whose [local_server] points at these files (absolute
//                  paths), for `viceroy -C DIR/fastly.toml` or `fastly compute serve`
//
// KV keys are "<namespace>/<base64url(key)>" (edge/src/kv.rs); a value with an expiry
// carries its deadline (ms since the epoch) as metadata. Files are written 0600: keys.json
// holds private keys.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "auth/clients.h"
#include "auth/sessions.h"
#include "auth/users.h"
#include "crypto/base64url.h"
#include "crypto/key_store.h"
#include "habanero/clock.h"
#include "habanero/limits.h"
#include "server/app.h"
#include "server/config.h"

extern char** environ;

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

struct EdgeExportFlags {
  std::string config_file;
  std::string data_dir;
  std::string issuer;
  std::string out;
};

std::string dump(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::strict); }

std::string storeKey(std::string_view ns, std::string_view key) {
  return std::string(ns) + "/" + habanero::crypto::base64UrlEncode(key);
}

// Standard base64 with padding (what the Fastly API takes for KV values).
std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

bool isUtf8Text(std::string_view s) {
  Json probe = std::string(s);
  try {
    (void)probe.dump();
  } catch (const Json::exception&) {
    return false;
  }
  return true;
}

// Writes `text` to dir/name with mode 0600; false (and a message) on failure.
bool writeFile(const fs::path& dir, const std::string& name, const std::string& text) {
  fs::path path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text) || !out.flush()) {
    std::cerr << "habanero: cannot write " << path << "\n";
    return false;
  }
  ::chmod(path.c_str(), 0600);
  return true;
}

// Copies every live record of `ns` into `out` (a KV file object).
absl::Status exportNamespace(habanero::Storage& storage, std::string_view ns, Json& out,
                             size_t& count) {
  ASSIGN_OR_RETURN(std::vector<habanero::KeyValue> records,
                   storage.list(ns, habanero::limits::kMaxListRecords));
  for (const habanero::KeyValue& r : records) {
    if (!isUtf8Text(r.value)) {
      std::cerr << "habanero: skipped a record of " << ns << " that is not UTF-8 text\n";
      continue;
    }
    out[storeKey(ns, r.key)] = r.value;
    ++count;
  }
  return absl::OkStatus();
}

int edgeExport(const EdgeExportFlags& f) {
  auto cfg = habanero::server::loadConfig(f.config_file, environ);
  if (!cfg.ok()) {
    std::cerr << "habanero: " << cfg.status().message() << "\n";
    return 2;
  }
  if (!f.data_dir.empty()) cfg->server.data_dir = f.data_dir;
  if (!f.issuer.empty()) cfg->server.issuer = f.issuer;
  if (absl::Status valid = habanero::server::validateConfig(*cfg); !valid.ok()) {
    std::cerr << "habanero: " << valid.message() << "\n";
    return 2;
  }
  if (cfg->server.issuer.empty()) {
    std::cerr << "habanero: edge export needs the edge's issuer URL: pass --issuer "
                 "https://your-service.edgecompute.app (or set server.issuer)\n";
    return 2;
  }
  if (!fs::is_directory(cfg->server.data_dir)) {
    std::cerr << "habanero: " << cfg->server.data_dir << ": no such data directory\n";
    return 1;
  }
  auto storage = habanero::server::openStorage(*cfg);
  if (!storage.ok()) {
    std::cerr << "habanero: " << storage.status().message() << "\n";
    return 1;
  }
  habanero::Storage& store = **storage;
  const habanero::Clock& clock = habanero::SystemClock::instance();

  std::error_code ec;
  fs::create_directories(f.out, ec);
  fs::path out = fs::absolute(f.out, ec);
  if (ec || !fs::is_directory(out)) {
    std::cerr << "habanero: cannot create " << f.out << "\n";
    return 1;
  }

  // Records: clients and users, as stored.
  Json records = Json::object();
  size_t clients = 0, users = 0;
  absl::Status s = exportNamespace(store, habanero::auth::Clients::kNamespace, records, clients);
  for (std::string_view ns : {habanero::auth::Users::kNamespace,
                              habanero::auth::Users::kByEmailNamespace,
                              habanero::auth::Users::kByPhoneNamespace}) {
    size_t n = 0;
    if (s.ok()) s = exportNamespace(store, ns, records, n);
    if (ns == habanero::auth::Users::kNamespace) users = n;
  }
  if (!s.ok()) {
    std::cerr << "habanero: " << s.message() << "\n";
    return 1;
  }

  // Sessions keep their deadline: 12 h from auth_time (Sessions::start).
  Json sessions = Json::object();
  size_t session_count = 0;
  auto listed = store.list(habanero::auth::Sessions::kNamespace, habanero::limits::kMaxListRecords);
  if (!listed.ok()) {
    std::cerr << "habanero: " << listed.status().message() << "\n";
    return 1;
  }
  for (const habanero::KeyValue& r : *listed) {
    Json j = Json::parse(r.value, nullptr, false);
    if (!j.is_object() || !j.contains("auth_time") || !j["auth_time"].is_number_integer()) continue;
    int64_t deadline = j["auth_time"].get<int64_t>() * 1000 + habanero::limits::kSessionTtlMs;
    if (deadline <= clock.nowMs()) continue;
    sessions[storeKey(habanero::auth::Sessions::kNamespace, r.key)] =
        Json{{"data", r.value}, {"metadata", std::to_string(deadline)}};
    ++session_count;
  }

  // Keys: open the key store (with the KEK that unseals it; making the first key if the
  // server never ran), then copy the usable keys, active first, with their deadline.
  auto key_options = habanero::server::keyStoreOptions(*cfg);
  if (!key_options.ok()) {
    std::cerr << "habanero: " << key_options.status().message() << "\n";
    return 1;
  }
  auto key_store = habanero::crypto::KeyStore::open(store, clock, *key_options);
  if (!key_store.ok()) {
    std::cerr << "habanero: " << key_store.status().message() << "\n";
    return 1;
  }
  Json keys = Json::array();
  for (const auto& [info, pem] : (*key_store)->privateKeys()) {
    keys.push_back({{"kid", info.kid},
                    {"alg", info.alg},
                    {"private_key_pem", pem},
                    {"expires_ms", info.expires_ms}});
  }
  Json jwks = Json::parse((*key_store)->jwks(), nullptr, false);
  Json secrets = {{"keyset", Json{{"keys", keys}, {"jwks", jwks}}.dump()}};

  // Settings, with "issuer" filled in as App does.
  Json settings = {{"issuer", cfg->server.issuer}};  // for extensions the file does not list
  for (const habanero::server::ExtensionConfig& e : cfg->extensions) {
    std::map<std::string, std::string> values = e.settings;
    values.try_emplace("issuer", cfg->server.issuer);
    for (const auto& [k, v] : values) settings[e.name + "." + k] = v;
  }

  auto path = [&](const char* name) { return (out / name).string(); };
  std::string manifest =
      "# Written by `habanero edge export`: the local stores of `fastly compute serve` (Viceroy)\n"
      "# for the edge host (docs/edge.md).\n"
      "manifest_version = 3\nname = \"habanero-edge\"\nlanguage = \"other\"\n\n"
      "[local_server.kv_stores]\n"
      "habanero_records = { file = " + Json(path("records.json")).dump() + ", format = \"json\" }\n"
      "habanero_sessions = { file = " + Json(path("sessions.json")).dump() + ", format = \"json\" }\n"
      "habanero_kv = { file = " + Json(path("kv.json")).dump() + ", format = \"json\" }\n\n"
      "[local_server.secret_stores]\n"
      "habanero_keys = { file = " + Json(path("keys.json")).dump() + ", format = \"json\" }\n\n"
      "[local_server.config_stores]\n"
      "habanero_settings = { file = " + Json(path("settings.json")).dump() + ", format = \"json\" }\n";
  std::string ndjson;
  for (const auto& [key, value] : records.items()) {
    const std::string& v = value.get_ref<const std::string&>();
    ndjson += Json{{"key", key}, {"value", base64(v)}}.dump() + "\n";
  }
  bool ok = writeFile(out, "records.json", dump(records)) &&
            writeFile(out, "records.ndjson", ndjson) &&
            writeFile(out, "sessions.json", dump(sessions)) &&
            writeFile(out, "kv.json", "{}\n") && writeFile(out, "keys.json", dump(secrets)) &&
            writeFile(out, "settings.json", dump(settings)) &&
            writeFile(out, "jwks.json", dump(jwks)) && writeFile(out, "fastly.toml", manifest);
  if (!ok) return 1;
  std::cout << "Exported " << clients << " clients, " << users << " users, " << session_count
            << " sessions, " << keys.size() << " signing keys and " << settings.size()
            << " settings to " << out.string() << "\n"
            << "Serve locally: fastly compute serve --dir " << out.string()
            << " --skip-build --file \"$PWD/edge/bin/main.wasm\""
            << " --viceroy-path \"$(scripts/build-viceroy.sh)\"\n";
  return 0;
}

}  // namespace

// Registers `habanero edge export` (called once from main.cc).
void registerEdgeCommands(CLI::App& cli) {
  static EdgeExportFlags flags;
  CLI::App* edge = cli.add_subcommand("edge", "prepare the edge host (Fastly Compute)");
  edge->require_subcommand(1);
  CLI::App* ex = edge->add_subcommand(
      "export", "write clients, users, sessions and keys into Fastly local-store files");
  ex->add_option("--config", flags.config_file, "configuration file (TOML)");
  ex->add_option("--data-dir", flags.data_dir, "the server's data directory");
  ex->add_option("--issuer", flags.issuer, "the issuer URL the edge serves");
  ex->add_option("--out", flags.out, "directory for the store files")->required();
  ex->callback([] { std::exit(edgeExport(flags)); });
}
