// A message broker that delivers the outbox's events in place of the in-process
// dispatcher (issue 14; docs/cluster.md "Events on NATS JetStream").
//
// The outbox stays the durable point: Outbox::publish() commits a record (with
// OutboxOptions::broker, one per event) before it returns. A broker then
//   - relays records to itself, deleting each only after the broker acknowledged
//     it (under the record's id, so a repeat is dropped), retrying with back-off
//     while the broker is away — records wait in the outbox meanwhile;
//   - delivers every message to each subscribing extension (Subscribers::deliver)
//     at least once, never twice to one subscriber in practice, and turns what
//     fails for good into a failed outbox record (`habanero outbox list`).
//
//   events::BrokerPtr broker = ...;           // e.g. NatsBroker::create()
//   outbox.setPublishListener([&] { broker->wake(); });
//   broker->start(&subscribers);              // nullptr: relay only (a gateway)
//   ...
//   broker->stop();
//
// The runtime never sees a Broker: extensions reach events through the Outbox.
#pragma once

#include <memory>
#include <string>

namespace habanero::events {

class Subscribers;

class Broker {
 public:
  virtual ~Broker() = default;

  // Starts the relay and, with `subscribers` (borrowed; must outlive stop()),
  // one consumer per subscription it lists. Returns at once: a broker that is
  // away is retried in the background.
  virtual void start(const Subscribers* subscribers) = 0;
  // Stops and joins every thread; a delivery in progress finishes first.
  virtual void stop() = 0;
  // A publish happened: relay now rather than at the next poll.
  virtual void wake() = 0;
  // Empty while the broker is reachable and ready; else why not, for /readyz
  // (never holds credentials).
  virtual std::string problem() const = 0;
};

using BrokerPtr = std::unique_ptr<Broker>;

}  // namespace habanero::events
