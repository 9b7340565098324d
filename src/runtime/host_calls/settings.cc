// Capability "settings": the operator's [extensions.settings], as text
// (docs/abi.md §6).
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result settingGet(Call& c, uint32_t name_ptr, uint32_t name_len, uint32_t out, uint32_t cap,
                  uint32_t out_len) {
  auto name = c.mem.view(name_ptr, name_len);
  if (!name || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  if (c.st.spec == nullptr) return HABANERO_NOT_FOUND;
  const std::map<std::string, std::string>& settings = c.st.spec->settings;
  auto it = settings.find(std::string(*name));
  if (it == settings.end()) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, it->second);
}

}  // namespace habanero::runtime::host
