// The host calls of design 0002 through the event_probe module
// (tests/wasm/event_probe.cc): event_publish grants, habanero_on_event outcomes,
// event_get outside an event, user_find, the optional capability signup (DENIED when
// not granted), http_fetch's guard, and load-time refusals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "events/outbox.h"
#include "http/form.h"
#include "outbound/fetch.h"
#include "runtime_fixture.h"
#include "../../../sdk/c/habanero.h"

namespace habanero::runtime {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

const std::vector<std::string> kGrants = {"http", "kv", "events", "users", "fetch"};

class EventsHostCallTest : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeFixture::SetUp();
    outbox_ = std::make_unique<events::Outbox>(*storage_, SystemClock::instance(),
                                               events::OutboxOptions{});
    services_.outbox = outbox_.get();
    services_.fetcher = &fetcher_;
  }
  void TearDown() override {
    probe_.reset();
    outbox_.reset();
    RuntimeFixture::TearDown();
  }

  void loadProbe(std::vector<std::string> grants = kGrants,
                 std::vector<std::string> publish = {"probe.topic"}) {
    ExtensionSpec c = configFor("event_probe", std::move(grants));
    c.grants.publish_topics = std::move(publish);
    auto ext = load(c);
    ASSERT_TRUE(ext.ok()) << ext.status();
    probe_ = *ext;
  }

  Json call(const std::string& sub,
            const http::Params& query = http::Params(std::vector<http::Params::Entry>{})) {
    Response r = probe_->handle(get("/event_probe" + sub, http::encodeForm(query)));
    EXPECT_EQ(r.status, 200) << r.body;
    Json j = Json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.body;
    return j;
  }

  events::Event event(const std::string& payload) {
    events::Event e;
    e.id = "event-1";
    e.topic = "probe.topic";
    e.payload = payload;
    e.publisher = "someone";
    e.subscriber = "event_probe";
    e.attempts = 3;
    return e;
  }

  std::optional<std::string> seen(const std::string& id) {
    auto v = storage_->get("event_probe", "seen/" + id);
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : std::nullopt;
  }

  outbound::Fetcher fetcher_;
  std::unique_ptr<events::Outbox> outbox_;
  ExtensionPtr probe_;
};

http::Params qp(std::initializer_list<http::Params::Entry> entries) {
  return http::Params(std::vector<http::Params::Entry>(entries));
}

TEST_F(EventsHostCallTest, PublishToAGrantedTopicIsStoredDurably) {
  loadProbe();
  Json j = call("/publish", qp({{"topic", "probe.topic"}, {"payload", "hello"}}));
  EXPECT_EQ(j["result"], HABANERO_OK);
  auto records = outbox_->list();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].topic, "probe.topic");
  EXPECT_EQ((*records)[0].payload, "hello");
  EXPECT_EQ((*records)[0].publisher, "event_probe");
}

TEST_F(EventsHostCallTest, PublishToATopicNotGrantedIsDenied) {
  loadProbe();
  Json j = call("/publish", qp({{"topic", "other.topic"}, {"payload", "x"}}));
  EXPECT_EQ(j["result"], HABANERO_DENIED);
  EXPECT_TRUE(outbox_->list()->empty());
  EXPECT_THAT(logText(), HasSubstr("not in its publish grants"));
}

TEST_F(EventsHostCallTest, EventGetOutsideAnEventIsNotFound) {
  loadProbe();
  EXPECT_EQ(call("/event_get")["result"], HABANERO_NOT_FOUND);
}

TEST_F(EventsHostCallTest, OnEventSeesTheEventAndItsOutcomeIsMapped) {
  loadProbe();
  events::Delivery done = probe_->handleEvent(event("done"));
  EXPECT_EQ(done.outcome, events::Outcome::kDone);
  EXPECT_EQ(seen("event-1"), "probe.topic|done|3|someone");

  EXPECT_EQ(probe_->handleEvent(event("retry")).outcome, events::Outcome::kRetry);
  EXPECT_EQ(probe_->handleEvent(event("fail")).outcome, events::Outcome::kFailed);

  events::Delivery trapped = probe_->handleEvent(event("trap"));
  EXPECT_EQ(trapped.outcome, events::Outcome::kRetry);
  EXPECT_THAT(trapped.error, HasSubstr("trap in habanero_on_event"));

  events::Delivery weird = probe_->handleEvent(event("weird"));
  EXPECT_EQ(weird.outcome, events::Outcome::kRetry);
  EXPECT_THAT(weird.error, HasSubstr("returned 42"));
}

TEST_F(EventsHostCallTest, OptionalCapabilityNotGrantedAnswersDenied) {
  loadProbe();  // "signup" not granted
  Json j = call("/signup", qp({{"email", "new@example.com"}}));
  EXPECT_EQ(j["result"], HABANERO_DENIED);
  auto user = users_->findByEmail("new@example.com");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_value());
}

TEST_F(EventsHostCallTest, SignupWhenGrantedCreatesAVerifiedPasswordlessUser) {
  std::vector<std::string> grants = kGrants;
  grants.push_back("signup");
  loadProbe(grants);
  Json j = call("/signup", qp({{"email", "New@Example.com"}}));
  ASSERT_EQ(j["result"], HABANERO_OK);
  auto user = users_->findByEmail("new@example.com");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->subject, j["sub"].get<std::string>());
  EXPECT_TRUE((*user)->email_verified);
  EXPECT_FALSE((*user)->has_password);
  EXPECT_EQ(call("/signup", qp({{"email", "new@example.com"}}))["result"], HABANERO_DUPLICATE);
  EXPECT_EQ(call("/signup", qp({{"email", "not an address"}}))["result"],
            HABANERO_INVALID_ARGUMENT);
}

TEST_F(EventsHostCallTest, UserFindByEmailAndPhone) {
  auto added = users_->add({.email = "ana@example.com", .phone_number = "+14155550100"});
  ASSERT_TRUE(added.ok()) << added.status();
  loadProbe();
  Json by_email = call("/find", qp({{"kind", "email"}, {"value", " ANA@example.com "}}));
  EXPECT_EQ(by_email["result"], HABANERO_OK);
  EXPECT_EQ(by_email["sub"].get<std::string>(), added->subject);
  Json by_phone = call("/find", qp({{"kind", "phone"}, {"value", "+14155550100"}}));
  EXPECT_EQ(by_phone["result"], HABANERO_OK);
  EXPECT_EQ(by_phone["sub"].get<std::string>(), added->subject);
  EXPECT_EQ(call("/find", qp({{"kind", "phone"}, {"value", "+14155550199"}}))["result"],
            HABANERO_NOT_FOUND);
  EXPECT_EQ(call("/find", qp({{"kind", "phone"}, {"value", "0415 555"}}))["result"],
            HABANERO_INVALID_ARGUMENT);
}

TEST_F(EventsHostCallTest, FetchRefusesLoopbackAndOtherSchemes) {
  loadProbe();
  Json loop = call("/fetch", qp({{"url", "http://127.0.0.1:9/"}}));
  EXPECT_EQ(loop["result"], HABANERO_DENIED);
  Json metadata = call("/fetch", qp({{"url", "http://169.254.169.254/latest/meta-data/"}}));
  EXPECT_EQ(metadata["result"], HABANERO_DENIED);
  Json file = call("/fetch", qp({{"url", "file:///etc/passwd"}}));
  EXPECT_EQ(file["result"], HABANERO_INVALID_ARGUMENT);
}

// A loopback HTTP server that answers one request after `delay_ms`.
class SlowServer {
 public:
  explicit SlowServer(int delay_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, delay_ms] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)::read(c, buf, sizeof buf);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      const char reply[] =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
          "Connection: close\r\n\r\nslow";
      (void)::write(c, reply, sizeof reply - 1);
      ::close(c);
    });
  }
  ~SlowServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(EventsHostCallTest, NetworkWaitIsNotChargedToTheDeadline) {
  services_.fetch_policy.allow_loopback = true;  // development switch: loopback only
  loadProbe();                            // deadline_ms = 300 (configFor)
  SlowServer slow(900);
  Json j = call("/fetch", qp({{"url", "http://127.0.0.1:" + std::to_string(slow.port()) + "/"}}));
  ASSERT_EQ(j["result"], HABANERO_OK) << j.dump();
  Json response = Json::parse(j["response"].get<std::string>(), nullptr, false);
  EXPECT_EQ(response["status"], 200);
  EXPECT_EQ(response["body"], "slow");
}

TEST_F(EventsHostCallTest, SubscribingWithoutTheExportIsRefusedAtLoad) {
  // echo.wasm has no habanero_on_event; give it a manifest that subscribes.
  std::string dir = dir_ + "/mods";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(wasmPath("echo"), dir + "/echo.wasm");
  std::ofstream(dir + "/echo.manifest.toml")
      << "name = \"echo\"\nabi = 1\ncapabilities = [\"http\", \"events\"]\n"
         "subscribes = [\"probe.topic\"]\n";
  ExtensionSpec c =
      configFor("echo", {"http", "log", "kv", "clock", "settings", "crypto", "keys", "events"});
  auto ext = load(c, dir + "/echo.wasm");
  ASSERT_FALSE(ext.ok());
  EXPECT_THAT(ext.status().message(), HasSubstr("does not export habanero_on_event"));
}

// The facility comes from the host-call table; what to configure is the
// embedder's hint (the server names its [mail] keys).
TEST_F(EventsHostCallTest, MailWithoutAMailerIsRefusedAtLoadWithTheEmbeddersHint) {
  std::string dir = dir_ + "/mods";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(wasmPath("echo"), dir + "/echo.wasm");
  std::ofstream(dir + "/echo.manifest.toml")
      << "name = \"echo\"\nabi = 1\ncapabilities = [\"http\", \"mail\"]\n";
  ExtensionSpec c =
      configFor("echo", {"http", "log", "kv", "clock", "settings", "crypto", "keys", "mail"});
  auto ext = load(c, dir + "/echo.wasm");
  ASSERT_FALSE(ext.ok());
  EXPECT_THAT(ext.status().message(), HasSubstr("capability 'mail' needs a mail sender"));
  services_.missing_facility_hints["mailer"] = "set HABANERO_SMTP_URL";
  auto hinted = load(c, dir + "/echo.wasm");
  ASSERT_FALSE(hinted.ok());
  EXPECT_THAT(hinted.status().message(), HasSubstr("(set HABANERO_SMTP_URL)"));
}

}  // namespace
}  // namespace habanero::runtime
