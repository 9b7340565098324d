// The outbox (design 0002) over the real SQLite store: durability across a
// reopen, delivery outcomes, back-off, give-up, leases shared by two
// processes' worth of outboxes, fan-out for late subscribers.
#include "events/outbox.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "manual_clock.h"
#include "postgres_test_server.h"

namespace habanero::events {
namespace {

using habanero::testing::ManualClock;

// Stands in for the extension router: records deliveries and answers with a
// scripted outcome per subscriber.
class ScriptedSubscribers final : public Subscribers {
 public:
  std::vector<std::string> subscribersOf(std::string_view topic) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(std::string(topic));
    return it == topics_.end() ? std::vector<std::string>{} : it->second;
  }
  std::optional<Delivery> deliver(const Event& e) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!loaded_.contains(e.subscriber)) return std::nullopt;
    delivered_.push_back(e);
    auto it = outcomes_.find(e.subscriber);
    Outcome o = it == outcomes_.end() ? Outcome::kDone : it->second;
    return Delivery{o, o == Outcome::kDone ? "" : "scripted"};
  }
  void subscribe(const std::string& topic, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    topics_[topic].push_back(name);
    loaded_.insert(name);
  }
  void unload(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    loaded_.erase(name);
  }
  void setOutcome(const std::string& name, Outcome o) {
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_[name] = o;
  }
  std::vector<Event> delivered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> topics_;
  std::set<std::string> loaded_;
  std::map<std::string, Outcome> outcomes_;
  mutable std::vector<Event> delivered_;
};

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-outbox-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    reopen();
    subs_.subscribe("mail.deliver", "mailer");
  }
  void TearDown() override {
    outbox_.reset();
    storage_.reset();
    habanero::testing::cleanupTestStore(dir_);
    std::filesystem::remove_all(dir_);
  }

  void reopen() {
    outbox_.reset();
    storage_.reset();
    auto s = habanero::testing::openTestStore(dir_, clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    storage_ = std::move(*s);
    outbox_ = std::make_unique<Outbox>(*storage_, clock_, options_);
    outbox_->setSubscribers(&subs_);
  }

  size_t runOnce() {
    auto n = outbox_->runOnce();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : 0;
  }

  std::string dir_;
  ManualClock clock_;
  OutboxOptions options_{.retry_base_ms = 1000, .retry_max_ms = 8000, .max_attempts = 4,
                         .failed_ttl_s = 3600, .lease_ms = 60000};
  ScriptedSubscribers subs_;
  StoragePtr storage_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, PublishedEventSurvivesReopenAndIsDeliveredOnce) {
  ASSERT_TRUE(outbox_->publish("magic-email", "mail.deliver", R"({"to":"a@b"})").ok());
  reopen();  // as after a crash: nothing but the store survives
  auto pending = outbox_->list();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].subscriber, "mailer");
  EXPECT_EQ((*pending)[0].state, "pending");

  EXPECT_EQ(runOnce(), 1u);
  std::vector<Event> delivered = subs_.delivered();
  ASSERT_EQ(delivered.size(), 1u);
  const Event& e = delivered[0];
  EXPECT_EQ(e.payload, R"({"to":"a@b"})");
  EXPECT_EQ(e.publisher, "magic-email");
  EXPECT_EQ(e.topic, "mail.deliver");
  EXPECT_EQ(e.attempts, 1u);
  EXPECT_TRUE(outbox_->list()->empty());
  EXPECT_EQ(runOnce(), 0u);
}

TEST_F(OutboxTest, RetryBacksOffThenDelivers) {
  subs_.setOutcome("mailer", Outcome::kRetry);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  EXPECT_EQ(runOnce(), 1u);
  auto records = outbox_->list();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].attempts, 1u);
  EXPECT_EQ((*records)[0].last_error, "scripted");
  int64_t wait = (*records)[0].next_attempt_ms - clock_.nowMs();
  EXPECT_GE(wait, 800);  // retry_base_ms -20%
  EXPECT_LE(wait, 1200);

  EXPECT_EQ(runOnce(), 0u) << "not due yet";
  clock_.advance(1200);
  subs_.setOutcome("mailer", Outcome::kDone);
  EXPECT_EQ(runOnce(), 1u);
  EXPECT_EQ(subs_.delivered().back().attempts, 2u);
  EXPECT_EQ(subs_.delivered()[0].id, subs_.delivered()[1].id) << "ids are stable across retries";
  EXPECT_TRUE(outbox_->list()->empty());
}

TEST_F(OutboxTest, BackOffDoublesUpToTheCap) {
  subs_.setOutcome("mailer", Outcome::kRetry);
  options_.max_attempts = 10;
  reopen();
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  std::vector<int64_t> waits;
  for (int i = 0; i < 5; ++i) {
    clock_.advance(20000);
    ASSERT_EQ(runOnce(), 1u);
    auto r = outbox_->list();
    waits.push_back((*r)[0].next_attempt_ms - clock_.nowMs());
  }
  // 1 s, 2 s, 4 s, 8 s, 8 s (cap), each ±20%.
  const int64_t expected[] = {1000, 2000, 4000, 8000, 8000};
  for (size_t i = 0; i < waits.size(); ++i) {
    EXPECT_GE(waits[i], expected[i] * 8 / 10) << i;
    EXPECT_LE(waits[i], expected[i] * 12 / 10) << i;
  }
}

TEST_F(OutboxTest, PermanentFailureIsKeptForTheOperatorAndCanBeRetried) {
  subs_.setOutcome("mailer", Outcome::kFailed);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  EXPECT_EQ(runOnce(), 1u);
  auto r = outbox_->list();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].state, "failed");
  EXPECT_EQ((*r)[0].last_error, "scripted");
  clock_.advance(3'000'000);
  EXPECT_EQ(runOnce(), 0u) << "failed records are not delivered again";

  subs_.setOutcome("mailer", Outcome::kDone);
  ASSERT_TRUE(outbox_->retryNow((*r)[0].id).ok());
  EXPECT_EQ(runOnce(), 1u);
  EXPECT_TRUE(outbox_->list()->empty());
  EXPECT_EQ(outbox_->retryNow("no-such-id").code(), absl::StatusCode::kNotFound);
}

TEST_F(OutboxTest, ManyFailedRecordsDoNotHideNewEvents) {
  // More failures than one dispatcher pass reads (batch 256): new events must still go out.
  subs_.setOutcome("mailer", Outcome::kFailed);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "old").ok());
  while (runOnce() > 0) {
  }
  subs_.setOutcome("mailer", Outcome::kDone);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "new").ok());
  runOnce();
  EXPECT_EQ(subs_.delivered().back().payload, "new");
  auto r = outbox_->list(1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 300u);  // the failed ones, still listed for the operator
}

TEST_F(OutboxTest, FailedRecordsExpireAfterTheirTtl) {
  subs_.setOutcome("mailer", Outcome::kFailed);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  runOnce();
  ASSERT_EQ(outbox_->list()->size(), 1u);
  clock_.advance(3600 * 1000 + 1);
  EXPECT_TRUE(outbox_->list()->empty());
}

TEST_F(OutboxTest, GivesUpAfterMaxAttempts) {
  subs_.setOutcome("mailer", Outcome::kRetry);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  for (int i = 0; i < 6; ++i) {
    runOnce();
    clock_.advance(10000);
  }
  EXPECT_EQ(subs_.delivered().size(), 4u);  // max_attempts
  auto r = outbox_->list();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].state, "failed");
  EXPECT_NE((*r)[0].last_error.find("gave up after 4 attempts"), std::string::npos)
      << (*r)[0].last_error;
}

TEST_F(OutboxTest, EverySubscriberGetsItsOwnRecord) {
  subs_.subscribe("mail.deliver", "audit");
  subs_.setOutcome("audit", Outcome::kRetry);
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  EXPECT_EQ(runOnce(), 2u);
  auto r = outbox_->list();
  ASSERT_EQ(r->size(), 1u) << "mailer's copy is done; audit's waits";
  EXPECT_EQ((*r)[0].subscriber, "audit");
}

TEST_F(OutboxTest, EventWithoutSubscriberWaitsForOne) {
  ASSERT_TRUE(outbox_->publish("p", "sms.deliver", "x").ok());
  EXPECT_EQ(runOnce(), 0u);
  ASSERT_EQ(outbox_->list()->size(), 1u);
  EXPECT_EQ((*outbox_->list())[0].subscriber, "");
  subs_.subscribe("sms.deliver", "texter");
  runOnce();  // fans out
  runOnce();  // delivers
  ASSERT_EQ(subs_.delivered().size(), 1u);
  EXPECT_EQ(subs_.delivered()[0].subscriber, "texter");
  EXPECT_TRUE(outbox_->list()->empty());
}

TEST_F(OutboxTest, UnloadedSubscriberKeepsItsRecord) {
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  subs_.unload("mailer");
  runOnce();
  auto r = outbox_->list();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].attempts, 0u) << "an attempt that could not start does not count";
  EXPECT_NE((*r)[0].last_error.find("not loaded"), std::string::npos);
}

TEST_F(OutboxTest, ALeaseLeftByACrashExpiresAndTheEventIsDeliveredAgain) {
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "x").ok());
  // Lease the record as a delivering process would, then "crash".
  auto before = storage_->list(Outbox::kNamespace, 10);
  ASSERT_EQ(before->size(), 1u);
  std::optional<Event> e = decodeEvent((*before)[0].key, (*before)[0].value);
  ASSERT_TRUE(e);
  e->attempts = 1;
  e->next_attempt_ms = clock_.nowMs() + options_.lease_ms;
  ASSERT_TRUE(storage_->put(Outbox::kNamespace, e->id, encodeEvent(*e), 0).ok());
  reopen();
  EXPECT_EQ(runOnce(), 0u) << "leased";
  clock_.advance(options_.lease_ms + 1);
  EXPECT_EQ(runOnce(), 1u);
  EXPECT_EQ(subs_.delivered().back().attempts, 2u);
}

TEST_F(OutboxTest, TwoOutboxesOnOneStoreDeliverEachRecordOnce) {
  Outbox other(*storage_, clock_, options_);
  other.setSubscribers(&subs_);
  constexpr int kEvents = 40;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(outbox_->publish("p", "mail.deliver", std::to_string(i)).ok());
  }
  std::thread a([&] { (void)outbox_->runOnce(); });
  std::thread b([&] { (void)other.runOnce(); });
  a.join();
  b.join();
  std::map<std::string, int> seen;
  for (const Event& e : subs_.delivered()) ++seen[e.payload];
  EXPECT_EQ(seen.size(), static_cast<size_t>(kEvents));
  for (const auto& [payload, n] : seen) EXPECT_EQ(n, 1) << payload;
}

TEST_F(OutboxTest, TwoProcessesDeliverEachEventOncePerSubscriber) {
  // Two outboxes on two connections (as two server processes have), two subscribers.
  subs_.subscribe("mail.deliver", "audit");
  absl::StatusOr<StoragePtr> second = habanero::testing::openTestStore(dir_, clock_);
  ASSERT_TRUE(second.ok()) << second.status();
  Outbox other(**second, clock_, options_);
  other.setSubscribers(&subs_);
  constexpr int kEvents = 60;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(outbox_->publish("p", "mail.deliver", std::to_string(i)).ok());
  }
  auto drain = [](Outbox& o) {
    for (int pass = 0; pass < 20; ++pass) (void)o.runOnce();
  };
  std::thread a([&] { drain(*outbox_); });
  std::thread b([&] { drain(other); });
  a.join();
  b.join();
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const Event& e : subs_.delivered()) ++seen[{e.payload, e.subscriber}];
  EXPECT_EQ(seen.size(), static_cast<size_t>(2 * kEvents));
  for (const auto& [what, n] : seen) EXPECT_EQ(n, 1) << what.first << " to " << what.second;
  EXPECT_TRUE(outbox_->list()->empty());
}

// A process killed (SIGKILL) in the middle of a delivery: its lease expires
// and another process delivers the event again.
TEST_F(OutboxTest, KilledMidDeliveryTheEventIsDeliveredAgainAfterTheLease) {
  ASSERT_TRUE(outbox_->publish("p", "mail.deliver", "survives a kill").ok());
  outbox_.reset();
  storage_.reset();  // no store handle across fork()
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Signals the parent, then never finishes the delivery.
    class Hanging final : public Subscribers {
     public:
      explicit Hanging(int fd) : fd_(fd) {}
      std::vector<std::string> subscribersOf(std::string_view) const override {
        return {"mailer"};
      }
      std::optional<Delivery> deliver(const Event&) const override {
        char c = 'd';
        if (write(fd_, &c, 1) != 1) _exit(5);
        for (;;) pause();
      }

     private:
      int fd_;
    } hanging(fds[1]);
    absl::StatusOr<StoragePtr> store = habanero::testing::openTestStore(dir_, clock_);
    if (!store.ok()) _exit(2);
    Outbox child(**store, clock_, options_);
    child.setSubscribers(&hanging);
    (void)child.runOnce();
    _exit(3);
  }
  close(fds[1]);
  char c = 0;
  ASSERT_EQ(read(fds[0], &c, 1), 1) << "the child never started delivering";
  close(fds[0]);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus));

  reopen();
  EXPECT_EQ(runOnce(), 0u) << "the dead process's lease still holds";
  EXPECT_TRUE(subs_.delivered().empty());
  clock_.advance(options_.lease_ms + 1);
  EXPECT_EQ(runOnce(), 1u);
  ASSERT_EQ(subs_.delivered().size(), 1u);
  EXPECT_EQ(subs_.delivered()[0].payload, "survives a kill");
  EXPECT_EQ(subs_.delivered()[0].attempts, 2u) << "the killed attempt counts";
  EXPECT_TRUE(outbox_->list()->empty());
}

TEST_F(OutboxTest, RefusesBadTopicsAndOversizedPayloads) {
  EXPECT_EQ(outbox_->publish("p", "Bad Topic", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(outbox_->publish("p", "", "x").code(), absl::StatusCode::kInvalidArgument);
  std::string big(Outbox::kMaxPayloadBytes + 1, 'x');
  EXPECT_EQ(outbox_->publish("p", "mail.deliver", big).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(outbox_->list()->empty());
}

TEST_F(OutboxTest, DispatcherThreadDeliversOnPublish) {
  Outbox live(*storage_, SystemClock::instance(), {.poll_ms = 60000});  // only a publish can wake it in time
  live.setSubscribers(&subs_);
  live.start();
  ASSERT_TRUE(live.publish("p", "mail.deliver", "now").ok());
  for (int i = 0; i < 500 && subs_.delivered().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  live.stop();
  ASSERT_EQ(subs_.delivered().size(), 1u);
  EXPECT_EQ(subs_.delivered()[0].payload, "now");
}

TEST(OutboxRecord, CorruptRecordsAreRefused) {
  EXPECT_FALSE(decodeEvent("k", "not json"));
  EXPECT_FALSE(decodeEvent("k", R"({"topic":1})"));
  Event e;
  e.topic = "t";
  e.payload = "p";
  auto round = decodeEvent("k", encodeEvent(e));
  ASSERT_TRUE(round);
  EXPECT_EQ(round->topic, "t");
  EXPECT_EQ(round->id, "k");
}

}  // namespace
}  // namespace habanero::events
