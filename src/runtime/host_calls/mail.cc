// Capabilities "mail" and "sms": messages through the host's SMTP server and
// SMS gateway, whose credentials the guest never sees (design 0002,
// docs/abi.md §6). The JSON shapes are outbound/json_api.h's. Both rows wait
// on the network (Wait::kNetwork): that time is not charged to the deadline.
#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "outbound/json_api.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {
namespace {

// Maps a sender's Status to the ABI's result (mail.h, sms.h).
Result sendResult(const Call& c, const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return HABANERO_OK;
    case absl::StatusCode::kInvalidArgument:
      spdlog::warn("[{}] {}: {}", c.st.extension, c.name, sv(s.message()));
      return HABANERO_INVALID_ARGUMENT;
    case absl::StatusCode::kFailedPrecondition:
      spdlog::error("[{}] {}: refused for good: {}", c.st.extension, c.name, sv(s.message()));
      return HABANERO_REJECTED;
    default:
      spdlog::warn("[{}] {}: {}", c.st.extension, c.name, sv(s.message()));
      return HABANERO_UNAVAILABLE;
  }
}

}  // namespace

Result mailSend(Call& c, uint32_t json_ptr, uint32_t json_len) {
  auto text = c.mem.view(json_ptr, json_len);
  if (!text) return HABANERO_INVALID_MEMORY;
  auto message = outbound::mailMessageFromJson(*text);
  if (!message.ok()) return HABANERO_INVALID_ARGUMENT;
  return sendResult(c, c.services().mailer->send(*message));
}

Result smsSend(Call& c, uint32_t json_ptr, uint32_t json_len) {
  auto text = c.mem.view(json_ptr, json_len);
  if (!text) return HABANERO_INVALID_MEMORY;
  auto message = outbound::smsMessageFromJson(*text);
  if (!message.ok()) return HABANERO_INVALID_ARGUMENT;
  return sendResult(c, c.services().sms->send(*message));
}

}  // namespace habanero::runtime::host
