// Capabilities "clock" and "log" (docs/abi.md §6).
#include <spdlog/spdlog.h>

#include "habanero/limits.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result clockNowMs(Call& c, uint32_t out) {
  if (!c.mem.writeI64(out, c.services().clock->nowMs())) return HABANERO_INVALID_MEMORY;
  return HABANERO_OK;
}

Result log(Call& c, int32_t level, uint32_t msg_ptr, uint32_t len) {
  auto msg = c.mem.view(msg_ptr, len);
  if (!msg) return HABANERO_INVALID_MEMORY;
  spdlog::level::level_enum spd;
  switch (level) {
    case HABANERO_LOG_DEBUG: spd = spdlog::level::debug; break;
    case HABANERO_LOG_INFO: spd = spdlog::level::info; break;
    case HABANERO_LOG_WARN: spd = spdlog::level::warn; break;
    case HABANERO_LOG_ERROR: spd = spdlog::level::err; break;
    default: return HABANERO_INVALID_ARGUMENT;
  }
  spdlog::log(spd, "[{}] {}", c.st.extension, logSafe(msg->substr(0, limits::kMaxLogLineBytes)));
  return HABANERO_OK;
}

}  // namespace habanero::runtime::host
