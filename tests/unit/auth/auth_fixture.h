// A real store in a temporary directory and a clock the test moves, for the
// tests of src/auth/: SQLite, or PostgreSQL in the "postgres." ctest entries
// (testing::openTestStore).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "habanero/clock.h"
#include "habanero/storage.h"
#include "postgres_test_server.h"

namespace habanero::auth {

class ManualClock final : public Clock {
 public:
  int64_t nowMs() const override { return now_ms_.load(); }
  void advance(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
};

class AuthFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-auth-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    storage_ = open();
    ASSERT_NE(storage_, nullptr);
  }
  void TearDown() override {
    storage_.reset();
    habanero::testing::cleanupTestStore(dir_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  // Another connection to the same database, as the CLI would have.
  StoragePtr open() {
    auto s = habanero::testing::openTestStore(dir_, clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  ManualClock clock_;
  std::string dir_;
  StoragePtr storage_;
};

}  // namespace habanero::auth
