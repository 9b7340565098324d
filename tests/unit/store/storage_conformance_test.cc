// One behaviour suite for every Storage backend (include/habanero/storage.h).
// A backend joins by adding a factory to kBackends at the bottom.

#include <arpa/inet.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
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
#include "postgres_test_server.h"
#include "store/postgres/postgres_storage.h"
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
  // Releases what open() created outside `dir` (a PostgreSQL database); may be empty.
  std::function<void(const std::filesystem::path& dir)> cleanup;
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
    if (GetParam().cleanup) GetParam().cleanup(dir_);
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

TEST(SqliteStorageTest, FilesAreOwnerOnlyWhateverTheUmask) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-store-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/habanero.db";
  mode_t old = umask(0);
  {
    absl::StatusOr<StoragePtr> store = store::SqliteStorage::open(path, SystemClock::instance());
    umask(old);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_EQ((*store)->put("ns", "k", "v", 0), absl::OkStatus());
    for (const char* suffix : {"", "-wal", "-shm"}) {
      struct stat st {};
      ASSERT_EQ(stat((path + suffix).c_str(), &st), 0) << suffix;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << suffix;
    }
  }
  // An existing world-readable database (an older data directory) is tightened.
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  ASSERT_TRUE(store::SqliteStorage::open(path, SystemClock::instance()).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(tmpl);
}

// Group commit (sqlite_storage.h): writers that queue while a commit waits for
// the write lock share the next commit, and each still gets its own result. A
// second connection holds the write lock while the writers queue up.
TEST(SqliteStorageTest, ConcurrentWritersShareCommitsAndKeepTheirResults) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-store-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/habanero.db";
  {
    absl::StatusOr<StoragePtr> opened = store::SqliteStorage::open(path, SystemClock::instance());
    ASSERT_TRUE(opened.ok()) << opened.status();
    auto* store = static_cast<store::SqliteStorage*>(opened->get());
    ASSERT_EQ(store->put("codes", "shared", "code", 0), absl::OkStatus());
    const store::SqliteStorage::WriteStats before = store->writeStats();

    sqlite3* blocker = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

    constexpr int kThreads = 8;
    std::atomic<int> takers{0};
    std::atomic<int> cas_winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::string key = "k" + std::to_string(t);
        EXPECT_EQ(store->put("ns", key, "v" + std::to_string(t), 0), absl::OkStatus());
        absl::StatusOr<std::optional<std::string>> taken = store->take("codes", "shared");
        ASSERT_TRUE(taken.ok()) << taken.status();
        if (taken->has_value()) ++takers;
        absl::StatusOr<bool> won = store->compareAndSet("ns", "winner", std::nullopt, key, 0);
        ASSERT_TRUE(won.ok()) << won.status();
        if (*won) ++cas_winners;
      });
    }
    // Let every writer queue behind the held lock, then release it.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(blocker);
    for (std::thread& thread : threads) thread.join();

    EXPECT_EQ(takers.load(), 1) << "take keeps exactly one winner inside a batch";
    EXPECT_EQ(cas_winners.load(), 1) << "compareAndSet sees earlier writes of its batch";
    for (int t = 0; t < kThreads; ++t) {
      absl::StatusOr<std::optional<std::string>> got = store->get("ns", "k" + std::to_string(t));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, "v" + std::to_string(t));
    }
    const store::SqliteStorage::WriteStats after = store->writeStats();
    EXPECT_EQ(after.writes - before.writes, 3u * kThreads);
    EXPECT_LT(after.commits - before.commits, after.writes - before.writes)
        << "queued writers shared a commit";
  }
  // Durable: a new handle sees every write.
  absl::StatusOr<StoragePtr> again = store::SqliteStorage::open(path, SystemClock::instance());
  ASSERT_TRUE(again.ok()) << again.status();
  for (int t = 0; t < 8; ++t) {
    absl::StatusOr<std::optional<std::string>> got = (*again)->get("ns", "k" + std::to_string(t));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "v" + std::to_string(t));
  }
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

// ---- PostgreSQL specifics ---------------------------------------------------

class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = testing::createPostgresDatabase(); }
  void TearDown() override { testing::dropPostgresDatabase(url_); }

  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> open(std::string url,
                                                               const Clock* clock = nullptr) {
    store::PostgresOptions o;
    o.url = std::move(url);
    o.clock = clock;
    o.connect_timeout_ms = 2000;
    return store::PostgresStorage::open(o);
  }

  // url_ with its password replaced by `password`.
  std::string withPassword(const std::string& password) const {
    size_t colon = url_.find(':', url_.find("://") + 3);
    size_t at = url_.find('@');
    return url_.substr(0, colon + 1) + password + url_.substr(at);
  }
  std::string password() const {
    size_t colon = url_.find(':', url_.find("://") + 3);
    return url_.substr(colon + 1, url_.find('@') - colon - 1);
  }

  std::string url_;
};

TEST_F(PostgresStorageTest, MalformedUrlIsNamedAtOpen) {
  for (std::string url : {"postgres://u:secret@host:notaport/db", "mysql://u@h/db",
                          "postgres://u:secret@127.0.0.1:5432/db?nosuchparam=1"}) {
    absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url);
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_EQ(std::string(s.status().message()).find("secret"), std::string::npos)
        << "the password must not appear: " << s.status();
  }
}

TEST_F(PostgresStorageTest, WrongPasswordIsNamedWithoutRevealingIt) {
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(withPassword("wrong-pw-42"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated) << s.status();
  EXPECT_NE(std::string(s.status().message()).find("password authentication failed"),
            std::string::npos)
      << s.status();
  EXPECT_EQ(std::string(s.status().message()).find("wrong-pw-42"), std::string::npos);
}

TEST_F(PostgresStorageTest, PasswordFromAFile) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-pw-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string file = tmpl + "/password";
  { std::ofstream(file) << password() << "\n"; }
  store::PostgresOptions o;
  o.url = withPassword("not-this-one");
  o.password_file = file;
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = store::PostgresStorage::open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->put("ns", "k", "v", 0), absl::OkStatus());
  o.password_file = tmpl + "/missing";
  EXPECT_EQ(store::PostgresStorage::open(o).status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(tmpl);
}

TEST_F(PostgresStorageTest, UnreachableServerIsUnavailable) {
  // A port nothing listens on (bound, never listening).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string url = "postgres://u:pw@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/db";
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url);
  close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  EXPECT_NE(std::string(s.status().message()).find("127.0.0.1"), std::string::npos);
}

TEST_F(PostgresStorageTest, RedactsPasswords) {
  EXPECT_EQ(store::redactUrl("postgres://u:s3cret@h:5432/db?sslmode=require"),
            "postgres://u:***@h:5432/db?sslmode=require");
  EXPECT_EQ(store::redactUrl("postgresql://h/db?user=u&password=s3cret&x=1"),
            "postgresql://h/db?user=u&password=***&x=1");
  EXPECT_EQ(store::redactUrl("postgres://u@h/db"), "postgres://u@h/db");
}

TEST_F(PostgresStorageTest, ConcurrentStartsMigrateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url_);
      if (!s.ok()) {
        ++failures;
        ADD_FAILURE() << s.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(testing::postgresQuery(url_, "SELECT count(*) FROM schema_migrations"),
            std::to_string(store::PostgresStorage::latestSchemaVersion()));
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url_);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<std::vector<int>> again = (*s)->migrate();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty()) << "migrate is idempotent";
  EXPECT_EQ((*s)->schemaVersion().value_or(-1), store::PostgresStorage::latestSchemaVersion());
}

TEST_F(PostgresStorageTest, RefusesANewerSchema) {
  ASSERT_TRUE(open(url_).ok());
  testing::postgresQuery(url_, "INSERT INTO schema_migrations (version, name) VALUES (9999, 'x')");
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
}

TEST_F(PostgresStorageTest, ExpiresByTheDatabaseClockWithoutAnInjectedOne) {
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url_);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ((*s)->put("ns", "short", "v", 1), absl::OkStatus());
  ASSERT_EQ((*s)->put("ns", "long", "v", 3'600'000), absl::OkStatus());
  // Once the database's clock has passed the expiry (it never goes back), the row is gone.
  testing::postgresQuery(url_, "SELECT pg_sleep(0.01)");
  EXPECT_EQ((*s)->get("ns", "short").value_or("error"), std::nullopt);
  EXPECT_EQ((*s)->get("ns", "long").value_or(std::nullopt), "v");
  const std::string stored = testing::postgresQuery(
      url_, "SELECT expires_at - (extract(epoch FROM now()) * 1000)::int8 FROM kv "
            "WHERE key = 'long'::bytea");
  EXPECT_GT(std::stoll(stored), 3'500'000) << "expiry is relative to the database's clock";
}

TEST_F(PostgresStorageTest, PurgeReclaimsExpiredRowsInBatches) {
  ManualClock clock(1'700'000'000'000);
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url_, &clock);
  ASSERT_TRUE(s.ok()) << s.status();
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ((*s)->put("ns", "k" + std::to_string(i), "v", 10), absl::OkStatus());
  }
  ASSERT_EQ((*s)->put("ns", "kept", "v", 0), absl::OkStatus());
  EXPECT_EQ((*s)->purgeExpired(10).value_or(99), 0u) << "nothing has expired yet";
  clock.advance(10);
  EXPECT_EQ((*s)->purgeExpired(10).value_or(0), 10u);
  EXPECT_EQ((*s)->purgeExpired(100).value_or(0), 20u);
  EXPECT_EQ(testing::postgresQuery(url_, "SELECT count(*) FROM kv"), "1");
}

TEST_F(PostgresStorageTest, ClaimSkipsTheRecordsAnotherClaimHolds) {
  ManualClock clock(1'700'000'000'000);
  auto a = open(url_, &clock);
  auto b = open(url_, &clock);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ((*a)->put("q", "k" + std::to_string(i), "v", 0), absl::OkStatus());
  }
  ASSERT_EQ((*a)->put("q", "expired", "v", 1), absl::OkStatus());
  clock.advance(1);
  std::vector<KeyValue> inner;
  bool inner_ran = false;
  // While a's claim holds k0 and k1, b claims: it skips them at once (no wait).
  absl::StatusOr<std::vector<KeyValue>> outer =
      (*a)->claim("q", 2, [&](const KeyValue& kv) -> std::optional<std::string> {
        if (!inner_ran) {
          inner_ran = true;
          absl::StatusOr<std::vector<KeyValue>> got = (*b)->claim(
              "q", 10, [](const KeyValue& kv) -> std::optional<std::string> {
                return kv.key == "k3" ? std::nullopt : std::optional<std::string>("by b");
              });
          EXPECT_TRUE(got.ok()) << got.status();
          if (got.ok()) inner = *got;
        }
        return "by a";
      });
  ASSERT_TRUE(outer.ok()) << outer.status();
  EXPECT_EQ(*outer, (std::vector<KeyValue>{{"k0", "by a"}, {"k1", "by a"}}));
  EXPECT_EQ(inner, (std::vector<KeyValue>{{"k2", "by b"}})) << "k3 declined, expired skipped";
  EXPECT_EQ((*a)->get("q", "k0").value_or(std::nullopt), "by a");
  EXPECT_EQ((*a)->get("q", "k2").value_or(std::nullopt), "by b");
  EXPECT_EQ((*a)->get("q", "k3").value_or(std::nullopt), "v");
}

TEST_F(PostgresStorageTest, RecoversAfterTheServerDropsItsConnections) {
  absl::StatusOr<std::unique_ptr<store::PostgresStorage>> s = open(url_);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ((*s)->put("ns", "k", "v", 0), absl::OkStatus());
  // As a restart does: every connection of the storage is terminated.
  const std::string db = url_.substr(url_.rfind('/') + 1);
  testing::postgresQuery(testing::postgresAdminUrl(),
                         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = '" + db + "' AND pid <> pg_backend_pid()");
  // Reads and plain writes are sent again on a fresh connection: no error.
  absl::StatusOr<std::optional<std::string>> first = (*s)->get("ns", "k");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "v");
  testing::postgresQuery(testing::postgresAdminUrl(),
                         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = '" + db + "' AND pid <> pg_backend_pid()");
  EXPECT_EQ((*s)->put("ns", "k2", "v2", 0), absl::OkStatus());
  // take() is not repeated (a lost answer must not hide a taken value): it may
  // fail once, as Unavailable, never a crash or a hang; then it works again.
  testing::postgresQuery(testing::postgresAdminUrl(),
                         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = '" + db + "' AND pid <> pg_backend_pid()");
  absl::StatusOr<std::optional<std::string>> taken = (*s)->take("ns", "k2");
  if (!taken.ok()) {
    EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable) << taken.status();
    taken = (*s)->take("ns", "k2");
  }
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, "v2");
}

const Backend kBackends[] = {
    {"sqlite",
     [](const std::filesystem::path& dir, const Clock& clock) {
       return store::SqliteStorage::open((dir / "habanero.db").string(), clock);
     },
     nullptr},
    // synchronous=NORMAL must keep the same guarantees up to a process crash.
    {"sqlite_normal",
     [](const std::filesystem::path& dir, const Clock& clock) {
       return store::SqliteStorage::open((dir / "habanero.db").string(), clock,
                                         store::Synchronous::kNormal);
     },
     nullptr},
    // One database per test on the test server; expiry by the injected clock.
    {"postgres", testing::openPostgresFor, testing::dropPostgresDatabaseFor},
};

INSTANTIATE_TEST_SUITE_P(Backends, StorageConformanceTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace habanero
