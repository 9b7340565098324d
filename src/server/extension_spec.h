// The server's [[extensions]] configuration as the runtime's description of
// an extension (runtime::ExtensionSpec): the one place the two meet.
#pragma once

#include <vector>

#include "runtime/extension_spec.h"
#include "server/config.h"

namespace habanero::server {

// `config` as a spec; the module path is passed on unresolved (the router
// resolves it against runtime.extension_dir).
runtime::ExtensionSpec toExtensionSpec(const ExtensionConfig& config);

std::vector<runtime::ExtensionSpec> toExtensionSpecs(const std::vector<ExtensionConfig>& configs);

}  // namespace habanero::server
