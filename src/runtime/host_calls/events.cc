// Capability "events": durable topics (design 0002, docs/abi.md §6).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "events/outbox.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result eventPublish(Call& c, uint32_t topic_ptr, uint32_t topic_len, uint32_t payload_ptr,
                    uint32_t payload_len) {
  auto topic = c.mem.view(topic_ptr, topic_len);
  auto payload = c.mem.view(payload_ptr, payload_len);
  if (!topic || !payload) return HABANERO_INVALID_MEMORY;
  if (c.st.spec == nullptr) return HABANERO_UNAVAILABLE;
  const std::vector<std::string>& granted = c.st.spec->grants.publish_topics;
  if (std::find(granted.begin(), granted.end(), *topic) == granted.end()) {
    spdlog::warn("[{}] event_publish to '{}' refused: not in its publish grants", c.st.extension,
                 logSafe(*topic));
    return HABANERO_DENIED;
  }
  if (payload->size() > events::Outbox::kMaxPayloadBytes) return HABANERO_LIMIT_EXCEEDED;
  absl::Status s = c.services().outbox->publish(c.st.extension, *topic, *payload);
  if (!s.ok()) return c.unavailable(s);
  return HABANERO_OK;
}

Result eventGet(Call& c, int32_t field, uint32_t out, uint32_t cap, uint32_t out_len) {
  if (!c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  const events::Event* event = c.st.event;
  if (event == nullptr) return HABANERO_NOT_FOUND;
  std::string value;
  switch (field) {
    case HABANERO_EVENT_TOPIC: value = event->topic; break;
    case HABANERO_EVENT_PAYLOAD: value = event->payload; break;
    case HABANERO_EVENT_ID: value = event->id; break;
    case HABANERO_EVENT_ATTEMPT: value = std::to_string(event->attempts); break;
    case HABANERO_EVENT_PUBLISHER: value = event->publisher; break;
    default: return HABANERO_INVALID_ARGUMENT;
  }
  return c.writeOut(out, cap, out_len, value);
}

}  // namespace habanero::runtime::host
