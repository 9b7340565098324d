// Event topics with a durable outbox (capability "events", design 0002).
//
// publish() stores one record per subscriber in the Storage namespace
// "_host/outbox" before it returns, so an event survives a crash, and an SMTP
// server or SMS gateway that is down only delays it. A dispatcher thread
// (start()/stop()) delivers due records through a Subscribers implementation
// (the extension router in the server), at least once:
//
//   Done    -> the record is deleted;
//   Retry   -> attempts+1, next attempt after retry_base_ms * 2^(attempts-1)
//              (capped at retry_max_ms, ±20% jitter);
//   Failed  -> moved to kFailedNamespace as "failed" for failed_ttl_s, with
//              the reason, for `habanero outbox list`; so is a record that
//              used max_attempts.
//
// A record is leased before delivery — by compare-and-set, or on a store with
// LeasingStorage (PostgreSQL) by claim(), where processes skip the records
// another one is claiming (FOR UPDATE SKIP LOCKED) instead of racing for them —
// so two processes sharing one database never deliver it at the same time; a
// lease that a crashed process left expires after lease_ms and the record is
// delivered again. Subscribers must therefore be idempotent (Event::id is stable).
//
//   events::Outbox outbox(storage, clock, {});
//   outbox.start(&subscribers);
//   RETURN_IF_ERROR(outbox.publish("magic-email", "magic-email.deliver", payload));
//
// With a broker (OutboxOptions::broker, src/events/broker.h) publish() stores one
// record per event, with no subscriber, and a relay moves it to the broker, which
// fans it out to subscribers; start() is then not used.
//
// Thread-safe. The ABI (event_publish, habanero_on_event) never knows which.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "habanero/clock.h"
#include "habanero/limits.h"
#include "habanero/status.h"
#include "habanero/storage.h"

namespace habanero::events {

// One delivery record: an event for one subscriber.
struct Event {
  std::string id;          // the record's key; stable across retries
  std::string topic;
  std::string payload;
  std::string publisher;   // the publishing extension
  std::string subscriber;  // the extension it is for
  uint32_t attempts = 0;   // deliveries started so far (1 during the first)
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;
  std::string state = "pending";  // "pending" or "failed"
  std::string last_error;         // why the last attempt did not finish ("" if none)
  // With a broker: the message id the relay publishes this record under (empty: `id`).
  // retryNow() sets a new one, so the broker's duplicate window does not drop a retry.
  std::string relay_id;
};

enum class Outcome { kDone, kRetry, kFailed };

struct Delivery {
  Outcome outcome;
  std::string error;  // for the record and the log when not kDone
};

// Who receives what: implemented by the server over its current extensions.
class Subscribers {
 public:
  virtual ~Subscribers() = default;
  // Names of the loaded extensions subscribed to `topic` (may be empty).
  virtual std::vector<std::string> subscribersOf(std::string_view topic) const = 0;
  // Delivers to `event.subscriber`; nullopt if that extension is not loaded
  // now (the record waits). Called on the dispatcher thread.
  virtual std::optional<Delivery> deliver(const Event& event) const = 0;
  // Every (extension, topic) subscription of the loaded extensions, for a broker's
  // consumers. Empty by default.
  virtual std::vector<std::pair<std::string, std::string>> subscriptions() const { return {}; }
};

struct OutboxOptions {
  uint32_t poll_ms = 1000;
  uint32_t retry_base_ms = 2000;
  uint32_t retry_max_ms = 300000;
  uint32_t max_attempts = 12;
  uint32_t failed_ttl_s = 7 * 24 * 3600;
  uint32_t lease_ms = 120000;  // longer than any extension deadline
  size_t batch = 256;          // records read per pass
  // A broker delivers (src/events/broker.h): publish() stores one record per event with
  // no subscriber, for the broker's relay; the dispatcher (start()) is not used.
  bool broker = false;
};

class Outbox {
 public:
  static constexpr std::string_view kNamespace = "_host/outbox";  // pending records
  // Records that failed for good, kept apart so the dispatcher's scans (the
  // oldest `batch` records of kNamespace) never fill up with them.
  static constexpr std::string_view kFailedNamespace = "_host/outbox_failed";
  static constexpr size_t kMaxPayloadBytes = 64 * 1024;

  // `storage` and `clock` must outlive the Outbox.
  Outbox(Storage& storage, const Clock& clock, OutboxOptions options);
  ~Outbox();  // stops the dispatcher

  // Stores the event for every current subscriber of `topic` (for none: one
  // record with an empty subscriber, fanned out when one is loaded). OK means
  // durably stored. InvalidArgument for a bad topic or an oversized payload;
  // Unavailable when the store fails (then nothing was published).
  absl::Status publish(std::string_view publisher, std::string_view topic,
                       std::string_view payload);

  // Sets who receives events; needed before publish() fans out and before
  // start(). `subscribers` must outlive the Outbox (or the next call).
  void setSubscribers(const Subscribers* subscribers);

  // Called after every successful publish() (a broker's relay wakes up). Set it
  // before publishing starts.
  void setPublishListener(std::function<void()> listener);

  // Starts / stops the dispatcher thread. stop() waits for a delivery in
  // progress to end.
  void start();
  void stop();

  // Delivers every due record once, on the caller's thread; returns how many
  // deliveries it attempted. For tests and the dispatcher.
  absl::StatusOr<size_t> runOnce();

  // Up to `limit` pending and up to `limit` failed records, oldest first.
  absl::StatusOr<std::vector<Event>> list(size_t limit = limits::kMaxListRecords) const;

  // What waits to be delivered, for /metrics: pending records (counting at
  // most `limit`; `capped` when there are more) and the creation time of the
  // oldest (0 when none). Reads the pending records once: not for request paths.
  struct Stats {
    size_t pending = 0;
    bool capped = false;
    int64_t oldest_created_ms = 0;
  };
  absl::StatusOr<Stats> stats(size_t limit) const;

  // Makes a failed or waiting record due now with its attempts reset.
  // NotFound if there is no such record.
  absl::Status retryNow(std::string_view id);

 private:
  absl::Status deliverOne(const Event& event, std::string_view stored);
  // The pass of runOnce() on a LeasingStorage: claim due records, then deliver.
  absl::StatusOr<size_t> runClaimed(LeasingStorage& leasing, const Subscribers& subscribers);
  // Delivers `leased` (the record as leased: one more attempt) and stores the
  // outcome; `event` is the record before the lease.
  absl::Status deliverLeased(const Event& event, const Event& leased,
                             const Subscribers& subscribers);
  // Copies a record published before anyone subscribed to each of `targets`,
  // then removes it.
  void fanOut(const std::string& key, const Event& e, const std::vector<std::string>& targets);
  int64_t backoffMs(uint32_t attempts) const;

  Storage& storage_;
  const Clock& clock_;
  const OutboxOptions options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;       // guarded by mu_
  bool kicked_ = false;         // guarded by mu_: publish() since the last pass
  uint64_t seq_ = 0;            // guarded by mu_: orders records within a millisecond
  const Subscribers* subscribers_ = nullptr;  // guarded by mu_
  std::function<void()> on_publish_;           // guarded by mu_
  std::thread thread_;
};

// Text form of a record, as stored (JSON), and back; nullopt for a corrupt one.
std::string encodeEvent(const Event& event);
std::optional<Event> decodeEvent(std::string_view key, std::string_view text);

}  // namespace habanero::events
