// The NATS JetStream broker (src/events/nats_broker.h) against a real nats-server
// (built once by scripts/build-nats-server.sh, started here on a free loopback port
// with JetStream and a temporary store), over the real store (SQLite, and PostgreSQL
// under the "postgres." prefix): relay and fan-out, the stream's duplicate window,
// redelivery after a worker died mid-delivery, MaxDeliver ending in a failed record,
// the broker going away and coming back.
#include "events/nats_broker.h"

#include <nats/nats.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "habanero/clock.h"
#include "postgres_test_server.h"
#include "test_process.h"

namespace habanero::events {
namespace {

using outbound::testing::TempDir;
using outbound::testing::TestProcess;

std::string natsServerBinary() {
  static const std::string path = [] {
    std::optional<std::string> out = outbound::testing::runCapture(
        {std::string(HABANERO_SOURCE_DIR) + "/scripts/build-nats-server.sh"});
    std::string p = out ? *out : "";
    while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
    return p;
  }();
  return path;
}

// Stands in for the extension router: records deliveries per subscriber and answers
// with a scripted outcome.
class RecordingSubscribers final : public Subscribers {
 public:
  std::vector<std::string> subscribersOf(std::string_view topic) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [name, t] : subs_) {
      if (t == topic) out.push_back(name);
    }
    return out;
  }
  std::vector<std::pair<std::string, std::string>> subscriptions() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return subs_;
  }
  std::optional<Delivery> deliver(const Event& e) const override {
    std::lock_guard<std::mutex> lock(mu_);
    delivered_.push_back(e);
    auto it = outcomes_.find(e.subscriber);
    Outcome o = it == outcomes_.end() ? Outcome::kDone : it->second;
    return Delivery{o, o == Outcome::kDone ? "" : "scripted"};
  }
  void subscribe(const std::string& name, const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu_);
    subs_.emplace_back(name, topic);
  }
  void setOutcome(const std::string& name, Outcome o) {
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_[name] = o;
  }
  std::vector<Event> delivered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }
  size_t countFor(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const Event& e : delivered_) n += e.subscriber == name;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> subs_;
  std::map<std::string, Outcome> outcomes_;
  mutable std::vector<Event> delivered_;
};

// Polls `done` every 20 ms for up to 60 s (a bound for a stuck test, not a
// figure under test).
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class NatsBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(natsServerBinary().empty())
        << "scripts/build-nats-server.sh could not build nats-server (needs go)";
    port_ = outbound::testing::freePort();
    startNats();
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "habanero-broker-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    broker_.reset();
    outbox_.reset();
    storage_.reset();
    nats_.reset();
    habanero::testing::cleanupTestStore(dir_);
    std::filesystem::remove_all(dir_);
  }

  void startNats() {
    std::string error;
    nats_ = TestProcess::start({natsServerBinary(), "-a", "127.0.0.1", "-p",
                                std::to_string(port_), "-js", "-sd", nats_dir_.path()},
                               &error, /*quiet=*/true);
    ASSERT_NE(nats_, nullptr) << error;
    ASSERT_TRUE(outbound::testing::waitForPort("127.0.0.1", port_, 20000))
        << "nats-server did not listen on " << port_;
  }
  void stopNats() {
    nats_.reset();  // SIGTERM and reaped
  }

  NatsBrokerOptions brokerOptions() const {
    NatsBrokerOptions o;
    o.url = "nats://127.0.0.1:" + std::to_string(port_);
    o.ack_wait_ms = 3000;  // room for a slow delivery on a busy machine
    o.max_deliver = 3;
    o.retry_base_ms = 50;
    o.retry_max_ms = 200;
    o.poll_ms = 200;
    return o;
  }

  // The store, an outbox in broker mode and a broker over both.
  void open(NatsBrokerOptions o) {
    auto s = habanero::testing::openTestStore(dir_, SystemClock::instance());
    ASSERT_TRUE(s.ok()) << s.status();
    storage_ = std::move(*s);
    OutboxOptions oo;
    oo.broker = true;
    outbox_ = std::make_unique<Outbox>(*storage_, SystemClock::instance(), oo);
    outbox_->setSubscribers(&subs_);
    auto b = NatsBroker::create(o, *storage_, SystemClock::instance());
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
    NatsBroker* broker = broker_.get();
    outbox_->setPublishListener([broker] { broker->wake(); });
  }

  size_t pending() {
    auto records = storage_->list(Outbox::kNamespace, 1000);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? records->size() : 0;
  }

  // Messages the stream holds, read with a connection of the test's own.
  uint64_t streamMessages(const std::string& stream) {
    natsConnection* nc = nullptr;
    std::string url = "nats://127.0.0.1:" + std::to_string(port_);
    EXPECT_EQ(natsConnection_ConnectTo(&nc, url.c_str()), NATS_OK);
    jsCtx* js = nullptr;
    EXPECT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    jsStreamInfo* si = nullptr;
    natsStatus s = js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr);
    EXPECT_EQ(s, NATS_OK) << natsStatus_GetText(s);
    uint64_t n = si ? si->State.Msgs : 0;
    if (si) jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return n;
  }

  int port_ = 0;
  TempDir nats_dir_;
  std::unique_ptr<TestProcess> nats_;
  std::string dir_;
  RecordingSubscribers subs_;
  StoragePtr storage_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<NatsBroker> broker_;
};

TEST(NatsBrokerUrl, MalformedUrlsNameTheKeyAndCredentialsAreNeverShown) {
  EXPECT_TRUE(validateBrokerUrl("nats://127.0.0.1:4222", "events.broker_url").ok());
  EXPECT_TRUE(validateBrokerUrl("nats://u:p@a:4222, tls://b:4223", "events.broker_url").ok());
  EXPECT_TRUE(validateBrokerUrl("nats://nats.internal", "events.broker_url").ok());
  for (std::string bad : {"http://a:4222", "nats://:4222", "nats://a:port", "nats://a:99999",
                          "", "nats://a:4222,redis://b"}) {
    absl::Status s = validateBrokerUrl(bad, "events.broker_url");
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(std::string(s.message()).starts_with("events.broker_url: ")) << s.message();
  }
  absl::Status s = validateBrokerUrl("nats://alice:s3cret@:4222", "events.broker_url");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()).find("s3cret"), std::string::npos) << s.message();
  EXPECT_EQ(redactBrokerUrl("nats://alice:s3cret@h:4222,tls://tok@g:1"),
            "nats://***@h:4222,tls://***@g:1");
}

TEST(NatsBrokerNames, ConsumerNamesAreValidAndDistinct) {
  EXPECT_NE(consumerName("mail", "a.b"), consumerName("mail", "a_b"));
  EXPECT_NE(consumerName("a", "b.c"), consumerName("a.b", "c"));
  std::string n = consumerName("magic-email", "magic-email.deliver");
  EXPECT_TRUE(n.starts_with("magic-email--magic-email_deliver-")) << n;
  EXPECT_EQ(n.find_first_of(".*> "), std::string::npos);
}

TEST_F(NatsBrokerTest, CreateRefusesBadSettingsNamingThem) {
  auto s = habanero::testing::openTestStore(dir_, SystemClock::instance());
  ASSERT_TRUE(s.ok()) << s.status();
  NatsBrokerOptions o = brokerOptions();
  o.url = "nats//127.0.0.1:4222";
  auto broker = NatsBroker::create(o, **s, SystemClock::instance());
  ASSERT_FALSE(broker.ok());
  EXPECT_TRUE(std::string(broker.status().message()).starts_with("events.broker_url: "))
      << broker.status();
  o = brokerOptions();
  o.stream = "no.dots";
  broker = NatsBroker::create(o, **s, SystemClock::instance());
  ASSERT_FALSE(broker.ok());
  EXPECT_TRUE(std::string(broker.status().message()).starts_with("events.broker_stream"));
}

// Published events reach every subscriber exactly once, through the stream; the
// outbox is empty once the broker acknowledged them.
TEST_F(NatsBrokerTest, RelaysEveryEventToEachSubscriberOnce) {
  subs_.subscribe("mailer", "mail.deliver");
  subs_.subscribe("audit", "mail.deliver");
  subs_.subscribe("other", "other.topic");
  open(brokerOptions());
  broker_->start(&subs_);
  constexpr int kEvents = 20;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(outbox_->publish("magic-email", "mail.deliver", "event " + std::to_string(i)).ok());
  }
  ASSERT_TRUE(eventually([&] {
    return subs_.countFor("mailer") >= kEvents && subs_.countFor("audit") >= kEvents;
  })) << subs_.countFor("mailer") << " " << subs_.countFor("audit");
  // A last event behind the others: once it arrives, any repeat of theirs would have too.
  ASSERT_TRUE(outbox_->publish("magic-email", "mail.deliver", "last").ok());
  ASSERT_TRUE(eventually([&] {
    return subs_.countFor("mailer") == kEvents + 1 && subs_.countFor("audit") == kEvents + 1;
  }));
  // The relay deletes a row just after the ack, possibly after its delivery.
  EXPECT_TRUE(eventually([&] { return pending() == 0u; }));
  std::map<std::pair<std::string, std::string>, int> seen;  // (subscriber, id) -> deliveries
  std::map<std::string, std::set<std::string>> payloads;
  for (const Event& e : subs_.delivered()) {
    ++seen[{e.subscriber, e.id}];
    payloads[e.subscriber].insert(e.payload);
    EXPECT_EQ(e.topic, "mail.deliver");
    EXPECT_EQ(e.publisher, "magic-email");
    EXPECT_TRUE(e.id.ends_with(e.subscriber)) << e.id;
    EXPECT_EQ(e.attempts, 1u);
  }
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key.second << " to " << key.first;
  EXPECT_EQ(payloads["mailer"].size(), static_cast<size_t>(kEvents + 1));
  EXPECT_EQ(payloads["audit"].size(), static_cast<size_t>(kEvents + 1));
  EXPECT_EQ(subs_.countFor("other"), 0u);
  EXPECT_EQ(streamMessages("HABANERO"), static_cast<uint64_t>(kEvents + 1));
  EXPECT_EQ(broker_->problem(), "");
}

// A record relayed twice (a crash between the ack and the delete) is one message:
// the stream drops the repeat by its Nats-Msg-Id, and the subscriber sees it once.
TEST_F(NatsBrokerTest, RepeatedRelayIsDroppedByTheDuplicateWindow) {
  subs_.subscribe("mailer", "mail.deliver");
  open(brokerOptions());
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "once").ok());
  auto records = storage_->list(Outbox::kNamespace, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  const KeyValue record = (*records)[0];

  auto n = broker_->relayOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(pending(), 0u);
  ASSERT_TRUE(storage_->put(Outbox::kNamespace, record.key, record.value, 0).ok());  // again
  n = broker_->relayOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u) << "the repeat is acknowledged (as a duplicate) and removed";
  EXPECT_EQ(pending(), 0u);
  EXPECT_EQ(streamMessages("HABANERO"), 1u);

  broker_->start(&subs_);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "after").ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") == 2; }));
  EXPECT_EQ(subs_.delivered()[0].payload, "once");
  EXPECT_EQ(subs_.delivered()[1].payload, "after");
}

// A message redelivered after its ack was lost is recognised by the delivered-id
// record and acknowledged without running the subscriber again.
TEST_F(NatsBrokerTest, RedeliveryOfADeliveredEventIsNotDeliveredAgain) {
  subs_.subscribe("mailer", "mail.deliver");
  open(brokerOptions());
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "first").ok());
  auto records = storage_->list(Outbox::kNamespace, 10);
  ASSERT_TRUE(records.ok() && records->size() == 1u);
  const std::string id = (*records)[0].key + "mailer";
  // As if a worker delivered it and died before its ack reached the broker.
  ASSERT_TRUE(storage_->put(NatsBroker::kDeliveredNamespace, "mailer/" + id, "done", 0).ok());
  broker_->start(&subs_);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "second").ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") == 1; }));
  EXPECT_EQ(subs_.delivered()[0].payload, "second");
  // The relay deletes a row just after the ack, possibly after its delivery.
  EXPECT_TRUE(eventually([&] { return pending() == 0u; }));
}

// A worker killed in the middle of a delivery never acks: the durable consumer
// redelivers the message after AckWait, to the surviving worker, once.
TEST_F(NatsBrokerTest, KilledMidDeliveryTheMessageIsRedeliveredAfterAckWait) {
  // The first worker is a child process (no cnats state may cross fork()).
  {
    auto s = habanero::testing::openTestStore(dir_, SystemClock::instance());
    ASSERT_TRUE(s.ok()) << s.status();
    OutboxOptions oo;
    oo.broker = true;
    Outbox outbox(**s, SystemClock::instance(), oo);
    ASSERT_TRUE(outbox.publish("p", "mail.deliver", "survives a kill").ok());
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  NatsBrokerOptions options = brokerOptions();
  options.max_deliver = 5;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    class Hanging final : public Subscribers {
     public:
      explicit Hanging(int fd) : fd_(fd) {}
      std::vector<std::string> subscribersOf(std::string_view) const override {
        return {"mailer"};
      }
      std::vector<std::pair<std::string, std::string>> subscriptions() const override {
        return {{"mailer", "mail.deliver"}};
      }
      std::optional<Delivery> deliver(const Event&) const override {
        char c = 'd';
        if (write(fd_, &c, 1) != 1) _exit(5);
        for (;;) pause();
      }

     private:
      int fd_;
    } hanging(fds[1]);
    absl::StatusOr<StoragePtr> store =
        habanero::testing::openTestStore(dir_, SystemClock::instance());
    if (!store.ok()) _exit(2);
    auto broker = NatsBroker::create(options, **store, SystemClock::instance());
    if (!broker.ok()) _exit(3);
    (*broker)->start(&hanging);
    for (;;) pause();
  }
  close(fds[1]);
  char c = 0;
  ASSERT_EQ(read(fds[0], &c, 1), 1) << "the child never started delivering";
  close(fds[0]);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus));

  subs_.subscribe("mailer", "mail.deliver");
  open(options);
  // Published by the dead worker's relay (its row may remain if it died before the
  // delete: relayed again, the duplicate window drops it).
  broker_->start(&subs_);
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") >= 1; }));
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "marker").ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") >= 2; }));
  std::vector<Event> d = subs_.delivered();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].payload, "survives a kill");
  EXPECT_GE(d[0].attempts, 2u) << "the killed delivery counts";
  EXPECT_EQ(d[1].payload, "marker");
  EXPECT_TRUE(eventually([&] { return pending() == 0u; }));
}

// RETRY until MaxDeliver, and FAILED at once: both end as failed outbox records
// (what `habanero outbox list` shows) and are not delivered again.
TEST_F(NatsBrokerTest, LastAttemptAndFailedBecomeFailedRecords) {
  subs_.subscribe("retrier", "mail.deliver");
  subs_.subscribe("refuser", "mail.deliver");
  subs_.setOutcome("retrier", Outcome::kRetry);
  subs_.setOutcome("refuser", Outcome::kFailed);
  open(brokerOptions());  // max_deliver = 3
  broker_->start(&subs_);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "doomed").ok());
  ASSERT_TRUE(eventually([&] {
    auto all = outbox_->list();
    return all.ok() && all->size() == 2u;
  }));
  auto all = outbox_->list();
  ASSERT_TRUE(all.ok());
  for (const Event& e : *all) {
    EXPECT_EQ(e.state, "failed") << e.id;
    EXPECT_EQ(e.payload, "doomed");
    EXPECT_TRUE(e.id.ends_with(e.subscriber)) << e.id;
    if (e.subscriber == "retrier") {
      EXPECT_EQ(e.attempts, 3u);
      EXPECT_NE(e.last_error.find("gave up after 3 attempts"), std::string::npos) << e.last_error;
    } else {
      EXPECT_EQ(e.subscriber, "refuser");
      EXPECT_EQ(e.attempts, 1u);
      EXPECT_EQ(e.last_error, "scripted");
    }
  }
  EXPECT_EQ(subs_.countFor("retrier"), 3u);
  EXPECT_EQ(subs_.countFor("refuser"), 1u);

  // `habanero outbox retry`: the failed record goes back, under a new message id, to
  // its subscriber only.
  subs_.setOutcome("retrier", Outcome::kDone);
  std::string retried;
  for (const Event& e : *all) {
    if (e.subscriber == "retrier") retried = e.id;
  }
  ASSERT_TRUE(outbox_->retryNow(retried).ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("retrier") == 4u; }));
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "marker").ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("refuser") == 2u; }));
  EXPECT_EQ(subs_.countFor("refuser"), 2u) << "the retry was meant for the retrier only";
  EXPECT_EQ(subs_.delivered().back().payload, "marker");
}

// The broker away: publishing still succeeds (the outbox keeps the events), the
// relay fails and /readyz says why; back again, every event is delivered once.
TEST_F(NatsBrokerTest, BrokerAwayEventsWaitInTheOutboxAndArriveOnceWhenItReturns) {
  subs_.subscribe("mailer", "mail.deliver");
  open(brokerOptions());
  broker_->start(&subs_);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "before").ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") == 1; }));

  stopNats();
  ASSERT_TRUE(eventually([&] { return !broker_->problem().empty(); }));
  EXPECT_NE(broker_->problem().find("broker: "), std::string::npos) << broker_->problem();
  constexpr int kEvents = 10;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "while away " + std::to_string(i)).ok());
  }
  EXPECT_EQ(pending(), static_cast<size_t>(kEvents)) << "nothing left the outbox";
  EXPECT_EQ(subs_.countFor("mailer"), 1u);

  startNats();
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") == kEvents + 1; }));
  ASSERT_TRUE(eventually([&] { return pending() == 0u; }));
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "after").ok());
  ASSERT_TRUE(eventually([&] { return subs_.countFor("mailer") == kEvents + 2; }));
  std::map<std::string, int> per_id;
  for (const Event& e : subs_.delivered()) ++per_id[e.id];
  EXPECT_EQ(per_id.size(), static_cast<size_t>(kEvents + 2));
  for (const auto& [id, n] : per_id) EXPECT_EQ(n, 1) << id;
  EXPECT_TRUE(eventually([&] { return broker_->problem().empty(); })) << broker_->problem();
}

}  // namespace
}  // namespace habanero::events
