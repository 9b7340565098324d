#include "auth/domain_events.h"

#include <spdlog/spdlog.h>

namespace habanero::auth {

DomainEvents::DomainEvents(Publish publish, Wanted wanted, const Clock& clock)
    : publish_(std::move(publish)), wanted_(std::move(wanted)), clock_(clock) {}

bool DomainEvents::publish(std::string_view topic, nlohmann::json fields) const {
  if (!publish_ || (wanted_ && !wanted_(topic))) return false;
  fields["time"] = clock_.nowMs();
  std::string payload = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  absl::Status stored = publish_(topic, payload);
  if (!stored.ok()) {
    spdlog::error("domain event {} was not published: {}", topic, std::string(stored.message()));
    return false;
  }
  return true;
}

}  // namespace habanero::auth
