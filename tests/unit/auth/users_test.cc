#include "auth/users.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "auth_fixture.h"

namespace habanero::auth {
namespace {

using ::testing::HasSubstr;

// Cheap Argon2id for tests that do not measure cost.
constexpr crypto::Argon2Params kFast{.time_cost = 1, .memory_kib = 1024};

class UsersTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    auto users = Users::create(*storage_, clock_, kFast);
    ASSERT_TRUE(users.ok()) << users.status();
    users_ = std::move(*users);
  }
  User add(NewUser u) {
    auto added = users_->add(u);
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? *added : User{};
  }
  std::unique_ptr<Users> users_;
};

TEST_F(UsersTest, AddNormalisesTheEmailAndAssignsARandomSubject) {
  User ana = add({.email = "  Ana@Example.COM ", .password = "correct horse", .name = "Ana"});
  EXPECT_EQ(ana.email, "ana@example.com");
  EXPECT_EQ(ana.subject.size(), 22u);  // 128 bits, base64url
  EXPECT_EQ(ana.subject.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_TRUE(ana.has_password);
  EXPECT_EQ(ana.created_ms, clock_.nowMs());
  User bob = add({.email = "bob@example.com"});
  EXPECT_NE(ana.subject, bob.subject);
  EXPECT_FALSE(bob.has_password);
}

TEST_F(UsersTest, EmailsAreUniqueIgnoringCase) {
  add({.email = "ana@example.com"});
  auto again = users_->add({.email = "ANA@example.com"});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("ana@example.com"));
}

TEST_F(UsersTest, RefusesBadInputNamingTheField) {
  struct Case {
    NewUser user;
    std::string field;
  };
  const Case cases[] = {
      {{.email = ""}, "email"},
      {{.email = "no-at-sign"}, "email"},
      {{.email = "two@@example.com"}, "email"},
      {{.email = "a b@example.com"}, "email"},
      {{.email = "a@example..com"}, "email"},
      {{.email = "a@"}, "email"},
      {{.email = "line\nbreak@example.com"}, "email"},
      {{.email = "a@example.com", .password = ""}, "password"},
      {{.email = "a@example.com", .password = std::string(2000, 'p')}, "password"},
      {{.email = "a@example.com", .name = "bad\x01name"}, "name"},
      {{.email = "a@example.com", .name = "\xff\xfe"}, "name"},
      {{.email = "a@example.com", .phone_number = "555-1234"}, "phone"},
      {{.email = "a@example.com", .phone_number = "+0123"}, "phone"},
  };
  for (const Case& c : cases) {
    auto added = users_->add(c.user);
    ASSERT_FALSE(added.ok()) << c.user.email << " " << c.field;
    EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(added.status().message(), HasSubstr(c.field));
  }
  auto none = users_->list();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "nothing is stored for refused input";
}

TEST_F(UsersTest, GetFindAndClaims) {
  User ana = add({.email = "ana@example.com",
                  .password = "pw",
                  .name = "Ana Lima",
                  .phone_number = "+14155550100",
                  .email_verified = true});
  auto got = users_->get(ana.subject);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->email, "ana@example.com");
  EXPECT_EQ((*got)->name, "Ana Lima");
  auto found = users_->findByEmail("ANA@example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->subject, ana.subject);
  EXPECT_FALSE(users_->get("nobody").value().has_value());
  EXPECT_FALSE(users_->get("AAAAAAAAAAAAAAAAAAAAAA").value().has_value());
  EXPECT_FALSE(users_->findByEmail("nobody@example.com").value().has_value());

  auto claims = users_->claimsJson(ana.subject);
  ASSERT_TRUE(claims.ok() && claims->has_value());
  auto j = nlohmann::json::parse(**claims);
  EXPECT_EQ(j["sub"], ana.subject);
  EXPECT_EQ(j["email"], "ana@example.com");
  EXPECT_EQ(j["email_verified"], true);
  EXPECT_EQ(j["name"], "Ana Lima");
  EXPECT_EQ(j["phone_number"], "+14155550100");
  EXPECT_THAT(**claims, ::testing::Not(HasSubstr("argon2")));

  User bare = add({.email = "bare@example.com"});
  auto bare_claims = nlohmann::json::parse(users_->claimsJson(bare.subject).value().value());
  EXPECT_FALSE(bare_claims.contains("name")) << "absent claims are omitted";
  EXPECT_FALSE(bare_claims.contains("phone_number"));
  EXPECT_EQ(bare_claims["email_verified"], false);
  EXPECT_FALSE(users_->claimsJson("nobody").value().has_value());
}

TEST_F(UsersTest, PasswordsAreStoredAsArgon2idNeverInClear) {
  User ana = add({.email = "ana@example.com", .password = "s3cret-password"});
  auto raw = storage_->get(Users::kNamespace, ana.subject);
  ASSERT_TRUE(raw.ok() && raw->has_value());
  EXPECT_THAT(**raw, HasSubstr("$argon2id$"));
  EXPECT_THAT(**raw, ::testing::Not(HasSubstr("s3cret-password")));
  auto index = storage_->get(Users::kByEmailNamespace, "ana@example.com");
  ASSERT_TRUE(index.ok() && index->has_value());
  EXPECT_EQ(**index, ana.subject);
}

TEST_F(UsersTest, VerifyPassword) {
  User ana = add({.email = "ana@example.com", .password = "correct horse"});
  add({.email = "nopw@example.com"});
  EXPECT_EQ(users_->verifyPassword("ana@example.com", "correct horse").value(), ana.subject);
  EXPECT_EQ(users_->verifyPassword(" ANA@example.com", "correct horse").value(), ana.subject);
  EXPECT_EQ(users_->verifyPassword("ana@example.com", "correct horsE").value(), std::nullopt);
  EXPECT_EQ(users_->verifyPassword("ana@example.com", "").value(), std::nullopt);
  EXPECT_EQ(users_->verifyPassword("ana@example.com", std::string(5000, 'x')).value(),
            std::nullopt);
  EXPECT_EQ(users_->verifyPassword("nobody@example.com", "correct horse").value(), std::nullopt);
  EXPECT_EQ(users_->verifyPassword("not an email", "correct horse").value(), std::nullopt);
  EXPECT_EQ(users_->verifyPassword("nopw@example.com", "").value(), std::nullopt);
  EXPECT_EQ(users_->verifyPassword("nopw@example.com", "anything").value(), std::nullopt);
}

// An unknown email must cost an Argon2id verification too, so timing does not
// reveal which emails exist. Generous bound: the minimum of several runs of
// the unknown path is at least half the known path's.
TEST_F(UsersTest, UnknownEmailCostsTheSameArgon2Work) {
  auto users = Users::create(*storage_, clock_);  // default (real) costs
  ASSERT_TRUE(users.ok());
  ASSERT_TRUE((*users)->add({.email = "known@example.com", .password = "right"}).ok());
  // The same work on every path: exactly one Argon2id verification, with the
  // same cost parameters (the dummy hash is made with them). Counted, not
  // timed: timings on a shared machine would make this test flaky.
  for (std::string_view email : {"known@example.com", "unknown@example.com", "not-an-email"}) {
    uint64_t before = (*users)->argon2Verifications();
    EXPECT_EQ((*users)->verifyPassword(email, "wrong").value(), std::nullopt) << email;
    EXPECT_EQ((*users)->argon2Verifications(), before + 1) << email;
  }
  uint64_t before = (*users)->argon2Verifications();
  std::string huge(limits::kMaxPasswordBytes + 1, 'x');
  EXPECT_EQ((*users)->verifyPassword("known@example.com", huge).value(), std::nullopt);
  EXPECT_EQ((*users)->argon2Verifications(), before + 1);
}

TEST_F(UsersTest, RemoveDeletesTheRecordAndTheIndex) {
  User ana = add({.email = "ana@example.com", .password = "pw"});
  EXPECT_EQ(users_->remove("Ana@Example.com"), absl::OkStatus());
  EXPECT_FALSE(users_->get(ana.subject).value().has_value());
  EXPECT_FALSE(users_->findByEmail("ana@example.com").value().has_value());
  EXPECT_EQ(users_->verifyPassword("ana@example.com", "pw").value(), std::nullopt);
  EXPECT_EQ(users_->remove("ana@example.com").code(), absl::StatusCode::kNotFound);
  User again = add({.email = "ana@example.com"});
  EXPECT_NE(again.subject, ana.subject) << "subjects are never reused";
}

TEST_F(UsersTest, ListShowsEveryUserAndChangesFromAnotherProcess) {
  User a = add({.email = "a@example.com", .name = "A"});
  // Another connection (the CLI) adds one: no cache to refresh.
  StoragePtr other = open();
  auto cli = Users::create(*other, clock_, kFast);
  ASSERT_TRUE(cli.ok());
  auto b = (*cli)->add({.email = "b@example.com", .password = "pw"});
  ASSERT_TRUE(b.ok());
  auto all = users_->list();
  ASSERT_TRUE(all.ok()) << all.status();
  std::set<std::string> emails;
  for (const User& u : *all) emails.insert(u.email);
  EXPECT_EQ(emails, (std::set<std::string>{"a@example.com", "b@example.com"}));
  EXPECT_EQ(users_->verifyPassword("b@example.com", "pw").value(), b->subject);
  EXPECT_TRUE(users_->get(a.subject).value().has_value());
}

TEST_F(UsersTest, NormalizeEmail) {
  EXPECT_EQ(normalizeEmail("A.B+tag@Sub.Example.ORG").value(), "a.b+tag@sub.example.org");
  EXPECT_EQ(normalizeEmail("user@localhost").value(), "user@localhost");
  EXPECT_FALSE(normalizeEmail(std::string(300, 'a') + "@x").ok());
  EXPECT_FALSE(normalizeEmail("<a@b>").ok());
}

}  // namespace
}  // namespace habanero::auth
