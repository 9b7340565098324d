// The host's own domain events (issue 14; docs/events.md): sign-ins, tokens the
// host signs, session ends, client and key changes, published through the event
// outbox under the publisher "habanero", so an audit or analytics extension
// subscribes to them like to any topic (manifest `subscribes`).
//
// Payloads are small JSON objects of ids and facts — subject, client_id, amr,
// the source address, "time" (ms since the Unix epoch, added here) — never a
// secret, a token, a password or a cookie.
//
// Publishing never fails or slows the caller beyond one store write: a topic
// nobody subscribes to is not written at all (the outbox would keep a record
// for a future subscriber otherwise), and a store failure is logged.
//
//   DomainEvents events(publish_to_outbox, has_subscribers, clock);
//   events.publish(topics::kSignInFailed, {{"method", "pwd"}, {"ip", addr}});
//
// Thread-safe if the two functions are.
#pragma once

#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "habanero/clock.h"
#include "habanero/status.h"

namespace habanero::auth {

namespace topics {
inline constexpr std::string_view kSignInSucceeded = "habanero.signin.succeeded";
inline constexpr std::string_view kSignInFailed = "habanero.signin.failed";
inline constexpr std::string_view kTokenIssued = "habanero.token.issued";
inline constexpr std::string_view kSessionEnded = "habanero.session.ended";
inline constexpr std::string_view kClientCreated = "habanero.client.created";
inline constexpr std::string_view kClientChanged = "habanero.client.changed";
inline constexpr std::string_view kClientRemoved = "habanero.client.removed";
inline constexpr std::string_view kKeyRotated = "habanero.key.rotated";
}  // namespace topics

// The publisher name of every host event (Event::publisher, event_get PUBLISHER).
inline constexpr std::string_view kHostPublisher = "habanero";

class DomainEvents {
 public:
  // Stores one event durably (events::Outbox::publish with kHostPublisher).
  using Publish = std::function<absl::Status(std::string_view topic, std::string_view payload)>;
  // Whether any extension subscribes to `topic` now.
  using Wanted = std::function<bool(std::string_view topic)>;

  // `clock` must outlive this.
  DomainEvents(Publish publish, Wanted wanted, const Clock& clock);

  // Publishes `fields` (a JSON object) plus "time" on `topic` when it is
  // wanted. Returns whether it was stored (false: nobody subscribes, or the
  // store failed — logged).
  bool publish(std::string_view topic, nlohmann::json fields) const;

 private:
  Publish publish_;
  Wanted wanted_;
  const Clock& clock_;
};

}  // namespace habanero::auth
