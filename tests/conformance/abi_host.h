// The one driver interface of the ABI conformance suite (README.md): what a host
// must offer for the suite's cases (cases.json) to run against it. Implemented
// in-process over src/runtime (inprocess_host.cc) and over HTTP against any
// running host (http_host.cc); a gRPC worker or an edge host needs only a
// deployment the HTTP driver can reach.
//
//   InProcessHost host(HABANERO_WASM_OUT);
//   ASSERT_TRUE(host.prepare(suite.fixtures()).ok());
//   CaseResult r = suite.run(suite.cases()[0], host);
//
// Hosts are used from one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "habanero/dispatch.h"
#include "habanero/status.h"

namespace habanero::conformance {

// One module under one operator configuration: the unit a case runs against.
// The host serves it as an extension named `name` (its KV namespace and log
// tag) mounted at "/" + name, whatever the module's own manifest name is.
struct Setup {
  std::string name;   // [a-z0-9_]+
  std::string probe;  // the module: <wasm dir>/<probe>.wasm and its manifest
  std::vector<std::string> grants;
  std::map<std::string, std::string> settings;
  std::vector<std::string> publish;      // event topics it may publish to
  std::vector<std::string> fetch_hosts;  // "fetch" allow-list; empty = any public host
  uint64_t memory_bytes = 16ull << 20;
  uint32_t deadline_ms = 1000;

  std::string mount() const { return "/" + name; }
};

class AbiHost {
 public:
  virtual ~AbiHost() = default;

  // The name differences files use (differences/<name>.json).
  virtual std::string name() const = 0;

  // Seeds the host records the cases expect (cases.json "fixtures": users,
  // clients). A host that cannot seed returns OK and documents how its operator
  // seeds them.
  virtual absl::Status prepare(const nlohmann::json& fixtures) = 0;

  // Makes `setup` available at its mount. A refusal is an error whose message is
  // the host's own (the load error), when reportsLoadErrors().
  virtual absl::Status load(const Setup& setup) = 0;
  virtual bool reportsLoadErrors() const { return true; }

  // One request; `request.path` includes the mount. Never throws.
  virtual Response dispatch(const Request& request) = 0;

  // A value cases refer to as ${fixture:NAME} (e.g. "fetch_base", the base URL
  // of an HTTP server the host may fetch from); nullopt if the host has none,
  // which skips the case with a reason.
  virtual std::optional<std::string> fixture(std::string_view name) { return std::nullopt; }

  // The host's log since the last clearLog(), or nullopt if it cannot be seen
  // (then cases' "log" expectations are not checked).
  virtual std::optional<std::string> log() { return std::nullopt; }
  virtual void clearLog() {}
};

}  // namespace habanero::conformance
