// An extension's manifest: the sidecar file `<module>.manifest.toml` next to
// `<module>.wasm`, written by the extension's author.
//
//   name = "hello"
//   abi = 1
//   description = "Greets; counts visits."
//   status = "stable"                 # or "alpha"
//   routes = ["/", "/count"]          # under the mount; "/x/*" matches a prefix
//   capabilities = ["http", "log", "kv", "settings"]
//   robust_to = ["malformed query parameters"]
//
// The manifest says what the extension wants; the operator's configuration
// says what it gets (grants). Loading fails unless every wanted capability is
// granted, and unless every import of the module belongs to a granted one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "habanero/status.h"

namespace habanero::runtime {

struct Manifest {
  std::string name;
  int abi = 0;
  std::string description;
  std::string status;                     // "stable" or "alpha"
  std::vector<std::string> routes;        // each starts with '/'
  std::vector<std::string> capabilities;  // known capability names
  std::vector<std::string> robust_to;

  // Whether `sub_path` (the request path below the mount, starting with '/')
  // is one of the declared routes.
  bool matchesRoute(std::string_view sub_path) const;
};

// Parses manifest text. `origin` names the file in errors, which read
// "<origin>:<line>:<col>: <key>: <problem>". Unknown keys are errors.
absl::StatusOr<Manifest> parseManifest(std::string_view text, std::string_view origin);

// Reads and parses the file at `path`.
absl::StatusOr<Manifest> loadManifest(const std::string& path);

}  // namespace habanero::runtime
