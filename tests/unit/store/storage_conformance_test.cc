// One behaviour suite for every Storage backend (include/habanero/storage.h).
// A backend joins by adding a factory to kBackends at the bottom.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "habanero/clock.h"
#include "habanero/limits.h"
#include "habanero/storage.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero {
namespace {

using namespace std::string_literals;

// Time that only moves when the test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_ms_(start_ms) {}
  int64_t nowMs() const override { return now_ms_.load(); }
  void advance(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

struct Backend {
  std::string name;
  // Opens the backend's storage whose state lives in (or is named by) `dir`;
  // called again with the same `dir`, it reopens the same data.
  std::function<absl::StatusOr<StoragePtr>(const std::filesystem::path& dir, const Clock& clock)>
      open;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

class StorageConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    store_ = open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Another handle on the same data (a second connection, or a restart).
  StoragePtr open() {
    absl::StatusOr<StoragePtr> store = GetParam().open(dir_, clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::optional<std::string> get(Storage& store, std::string_view ns, std::string_view key) {
    absl::StatusOr<std::optional<std::string>> value = store.get(ns, key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : std::nullopt;
  }
  std::optional<std::string> get(std::string_view ns, std::string_view key) {
    return get(*store_, ns, key);
  }
  void put(std::string_view ns, std::string_view key, std::string_view value, int64_t ttl_ms = 0) {
    EXPECT_EQ(store_->put(ns, key, value, ttl_ms), absl::OkStatus());
  }
  std::optional<std::string> take(std::string_view ns, std::string_view key) {
    absl::StatusOr<std::optional<std::string>> value = store_->take(ns, key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : std::nullopt;
  }
  bool cas(std::string_view ns, std::string_view key, std::optional<std::string_view> expected,
           std::string_view value, int64_t ttl_ms = 0) {
    absl::StatusOr<bool> written = store_->compareAndSet(ns, key, expected, value, ttl_ms);
    EXPECT_TRUE(written.ok()) << written.status();
    return written.ok() && *written;
  }

  ManualClock clock_{1'700'000'000'000};
  std::filesystem::path dir_;
  StoragePtr store_;
};

TEST_P(StorageConformanceTest, GetPutRemove) {
  EXPECT_EQ(get("ns", "k"), std::nullopt);
  put("ns", "k", "v1");
  EXPECT_EQ(get("ns", "k"), "v1");
  put("ns", "k", "v2");
  EXPECT_EQ(get("ns", "k"), "v2");
  EXPECT_EQ(store_->remove("ns", "k"), absl::OkStatus());
  EXPECT_EQ(get("ns", "k"), std::nullopt);
  EXPECT_EQ(store_->remove("ns", "k"), absl::OkStatus()) << "removing an absent key is OK";
}

TEST_P(StorageConformanceTest, BinaryKeysAndValues) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::string key_with_nul = "a\0b"s;
  const std::string value_with_nuls = "\0\0x\0"s + all_bytes;

  put("ns", key_with_nul, value_with_nuls);
  put("ns", "a", "just a");
  put("ns", "a\0"s, "a and NUL");
  put("ns", all_bytes, "all bytes");
  EXPECT_EQ(get("ns", key_with_nul), value_with_nuls);
  EXPECT_EQ(get("ns", "a"), "just a");
  EXPECT_EQ(get("ns", "a\0"s), "a and NUL");
  EXPECT_EQ(get("ns", "a\0c"s), std::nullopt);
  EXPECT_EQ(get("ns", all_bytes), "all bytes");

  // Empty is a value (present), and the empty key is a key.
  put("ns", "empty", "");
  EXPECT_EQ(get("ns", "empty"), ""s);
  put("ns", "", "empty key");
  EXPECT_EQ(get("ns", ""), "empty key");
  EXPECT_EQ(take("ns", "empty"), ""s);
  EXPECT_EQ(get("ns", "empty"), std::nullopt);
  EXPECT_TRUE(cas("ns", "", "empty key", ""));
  EXPECT_TRUE(cas("ns", "", ""s, "x"));
  EXPECT_EQ(get("ns", ""), "x");
}

TEST_P(StorageConformanceTest, OverlongKeyIsInvalidArgument) {
  const std::string longest(limits::kMaxKeyBytes, 'k');
  put("ns", longest, "v");
  EXPECT_EQ(get("ns", longest), "v");
  const std::string too_long(limits::kMaxKeyBytes + 1, 'k');
  EXPECT_EQ(store_->put("ns", too_long, "v", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->get("ns", too_long).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StorageConformanceTest, NamespacesAreIsolated) {
  put("alpha", "k", "from alpha");
  put("beta", "k", "from beta");
  EXPECT_EQ(get("alpha", "k"), "from alpha");
  EXPECT_EQ(get("beta", "k"), "from beta");
  EXPECT_EQ(get("alph", "k"), std::nullopt);
  EXPECT_EQ(get("_host/alpha", "k"), std::nullopt);

  EXPECT_EQ(store_->remove("alpha", "k"), absl::OkStatus());
  EXPECT_EQ(get("beta", "k"), "from beta");
  EXPECT_EQ(take("beta", "k"), "from beta");
  put("alpha", "k", "again");
  EXPECT_FALSE(cas("beta", "k", "again"s, "stolen"));
  EXPECT_TRUE(cas("beta", "k", std::nullopt, "beta's own"));
  EXPECT_EQ(get("alpha", "k"), "again");
}

TEST_P(StorageConformanceTest, TtlExpiresAtNowPlusTtl) {
  put("ns", "short", "v", /*ttl_ms=*/1000);
  put("ns", "forever", "v", /*ttl_ms=*/0);
  put("ns", "negative", "v", /*ttl_ms=*/-5);
  clock_.advance(999);
  EXPECT_EQ(get("ns", "short"), "v");
  clock_.advance(1);
  EXPECT_EQ(get("ns", "short"), std::nullopt);
  clock_.advance(100LL * 365 * 24 * 3600 * 1000);
  EXPECT_EQ(get("ns", "forever"), "v");
  EXPECT_EQ(get("ns", "negative"), "v");
}

TEST_P(StorageConformanceTest, PutReplacesTtl) {
  put("ns", "k", "v", 1000);
  put("ns", "k", "v2", 0);
  clock_.advance(5000);
  EXPECT_EQ(get("ns", "k"), "v2");
  put("ns", "k", "v3", 1000);
  clock_.advance(1000);
  EXPECT_EQ(get("ns", "k"), std::nullopt);
}

TEST_P(StorageConformanceTest, ExpiredBehavesAsAbsent) {
  put("ns", "get", "old", 10);
  put("ns", "take", "old", 10);
  put("ns", "cas-old", "old", 10);
  put("ns", "cas-absent", "old", 10);
  clock_.advance(10);

  EXPECT_EQ(get("ns", "get"), std::nullopt);
  EXPECT_EQ(take("ns", "take"), std::nullopt);
  EXPECT_FALSE(cas("ns", "cas-old", "old"s, "new")) << "expired value must not match";
  EXPECT_EQ(get("ns", "cas-old"), std::nullopt);
  EXPECT_TRUE(cas("ns", "cas-absent", std::nullopt, "new")) << "expired counts as absent";
  EXPECT_EQ(get("ns", "cas-absent"), "new");
  clock_.advance(1'000'000);
  EXPECT_EQ(get("ns", "cas-absent"), "new") << "the new write carries its own (no) TTL";
}

TEST_P(StorageConformanceTest, ManyExpiredRowsStayInvisible) {
  // Enough rows that a backend's lazy reclaim runs (possibly partially).
  for (int i = 0; i < 1200; ++i) put("bulk", "k" + std::to_string(i), "v", 1);
  clock_.advance(3'600'000);  // past any reasonable reclaim interval
  put("bulk", "live", "v");   // a write that may trigger reclaim
  put("bulk", "live2", "v");
  for (int i = 0; i < 1200; i += 37) EXPECT_EQ(get("bulk", "k" + std::to_string(i)), std::nullopt);
  EXPECT_EQ(get("bulk", "live"), "v");
  EXPECT_EQ(get("bulk", "live2"), "v");
}

TEST_P(StorageConformanceTest, ListReturnsLiveRecordsOfOneNamespaceInKeyOrder) {
  auto list = [&](std::string_view ns, size_t limit) {
    absl::StatusOr<std::vector<KeyValue>> records = store_->list(ns, limit);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<KeyValue>{};
  };
  EXPECT_TRUE(list("users", 100).empty()) << "unknown namespace";
  put("users", "b", "2");
  put("users", "a", "1");
  put("users", "c\0"s, "\0three"s);
  put("users", "\xff", "high byte");  // bytewise order: after every ASCII key
  put("users", "gone", "x");
  EXPECT_EQ(store_->remove("users", "gone"), absl::OkStatus());
  put("users", "expiring", "x", /*ttl_ms=*/10);
  put("users_by_email", "a", "other namespace");
  put("user", "z", "prefix namespace");

  const std::vector<KeyValue> live_before_expiry = list("users", 100);
  ASSERT_EQ(live_before_expiry.size(), 5u);
  EXPECT_EQ(live_before_expiry[3].key, "expiring");

  clock_.advance(10);
  const std::vector<KeyValue> expected = {
      {"a", "1"}, {"b", "2"}, {"c\0"s, "\0three"s}, {"\xff", "high byte"}};
  EXPECT_EQ(list("users", 100), expected) << "expired and removed records are not listed";
  EXPECT_EQ(list("users", 2), std::vector<KeyValue>(expected.begin(), expected.begin() + 2));
  EXPECT_TRUE(list("users", 0).empty());
  EXPECT_EQ(list("users", SIZE_MAX), expected);
  EXPECT_EQ(list("users_by_email", 100), (std::vector<KeyValue>{{"a", "other namespace"}}));
  EXPECT_EQ(take("users", "a"), "1");
  EXPECT_EQ(list("users", 100).size(), 3u);
}

TEST_P(StorageConformanceTest, ListSeesWritesOfAnotherHandle) {
  StoragePtr other = open();
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(other->put("clients", "web", "{}", 0), absl::OkStatus());
  absl::StatusOr<std::vector<KeyValue>> records = store_->list("clients", 10);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(*records, (std::vector<KeyValue>{{"web", "{}"}}));
}

TEST_P(StorageConformanceTest, TakeReturnsTheValueOnce) {
  put("ns", "k", "v");
  EXPECT_EQ(take("ns", "k"), "v");
  EXPECT_EQ(take("ns", "k"), std::nullopt);
  EXPECT_EQ(get("ns", "k"), std::nullopt);
  EXPECT_EQ(take("ns", "never"), std::nullopt);
}

TEST_P(StorageConformanceTest, CompareAndSet) {
  EXPECT_TRUE(cas("ns", "k", std::nullopt, "v1")) << "absent matches nullopt";
  EXPECT_FALSE(cas("ns", "k", std::nullopt, "v2")) << "present does not match nullopt";
  EXPECT_EQ(get("ns", "k"), "v1");
  EXPECT_FALSE(cas("ns", "k", "wrong"s, "v2"));
  EXPECT_FALSE(cas("ns", "k", "v"s, "v2")) << "prefix is not equal";
  EXPECT_FALSE(cas("ns", "k", "v1\0"s, "v2")) << "trailing NUL is not equal";
  EXPECT_EQ(get("ns", "k"), "v1");
  EXPECT_TRUE(cas("ns", "k", "v1"s, "v2", /*ttl_ms=*/100));
  EXPECT_EQ(get("ns", "k"), "v2");
  clock_.advance(100);
  EXPECT_EQ(get("ns", "k"), std::nullopt) << "CAS applies its TTL";
}

TEST_P(StorageConformanceTest, ConcurrentTakeHasExactlyOneWinner) {
  // Half the threads use a second handle: atomicity must hold across
  // connections (processes), not only within one.
  StoragePtr other = open();
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 8;
  constexpr int kRounds = 100;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "token-" + std::to_string(round);
    const std::string value = "secret-" + std::to_string(round);
    put("codes", key, value);
    std::atomic<int> winners{0};
    std::atomic<int> errors{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      Storage* store = t % 2 ? other.get() : store_.get();
      threads.emplace_back([&, store] {
        start.arrive_and_wait();
        absl::StatusOr<std::optional<std::string>> got = store->take("codes", key);
        if (!got.ok()) {
          ++errors;
          ADD_FAILURE() << got.status();
        } else if (got->has_value()) {
          EXPECT_EQ(**got, value);
          ++winners;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(errors.load(), 0);
    ASSERT_EQ(winners.load(), 1) << "round " << round;
  }
}

TEST_P(StorageConformanceTest, ConcurrentCompareAndSetHasExactlyOneWinner) {
  StoragePtr other = open();
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 8;
  constexpr int kRounds = 100;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "k" + std::to_string(round);
    // Even rounds race from a value, odd rounds from absent.
    std::optional<std::string> expected;
    if (round % 2 == 0) {
      expected = "start";
      put("cas", key, *expected);
    }
    std::atomic<int> winners{0};
    std::atomic<int> winner{-1};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      Storage* store = t % 2 ? other.get() : store_.get();
      threads.emplace_back([&, store, t] {
        start.arrive_and_wait();
        absl::StatusOr<bool> written = store->compareAndSet(
            "cas", key, expected ? std::optional<std::string_view>(*expected) : std::nullopt,
            "thread-" + std::to_string(t), 0);
        ASSERT_TRUE(written.ok()) << written.status();
        if (*written) {
          ++winners;
          winner = t;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    EXPECT_EQ(get("cas", key), "thread-" + std::to_string(winner.load()));
  }
}

TEST_P(StorageConformanceTest, CompareAndSetCounterReachesExactTotal) {
  StoragePtr other = open();
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 6;
  constexpr int kIncrements = 100;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Storage* store = t % 2 ? other.get() : store_.get();
    threads.emplace_back([&, store] {
      start.arrive_and_wait();
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          absl::StatusOr<std::optional<std::string>> current = store->get("ctr", "n");
          ASSERT_TRUE(current.ok()) << current.status();
          int64_t n = current->has_value() ? std::stoll(**current) : 0;
          std::optional<std::string_view> expected;
          if (current->has_value()) expected = **current;
          absl::StatusOr<bool> written =
              store->compareAndSet("ctr", "n", expected, std::to_string(n + 1), 0);
          ASSERT_TRUE(written.ok()) << written.status();
          if (*written) break;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(get("ctr", "n"), std::to_string(kThreads * kIncrements));
}

TEST_P(StorageConformanceTest, DurableAcrossRestart) {
  put("ns", "kept", "v");
  put("ns", "bin\0"s, "\0\1\2"s);
  put("ns", "ttl", "v", 5000);
  put("ns", "removed", "v");
  EXPECT_EQ(store_->remove("ns", "removed"), absl::OkStatus());
  EXPECT_TRUE(cas("other", "cas", std::nullopt, "c"));
  put("ns", "taken", "v");
  EXPECT_EQ(take("ns", "taken"), "v");

  store_.reset();
  store_ = open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(get("ns", "kept"), "v");
  EXPECT_EQ(get("ns", "bin\0"s), "\0\1\2"s);
  EXPECT_EQ(get("ns", "ttl"), "v");
  EXPECT_EQ(get("ns", "removed"), std::nullopt);
  EXPECT_EQ(get("other", "cas"), "c");
  EXPECT_EQ(get("ns", "taken"), std::nullopt);
  clock_.advance(5000);
  EXPECT_EQ(get("ns", "ttl"), std::nullopt) << "expiry survives a restart";
}

// A child process writes records and acknowledges each one after put()
// returned; the parent SIGKILLs it mid-stream. Every acknowledged record must
// be there after reopening.
TEST_P(StorageConformanceTest, AcknowledgedWritesSurviveSigkill) {
  constexpr uint32_t kAcksBeforeKill = 100;
  constexpr uint32_t kMaxRecords = 1'000'000;
  constexpr int kPollTimeoutMs = 30'000;
  auto valueFor = [](uint32_t i) { return "value-" + std::to_string(i) + "\0tail"s; };

  // No storage handle may be open across fork(): a child must not inherit a
  // parent's connection or its lock state.
  store_.reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    absl::StatusOr<StoragePtr> store = GetParam().open(dir_, clock_);
    if (!store.ok()) _exit(2);
    for (uint32_t i = 0; i < kMaxRecords; ++i) {
      if (!(*store)->put("crash", "k" + std::to_string(i), valueFor(i), 0).ok()) _exit(3);
      if (write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);

  std::vector<uint32_t> acked;
  bool killed = false;
  while (true) {
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = poll(&pfd, 1, kPollTimeoutMs);
    if (ready <= 0) {
      ADD_FAILURE() << "child stopped acknowledging";
      kill(pid, SIGKILL);
      break;
    }
    uint32_t index;
    ssize_t n = read(fds[0], &index, sizeof index);
    if (n == 0) break;  // the child is gone and the pipe is drained
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof index));
    acked.push_back(index);
    if (!killed && acked.size() == kAcksBeforeKill) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;  // keep reading: acks already in the pipe count too
    }
  }
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "child exited early with status " << wstatus;
  ASSERT_GE(acked.size(), kAcksBeforeKill);

  store_ = open();
  ASSERT_NE(store_, nullptr);
  for (uint32_t i : acked) {
    ASSERT_EQ(get("crash", "k" + std::to_string(i)), valueFor(i)) << "acknowledged record " << i;
  }
  // The record in flight at the kill is either fully there or absent.
  uint32_t next = acked.back() + 1;
  std::optional<std::string> in_flight = get("crash", "k" + std::to_string(next));
  if (in_flight) {
    EXPECT_EQ(*in_flight, valueFor(next));
  }
}

// ---- SQLite specifics -----------------------------------------------------

TEST(SqliteStorageTest, OpenErrorNamesThePath) {
  const std::string path = "/nonexistent-habanero-dir/sub/habanero.db";
  absl::StatusOr<StoragePtr> store = store::SqliteStorage::open(path, SystemClock::instance());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos) << store.status();
}

TEST(SqliteStorageTest, RefusesAFileThatIsNotADatabase) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-store-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/garbage.db";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string junk(4096, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  absl::StatusOr<StoragePtr> store = store::SqliteStorage::open(path, SystemClock::instance());
  EXPECT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos) << store.status();
  std::filesystem::remove_all(tmpl);
}

TEST(SqliteStorageTest, ParsesSynchronous) {
  EXPECT_EQ(store::parseSynchronous("full").value_or(store::Synchronous::kNormal),
            store::Synchronous::kFull);
  EXPECT_EQ(store::parseSynchronous("normal").value_or(store::Synchronous::kFull),
            store::Synchronous::kNormal);
  EXPECT_EQ(store::parseSynchronous("FULL").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store::parseSynchronous("off").status().code(), absl::StatusCode::kInvalidArgument);
}

const Backend kBackends[] = {
    {"sqlite",
     [](const std::filesystem::path& dir, const Clock& clock) {
       return store::SqliteStorage::open((dir / "habanero.db").string(), clock);
     }},
    // synchronous=NORMAL must keep the same guarantees up to a process crash.
    {"sqlite_normal",
     [](const std::filesystem::path& dir, const Clock& clock) {
       return store::SqliteStorage::open((dir / "habanero.db").string(), clock,
                                         store::Synchronous::kNormal);
     }},
};

INSTANTIATE_TEST_SUITE_P(Backends, StorageConformanceTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace habanero
