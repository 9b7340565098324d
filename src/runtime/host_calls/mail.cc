// Capability "mail": email through the host's SMTP server, whose credentials
// the guest never sees (design 0002, docs/abi.md §6). The JSON shape is
// outbound/json_api.h's. The row waits on the network (Wait::kNetwork): that
// time is not charged to the deadline.
#include "outbound/json_api.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result mailSend(Call& c, uint32_t json_ptr, uint32_t json_len) {
  auto text = c.mem.view(json_ptr, json_len);
  if (!text) return HABANERO_INVALID_MEMORY;
  auto message = outbound::mailMessageFromJson(*text);
  if (!message.ok()) return HABANERO_INVALID_ARGUMENT;
  return sendResult(c, c.services().mailer->send(*message));
}

}  // namespace habanero::runtime::host
