// The runtime's own description of one extension: which module, where it is
// mounted, what the operator grants it, its limits and its settings.
//
// The runtime takes nothing else from its embedder: the server builds specs
// from its TOML configuration ([[extensions]]), a test or a
// worker builds them by hand or from any other source (as proxy-wasm's
// PluginBase is to its embedder).
//
//   ExtensionSpec spec;
//   spec.name = "hello";
//   spec.module = "/srv/ext/hello.wasm";
//   spec.mount = "/hello";
//   spec.grants.capabilities = {"http", "log", "kv"};
//   spec.settings["greeting"] = "Hi";
//
// A spec is a plain value; nothing in it is checked until Extension::load.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "habanero/limits.h"

namespace habanero::runtime {

// What the operator grants an extension. Deny by default: empty grants allow
// nothing.
struct ExtensionGrants {
  std::vector<std::string> capabilities;    // capability names (capabilities.h)
  std::vector<std::string> publish_topics;  // topics event_publish may use ("events")
  std::vector<std::string> fetch_hosts;     // host allow-list of "fetch"; empty = any public host

  bool operator==(const ExtensionGrants&) const = default;
};

// Resource limits of one instance (one request or event delivery).
struct ExtensionLimits {
  uint64_t memory_bytes = limits::kMemoryBytes;  // at most the engine's max_memory_bytes
  uint32_t table_elements = limits::kTableElements;
  uint32_t deadline_ms = limits::kDeadlineMs;  // guest time; network waits are not charged
  // Most requests of this extension running at once; the others wait for a
  // slot in the embedder's queue, holding no thread (http::DispatchQueue
  // lanes). 0: the embedder's default.
  uint32_t max_concurrency = 0;

  bool operator==(const ExtensionLimits&) const = default;
};

struct ExtensionSpec {
  std::string name;    // unique per router; the KV namespace and the log tag
  std::string module;  // .wasm path; ExtensionRouter resolves a relative one
  std::string mount;   // path prefix such as "/hello"; "/" mounts at the root
  ExtensionGrants grants;
  ExtensionLimits limits;
  std::map<std::string, std::string> settings;  // read by setting_get, as text

  bool operator==(const ExtensionSpec&) const = default;
};

}  // namespace habanero::runtime
