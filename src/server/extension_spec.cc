#include "server/extension_spec.h"

namespace habanero::server {

runtime::ExtensionSpec toExtensionSpec(const ExtensionConfig& config) {
  runtime::ExtensionSpec spec;
  spec.name = config.name;
  spec.module = config.module;
  spec.mount = config.mount;
  spec.grants.capabilities = config.grants;
  spec.grants.publish_topics = config.publish;
  spec.grants.fetch_hosts = config.fetch_hosts;
  spec.limits.memory_bytes = config.memory_bytes;
  spec.limits.table_elements = config.table_elements;
  spec.limits.deadline_ms = config.deadline_ms;
  spec.limits.max_concurrency = config.max_concurrency;
  spec.settings = config.settings;
  return spec;
}

std::vector<runtime::ExtensionSpec> toExtensionSpecs(const std::vector<ExtensionConfig>& configs) {
  std::vector<runtime::ExtensionSpec> specs;
  specs.reserve(configs.size());
  for (const ExtensionConfig& c : configs) specs.push_back(toExtensionSpec(c));
  return specs;
}

}  // namespace habanero::server
