#include "events/outbox.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "crypto/random.h"
#include "habanero/strings.h"

namespace habanero::events {
namespace {

using Json = nlohmann::json;

bool isValidTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > 128) return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace

std::string encodeEvent(const Event& e) {
  Json j = {{"topic", e.topic},
            {"payload", e.payload},
            {"publisher", e.publisher},
            {"subscriber", e.subscriber},
            {"attempts", e.attempts},
            {"created_ms", e.created_ms},
            {"next_attempt_ms", e.next_attempt_ms},
            {"state", e.state},
            {"last_error", e.last_error}};
  if (!e.relay_id.empty()) j["relay_id"] = e.relay_id;
  // Payloads are bytes; replace invalid UTF-8 rather than throw (publish()
  // refuses such payloads, so this only guards corrupt input).
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<Event> decodeEvent(std::string_view key, std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Event e;
  e.id = std::string(key);
  auto str = [&](const char* name, std::string& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* name, auto& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) return false;
    out = it->get<std::decay_t<decltype(out)>>();
    return true;
  };
  if (!str("topic", e.topic) || !str("payload", e.payload) || !str("publisher", e.publisher) ||
      !str("subscriber", e.subscriber) || !num("attempts", e.attempts) ||
      !num("created_ms", e.created_ms) || !num("next_attempt_ms", e.next_attempt_ms) ||
      !str("state", e.state) || !str("last_error", e.last_error)) {
    return std::nullopt;
  }
  if (auto it = j.find("relay_id"); it != j.end() && it->is_string()) {
    e.relay_id = it->get<std::string>();
  }
  return e;
}

Outbox::Outbox(Storage& storage, const Clock& clock, OutboxOptions options)
    : storage_(storage), clock_(clock), options_(options) {}

Outbox::~Outbox() { stop(); }

void Outbox::setSubscribers(const Subscribers* subscribers) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_ = subscribers;
}

absl::Status Outbox::publish(std::string_view publisher, std::string_view topic,
                             std::string_view payload) {
  if (!isValidTopicName(topic)) {
    return absl::InvalidArgumentError(strCat("'", topic, "' is not a topic name"));
  }
  if (payload.size() > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(
        strCat("event payload of ", payload.size(), " bytes exceeds ", kMaxPayloadBytes));
  }
  std::vector<std::string> targets;
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // With a broker, its consumers fan out: one record, no subscriber.
    if (subscribers_ != nullptr && !options_.broker) targets = subscribers_->subscribersOf(topic);
    seq = ++seq_;
  }
  if (targets.empty()) targets.push_back("");  // fanned out when a subscriber appears
  ASSIGN_OR_RETURN(std::string nonce, crypto::randomBytes(4));
  Event e;
  e.topic = std::string(topic);
  e.payload = std::string(payload);
  e.publisher = std::string(publisher);
  e.created_ms = clock_.nowMs();
  e.next_attempt_ms = e.created_ms;
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "%015lld-%06llu-%s-", static_cast<long long>(e.created_ms),
                static_cast<unsigned long long>(seq % 1000000), hex(nonce).c_str());
  for (const std::string& target : targets) {
    e.subscriber = target;
    std::string key = strCat(prefix, target);
    absl::Status stored = storage_.put(kNamespace, key, encodeEvent(e), 0);
    if (!stored.ok()) {
      return absl::UnavailableError(
          strCat("outbox: cannot store an event of topic ", topic, ": ", sv(stored.message())));
    }
  }
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
    listener = on_publish_;
  }
  wake_.notify_one();
  if (listener) listener();
  return absl::OkStatus();
}

void Outbox::setPublishListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  on_publish_ = std::move(listener);
}

int64_t Outbox::backoffMs(uint32_t attempts) const {
  double delay = options_.retry_base_ms;
  for (uint32_t i = 1; i < attempts && delay < options_.retry_max_ms; ++i) delay *= 2;
  delay = std::min<double>(delay, options_.retry_max_ms);
  uint8_t r = 0;
  (void)crypto::randomBytes(std::span<uint8_t>(&r, 1));
  double jitter = 0.8 + 0.4 * (r / 255.0);  // ±20%: retries of many records spread out
  return static_cast<int64_t>(delay * jitter);
}

absl::StatusOr<size_t> Outbox::runOnce() {
  const Subscribers* subscribers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers = subscribers_;
  }
  if (subscribers == nullptr) return 0;
  if (auto* leasing = dynamic_cast<LeasingStorage*>(&storage_)) {
    return runClaimed(*leasing, *subscribers);
  }
  ASSIGN_OR_RETURN(std::vector<KeyValue> records, storage_.list(kNamespace, options_.batch));
  size_t attempted = 0;
  for (const KeyValue& kv : records) {
    std::optional<Event> e = decodeEvent(kv.key, kv.value);
    if (!e) {
      spdlog::error("outbox: record {} is unreadable; left in place", kv.key);
      continue;
    }
    if (e->next_attempt_ms > clock_.nowMs()) continue;
    if (e->subscriber.empty()) {
      // Published when nobody subscribed: fan out to today's subscribers.
      std::vector<std::string> targets = subscribers->subscribersOf(e->topic);
      if (targets.empty()) continue;
      fanOut(kv.key, *e, targets);
      continue;
    }
    ++attempted;
    absl::Status s = deliverOne(*e, kv.value);
    if (!s.ok()) spdlog::error("outbox: {}: {}", kv.key, sv(s.message()));
  }
  return attempted;
}

void Outbox::fanOut(const std::string& key, const Event& e,
                    const std::vector<std::string>& targets) {
  bool ok = true;
  for (const std::string& target : targets) {
    Event copy = e;
    copy.id = strCat(key, target);
    copy.subscriber = target;
    ok = ok && storage_.put(kNamespace, copy.id, encodeEvent(copy), 0).ok();
  }
  if (ok) storage_.remove(kNamespace, key).IgnoreError();
}

absl::StatusOr<size_t> Outbox::runClaimed(LeasingStorage& leasing,
                                          const Subscribers& subscribers) {
  const int64_t now = clock_.nowMs();
  // Records other processes are claiming are skipped, not waited for; what we
  // claim carries our lease (attempts + 1, not due until now + lease_ms).
  ASSIGN_OR_RETURN(
      std::vector<KeyValue> claimed,
      leasing.claim(kNamespace, options_.batch,
                    [&](const KeyValue& kv) -> std::optional<std::string> {
                      std::optional<Event> e = decodeEvent(kv.key, kv.value);
                      if (!e || e->next_attempt_ms > now) return std::nullopt;
                      Event leased = *e;
                      if (e->subscriber.empty()) {
                        if (subscribers.subscribersOf(e->topic).empty()) return std::nullopt;
                      } else {
                        leased.attempts += 1;
                      }
                      leased.next_attempt_ms = now + options_.lease_ms;
                      return encodeEvent(leased);
                    }));
  size_t attempted = 0;
  for (const KeyValue& kv : claimed) {
    std::optional<Event> leased = decodeEvent(kv.key, kv.value);
    if (!leased) continue;
    if (leased->subscriber.empty()) {
      Event original = *leased;
      original.next_attempt_ms = now;
      fanOut(kv.key, original, subscribers.subscribersOf(leased->topic));
      continue;
    }
    ++attempted;
    Event before = *leased;
    before.attempts -= 1;
    absl::Status s = deliverLeased(before, *leased, subscribers);
    if (!s.ok()) spdlog::error("outbox: {}: {}", kv.key, sv(s.message()));
  }
  return attempted;
}

absl::Status Outbox::deliverOne(const Event& event, std::string_view stored) {
  const Subscribers* subscribers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers = subscribers_;
  }
  // Lease: one more attempt, not due again until the lease ends. Another
  // process (or a stale read) that sees a different value loses.
  Event leased = event;
  leased.attempts += 1;
  leased.next_attempt_ms = clock_.nowMs() + options_.lease_ms;
  std::string leased_text = encodeEvent(leased);
  ASSIGN_OR_RETURN(bool won,
                   storage_.compareAndSet(kNamespace, event.id, stored, leased_text, 0));
  if (!won) return absl::OkStatus();
  return deliverLeased(event, leased, *subscribers);
}

absl::Status Outbox::deliverLeased(const Event& event, const Event& leased,
                                   const Subscribers& subscribers) {
  std::optional<Delivery> d = subscribers.deliver(leased);
  if (!d) {
    // The subscriber is not loaded: give the attempt back and wait.
    Event waiting = event;
    waiting.next_attempt_ms = clock_.nowMs() + options_.retry_max_ms;
    waiting.last_error = strCat("extension '", event.subscriber, "' is not loaded");
    spdlog::warn("outbox: {} waits: {}", event.id, waiting.last_error);
    return storage_.put(kNamespace, event.id, encodeEvent(waiting), 0);
  }
  if (d->outcome == Outcome::kDone) {
    spdlog::info("outbox: delivered {} ({}) to {} after {} attempt(s)", event.id, event.topic,
                 event.subscriber, leased.attempts);
    return storage_.remove(kNamespace, event.id);
  }
  Event next = leased;
  next.last_error = d->error;
  if (d->outcome == Outcome::kFailed || leased.attempts >= options_.max_attempts) {
    next.state = "failed";
    if (d->outcome != Outcome::kFailed) {
      next.last_error = strCat("gave up after ", leased.attempts, " attempts: ", d->error);
    }
    spdlog::error("outbox: {} ({}) to {} failed for good: {}", event.id, event.topic,
                  event.subscriber, next.last_error);
    // Kept first, then removed: a crash in between leaves it in both places;
    // the pending copy is leased, so it is retried once more at worst.
    RETURN_IF_ERROR(storage_.put(kFailedNamespace, event.id, encodeEvent(next),
                                 static_cast<int64_t>(options_.failed_ttl_s) * 1000));
    return storage_.remove(kNamespace, event.id);
  }
  next.next_attempt_ms = clock_.nowMs() + backoffMs(leased.attempts);
  spdlog::warn("outbox: {} ({}) to {}: attempt {} did not finish ({}); retry in {} ms", event.id,
               event.topic, event.subscriber, leased.attempts, d->error,
               next.next_attempt_ms - clock_.nowMs());
  return storage_.put(kNamespace, event.id, encodeEvent(next), 0);
}

absl::StatusOr<std::vector<Event>> Outbox::list(size_t limit) const {
  std::vector<Event> out;
  for (std::string_view ns : {kNamespace, kFailedNamespace}) {
    ASSIGN_OR_RETURN(std::vector<KeyValue> records, storage_.list(ns, limit));
    for (const KeyValue& kv : records) {
      std::optional<Event> e = decodeEvent(kv.key, kv.value);
      if (!e) {
        Event corrupt;
        corrupt.id = kv.key;
        corrupt.state = "corrupt";
        out.push_back(std::move(corrupt));
        continue;
      }
      out.push_back(std::move(*e));
    }
  }
  std::sort(out.begin(), out.end(), [](const Event& a, const Event& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<Outbox::Stats> Outbox::stats(size_t limit) const {
  ASSIGN_OR_RETURN(std::vector<KeyValue> records, storage_.list(kNamespace, limit + 1));
  Stats s;
  s.capped = records.size() > limit;
  s.pending = std::min(records.size(), limit);
  for (size_t i = 0; i < s.pending; ++i) {
    std::optional<Event> e = decodeEvent(records[i].key, records[i].value);
    if (e && (s.oldest_created_ms == 0 || e->created_ms < s.oldest_created_ms)) {
      s.oldest_created_ms = e->created_ms;
    }
  }
  return s;
}

absl::Status Outbox::retryNow(std::string_view id) {
  // A failed record moves back to the pending namespace; a pending one is made due.
  ASSIGN_OR_RETURN(std::optional<std::string> failed, storage_.take(kFailedNamespace, id));
  std::optional<std::string> text = failed;
  if (!text) {
    ASSIGN_OR_RETURN(text, storage_.get(kNamespace, id));
  }
  if (!text) return absl::NotFoundError(strCat("no outbox record ", id));
  std::optional<Event> e = decodeEvent(id, *text);
  if (!e) return absl::DataLossError(strCat("outbox record ", id, " is unreadable"));
  e->state = "pending";
  e->attempts = 0;
  e->next_attempt_ms = clock_.nowMs();
  // A broker's duplicate window would drop a second message under the same id.
  e->relay_id = strCat(id, "/retry-", e->next_attempt_ms);
  if (failed) {
    RETURN_IF_ERROR(storage_.put(kNamespace, id, encodeEvent(*e), 0));
  } else {
    ASSIGN_OR_RETURN(bool ok, storage_.compareAndSet(kNamespace, id, *text, encodeEvent(*e), 0));
    if (!ok) return absl::AbortedError(strCat("outbox record ", id, " changed; try again"));
  }
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
    listener = on_publish_;
  }
  wake_.notify_one();
  if (listener) listener();
  return absl::OkStatus();
}

void Outbox::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      kicked_ = false;
      lock.unlock();
      absl::StatusOr<size_t> n = runOnce();
      if (!n.ok()) spdlog::error("outbox: {}", sv(n.status().message()));
      lock.lock();
      if (stopping_) break;
      if (!kicked_) {
        wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                       [this] { return stopping_ || kicked_; });
      }
    }
  });
}

void Outbox::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace habanero::events
