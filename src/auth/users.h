// The host's user records (design 0001): who can sign in, with which
// password, and the claims extensions may read (capability "users").
//
// Storage: namespace "_host/users" maps the subject to the record (JSON with
// the Argon2id password hash); "_host/users_by_email" maps the normalised
// email to the subject. Emails are unique. A subject is 128 random bits in
// base64url, fixed for the life of the user and never reused.
//
// Users are not cached: each lookup is one or two primary-key reads, and the
// set of users can be large. Changes made by another process (the CLI) are
// seen at once.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Users> users, Users::create(storage, clock));
//   ASSIGN_OR_RETURN(User ana, users->add({.email = "Ana@Example.com", .password = "…"}));
//   ASSIGN_OR_RETURN(std::optional<std::string> sub, users->verifyPassword(email, password));
//
// Thread-safe. The password is hashed and verified with Argon2id, which costs
// tens of milliseconds and ~19 MiB by design.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/hash.h"
#include "habanero/clock.h"
#include "habanero/limits.h"
#include "habanero/status.h"
#include "habanero/storage.h"

namespace habanero::auth {
namespace internal {
struct UserRecord;  // the stored form, with the password hash (users.cc)
}  // namespace internal

// A user as the host reports it; never the password hash.
struct User {
  std::string subject;         // OIDC "sub"
  std::string email;           // normalised (ASCII lower-case)
  bool email_verified = false;
  std::string name;            // "" if not set
  std::string phone_number;    // E.164 ("+14155550100") or ""
  bool phone_number_verified = false;
  std::string website;         // the user's own site (IndieAuth "me"), "" if none
  std::string webid;           // an external WebID (Solid), "" if none
  bool has_password = false;   // false: cannot sign in with a password
  int64_t created_ms = 0;
};

struct NewUser {
  std::string email;                    // may be "" when phone_number is set
  std::optional<std::string> password;  // nullopt: no password
  std::string name;
  std::string phone_number;             // E.164 or ""
  bool email_verified = false;
  bool phone_number_verified = false;
  std::string website;                  // absolute http(s) URL or ""
  std::string webid;                    // absolute http(s) URL or ""
};

// Whether `s` is an E.164 number: '+', a non-zero digit, then 1..14 digits.
bool isE164(std::string_view s);

// `email` trimmed of surrounding whitespace and ASCII-lower-cased, or
// InvalidArgument if it does not look like an address (one '@', non-empty
// local part and domain, a dot-free or dotted domain without empty labels, no
// spaces or control characters, at most 254 bytes).
absl::StatusOr<std::string> normalizeEmail(std::string_view email);

class Users {
 public:
  static constexpr std::string_view kNamespace = "_host/users";
  static constexpr std::string_view kByEmailNamespace = "_host/users_by_email";
  static constexpr std::string_view kByPhoneNamespace = "_host/users_by_phone";

  // Computes the dummy hash used for unknown emails (one Argon2id hash with
  // `params`). `storage` and `clock` must outlive the Users.
  static absl::StatusOr<std::unique_ptr<Users>> create(Storage& storage, const Clock& clock,
                                                       crypto::Argon2Params params = {});

  // Adds a user, who needs an email address or a phone number (or both).
  // InvalidArgument naming the field for a bad email, name, phone number,
  // website, webid or password (empty, or longer than kMaxPasswordBytes);
  // AlreadyExists if the email or the phone number is taken.
  absl::StatusOr<User> add(const NewUser& user);

  // Removes the user with this email (or, for "+…", phone number). NotFound
  // if there is none. Their
  // sessions stop working at once (session lookups check the user exists).
  absl::Status remove(std::string_view email);

  // Up to `limit` users, ordered by subject.
  absl::StatusOr<std::vector<User>> list(size_t limit = limits::kMaxListRecords) const;

  // The user, or nullopt.
  absl::StatusOr<std::optional<User>> get(std::string_view subject) const;
  absl::StatusOr<std::optional<User>> findByEmail(std::string_view email) const;
  // By E.164 number; nullopt also for a malformed one.
  absl::StatusOr<std::optional<User>> findByPhone(std::string_view phone) const;

  // The user's claims as a JSON object: sub, and email, email_verified, name,
  // phone_number, phone_number_verified, website and webid when set. nullopt for an unknown subject.
  absl::StatusOr<std::optional<std::string>> claimsJson(std::string_view subject) const;

  // Marks the user's email address (`email`) and/or phone number (`phone`) as
  // verified — a login by a link sent to the address (amr "email") or a code
  // sent to the number ("sms") proved it. An empty address or number stays
  // unverified. NotFound for an unknown subject; concurrent updates of the
  // record are retried, never lost.
  absl::Status markVerified(std::string_view subject, bool email, bool phone);

  // The subject if `password` is this email's password, else nullopt. Costs
  // one Argon2id verification whether or not the email exists or has a
  // password, so the answer's timing does not tell them apart. Errors only
  // for storage failures.
  absl::StatusOr<std::optional<std::string>> verifyPassword(std::string_view email,
                                                            std::string_view password) const;

  // How many Argon2id verifications verifyPassword() has run (for tests and
  // metrics): exactly one per call, whatever the email.
  uint64_t argon2Verifications() const { return argon2_verifications_.load(); }

 private:
  Users(Storage& storage, const Clock& clock, crypto::Argon2Params params);
  absl::StatusOr<std::optional<internal::UserRecord>> load(std::string_view subject) const;

  Storage& storage_;
  const Clock& clock_;
  const crypto::Argon2Params params_;
  std::string dummy_hash_;  // an Argon2id hash of a random password; set once in create()
  mutable std::atomic<uint64_t> argon2_verifications_{0};
};

}  // namespace habanero::auth
