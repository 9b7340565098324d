// The verified-secret cache of operator-chosen client secrets (issue 12): a
// correct secret costs Argon2id once; a wrong one every time; a changed or
// removed client forgets what was verified.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "auth/clients.h"
#include "auth_fixture.h"
#include "crypto/cpu_pool.h"

namespace habanero::auth {
namespace {

class ClientSecretCacheTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    auto clients = Clients::open(*storage_, clock_);
    ASSERT_TRUE(clients.ok()) << clients.status();
    clients_ = std::move(*clients);
    ASSERT_TRUE(clients_->add(chosen("first secret")).ok());
  }
  static NewClient chosen(std::string secret) {
    return NewClient{.client_id = "svc", .secret = std::move(secret),
                     .redirect_uris = {"https://svc.example/cb"},
                     .grant_types = {"client_credentials"}};
  }
  // Argon2id runs so far (every one goes through the pool).
  static uint64_t argon2Runs() { return crypto::CpuPool::passwordHashing().started(); }

  std::unique_ptr<Clients> clients_;
};

TEST_F(ClientSecretCacheTest, ACorrectSecretCostsArgon2idOnce) {
  uint64_t before = argon2Runs();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(clients_->authenticate("svc", "first secret"));
  EXPECT_EQ(argon2Runs() - before, 1u);
}

TEST_F(ClientSecretCacheTest, AWrongSecretCostsArgon2idEveryTime) {
  ASSERT_TRUE(clients_->authenticate("svc", "first secret"));
  uint64_t before = argon2Runs();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(clients_->authenticate("svc", "guess"));
  EXPECT_EQ(argon2Runs() - before, 3u);
  EXPECT_TRUE(clients_->authenticate("svc", "first secret"));  // still cached
  EXPECT_EQ(argon2Runs() - before, 3u);
}

TEST_F(ClientSecretCacheTest, AChangedSecretIsNotAcceptedFromTheCache) {
  ASSERT_TRUE(clients_->authenticate("svc", "first secret"));
  ASSERT_TRUE(clients_->upsert(chosen("second secret")).ok());
  EXPECT_FALSE(clients_->authenticate("svc", "first secret"));
  EXPECT_TRUE(clients_->authenticate("svc", "second secret"));
}

TEST_F(ClientSecretCacheTest, ARemovedClientIsNotAcceptedFromTheCache) {
  ASSERT_TRUE(clients_->authenticate("svc", "first secret"));
  ASSERT_TRUE(clients_->remove("svc").ok());
  EXPECT_FALSE(clients_->authenticate("svc", "first secret"));
}

TEST(CpuPool, RunsOnAtMostItsThreadsAndReturnsTheResult) {
  crypto::CpuPool pool(2, /*nice=*/0);
  EXPECT_EQ(pool.threads(), 2u);
  std::atomic<int> inside{0}, peak{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&, i] {
      int r = pool.run([&, i] {
        int now = ++inside;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {}
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --inside;
        return i * 2;
      });
      EXPECT_EQ(r, i * 2);
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(pool.started(), 8u);
}

}  // namespace
}  // namespace habanero::auth
