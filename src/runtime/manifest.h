// An extension's manifest: the sidecar file `<module>.manifest.toml` next to
// `<module>.wasm`, written by the extension's author.
//
//   name = "hello"
//   abi = 1
//   description = "Greets; counts visits."
//   status = "stable"                 # or "alpha"
//   routes = ["/", "/count"]          # under the mount; "/x/*" matches a prefix
//   capabilities = ["http", "log", "kv", "settings"]
//   optional_capabilities = ["signup"]  # used if granted; calls answer DENIED if not
//   robust_to = ["malformed query parameters"]
//   kind = "authenticator"            # or "protocol"; optional (design 0001)
//   display_name = "Email and password"  # shown on the host's /login page
//   subscribes = ["magic-email.deliver"]  # event topics delivered to habanero_on_event
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
  // Capabilities the module can do without: it may import them even when the
  // operator does not grant them; the calls then answer HABANERO_DENIED.
  std::vector<std::string> optional_capabilities;
  std::vector<std::string> robust_to;
  // What the extension is to the host: "authenticator" (a login method the
  // host's /login page offers), "protocol" (e.g. oauth2), or "" (neither).
  std::string kind;
  // A human-readable name, e.g. for the /login page; "" if not given (the
  // page then shows the extension's name). Printable text, at most 100 bytes.
  std::string display_name;
  // Event topics the host delivers to the module's habanero_on_event export
  // (design 0002). Non-empty requires the "events" capability and the export.
  std::vector<std::string> subscribes;

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
