// auth::DomainEvents on a real events::Outbox over the test store (SQLite, or
// PostgreSQL in the "postgres." entries): a wanted topic becomes one durable record
// per subscriber, published by "habanero", with "time" from the clock; a topic
// nobody subscribes to leaves nothing in the store.
#include "auth/domain_events.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "auth_fixture.h"
#include "events/outbox.h"

namespace habanero::auth {
namespace {

class AuditSubscribers final : public events::Subscribers {
 public:
  std::vector<std::string> subscribersOf(std::string_view topic) const override {
    if (topic == topics::kSignInFailed) return {"audit"};
    return {};
  }
  std::optional<events::Delivery> deliver(const events::Event&) const override {
    return events::Delivery{events::Outcome::kDone, ""};
  }
};

class DomainEventsTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    outbox_ = std::make_unique<events::Outbox>(*storage_, clock_, events::OutboxOptions{});
    outbox_->setSubscribers(&subscribers_);
    events_ = std::make_unique<DomainEvents>(
        [this](std::string_view topic, std::string_view payload) {
          return outbox_->publish(kHostPublisher, topic, payload);
        },
        [this](std::string_view topic) { return !subscribers_.subscribersOf(topic).empty(); },
        clock_);
  }
  void TearDown() override {
    events_.reset();
    outbox_.reset();
    AuthFixture::TearDown();
  }

  AuditSubscribers subscribers_;
  std::unique_ptr<events::Outbox> outbox_;
  std::unique_ptr<DomainEvents> events_;
};

TEST_F(DomainEventsTest, AWantedTopicIsStoredForItsSubscriberWithTheTime) {
  EXPECT_TRUE(events_->publish(topics::kSignInFailed,
                               {{"method", "pwd"}, {"known_user", false}, {"ip", "192.0.2.7"}}));
  auto records = outbox_->list();
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  const events::Event& e = (*records)[0];
  EXPECT_EQ(e.topic, "habanero.signin.failed");
  EXPECT_EQ(e.publisher, "habanero");
  EXPECT_EQ(e.subscriber, "audit");
  nlohmann::json payload = nlohmann::json::parse(e.payload);
  EXPECT_EQ(payload["method"], "pwd");
  EXPECT_EQ(payload["ip"], "192.0.2.7");
  EXPECT_EQ(payload["known_user"], false);
  EXPECT_EQ(payload["time"], clock_.nowMs());
}

TEST_F(DomainEventsTest, ATopicNobodySubscribesToLeavesNothing) {
  EXPECT_FALSE(events_->publish(topics::kTokenIssued, {{"kind", "access_token"}}));
  EXPECT_FALSE(events_->publish(topics::kClientCreated, {{"client_id", "rp"}}));
  auto records = outbox_->list();
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(records->empty());
}

TEST_F(DomainEventsTest, AStoreFailureIsReportedNotThrown) {
  DomainEvents failing(
      [](std::string_view, std::string_view) { return absl::UnavailableError("store down"); },
      nullptr, clock_);
  EXPECT_FALSE(failing.publish(topics::kSignInSucceeded, {{"subject", "u1"}}));
}

}  // namespace
}  // namespace habanero::auth
