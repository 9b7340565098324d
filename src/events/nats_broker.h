// The events broker on NATS JetStream (cnats), configured by [events] broker_url.
//
// Naming (docs/cluster.md):
//   stream    options.stream (default "HABANERO"), subjects "<subject_prefix>.>",
//             file storage, duplicate window options.duplicate_window_s;
//   subject   "<subject_prefix>.<topic>" (default prefix "habanero.events");
//   message   body = the payload; Nats-Msg-Id = the outbox record's id (or its
//             relay_id after `habanero outbox retry`); headers Habanero-Event-Id,
//             Habanero-Topic, Habanero-Publisher, Habanero-Created-Ms and, for a
//             record meant for one extension only, Habanero-Subscriber;
//   consumer  one durable pull consumer per (extension, topic), explicit acks,
//             named consumerName(extension, topic), AckWait options.ack_wait_ms
//             (longer than any extension's deadline), MaxDeliver options.max_deliver.
//
// Delivery to one extension: a record "<extension>/<event id>" in the storage
// namespace kDeliveredNamespace is claimed ("delivering", expiring after AckWait)
// before the extension runs and set to "done" (kept delivered_ttl_s) before the
// ack, so a message redelivered after a lost ack, or relayed twice, is
// acknowledged without running the extension again. A worker that dies
// mid-delivery leaves the message to be redelivered after AckWait. RETRY naks
// with back-off; FAILED, or the last of max_deliver attempts, becomes a failed
// record in Outbox::kFailedNamespace and the message is terminated.
//
// Credentials: user:password@ or token@ in the URL, or a .creds file; TLS with
// tls:// (or the server's demand) and an optional CA file. The URL is never
// logged with its credentials (redactBrokerUrl).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "events/broker.h"
#include "events/outbox.h"
#include "habanero/clock.h"
#include "habanero/status.h"
#include "habanero/storage.h"

namespace habanero::events {

struct NatsBrokerOptions {
  std::string url;                 // nats://[user:pass@|token@]host:port[,nats://…] or tls://…
  std::string creds_file;          // NATS .creds (JWT + NKey seed); "" = none
  std::string ca_file;             // CA bundle for tls://; "" = the system's
  std::string stream = "HABANERO";
  std::string subject_prefix = "habanero.events";
  uint32_t duplicate_window_s = 120;
  uint32_t max_age_s = 7 * 24 * 3600;  // how long the stream keeps a message
  uint32_t ack_wait_ms = 120000;
  uint32_t max_deliver = 12;
  uint32_t retry_base_ms = 2000;   // nak delay after RETRY: doubles per attempt, ±20%
  uint32_t retry_max_ms = 300000;
  uint32_t failed_ttl_s = 7 * 24 * 3600;
  uint32_t delivered_ttl_s = 24 * 3600;  // beyond the duplicate window and AckWait
  uint32_t poll_ms = 1000;         // relay pass without a wake(); consumers' fetch wait
  uint32_t relay_lease_ms = 30000; // a record being relayed is not relayed by another
  size_t batch = 64;
  int connect_timeout_ms = 2000;
};

// OK, or InvalidArgument naming `key` and what is wrong: each comma-separated
// server must be nats://HOST:PORT or tls://HOST:PORT (optional user info).
absl::Status validateBrokerUrl(std::string_view url, std::string_view key);
// The URL without user info ("nats://host:4222"), for logs and /readyz.
std::string redactBrokerUrl(std::string_view url);
// The durable consumer of `extension` for `topic`: both sanitised to [A-Za-z0-9_-]
// plus a short hash of the pair, so distinct pairs never share a consumer.
std::string consumerName(std::string_view extension, std::string_view topic);

class NatsBroker final : public Broker {
 public:
  static constexpr std::string_view kDeliveredNamespace = "_host/events_delivered";

  // Checks the options (InvalidArgument naming events.broker_url …); does not
  // connect — start() does, and keeps trying. `storage` (the outbox's) and
  // `clock` must outlive the broker.
  static absl::StatusOr<std::unique_ptr<NatsBroker>> create(NatsBrokerOptions options,
                                                            Storage& storage, const Clock& clock);
  ~NatsBroker() override;

  void start(const Subscribers* subscribers) override;
  void stop() override;
  void wake() override;
  std::string problem() const override;

  // One relay pass on the caller's thread: records moved to the stream (each
  // deleted after its ack), or the error that stopped the pass. For tests.
  absl::StatusOr<size_t> relayOnce();

  struct Impl;  // the cnats handles (nats_broker.cc)

 private:
  NatsBroker(NatsBrokerOptions options, Storage& storage, const Clock& clock);
  void relayLoop();
  void reconcileConsumers();
  void consumerLoop(std::string extension, std::string topic, const std::atomic<bool>* stop);
  absl::Status ensureStream();

  const NatsBrokerOptions options_;
  Storage& storage_;
  const Clock& clock_;
  std::unique_ptr<Impl> impl_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  bool kicked_ = false;    // guarded by mu_
  const Subscribers* subscribers_ = nullptr;  // guarded by mu_
  std::thread relay_;
  struct Consumer {
    std::unique_ptr<std::atomic<bool>> stop;
    std::thread thread;
  };
  std::map<std::pair<std::string, std::string>, Consumer> consumers_;  // relay thread only
};

}  // namespace habanero::events
