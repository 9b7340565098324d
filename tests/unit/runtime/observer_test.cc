// The runtime's Observer (runtime/observer.h) against real modules: every
// instance, trap, deadline and failed host call is reported, by extension and
// call, and nothing else is.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/observer.h"
#include "runtime_fixture.h"

namespace habanero::runtime {
namespace {

class CountingObserver final : public Observer {
 public:
  void instanceCreated(std::string_view extension) override { add("instance", extension); }
  void trapped(std::string_view extension) override { add("trap", extension); }
  void deadlineExceeded(std::string_view extension) override { add("deadline", extension); }
  void hostCallFailed(std::string_view extension, std::string_view call,
                      habanero_result_t result) override {
    add(std::string("call ") + std::string(call) + " " + std::string(resultName(result)),
        extension);
  }

  int count(const std::string& what, const std::string& extension) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(what + "@" + extension);
    return it == counts_.end() ? 0 : it->second;
  }
  int total() const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [k, v] : counts_) n += v;
    return n;
  }

 private:
  void add(std::string_view what, std::string_view extension) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[std::string(what) + "@" + std::string(extension)];
  }
  mutable std::mutex mu_;
  std::map<std::string, int> counts_;
};

class ObserverTest : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeFixture::SetUp();
    services_.observer = &observer_;
  }
  CountingObserver observer_;
};

TEST_F(ObserverTest, CountsInstancesPerRequest) {
  auto noop = load(configFor("noop", {"http"}));
  ASSERT_TRUE(noop.ok()) << noop.status();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(200, (*noop)->handle(get("/noop")).status);
  EXPECT_EQ(3, observer_.count("instance", "noop"));
  EXPECT_EQ(3, observer_.total());  // no trap, deadline or failed call
}

TEST_F(ObserverTest, CountsTrapsAndDeadlines) {
  auto traps = load(configFor("traps", {"http"}));
  ASSERT_TRUE(traps.ok()) << traps.status();
  EXPECT_EQ(500, (*traps)->handle(get("/traps", "kind=unreachable")).status);
  EXPECT_EQ(500, (*traps)->handle(get("/traps", "kind=oob")).status);
  EXPECT_EQ(400, (*traps)->handle(get("/traps", "kind=none")).status);
  EXPECT_EQ(2, observer_.count("trap", "traps"));
  EXPECT_EQ(3, observer_.count("instance", "traps"));
  EXPECT_EQ(0, observer_.count("deadline", "traps"));

  auto cfg = configFor("loop_forever", {"http"});
  cfg.limits.deadline_ms = 50;
  auto loop = load(cfg);
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_EQ(503, (*loop)->handle(get("/loop_forever")).status);
  EXPECT_EQ(1, observer_.count("deadline", "loop_forever"));
  EXPECT_EQ(0, observer_.count("trap", "loop_forever"));  // a deadline is not a trap
}

TEST_F(ObserverTest, CountsFailedHostCallsByCallAndResult) {
  const std::vector<std::string> all = {"http", "log", "kv", "clock", "settings", "crypto", "keys"};
  auto ext = load(configFor("bad_pointers", all));
  ASSERT_TRUE(ext.ok()) << ext.status();
  Response r = (*ext)->handle(get("/bad_pointers"));
  ASSERT_EQ(200, r.status) << r.body;
  // The module reports every result it saw; the observer must have seen the same.
  nlohmann::json codes = nlohmann::json::parse(r.body);
  std::map<std::string, int> expected;  // "call <name> <result>" -> count
  for (auto& [key, value] : codes.items()) {
    std::string call = key.substr(0, key.find('.'));
    int code = value.get<int>();
    ASSERT_TRUE(code == HABANERO_INVALID_MEMORY || code == HABANERO_INVALID_ARGUMENT) << key;
    ++expected["call " + call + " " + std::string(resultName(code))];
  }
  ASSERT_FALSE(expected.empty());
  int sum = 0;
  for (const auto& [what, n] : expected) {
    EXPECT_EQ(n, observer_.count(what, "bad_pointers")) << what;
    sum += n;
  }
  EXPECT_EQ(sum + 1, observer_.total());  // and one instance
}

TEST_F(ObserverTest, NormalAnswersAreNotReported) {
  // hello's normal answers use OK and NOT_FOUND only: nothing to report.
  auto hello = load(configFor("hello", {"http", "log", "kv", "settings"}));
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(200, (*hello)->handle(get("/hello", "name=Ana")).status);
  EXPECT_EQ(1, observer_.total());
}

TEST(HostCallErrors, ProtocolAnswersAreNotErrors) {
  for (habanero_result_t r : {HABANERO_OK, HABANERO_NOT_FOUND, HABANERO_BUFFER_TOO_SMALL,
                              HABANERO_DUPLICATE, HABANERO_CONFLICT, HABANERO_MISMATCH}) {
    EXPECT_FALSE(isHostCallError(r)) << resultName(r);
  }
  for (habanero_result_t r : {HABANERO_INVALID_MEMORY, HABANERO_INVALID_ARGUMENT,
                              HABANERO_LIMIT_EXCEEDED, HABANERO_UNAVAILABLE, HABANERO_DENIED,
                              HABANERO_REJECTED}) {
    EXPECT_TRUE(isHostCallError(r)) << resultName(r);
  }
  EXPECT_EQ("unavailable", resultName(HABANERO_UNAVAILABLE));
}

}  // namespace
}  // namespace habanero::runtime
