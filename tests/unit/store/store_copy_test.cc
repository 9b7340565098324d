// `habanero store copy`: a populated SQLite data directory, made by the real
// host parts (users, clients, keys, sessions, outbox, extension data), copied
// to PostgreSQL; every record compared, then the parts reopened on the copy.
#include "store/store_copy.h"

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "auth/clients.h"
#include "auth/sessions.h"
#include "auth/users.h"
#include "crypto/key_store.h"
#include "events/outbox.h"
#include "manual_clock.h"
#include "postgres_test_server.h"
#include "store/postgres/postgres_storage.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::store {
namespace {

using namespace std::string_literals;
using habanero::testing::ManualClock;

class StoreCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-copy-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    url_ = habanero::testing::createPostgresDatabase();
  }
  void TearDown() override {
    habanero::testing::dropPostgresDatabase(url_);
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<PostgresStorage> openPostgres() {
    PostgresOptions o;
    o.url = url_;
    o.clock = &clock_;
    auto pg = PostgresStorage::open(o);
    EXPECT_TRUE(pg.ok()) << pg.status();
    return pg.ok() ? std::move(*pg) : nullptr;
  }

  std::string db() const { return dir_ + "/habanero.db"; }

  ManualClock clock_;
  std::string dir_;
  std::string url_;
};

TEST_F(StoreCopyTest, CopiesEveryRecordOfAPopulatedDataDirectory) {
  std::string kid, client_secret;
  {
    auto sqlite = SqliteStorage::open(db(), clock_);
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    Storage& s = **sqlite;
    auto users = auth::Users::create(s, clock_, crypto::Argon2Params{.time_cost = 1, .memory_kib = 8});
    ASSERT_TRUE(users.ok()) << users.status();
    ASSERT_TRUE((*users)->add({.email = "ada@example.com", .password = "correct horse"}).ok());
    ASSERT_TRUE((*users)->add({.email = "bob@example.com", .name = "Bob"}).ok());
    auto clients = auth::Clients::open(s, clock_);
    ASSERT_TRUE(clients.ok());
    auto added = (*clients)->add({.client_id = "web", .redirect_uris = {"https://app/cb"}});
    ASSERT_TRUE(added.ok()) << added.status();
    client_secret = added->generated_secret;
    auto keys = crypto::KeyStore::open(s, clock_);
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_TRUE((*keys)->rotate().ok());  // a retired key travels too
    kid = (*keys)->listKeys().front().kid;
    auth::Sessions sessions(s, clock_);
    ASSERT_TRUE(sessions.start("subject-1", {"pwd"}).ok());
    events::Outbox outbox(s, clock_, {});
    ASSERT_TRUE(outbox.publish("magic-email", "mail.deliver", R"({"to":"a@b"})").ok());
    // Extension data: binary keys and values, an empty value, TTLs.
    ASSERT_TRUE(s.put("hello", "bin\0key"s, "\0\1\2\xff"s, 0).ok());
    ASSERT_TRUE(s.put("hello", "empty", "", 0).ok());
    ASSERT_TRUE(s.put("hello", "later", "v", 3'600'000).ok());
    ASSERT_TRUE(s.put("hello", "gone", "v", 10).ok());
  }
  clock_.advance(10);  // "gone" has expired: it stays behind

  std::vector<RawRecord> source;
  ASSERT_TRUE(forEachSqliteRecord(db(), [&](RawRecord r) {
                if (!r.expires_at || *r.expires_at > clock_.nowMs()) source.push_back(std::move(r));
              }).ok());
  ASSERT_GE(source.size(), 10u);

  std::unique_ptr<PostgresStorage> pg = openPostgres();
  ASSERT_NE(pg, nullptr);
  auto report = copySqliteToPostgres(db(), *pg, {.now_ms = clock_.nowMs()});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->copied, source.size());
  EXPECT_EQ(report->expired_skipped, 1u);

  auto copied = pg->exportRecords();
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, source) << "every record, byte for byte, with its expiry";

  // The host's parts work on the copy as they did on the original.
  auto keys = crypto::KeyStore::open(*pg, clock_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)->listKeys().front().kid, kid);
  EXPECT_EQ((*keys)->listKeys().size(), 2u);
  auto clients = auth::Clients::open(*pg, clock_);
  ASSERT_TRUE(clients.ok());
  EXPECT_TRUE((*clients)->authenticate("web", client_secret));
  auto users = auth::Users::create(*pg, clock_, crypto::Argon2Params{.time_cost = 1, .memory_kib = 8});
  ASSERT_TRUE(users.ok());
  auto subject = (*users)->verifyPassword("ada@example.com", "correct horse");
  ASSERT_TRUE(subject.ok()) << subject.status();
  EXPECT_TRUE(subject->has_value());
  EXPECT_EQ(pg->get("hello", "bin\0key"s).value_or(std::nullopt), "\0\1\2\xff"s);
  clock_.advance(3'600'000);
  EXPECT_EQ(pg->get("hello", "later").value_or("error"), std::nullopt) << "expiry kept";
}

TEST_F(StoreCopyTest, RefusesANonEmptyTargetUnlessOverwriting) {
  {
    auto sqlite = SqliteStorage::open(db(), clock_);
    ASSERT_TRUE(sqlite.ok());
    ASSERT_TRUE((*sqlite)->put("ns", "k", "from sqlite", 0).ok());
  }
  std::unique_ptr<PostgresStorage> pg = openPostgres();
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(pg->put("ns", "other", "already here", 0).ok());
  auto refused = copySqliteToPostgres(db(), *pg, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(pg->get("ns", "k").value_or("error"), std::nullopt) << "nothing half-copied";
  auto report = copySqliteToPostgres(db(), *pg, {.overwrite = true});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(pg->get("ns", "k").value_or(std::nullopt), "from sqlite");
  EXPECT_EQ(pg->get("ns", "other").value_or(std::nullopt), "already here");
}

TEST_F(StoreCopyTest, MissingSourceIsNotFound) {
  std::unique_ptr<PostgresStorage> pg = openPostgres();
  ASSERT_NE(pg, nullptr);
  auto report = copySqliteToPostgres(dir_ + "/nothing.db", *pg, {});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound) << report.status();
}

}  // namespace
}  // namespace habanero::store
