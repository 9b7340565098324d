#include "runtime/capabilities.h"
#include "server/config.h"
#include "habanero/strings.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <variant>

// toml++ reports parse errors by exception (Debian ships only the throwing
// build). They are caught here and never leave this file.
#include <toml++/toml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_join.h"

// The shell's rules are the guest library's (one source for host and extensions).
#include <habanero/page_shell.hh>

namespace habanero::server {
namespace {

// Debian's Abseil keeps its own absl::string_view (not an alias of std's).
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A scalar key of a section ([server], [runtime], …), and where it lives in
// Config. The target's type is the member's, so the table cannot mismatch.
using Target = std::variant<std::string*, uint32_t*, uint64_t*, bool*>;
struct Field {
  std::string_view section;
  std::string_view key;
  Target (*target)(Config&);
};

#define HABANERO_CONFIG_FIELD(sec, k)                      \
  Field {                                                  \
    #sec, #k, [](Config& c) -> Target { return &c.sec.k; } \
  }

const Field kFields[] = {
    HABANERO_CONFIG_FIELD(server, listen),
    HABANERO_CONFIG_FIELD(server, issuer),
    HABANERO_CONFIG_FIELD(server, data_dir),
    HABANERO_CONFIG_FIELD(server, threads),
    HABANERO_CONFIG_FIELD(server, max_header_bytes),
    HABANERO_CONFIG_FIELD(server, max_body_bytes),
    HABANERO_CONFIG_FIELD(server, read_timeout_ms),
    HABANERO_CONFIG_FIELD(server, idle_timeout_ms),
    HABANERO_CONFIG_FIELD(server, shutdown_grace_ms),
    HABANERO_CONFIG_FIELD(server, trusted_proxies),
    HABANERO_CONFIG_FIELD(server, hsts_max_age_s),
    HABANERO_CONFIG_FIELD(server, dispatch_threads),
    HABANERO_CONFIG_FIELD(server, max_queued_requests),
    HABANERO_CONFIG_FIELD(server, queue_timeout_ms),
    HABANERO_CONFIG_FIELD(server, tls_cert),
    HABANERO_CONFIG_FIELD(server, tls_key),
    HABANERO_CONFIG_FIELD(runtime, extension_dir),
    HABANERO_CONFIG_FIELD(runtime, epoch_tick_ms),
    HABANERO_CONFIG_FIELD(runtime, module_cache),
    HABANERO_CONFIG_FIELD(runtime, watch_interval_ms),
    HABANERO_CONFIG_FIELD(runtime, pool_instances),
    HABANERO_CONFIG_FIELD(store, backend),
    HABANERO_CONFIG_FIELD(store, path),
    HABANERO_CONFIG_FIELD(store, synchronous),
    HABANERO_CONFIG_FIELD(store, url),
    HABANERO_CONFIG_FIELD(store, password_file),
    HABANERO_CONFIG_FIELD(store, pool_size),
    HABANERO_CONFIG_FIELD(store, connect_timeout_ms),
    HABANERO_CONFIG_FIELD(store, statement_timeout_ms),
    HABANERO_CONFIG_FIELD(log, level),
    HABANERO_CONFIG_FIELD(log, format),
    HABANERO_CONFIG_FIELD(keys, alg),
    HABANERO_CONFIG_FIELD(keys, retention_days),
    HABANERO_CONFIG_FIELD(keys, kek_file),
    HABANERO_CONFIG_FIELD(keys, kek),
    HABANERO_CONFIG_FIELD(cors, enabled),
    HABANERO_CONFIG_FIELD(cors, paths),
    HABANERO_CONFIG_FIELD(cors, public_paths),
    HABANERO_CONFIG_FIELD(cors, allowed_origins),
    HABANERO_CONFIG_FIELD(admin, enabled),
    HABANERO_CONFIG_FIELD(admin, token),
    HABANERO_CONFIG_FIELD(mail, url),
    HABANERO_CONFIG_FIELD(mail, from),
    HABANERO_CONFIG_FIELD(mail, ca_file),
    HABANERO_CONFIG_FIELD(sms, url),
    HABANERO_CONFIG_FIELD(sms, from),
    HABANERO_CONFIG_FIELD(sms, ca_file),
    HABANERO_CONFIG_FIELD(outbound, allow_loopback),
    HABANERO_CONFIG_FIELD(outbound, fetch_timeout_ms),
    HABANERO_CONFIG_FIELD(outbound, fetch_max_bytes),
    HABANERO_CONFIG_FIELD(outbound, fetch_max_per_host),
    HABANERO_CONFIG_FIELD(outbound, fetch_max_total),
    HABANERO_CONFIG_FIELD(outbound, fetch_negative_cache_ms),
    HABANERO_CONFIG_FIELD(auth, client_auth_burst),
    HABANERO_CONFIG_FIELD(auth, client_auth_address_burst),
    HABANERO_CONFIG_FIELD(auth, client_auth_refill_ms),
    HABANERO_CONFIG_FIELD(auth, login_attempts_per_address),
    HABANERO_CONFIG_FIELD(auth, login_attempts_total),
    HABANERO_CONFIG_FIELD(events, poll_ms),
    HABANERO_CONFIG_FIELD(events, retry_base_ms),
    HABANERO_CONFIG_FIELD(events, retry_max_ms),
    HABANERO_CONFIG_FIELD(events, max_attempts),
    HABANERO_CONFIG_FIELD(events, failed_ttl_s),
    HABANERO_CONFIG_FIELD(events, lease_ms),
    HABANERO_CONFIG_FIELD(events, broker_url),
    HABANERO_CONFIG_FIELD(events, broker_creds_file),
    HABANERO_CONFIG_FIELD(events, broker_ca_file),
    HABANERO_CONFIG_FIELD(events, broker_stream),
    HABANERO_CONFIG_FIELD(events, broker_subject_prefix),
    HABANERO_CONFIG_FIELD(events, broker_ack_wait_ms),
    HABANERO_CONFIG_FIELD(events, broker_duplicate_window_s),
    HABANERO_CONFIG_FIELD(web, page_template),
    HABANERO_CONFIG_FIELD(cluster, role),
    HABANERO_CONFIG_FIELD(cluster, workers),
    HABANERO_CONFIG_FIELD(cluster, listen),
    HABANERO_CONFIG_FIELD(cluster, threads),
    HABANERO_CONFIG_FIELD(cluster, request_timeout_ms),
    HABANERO_CONFIG_FIELD(cluster, health_interval_ms),
    HABANERO_CONFIG_FIELD(cluster, min_workers),
    HABANERO_CONFIG_FIELD(cluster, probe_listen),
    HABANERO_CONFIG_FIELD(cluster, tls_cert),
    HABANERO_CONFIG_FIELD(cluster, tls_key),
    HABANERO_CONFIG_FIELD(cluster, tls_ca),
};

#undef HABANERO_CONFIG_FIELD

constexpr std::string_view kSections[] = {"server", "runtime", "store",    "log",
                                          "keys",   "admin",   "mail",     "sms",
                                          "outbound", "auth", "events", "web", "cluster",
                                          "cors"};
// Other names operators know these keys by (the issue's and common SMTP tooling's).
constexpr std::pair<std::string_view, std::string_view> kEnvAliases[] = {
    {"HABANERO_SMTP_URL", "HABANERO_MAIL_URL"},
    {"HABANERO_SMTP_FROM", "HABANERO_MAIL_FROM"},
};
constexpr std::string_view kKeyAlgs[] = {"ES256", "RS256", "EdDSA"};
// The admin API's bearer token must not be guessable.
constexpr size_t kMinAdminTokenBytes = 16;
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

// wasm32 linear memory cannot exceed 4 GiB.
constexpr uint64_t kMaxMemoryMb = 4096;

const Field* findField(std::string_view section, std::string_view key) {
  for (const Field& f : kFields) {
    if (f.section == section && f.key == key) return &f;
  }
  return nullptr;
}

std::string_view typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// "habanero.toml:12:5: " for a node or key with a known position.
std::string where(const toml::source_region& source, const std::string& path) {
  return absl::StrCat(path, ":", source.begin.line, ":", source.begin.column, ": ");
}

absl::Status fileError(const toml::source_region& source, const std::string& path,
                       std::string_view key, std::string_view complaint) {
  return absl::InvalidArgumentError(
      absl::StrCat(where(source, path), av(key), ": ", av(complaint)));
}

// Range-checks an integer for an unsigned target; "" when it fits.
template <typename T>
std::string checkUnsigned(int64_t v) {
  if (v < 0) return "expected a non-negative integer";
  if (static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
    return absl::StrCat("must be at most ", std::numeric_limits<T>::max());
  }
  return "";
}

// Assigns a TOML value to `target`; returns "" or what is wrong with it.
std::string assignFromToml(const Target& target, const toml::node& node) {
  if (auto* s = std::get_if<std::string*>(&target)) {
    const auto* v = node.as_string();
    if (v == nullptr) return absl::StrCat("expected a string, got ", av(typeName(node)));
    **s = v->get();
    return "";
  }
  if (auto* b = std::get_if<bool*>(&target)) {
    const auto* v = node.as_boolean();
    if (v == nullptr) return absl::StrCat("expected a boolean, got ", av(typeName(node)));
    **b = v->get();
    return "";
  }
  const auto* v = node.as_integer();
  if (v == nullptr) return absl::StrCat("expected an integer, got ", av(typeName(node)));
  if (auto* u32 = std::get_if<uint32_t*>(&target)) {
    std::string problem = checkUnsigned<uint32_t>(v->get());
    if (problem.empty()) **u32 = static_cast<uint32_t>(v->get());
    return problem;
  }
  auto* u64 = std::get<uint64_t*>(target);
  std::string problem = checkUnsigned<uint64_t>(v->get());
  if (problem.empty()) *u64 = static_cast<uint64_t>(v->get());
  return problem;
}

// Assigns environment text to `target`; returns "" or what is wrong with it.
std::string assignFromText(const Target& target, std::string_view text) {
  if (auto* s = std::get_if<std::string*>(&target)) {
    **s = std::string(text);
    return "";
  }
  if (auto* b = std::get_if<bool*>(&target)) {
    if (text == "true" || text == "1") {
      **b = true;
    } else if (text == "false" || text == "0") {
      **b = false;
    } else {
      return "expected true, false, 1 or 0";
    }
    return "";
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    return "expected a non-negative decimal integer";
  }
  if (auto* u32 = std::get_if<uint32_t*>(&target)) {
    if (ec == std::errc::result_out_of_range || value > std::numeric_limits<uint32_t>::max()) {
      return absl::StrCat("must be at most ", std::numeric_limits<uint32_t>::max());
    }
    **u32 = static_cast<uint32_t>(value);
    return "";
  }
  if (ec == std::errc::result_out_of_range) {
    return absl::StrCat("must be at most ", std::numeric_limits<uint64_t>::max());
  }
  *std::get<uint64_t*>(target) = value;
  return "";
}

std::string formatFloat(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string text(buf, ec == std::errc() ? end : buf);
  // Keep it recognisably a float: 1.0 stays "1.0", not "1".
  if (text.find_first_of(".eEni") == std::string::npos) text += ".0";
  return text;
}

absl::Status parseSection(const toml::table& table, std::string_view section,
                          const std::string& path, Config& config) {
  for (auto&& [key, node] : table) {
    std::string dotted = absl::StrCat(av(section), ".", av(key.str()));
    const Field* field = findField(section, key.str());
    if (field == nullptr) return fileError(key.source(), path, dotted, "unknown key");
    std::string problem = assignFromToml(field->target(config), node);
    if (!problem.empty()) return fileError(node.source(), path, dotted, problem);
  }
  return absl::OkStatus();
}

absl::Status parseStringArray(const toml::node& node, const std::string& path,
                              const std::string& dotted, std::vector<std::string>& out) {
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return fileError(node.source(), path, dotted,
                     absl::StrCat("expected an array of strings, got ", av(typeName(node))));
  }
  out.clear();
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const auto* s = item.as_string();
    if (s == nullptr) {
      return fileError(item.source(), path, absl::StrCat(dotted, "[", i, "]"),
                       absl::StrCat("expected a string, got ", av(typeName(item))));
    }
    out.push_back(s->get());
  }
  return absl::OkStatus();
}

absl::Status parseSettings(const toml::node& node, const std::string& path,
                           const std::string& dotted, std::map<std::string, std::string>& out) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return fileError(node.source(), path, dotted,
                     absl::StrCat("expected a table, got ", av(typeName(node))));
  }
  for (auto&& [key, value] : *table) {
    std::string name(key.str());
    std::string item_key = absl::StrCat(dotted, ".", name);
    if (const auto* s = value.as_string()) {
      out[name] = s->get();
    } else if (const auto* i = value.as_integer()) {
      out[name] = std::to_string(i->get());
    } else if (const auto* b = value.as_boolean()) {
      out[name] = b->get() ? "true" : "false";
    } else if (const auto* f = value.as_floating_point()) {
      out[name] = formatFloat(f->get());
    } else {
      return fileError(
          value.source(), path, item_key,
          absl::StrCat("expected a string, integer, float or boolean, got ", av(typeName(value))));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ExtensionConfig> parseExtension(const toml::table& table, size_t index,
                                               const std::string& path) {
  const std::string prefix = absl::StrCat("extensions[", index, "]");
  ExtensionConfig ext;
  bool has_name = false, has_module = false, has_mount = false;
  for (auto&& [key, node] : table) {
    std::string_view k = key.str();
    std::string dotted = absl::StrCat(prefix, ".", av(k));
    std::string problem;
    if (k == "name") {
      problem = assignFromToml(&ext.name, node);
      has_name = true;
    } else if (k == "module") {
      problem = assignFromToml(&ext.module, node);
      has_module = true;
    } else if (k == "mount") {
      problem = assignFromToml(&ext.mount, node);
      has_mount = true;
    } else if (k == "grants") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, ext.grants));
    } else if (k == "memory_mb") {
      const auto* v = node.as_integer();
      if (v == nullptr) {
        problem = absl::StrCat("expected an integer, got ", av(typeName(node)));
      } else if (v->get() < 1 || static_cast<uint64_t>(v->get()) > kMaxMemoryMb) {
        problem = absl::StrCat("must be between 1 and ", kMaxMemoryMb, " (MiB)");
      } else {
        ext.memory_bytes = static_cast<uint64_t>(v->get()) << 20;
      }
    } else if (k == "table_elements") {
      problem = assignFromToml(&ext.table_elements, node);
    } else if (k == "deadline_ms") {
      problem = assignFromToml(&ext.deadline_ms, node);
    } else if (k == "max_concurrency") {
      const auto* v = node.as_integer();
      if (v == nullptr) {
        problem = absl::StrCat("expected an integer, got ", av(typeName(node)));
      } else if (v->get() < 1 || v->get() > 100'000) {
        problem = "must be between 1 and 100000";
      } else {
        ext.max_concurrency = static_cast<uint32_t>(v->get());
      }
    } else if (k == "settings") {
      RETURN_IF_ERROR(parseSettings(node, path, dotted, ext.settings));
    } else if (k == "publish") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, ext.publish));
    } else if (k == "fetch_hosts") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, ext.fetch_hosts));
    } else {
      return fileError(key.source(), path, dotted, "unknown key");
    }
    if (!problem.empty()) return fileError(node.source(), path, dotted, problem);
  }
  for (auto [present, key] : {std::pair{has_name, "name"}, std::pair{has_module, "module"},
                              std::pair{has_mount, "mount"}}) {
    if (!present) {
      return fileError(table.source(), path, absl::StrCat(prefix, ".", key),
                       "required key missing");
    }
  }
  return ext;
}

std::string position(const toml::source_region& source, const std::string& path) {
  return absl::StrCat(path, ":", source.begin.line, ":", source.begin.column);
}

absl::StatusOr<StaticClientConfig> parseClient(const toml::table& table, size_t index,
                                               const std::string& path) {
  const std::string prefix = absl::StrCat("clients[", index, "]");
  StaticClientConfig client;
  client.source[""] = position(table.source(), path);
  bool has_id = false;
  std::optional<bool> is_public;
  for (auto&& [key, node] : table) {
    std::string_view k = key.str();
    std::string dotted = absl::StrCat(prefix, ".", av(k));
    std::string problem;
    if (k == "id") {
      problem = assignFromToml(&client.id, node);
      has_id = true;
    } else if (k == "secret") {
      std::string secret;
      problem = assignFromToml(&secret, node);
      client.secret = std::move(secret);
    } else if (k == "public") {
      bool value = false;
      problem = assignFromToml(&value, node);
      is_public = value;
    } else if (k == "redirect_uris") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, client.redirect_uris));
    } else if (k == "post_logout_redirect_uris") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, client.post_logout_redirect_uris));
    } else if (k == "grant_types") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, client.grant_types));
    } else if (k == "scopes") {
      RETURN_IF_ERROR(parseStringArray(node, path, dotted, client.scopes));
    } else if (k == "name") {
      problem = assignFromToml(&client.name, node);
    } else if (k == "first_party") {
      problem = assignFromToml(&client.first_party, node);
    } else if (k == "token_format") {
      problem = assignFromToml(&client.token_format, node);
    } else {
      return fileError(key.source(), path, dotted, "unknown key");
    }
    if (!problem.empty()) return fileError(node.source(), path, dotted, problem);
    client.source[std::string(k)] = position(node.source(), path);
  }
  if (!has_id) {
    return fileError(table.source(), path, absl::StrCat(prefix, ".id"), "required key missing");
  }
  // No secret means a public client; a confidential one needs its secret
  // here, since a generated one could not be shown to anyone.
  client.is_public = is_public.value_or(!client.secret.has_value());
  if (!client.is_public && !client.secret) {
    const toml::node* at = table.get("public");
    return fileError(at != nullptr ? at->source() : table.source(), path,
                     absl::StrCat(prefix, ".secret"),
                     "a confidential client (public = false) needs a secret");
  }
  if (client.is_public && client.secret) {
    return fileError(table.get("secret")->source(), path, absl::StrCat(prefix, ".secret"),
                     "a public client (public = true) has no secret");
  }
  return client;
}

absl::Status applyDocument(const toml::table& doc, const std::string& path, Config& config) {
  for (auto&& [key, node] : doc) {
    std::string_view k = key.str();
    if (k == "extensions") {
      const toml::array* array = node.as_array();
      if (array == nullptr) {
        return fileError(
            node.source(), path, k,
            absl::StrCat("expected an array of tables ([[extensions]]), got ", av(typeName(node))));
      }
      config.extensions.clear();  // the file's set replaces the default set
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& item = *array->get(i);
        const toml::table* table = item.as_table();
        if (table == nullptr) {
          return fileError(item.source(), path, absl::StrCat("extensions[", i, "]"),
                           absl::StrCat("expected a table, got ", av(typeName(item))));
        }
        ASSIGN_OR_RETURN(ExtensionConfig ext, parseExtension(*table, i, path));
        config.extensions.push_back(std::move(ext));
      }
      continue;
    }
    if (k == "clients") {
      const toml::array* array = node.as_array();
      if (array == nullptr) {
        return fileError(
            node.source(), path, k,
            absl::StrCat("expected an array of tables ([[clients]]), got ", av(typeName(node))));
      }
      config.clients.clear();
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& item = *array->get(i);
        const toml::table* table = item.as_table();
        if (table == nullptr) {
          return fileError(item.source(), path, absl::StrCat("clients[", i, "]"),
                           absl::StrCat("expected a table, got ", av(typeName(item))));
        }
        ASSIGN_OR_RETURN(StaticClientConfig client, parseClient(*table, i, path));
        config.clients.push_back(std::move(client));
      }
      continue;
    }
    if (std::find(std::begin(kSections), std::end(kSections), k) == std::end(kSections)) {
      return fileError(key.source(), path, k, "unknown key");
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return fileError(node.source(), path, k,
                       absl::StrCat("expected a table, got ", av(typeName(node))));
    }
    RETURN_IF_ERROR(parseSection(*table, k, path, config));
  }
  return absl::OkStatus();
}

std::string envName(const Field& field) {
  std::string name = absl::StrCat("HABANERO_", av(field.section), "_", av(field.key));
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

absl::Status applyEnvironment(const char* const* env, Config& config) {
  if (env == nullptr) return absl::OkStatus();
  for (; *env != nullptr; ++env) {
    std::string_view entry(*env);
    if (!entry.starts_with("HABANERO_")) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = entry.substr(0, eq);
    std::string_view value = entry.substr(eq + 1);
    for (auto [alias, canonical] : kEnvAliases) {
      if (name == alias) name = canonical;
    }
    // Only the configuration sections are ours; other HABANERO_* variables
    // (build and tooling settings) are left alone.
    std::string_view section;
    for (std::string_view s : kSections) {
      std::string upper = absl::StrCat("HABANERO_", av(s), "_");
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (name.starts_with(upper)) section = s;
    }
    if (section.empty()) continue;
    const Field* match = nullptr;
    for (const Field& f : kFields) {
      if (f.section == section && envName(f) == name) match = &f;
    }
    if (match == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(av(name), ": unknown setting (no such key in [", av(section), "])"));
    }
    std::string problem = assignFromText(match->target(config), value);
    if (!problem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(av(name), ": ", av(match->section), ".", av(match->key), ": ", problem));
    }
  }
  return absl::OkStatus();
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool isMountChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '/';
}

// "" when `mount` is a well-formed mount prefix, else the complaint.
std::string checkMount(std::string_view mount) {
  if (!mount.starts_with("/")) return "must start with '/'";
  if (mount == "/") return "";
  if (mount.ends_with("/")) return "must not end with '/' (except the root mount \"/\")";
  if (!std::all_of(mount.begin(), mount.end(), isMountChar)) {
    return "may only contain letters, digits, '-', '.', '_', '~' and '/'";
  }
  size_t pos = 1;
  while (pos <= mount.size()) {
    size_t slash = mount.find('/', pos);
    if (slash == std::string_view::npos) slash = mount.size();
    std::string_view segment = mount.substr(pos, slash - pos);
    if (segment.empty()) return "must not contain empty segments (\"//\")";
    if (segment == "." || segment == "..") return "must not contain \".\" or \"..\" segments";
    pos = slash + 1;
  }
  if (mount == "/healthz") return "\"/healthz\" is reserved for the host";
  if (mount == "/admin" || mount.starts_with("/admin/")) {
    return "\"/admin\" is reserved for the host's admin API";
  }
  return "";
}

// "" when `listen` is HOST:PORT or [V6]:PORT with a port of 0..65535.
std::string checkListen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return "expected HOST:PORT";
  std::string_view host = listen.substr(0, colon);
  std::string_view port = listen.substr(colon + 1);
  if (host.starts_with("[")) {
    if (!host.ends_with("]") || host.size() < 3) return "unbalanced '[' in IPv6 address";
  } else if (host.find(':') != std::string_view::npos) {
    return "IPv6 addresses must be written in brackets, e.g. [::1]:8080";
  }
  if (host.empty()) return "missing host";
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return "port must be a number from 0 to 65535";
  }
  return "";
}

}  // namespace

Config defaultConfig() {
  Config config;
  ExtensionConfig hello;
  hello.name = "hello";
  hello.module = "hello.wasm";
  hello.mount = "/hello";
  hello.grants = {"http", "log", "kv", "clock", "settings", "crypto"};
  hello.settings["greeting"] = "Hello";
  config.extensions.push_back(std::move(hello));

  // The OAuth 2.0 / OpenID Connect provider at the issuer root, and the
  // password authenticator its login page offers (docs/design/0001).
  ExtensionConfig oauth2;
  oauth2.name = "oauth2";
  oauth2.module = "oauth2.wasm";
  oauth2.mount = "/";
  oauth2.grants = {"http",     "log",      "kv",    "crypto",  "keys", "clock",
                   "settings", "sessions", "users", "clients", "fetch"};
  config.extensions.push_back(std::move(oauth2));

  ExtensionConfig password;
  password.name = "password";
  password.module = "password.wasm";
  password.mount = "/login/password";
  password.grants = {"http", "log", "kv", "crypto", "clock", "login", "users", "settings"};
  config.extensions.push_back(std::move(password));

  // The IndieAuth server (design 0002), with its own issuer <issuer>/indieauth.
  ExtensionConfig indieauth;
  indieauth.name = "indieauth";
  indieauth.module = "indieauth.wasm";
  indieauth.mount = "/indieauth";
  indieauth.grants = {"http",     "log",      "kv",    "crypto",  "clock",
                      "settings", "sessions", "users", "clients", "fetch"};
  config.extensions.push_back(std::move(indieauth));
  return config;
}

absl::StatusOr<Config> loadConfig(const std::string& path, const char* const* env) {
  Config config = defaultConfig();
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat(path, ": cannot open configuration file: ", std::strerror(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return absl::UnavailableError(absl::StrCat(path, ": read error"));
    toml::table doc;
    try {
      doc = toml::parse(text.str(), path);
    } catch (const toml::parse_error& e) {
      return absl::InvalidArgumentError(absl::StrCat(where(e.source(), path), av(e.description())));
    }
    RETURN_IF_ERROR(applyDocument(doc, path, config));
  }
  RETURN_IF_ERROR(applyEnvironment(env, config));
  return config;
}

absl::Status validateConfig(const Config& config) {
  std::vector<std::string> problems;
  auto complain = [&](std::string key, std::string_view what) {
    problems.push_back(absl::StrCat(key, ": ", av(what)));
  };

  const Config::Server& server = config.server;
  if (std::string p = checkListen(server.listen); !p.empty()) complain("server.listen", p);
  if (!server.issuer.empty()) {
    std::string_view issuer = server.issuer;
    if (!issuer.starts_with("https://") && !issuer.starts_with("http://")) {
      complain("server.issuer", "must be an http:// or https:// URL");
    } else if (issuer.find_first_of("?#") != std::string_view::npos) {
      complain("server.issuer", "must not have a query or fragment");
    }
  }
  if (server.data_dir.empty()) complain("server.data_dir", "must not be empty");
  if (server.max_header_bytes == 0 ||
      server.max_header_bytes > std::numeric_limits<uint32_t>::max()) {
    complain("server.max_header_bytes", "must be between 1 and 4294967295");
  }
  if (server.max_body_bytes == 0) complain("server.max_body_bytes", "must be > 0");
  if (server.read_timeout_ms == 0) complain("server.read_timeout_ms", "must be > 0");
  if (server.dispatch_threads == 0) complain("server.dispatch_threads", "must be > 0");
  if (server.max_queued_requests == 0) complain("server.max_queued_requests", "must be > 0");
  if (server.queue_timeout_ms == 0) complain("server.queue_timeout_ms", "must be > 0");
  if (server.idle_timeout_ms == 0) complain("server.idle_timeout_ms", "must be > 0");
  if (server.tls_cert.empty() != server.tls_key.empty()) {
    complain("server.tls_cert", "tls_cert and tls_key must be set together (or neither)");
  }

  for (std::string_view origin : words(config.cors.allowed_origins)) {
    size_t scheme_end = origin.find("://");
    bool ok = (origin.starts_with("https://") || origin.starts_with("http://")) &&
              origin.find_first_of("/?#@", scheme_end + 3) == std::string_view::npos &&
              origin.size() > scheme_end + 3 &&
              std::none_of(origin.begin(), origin.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
    if (!ok) {
      complain("cors.allowed_origins",
               strCat("'", origin, "' is not an origin like https://app.example[:port] "
                            "(lower case, no path)"));
    }
  }
  for (const std::string* list : {&config.cors.paths, &config.cors.public_paths}) {
    for (std::string_view path : words(*list)) {
      if (!path.starts_with("/")) {
        complain(list == &config.cors.paths ? "cors.paths" : "cors.public_paths",
                 strCat("'", path, "' must start with '/'"));
      }
    }
  }

  if (config.runtime.epoch_tick_ms == 0) complain("runtime.epoch_tick_ms", "must be > 0");
  if (config.runtime.pool_instances == 0) complain("runtime.pool_instances", "must be > 0");

  if (config.store.backend != "sqlite" && config.store.backend != "postgres") {
    complain("store.backend", "must be \"sqlite\" or \"postgres\"");
  }
  if (!config.store.url.empty() && !config.store.url.starts_with("postgres://") &&
      !config.store.url.starts_with("postgresql://")) {
    complain("store.url", "must start with postgres:// (or be empty for SQLite)");
  }
  if (config.store.backend == "postgres" && config.store.url.empty()) {
    complain("store.url", "must be set when store.backend is \"postgres\"");
  }
  if (config.store.pool_size == 0) complain("store.pool_size", "must be > 0");
  if (config.store.connect_timeout_ms == 0) complain("store.connect_timeout_ms", "must be > 0");
  if (config.store.statement_timeout_ms == 0) {
    complain("store.statement_timeout_ms", "must be > 0");
  }
  if (config.store.synchronous != "full" && config.store.synchronous != "normal") {
    complain("store.synchronous", "must be \"full\" or \"normal\"");
  }
  if (std::find(std::begin(kLogLevels), std::end(kLogLevels), config.log.level) ==
      std::end(kLogLevels)) {
    complain("log.level", "must be one of trace, debug, info, warn, error");
  }
  if (config.log.format != "text" && config.log.format != "json") {
    complain("log.format", "must be \"text\" or \"json\"");
  }

  if (std::find(std::begin(kKeyAlgs), std::end(kKeyAlgs), config.keys.alg) ==
      std::end(kKeyAlgs)) {
    complain("keys.alg", "must be one of ES256, RS256, EdDSA");
  }
  if (config.keys.retention_days == 0 || config.keys.retention_days > 3650) {
    complain("keys.retention_days", "must be between 1 and 3650");
  }
  if (config.admin.enabled && config.admin.token.size() < kMinAdminTokenBytes) {
    complain("admin.token",
             absl::StrCat("must be at least ", kMinAdminTokenBytes,
                          " characters when admin.enabled is true (e.g. openssl rand -hex 32)"));
  }
  if (!config.mail.url.empty()) {
    std::string_view url = config.mail.url;
    if (!url.starts_with("smtp://") && !url.starts_with("smtps://")) {
      complain("mail.url", "must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)");
    }
    if (config.mail.from.empty()) complain("mail.from", "must be set when mail.url is set");
  }
  if (!config.sms.url.empty()) {
    std::string_view url = config.sms.url;
    if (!url.starts_with("kannel://") && !url.starts_with("twilio+https://") &&
        !url.starts_with("twilio+http://")) {
      complain("sms.url", "must start with kannel:// or twilio+https://");
    }
  }
  if (config.outbound.fetch_timeout_ms == 0) complain("outbound.fetch_timeout_ms", "must be > 0");
  if (config.outbound.fetch_max_bytes == 0) complain("outbound.fetch_max_bytes", "must be > 0");
  if (config.auth.client_auth_refill_ms == 0) complain("auth.client_auth_refill_ms", "must be > 0");
  if (config.events.poll_ms == 0) complain("events.poll_ms", "must be > 0");
  if (config.events.retry_base_ms == 0) complain("events.retry_base_ms", "must be > 0");
  if (config.events.retry_max_ms < config.events.retry_base_ms) {
    complain("events.retry_max_ms", "must be at least events.retry_base_ms");
  }
  if (config.events.max_attempts == 0) complain("events.max_attempts", "must be > 0");
  if (config.events.lease_ms == 0) complain("events.lease_ms", "must be > 0");
  // events.broker_url is checked where it is used (events::NatsBroker::create).
  if (config.events.broker_ack_wait_ms == 0) complain("events.broker_ack_wait_ms", "must be > 0");

  const Config::Cluster& cluster = config.cluster;
  if (cluster.role != "all" && cluster.role != "gateway" && cluster.role != "worker") {
    complain("cluster.role", "must be \"all\", \"gateway\" or \"worker\"");
  }
  if (cluster.role == "gateway" && cluster.workers.find_first_not_of(" ,\t") == std::string::npos) {
    complain("cluster.workers", "must list the workers (HOST:PORT ...) when cluster.role is gateway");
  }
  if (cluster.role != "all" && config.server.issuer.empty()) {
    complain("server.issuer", "must be set in a cluster (the gateway's public URL, the same on "
                              "every gateway and worker)");
  }
  if (cluster.request_timeout_ms == 0) complain("cluster.request_timeout_ms", "must be > 0");
  if (cluster.health_interval_ms == 0) complain("cluster.health_interval_ms", "must be > 0");
  if (cluster.tls_cert.empty() != cluster.tls_key.empty()) {
    complain("cluster.tls_cert", "tls_cert and tls_key must be set together (or neither)");
  }
  if (std::string p = checkListen(cluster.listen); !p.empty()) complain("cluster.listen", p);
  if (!cluster.probe_listen.empty()) {
    if (std::string p = checkListen(cluster.probe_listen); !p.empty()) {
      complain("cluster.probe_listen", p);
    } else if (cluster.role == "worker" && cluster.probe_listen == cluster.listen) {
      complain("cluster.probe_listen", "must differ from cluster.listen (the gRPC port)");
    }
  }
  if (cluster.role == "gateway" && !cluster.tls_cert.empty() && cluster.tls_ca.empty()) {
    complain("cluster.tls_ca", "must be set with tls_cert on a gateway (the CA of the workers)");
  }

  std::set<std::string> client_ids;
  for (size_t i = 0; i < config.clients.size(); ++i) {
    const StaticClientConfig& client = config.clients[i];
    if (!client_ids.insert(client.id).second) {
      auto at = client.source.find("id");
      complain(absl::StrCat(at != client.source.end() ? at->second + ": " : "", "clients[", i,
                            "].id"),
               absl::StrCat("\"", client.id, "\" is used by an earlier client"));
    }
  }

  std::set<std::string> names, mounts;
  for (size_t i = 0; i < config.extensions.size(); ++i) {
    const ExtensionConfig& ext = config.extensions[i];
    const std::string key = absl::StrCat("extensions[", i, "]");
    if (ext.name.empty() || !std::all_of(ext.name.begin(), ext.name.end(), isNameChar)) {
      complain(key + ".name", "must match [a-z0-9_-]+");
    } else if (!names.insert(ext.name).second) {
      complain(key + ".name", absl::StrCat("\"", ext.name, "\" is used by an earlier extension"));
    }
    if (ext.module.empty()) complain(key + ".module", "must not be empty");
    if (std::string p = checkMount(ext.mount); !p.empty()) {
      complain(key + ".mount", p);
    } else if (!mounts.insert(ext.mount).second) {
      complain(key + ".mount", absl::StrCat("\"", ext.mount, "\" is used by an earlier extension"));
    }
    std::set<std::string_view> grants;
    for (const std::string& grant : ext.grants) {
      if (!runtime::isKnownCapability(grant)) {
        std::string known;
        for (const runtime::Capability& c : runtime::allCapabilities()) {
          known += (known.empty() ? "" : ", ") + std::string(c.name);
        }
        complain(key + ".grants",
                 absl::StrCat("unknown grant \"", grant, "\" (known: ", known, ")"));
      } else if (!grants.insert(grant).second) {
        complain(key + ".grants", absl::StrCat("\"", grant, "\" is listed twice"));
      }
    }
    if (ext.memory_bytes == 0 || ext.memory_bytes > (kMaxMemoryMb << 20)) {
      complain(key + ".memory_mb", "must be between 1 and 4096");
    }
    for (const std::string& topic : ext.publish) {
      if (!runtime::isValidTopic(topic)) {
        complain(key + ".publish",
                 absl::StrCat("\"", topic, "\" is not a topic name ([a-z0-9_.-]+, at most 128)"));
      }
    }
    for (const std::string& host : ext.fetch_hosts) {
      if (host.empty() || host.find_first_of("/:@ ") != std::string::npos) {
        complain(key + ".fetch_hosts", absl::StrCat("\"", host, "\" is not a host name"));
      }
    }
    if (ext.table_elements == 0) complain(key + ".table_elements", "must be > 0");
    if (ext.deadline_ms == 0) complain(key + ".deadline_ms", "must be > 0");
  }

  if (absl::StatusOr<std::optional<std::string>> shell = readPageTemplate(config); !shell.ok()) {
    problems.push_back(std::string(shell.status().message()));
  }

  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

absl::StatusOr<std::optional<std::string>> readPageTemplate(const Config& config) {
  const std::string& path = config.web.page_template;
  if (path.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("web.page_template: ", path,
                                                   ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("web.page_template: ", path, ": read error"));
  }
  if (std::string problem = sdk::pageTemplateProblem(text.str()); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("web.page_template: ", path, ": ", problem));
  }
  return text.str();
}

}  // namespace habanero::server
