#include "events/nats_broker.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include <spdlog/spdlog.h>

#include "crypto/hash.h"
#include "crypto/random.h"
#include "habanero/strings.h"

namespace habanero::events {
namespace {

// Move-only owners of every cnats handle.
template <typename T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p) Destroy(p);
  }
};
template <typename T, void (*Destroy)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Destroy>>;

using OptionsPtr = Owned<natsOptions, natsOptions_Destroy>;
using ConnectionPtr = Owned<natsConnection, natsConnection_Destroy>;
using JsPtr = Owned<jsCtx, jsCtx_Destroy>;
using SubscriptionPtr = Owned<natsSubscription, natsSubscription_Destroy>;
using MsgPtr = Owned<natsMsg, natsMsg_Destroy>;
using PubAckPtr = Owned<jsPubAck, jsPubAck_Destroy>;
using MetaPtr = Owned<jsMsgMetaData, jsMsgMetaData_Destroy>;
using StreamInfoPtr = Owned<jsStreamInfo, jsStreamInfo_Destroy>;
using ConsumerInfoPtr = Owned<jsConsumerInfo, jsConsumerInfo_Destroy>;

// A natsMsgList (a struct, not a handle) destroyed with its messages.
struct MsgList {
  natsMsgList list{nullptr, 0};
  MsgList() = default;
  MsgList(const MsgList&) = delete;
  MsgList& operator=(const MsgList&) = delete;
  ~MsgList() { natsMsgList_Destroy(&list); }
};

constexpr const char* kHeaderEventId = "Habanero-Event-Id";
constexpr const char* kHeaderTopic = "Habanero-Topic";
constexpr const char* kHeaderPublisher = "Habanero-Publisher";
constexpr const char* kHeaderCreated = "Habanero-Created-Ms";
constexpr const char* kHeaderSubscriber = "Habanero-Subscriber";
constexpr int64_t kNanosPerMs = 1000000;

// What went wrong in a cnats call: the status text and the library's detail.
std::string natsError(natsStatus s, jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string out = natsStatus_GetText(s);
  const char* detail = nats_GetLastError(nullptr);
  if (detail != nullptr && *detail != '\0' && out != detail) out = strCat(out, ": ", detail);
  if (code != 0) out = strCat(out, " (JetStream error ", static_cast<int>(code), ")");
  return out;
}

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return "";
  return value;
}

bool isSubjectToken(std::string_view t) {
  return !t.empty() && std::none_of(t.begin(), t.end(), [](char c) {
    return c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
}

bool isSubject(std::string_view s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!isSubjectToken(s.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "<sub>/<event id>": the delivered-id record of one subscriber.
std::string deliveredKey(std::string_view extension, std::string_view event_id) {
  return strCat(extension, "/", event_id);
}

}  // namespace

absl::Status validateBrokerUrl(std::string_view url, std::string_view key) {
  if (trim(url).empty()) return absl::InvalidArgumentError(strCat(key, ": is empty"));
  size_t start = 0;
  while (start <= url.size()) {
    size_t comma = url.find(',', start);
    std::string_view one = trim(url.substr(start, comma - start));
    std::string_view rest;
    if (one.starts_with("nats://")) {
      rest = one.substr(7);
    } else if (one.starts_with("tls://")) {
      rest = one.substr(6);
    } else {
      return absl::InvalidArgumentError(strCat(key, ": '", redactBrokerUrl(one),
                                               "' must start with nats:// or tls://"));
    }
    if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    size_t colon = rest.rfind(':');
    std::string_view host = colon == std::string_view::npos ? rest : rest.substr(0, colon);
    std::string_view port = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    bool port_ok = !port.empty() && port.size() <= 5 &&
                   std::all_of(port.begin(), port.end(),
                               [](char c) { return c >= '0' && c <= '9'; });
    if (colon != std::string_view::npos && (!port_ok || std::stoi(std::string(port)) > 65535)) {
      return absl::InvalidArgumentError(
          strCat(key, ": '", redactBrokerUrl(one), "' has no valid port (HOST:PORT)"));
    }
    if (host.empty() || host.find('/') != std::string_view::npos ||
        host.find(' ') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          strCat(key, ": '", redactBrokerUrl(one), "' has no valid host (nats://HOST:PORT)"));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return absl::OkStatus();
}

std::string redactBrokerUrl(std::string_view url) {
  std::string out;
  size_t start = 0;
  while (start <= url.size()) {
    size_t comma = url.find(',', start);
    std::string_view one = trim(url.substr(start, comma - start));
    size_t scheme = one.find("://");
    size_t at = one.rfind('@');
    if (!out.empty()) out += ",";
    if (at != std::string_view::npos && scheme != std::string_view::npos && at > scheme) {
      out += strCat(one.substr(0, scheme + 3), "***@", one.substr(at + 1));
    } else if (at != std::string_view::npos) {
      out += strCat("***@", one.substr(at + 1));
    } else {
      out += one;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string consumerName(std::string_view extension, std::string_view topic) {
  auto clean = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';
      out.push_back(ok ? c : '_');
    }
    return out;
  };
  std::string digest = crypto::sha256(strCat(extension, "\n", topic));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag;
  for (size_t i = 0; i < 4; ++i) {
    tag.push_back(kHex[static_cast<unsigned char>(digest[i]) >> 4]);
    tag.push_back(kHex[static_cast<unsigned char>(digest[i]) & 15]);
  }
  return strCat(clean(extension), "--", clean(topic), "-", tag);
}

// The connection and JetStream context, made once and kept: cnats reconnects
// by itself (forever, every 500 ms) and requests fail at once while it is away.
struct NatsBroker::Impl {
  std::mutex mu;
  OptionsPtr opts;             // guarded by mu
  ConnectionPtr conn;          // guarded by mu; set once, then read without mu
  JsPtr js;                    // guarded by mu; set once, then read without mu
  std::atomic<bool> connected_once{false};
  std::atomic<bool> stream_ready{false};
  std::string last_error;      // guarded by mu: the latest relay error, for problem()

  absl::Status connect(const NatsBrokerOptions& o) {
    std::lock_guard<std::mutex> lock(mu);
    if (conn) return absl::OkStatus();
    natsOptions* raw = nullptr;
    natsStatus s = natsOptions_Create(&raw);
    if (s != NATS_OK) return absl::InternalError(strCat("events broker: ", natsError(s)));
    OptionsPtr options(raw);
    s = natsOptions_SetURL(raw, o.url.c_str());
    if (s == NATS_OK) s = natsOptions_SetName(raw, "habanero");
    if (s == NATS_OK) s = natsOptions_SetTimeout(raw, o.connect_timeout_ms);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(raw, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(raw, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(raw, 500);
    if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(raw, true);
    if (s == NATS_OK) {
      s = natsOptions_SetRetryOnFailedConnect(
          raw, true, [](natsConnection*, void*) {}, nullptr);
    }
    if (s == NATS_OK && !o.creds_file.empty()) {
      s = natsOptions_SetUserCredentialsFromFiles(raw, o.creds_file.c_str(), nullptr);
    }
    if (s == NATS_OK && !o.ca_file.empty()) {
      s = natsOptions_LoadCATrustedCertificates(raw, o.ca_file.c_str());
    }
    if (s != NATS_OK) {
      return absl::InvalidArgumentError(strCat("events broker options (",
                                               redactBrokerUrl(o.url), "): ", natsError(s)));
    }
    natsConnection* nc = nullptr;
    s = natsConnection_Connect(&nc, raw);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
      if (nc) natsConnection_Destroy(nc);
      return absl::UnavailableError(
          strCat("events broker ", redactBrokerUrl(o.url), ": ", natsError(s)));
    }
    ConnectionPtr connection(nc);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jsCtx* js_raw = nullptr;
    s = natsConnection_JetStream(&js_raw, nc, &jo);
    if (s != NATS_OK) {
      return absl::InternalError(strCat("events broker: JetStream: ", natsError(s)));
    }
    opts = std::move(options);
    conn = std::move(connection);
    js.reset(js_raw);
    return absl::OkStatus();
  }

  bool isConnected() {
    std::lock_guard<std::mutex> lock(mu);
    return conn && natsConnection_Status(conn.get()) == NATS_CONN_STATUS_CONNECTED;
  }
};

absl::StatusOr<std::unique_ptr<NatsBroker>> NatsBroker::create(NatsBrokerOptions options,
                                                               Storage& storage,
                                                               const Clock& clock) {
  RETURN_IF_ERROR(validateBrokerUrl(options.url, "events.broker_url"));
  if (options.stream.empty() ||
      !std::all_of(options.stream.begin(), options.stream.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
      })) {
    return absl::InvalidArgumentError(
        strCat("events.broker_stream: '", options.stream, "' must be letters, digits, - or _"));
  }
  if (!isSubject(options.subject_prefix)) {
    return absl::InvalidArgumentError(strCat("events.broker_subject_prefix: '",
                                             options.subject_prefix,
                                             "' is not a NATS subject (tokens separated by .)"));
  }
  if (options.ack_wait_ms == 0 || options.max_deliver == 0 || options.poll_ms == 0) {
    return absl::InvalidArgumentError(
        "events broker: ack_wait_ms, max_deliver and poll_ms must be > 0");
  }
  return std::unique_ptr<NatsBroker>(new NatsBroker(std::move(options), storage, clock));
}

NatsBroker::NatsBroker(NatsBrokerOptions options, Storage& storage, const Clock& clock)
    : options_(std::move(options)), storage_(storage), clock_(clock),
      impl_(std::make_unique<Impl>()) {}

NatsBroker::~NatsBroker() { stop(); }

void NatsBroker::start(const Subscribers* subscribers) {
  std::lock_guard<std::mutex> lock(mu_);
  if (relay_.joinable()) return;
  stopping_ = false;
  subscribers_ = subscribers;
  relay_ = std::thread([this] { relayLoop(); });
}

void NatsBroker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (relay_.joinable()) relay_.join();  // the relay thread joins the consumers
}

void NatsBroker::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
  }
  wake_.notify_all();
}

std::string NatsBroker::problem() const {
  const std::string where = redactBrokerUrl(options_.url);
  if (!impl_->isConnected()) return strCat("broker: not connected to ", where);
  if (!impl_->stream_ready.load()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return strCat("broker: stream ", options_.stream, " on ", where, " is not ready",
                  impl_->last_error.empty() ? "" : ": ", impl_->last_error);
  }
  return "";
}

absl::Status NatsBroker::ensureStream() {
  if (impl_->stream_ready.load()) return absl::OkStatus();
  std::string subjects = strCat(options_.subject_prefix, ".>");
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = options_.stream.c_str();
  cfg.Subjects = subject_list;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;
  cfg.MaxAge = static_cast<int64_t>(options_.max_age_s) * 1000 * kNanosPerMs;
  cfg.Duplicates = static_cast<int64_t>(options_.duplicate_window_s) * 1000 * kNanosPerMs;
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, impl_->js.get(), &cfg, nullptr, &err);
  StreamInfoPtr info(si);
  if (s != NATS_OK && err == JSStreamNameExistErr) {
    // It exists with another configuration (an older one): bring it to ours.
    jsStreamInfo* ui = nullptr;
    err = static_cast<jsErrCode>(0);
    s = js_UpdateStream(&ui, impl_->js.get(), &cfg, nullptr, &err);
    info.reset(ui);
  }
  if (s != NATS_OK) {
    return absl::UnavailableError(
        strCat("stream ", options_.stream, ": ", natsError(s, err)));
  }
  impl_->stream_ready.store(true);
  return absl::OkStatus();
}

absl::StatusOr<size_t> NatsBroker::relayOnce() {
  RETURN_IF_ERROR(impl_->connect(options_));
  if (!impl_->isConnected()) {
    impl_->stream_ready.store(false);
    return absl::UnavailableError(strCat("not connected to ", redactBrokerUrl(options_.url)));
  }
  RETURN_IF_ERROR(ensureStream());

  const int64_t now = clock_.nowMs();
  // Lease due records: on PostgreSQL by claim() (other processes skip them), else
  // by compare-and-set. `original` is the value to put back if the broker fails.
  struct Leased {
    std::string key, original, leased;
    Event event;
  };
  std::vector<Leased> work;
  auto lease = [&](const KeyValue& kv) -> std::optional<std::string> {
    std::optional<Event> e = decodeEvent(kv.key, kv.value);
    if (!e) {
      spdlog::error("events broker: outbox record {} is unreadable; left in place", kv.key);
      return std::nullopt;
    }
    if (e->next_attempt_ms > now) return std::nullopt;
    Event leased = *e;
    leased.next_attempt_ms = now + options_.relay_lease_ms;
    work.push_back({kv.key, kv.value, encodeEvent(leased), *e});
    return work.back().leased;
  };
  if (auto* leasing = dynamic_cast<LeasingStorage*>(&storage_)) {
    ASSIGN_OR_RETURN(std::vector<KeyValue> claimed,
                     leasing->claim(Outbox::kNamespace, options_.batch, lease));
    // What was committed, in key order (lease() may have seen a record more than once
    // if the claim was tried again).
    std::map<std::string, Leased> seen;
    for (Leased& l : work) seen[l.key] = std::move(l);
    work.clear();
    for (const KeyValue& kv : claimed) {
      auto it = seen.find(kv.key);
      if (it != seen.end() && it->second.leased == kv.value) work.push_back(std::move(it->second));
    }
  } else {
    ASSIGN_OR_RETURN(std::vector<KeyValue> records,
                     storage_.list(Outbox::kNamespace, options_.batch));
    std::vector<Leased> candidates;
    for (const KeyValue& kv : records) {
      if (!lease(kv)) continue;
      Leased l = std::move(work.back());
      work.pop_back();
      ASSIGN_OR_RETURN(bool won, storage_.compareAndSet(Outbox::kNamespace, l.key, l.original,
                                                        l.leased, 0));
      if (won) candidates.push_back(std::move(l));
    }
    work = std::move(candidates);
  }

  size_t relayed = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    const Leased& l = work[i];
    const Event& e = l.event;
    std::string subject = strCat(options_.subject_prefix, ".", e.topic);
    if (!isSubject(subject)) {
      // Never publishable: fail it for the operator rather than block the relay.
      Event failed = e;
      failed.state = "failed";
      failed.last_error = strCat("topic '", e.topic, "' is not a valid NATS subject token list");
      spdlog::error("events broker: {}: {}", l.key, failed.last_error);
      RETURN_IF_ERROR(storage_.put(Outbox::kFailedNamespace, l.key, encodeEvent(failed),
                                   static_cast<int64_t>(options_.failed_ttl_s) * 1000));
      RETURN_IF_ERROR(storage_.remove(Outbox::kNamespace, l.key));
      continue;
    }
    natsMsg* raw = nullptr;
    natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, e.payload.data(),
                                  static_cast<int>(e.payload.size()));
    MsgPtr msg(raw);
    std::string created = std::to_string(e.created_ms);
    if (s == NATS_OK) s = natsMsgHeader_Set(raw, kHeaderEventId, l.key.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(raw, kHeaderTopic, e.topic.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(raw, kHeaderPublisher, e.publisher.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(raw, kHeaderCreated, created.c_str());
    if (s == NATS_OK && !e.subscriber.empty()) {
      s = natsMsgHeader_Set(raw, kHeaderSubscriber, e.subscriber.c_str());
    }
    jsErrCode err = static_cast<jsErrCode>(0);
    if (s == NATS_OK) {
      std::string msg_id = e.relay_id.empty() ? l.key : e.relay_id;
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = msg_id.c_str();
      po.ExpectStream = options_.stream.c_str();
      jsPubAck* ack = nullptr;
      s = js_PublishMsg(&ack, impl_->js.get(), raw, &po, &err);
      PubAckPtr owned_ack(ack);
    }
    if (s != NATS_OK) {
      std::string why = natsError(s, err);
      // Give back this and every later lease: they are due again at once.
      for (size_t j = i; j < work.size(); ++j) {
        storage_.compareAndSet(Outbox::kNamespace, work[j].key, work[j].leased,
                               work[j].original, 0).IgnoreError();
      }
      if (s == NATS_NO_RESPONDERS || err == JSStreamNotFoundErr) impl_->stream_ready.store(false);
      return absl::UnavailableError(strCat("publishing ", l.key, ": ", why));
    }
    // Acknowledged: the stream holds it (a repeat was dropped by its id). Now the
    // record may go; a crash before this line only repeats the publish.
    RETURN_IF_ERROR(storage_.remove(Outbox::kNamespace, l.key));
    ++relayed;
  }
  return relayed;
}

void NatsBroker::relayLoop() {
  const std::string where = redactBrokerUrl(options_.url);
  bool outage = false;
  uint32_t backoff_ms = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    kicked_ = false;
    lock.unlock();
    absl::StatusOr<size_t> n = relayOnce();
    if (n.ok()) {
      if (outage) {
        spdlog::info("events broker {} is reachable again; relaying the waiting events", where);
      }
      outage = false;
      backoff_ms = 0;
      {
        std::lock_guard<std::mutex> g(impl_->mu);
        impl_->last_error.clear();
      }
      if (*n > 0) spdlog::debug("events broker: relayed {} event(s)", *n);
      reconcileConsumers();
    } else {
      {
        std::lock_guard<std::mutex> g(impl_->mu);
        impl_->last_error = std::string(n.status().message());
      }
      if (!outage) {
        // Once per outage, not per event: the events wait in the outbox.
        spdlog::warn("events broker {} is unavailable ({}); events wait in the outbox and are "
                     "relayed when it returns",
                     where, sv(n.status().message()));
      }
      outage = true;
      backoff_ms = std::min<uint32_t>(backoff_ms == 0 ? 250 : backoff_ms * 2,
                                      std::min<uint32_t>(5000, options_.retry_max_ms));
      if (impl_->conn) reconcileConsumers();  // consumers retry on their own
    }
    lock.lock();
    if (stopping_) break;
    if (n.ok() && *n >= options_.batch) continue;  // more are waiting
    uint32_t wait = outage ? backoff_ms : options_.poll_ms;
    if (outage || !kicked_) {
      wake_.wait_for(lock, std::chrono::milliseconds(wait),
                     [&] { return stopping_ || (!outage && kicked_); });
    }
  }
  lock.unlock();
  for (auto& [key, c] : consumers_) c.stop->store(true);
  wake_.notify_all();
  for (auto& [key, c] : consumers_) {
    if (c.thread.joinable()) c.thread.join();
  }
  consumers_.clear();
}

void NatsBroker::reconcileConsumers() {
  const Subscribers* subscribers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers = subscribers_;
  }
  if (subscribers == nullptr) return;
  std::vector<std::pair<std::string, std::string>> wanted = subscribers->subscriptions();
  std::sort(wanted.begin(), wanted.end());
  for (auto it = consumers_.begin(); it != consumers_.end();) {
    if (std::binary_search(wanted.begin(), wanted.end(), it->first)) {
      ++it;
      continue;
    }
    // No longer subscribed here (reload): stop fetching. The durable consumer stays
    // on the server for the other workers (remove it with `nats consumer rm`).
    it->second.stop->store(true);
    wake_.notify_all();
    if (it->second.thread.joinable()) it->second.thread.join();
    it = consumers_.erase(it);
  }
  for (const auto& w : wanted) {
    if (consumers_.contains(w)) continue;
    Consumer c;
    c.stop = std::make_unique<std::atomic<bool>>(false);
    const std::atomic<bool>* stop = c.stop.get();
    c.thread = std::thread([this, w, stop] { consumerLoop(w.first, w.second, stop); });
    consumers_.emplace(w, std::move(c));
  }
}

namespace {

// Exponential back-off with ±20% jitter, as the outbox's.
int64_t backoff(uint32_t base_ms, uint32_t max_ms, uint64_t attempts) {
  double delay = base_ms;
  for (uint64_t i = 1; i < attempts && delay < max_ms; ++i) delay *= 2;
  delay = std::min<double>(delay, max_ms);
  uint8_t r = 0;
  (void)crypto::randomBytes(std::span<uint8_t>(&r, 1));
  return static_cast<int64_t>(delay * (0.8 + 0.4 * (r / 255.0)));
}

}  // namespace

void NatsBroker::consumerLoop(std::string extension, std::string topic,
                              const std::atomic<bool>* stop) {
  const std::string durable = consumerName(extension, topic);
  const std::string subject = strCat(options_.subject_prefix, ".", topic);
  const Subscribers* subscribers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers = subscribers_;
  }
  auto pause = [&](uint32_t ms) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(ms),
                   [&] { return stopping_ || stop->load(); });
  };
  SubscriptionPtr sub;
  bool complained = false;
  while (!stop->load()) {
    if (!sub) {
      if (!impl_->stream_ready.load() || !impl_->isConnected()) {
        pause(250);
        continue;
      }
      jsConsumerConfig cc;
      jsConsumerConfig_Init(&cc);
      cc.Durable = durable.c_str();
      cc.AckPolicy = js_AckExplicit;
      cc.AckWait = static_cast<int64_t>(options_.ack_wait_ms) * kNanosPerMs;
      cc.MaxDeliver = options_.max_deliver;
      cc.FilterSubject = subject.c_str();
      cc.DeliverPolicy = js_DeliverAll;
      jsConsumerInfo* ci = nullptr;
      jsErrCode err = static_cast<jsErrCode>(0);
      natsStatus s = js_AddConsumer(&ci, impl_->js.get(), options_.stream.c_str(), &cc, nullptr,
                                    &err);
      ConsumerInfoPtr info(ci);
      if (s != NATS_OK) {
        // It exists with other settings (AckWait, MaxDeliver changed): update them.
        jsConsumerInfo* ui = nullptr;
        jsErrCode uerr = static_cast<jsErrCode>(0);
        natsStatus us = js_UpdateConsumer(&ui, impl_->js.get(), options_.stream.c_str(), &cc,
                                          nullptr, &uerr);
        info.reset(ui);
        if (us == NATS_OK) s = NATS_OK;
      }
      natsSubscription* raw = nullptr;
      if (s == NATS_OK) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = options_.stream.c_str();
        so.Consumer = durable.c_str();
        so.ManualAck = true;
        err = static_cast<jsErrCode>(0);
        s = js_PullSubscribe(&raw, impl_->js.get(), subject.c_str(), durable.c_str(), nullptr,
                             &so, &err);
      }
      if (s != NATS_OK) {
        if (raw) natsSubscription_Destroy(raw);
        if (!complained) {
          spdlog::warn("events broker: consumer {} ({} for {}): {}; retrying", durable, topic,
                       extension, natsError(s, err));
        }
        complained = true;
        pause(1000);
        continue;
      }
      sub.reset(raw);
      if (complained) spdlog::info("events broker: consumer {} is fetching again", durable);
      complained = false;
      spdlog::debug("events broker: consumer {} fetches {}", durable, subject);
    }
    MsgList batch;
    jsErrCode err = static_cast<jsErrCode>(0);
    // A few at a time: workers sharing the consumer share the work, and a batch ends well
    // within AckWait.
    natsStatus s = natsSubscription_Fetch(&batch.list, sub.get(),
                                          static_cast<int>(std::min<size_t>(options_.batch, 8)),
                                          options_.poll_ms, &err);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      // Disconnected, or the consumer is gone (a new server): subscribe again.
      sub.reset();
      pause(250);
      continue;
    }
    for (int i = 0; i < batch.list.Count && !stop->load(); ++i) {
      natsMsg* msg = batch.list.Msgs[i];
      jsMsgMetaData* meta_raw = nullptr;
      MetaPtr meta;
      if (natsMsg_GetMetaData(&meta_raw, msg) == NATS_OK) meta.reset(meta_raw);
      const uint64_t delivered = meta ? meta->NumDelivered : 1;
      const std::string record = header(msg, kHeaderEventId);
      const std::string only_for = header(msg, kHeaderSubscriber);
      if (record.empty() || (!only_for.empty() && only_for != extension)) {
        natsMsg_Ack(msg, nullptr);  // not an event for this extension
        continue;
      }
      Event e;
      // The id a subscriber sees: the per-subscriber record id of the in-process outbox.
      e.id = only_for.empty() ? strCat(record, extension) : record;
      e.topic = topic;
      const char* data = natsMsg_GetData(msg);
      e.payload.assign(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
      e.publisher = header(msg, kHeaderPublisher);
      e.subscriber = extension;
      e.attempts = static_cast<uint32_t>(delivered);
      std::string created = header(msg, kHeaderCreated);
      e.created_ms = created.empty() ? 0 : std::strtoll(created.c_str(), nullptr, 10);
      e.next_attempt_ms = clock_.nowMs();

      const std::string mark = deliveredKey(extension, e.id);
      const int64_t keep_ms = static_cast<int64_t>(options_.delivered_ttl_s) * 1000;
      // Ends the event for this extension: a failed record for `habanero outbox list`.
      auto give_up = [&](const std::string& why) {
        Event failed = e;
        failed.state = "failed";
        failed.last_error = why;
        spdlog::error("events broker: {} ({}) to {} failed for good: {}", e.id, topic, extension,
                      why);
        absl::Status kept = storage_.put(Outbox::kFailedNamespace, e.id, encodeEvent(failed),
                                         static_cast<int64_t>(options_.failed_ttl_s) * 1000);
        if (!kept.ok()) {
          storage_.remove(kDeliveredNamespace, mark).IgnoreError();
          natsMsg_NakWithDelay(msg, options_.retry_base_ms, nullptr);
          return;
        }
        // No mark: `habanero outbox retry` sends it again, under a new message id.
        storage_.remove(kDeliveredNamespace, mark).IgnoreError();
        natsMsg_Term(msg, nullptr);
      };
      const bool last = delivered >= options_.max_deliver;
      // The claim lapses a little before AckWait: the redelivery of a message whose
      // worker died finds it gone. (A delivery slower than AckWait may run twice.)
      const int64_t claim_ms = options_.ack_wait_ms - options_.ack_wait_ms / 10;
      absl::StatusOr<bool> claimed =
          storage_.compareAndSet(kDeliveredNamespace, mark, std::nullopt, "delivering",
                                 claim_ms);
      if (!claimed.ok()) {
        spdlog::warn("events broker: {} to {}: store: {}; later", e.id, extension,
                     sv(claimed.status().message()));
        natsMsg_NakWithDelay(msg, options_.retry_base_ms, nullptr);
        continue;
      }
      if (!*claimed) {
        absl::StatusOr<std::optional<std::string>> state = storage_.get(kDeliveredNamespace, mark);
        if (state.ok() && *state && **state != "delivering") {
          // Delivered before ("done"): a relayed repeat or a lost ack.
          spdlog::info("events broker: {} to {} was already {}; acknowledged again", e.id,
                       extension, **state);
          natsMsg_AckSync(msg, nullptr, nullptr);
        } else if (last) {
          give_up(strCat("gave up after ", delivered, " attempts: still being delivered"));
        } else {
          // Another worker is delivering it right now: look again later.
          natsMsg_NakWithDelay(msg, options_.retry_base_ms, nullptr);
        }
        continue;
      }
      std::optional<Delivery> d = subscribers->deliver(e);
      if (!d) {
        storage_.remove(kDeliveredNamespace, mark).IgnoreError();
        if (last) {
          give_up(strCat("gave up after ", delivered, " attempts: extension '", extension,
                         "' is not loaded"));
          continue;
        }
        spdlog::warn("events broker: {} waits: extension '{}' is not loaded here", e.id,
                     extension);
        natsMsg_NakWithDelay(msg, options_.retry_base_ms, nullptr);
        continue;
      }
      if (d->outcome == Outcome::kDone) {
        // Written before the ack: a redelivery after a lost ack finds it.
        absl::Status s2 = storage_.put(kDeliveredNamespace, mark, "done", keep_ms);
        if (!s2.ok()) {
          spdlog::error("events broker: {} delivered to {} but not recorded: {}", e.id,
                        extension, sv(s2.message()));
        }
        natsMsg_AckSync(msg, nullptr, nullptr);
        spdlog::info("events broker: delivered {} ({}) to {} after {} attempt(s)", e.id, topic,
                     extension, delivered);
        continue;
      }
      if (d->outcome == Outcome::kRetry && !last) {
        storage_.remove(kDeliveredNamespace, mark).IgnoreError();
        int64_t delay = backoff(options_.retry_base_ms, options_.retry_max_ms, delivered);
        spdlog::warn("events broker: {} ({}) to {}: attempt {} did not finish ({}); retry in "
                     "{} ms",
                     e.id, topic, extension, delivered, d->error, delay);
        natsMsg_NakWithDelay(msg, delay, nullptr);
        continue;
      }
      give_up(d->outcome == Outcome::kFailed
                  ? d->error
                  : strCat("gave up after ", delivered, " attempts: ", d->error));
    }
  }
}

}  // namespace habanero::events
