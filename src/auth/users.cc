#include "auth/users.h"

#include <algorithm>
#include <cctype>

#include "auth/records.h"
#include "habanero/strings.h"

namespace habanero::auth {
namespace {

using internal::Json;

constexpr size_t kMaxEmailBytes = 254;  // RFC 5321 path limit
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kSubjectBytes = 16;    // 128 bits

constexpr size_t kMaxUrlBytes = 2048;

// An absolute http(s) URL without spaces or control characters.
bool isWebUrl(std::string_view s) {
  if (s.size() > kMaxUrlBytes || !internal::isPlainText(s, kMaxUrlBytes)) return false;
  if (s.find_first_of(" \"<>\\^`{|}") != std::string_view::npos) return false;
  std::string_view rest;
  if (s.starts_with("https://")) rest = s.substr(8);
  else if (s.starts_with("http://")) rest = s.substr(7);
  else return false;
  return !rest.empty() && rest.front() != '/';
}

}  // namespace

bool isE164(std::string_view s) {
  if (s.size() < 3 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace internal {
struct UserRecord {
  User user;
  std::string password_hash;  // "" if none
};
}  // namespace internal

using Record = internal::UserRecord;

absl::StatusOr<std::string> normalizeEmail(std::string_view email) {
  while (!email.empty() && (email.front() == ' ' || email.front() == '\t')) email.remove_prefix(1);
  while (!email.empty() && (email.back() == ' ' || email.back() == '\t')) email.remove_suffix(1);
  auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError(strCat("email: ", why));
  };
  if (email.empty()) return bad("empty");
  if (email.size() > kMaxEmailBytes) return bad("longer than 254 bytes");
  if (!internal::isPlainText(email, kMaxEmailBytes)) return bad("not printable UTF-8 text");
  if (email.find_first_of(" \t\"(),:;<>[\\]") != std::string_view::npos) {
    return bad("contains a space or a character not allowed in an address");
  }
  size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return bad("expected exactly one '@'");
  }
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64) return bad("the part before '@' must be 1..64 bytes");
  if (domain.empty() || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return bad("the domain after '@' is malformed");
  }
  std::string out(email);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

namespace {

std::string encode(const Record& r) {
  Json j = {{"v", 1},
            {"sub", r.user.subject},
            {"email", r.user.email},
            {"email_verified", r.user.email_verified},
            {"name", r.user.name},
            {"phone_number", r.user.phone_number},
            {"phone_number_verified", r.user.phone_number_verified},
            {"website", r.user.website},
            {"webid", r.user.webid},
            {"password_hash", r.password_hash},
            {"created_ms", r.user.created_ms}};
  return internal::dump(j);
}

absl::StatusOr<Record> decode(std::string_view key, std::string_view text) {
  Json j = internal::parse(text);
  Record r;
  if (!internal::readString(j, "sub", r.user.subject) ||
      !internal::readString(j, "email", r.user.email) ||
      !internal::readBool(j, "email_verified", r.user.email_verified) ||
      !internal::readString(j, "name", r.user.name) ||
      !internal::readString(j, "phone_number", r.user.phone_number) ||
      !internal::readString(j, "password_hash", r.password_hash) ||
      !internal::readInt(j, "created_ms", r.user.created_ms) || r.user.subject != key) {
    return absl::DataLossError(
        strCat(Users::kNamespace, ": the record of user '", key, "' is unreadable"));
  }
  // Fields added later (design 0002) are optional in older records.
  internal::readBool(j, "phone_number_verified", r.user.phone_number_verified);
  internal::readString(j, "website", r.user.website);
  internal::readString(j, "webid", r.user.webid);
  r.user.has_password = !r.password_hash.empty();
  return r;
}

}  // namespace

Users::Users(Storage& storage, const Clock& clock, crypto::Argon2Params params)
    : storage_(storage), clock_(clock), params_(params) {}

absl::StatusOr<std::unique_ptr<Users>> Users::create(Storage& storage, const Clock& clock,
                                                     crypto::Argon2Params params) {
  std::unique_ptr<Users> users(new Users(storage, clock, params));
  ASSIGN_OR_RETURN(std::string dummy_password, internal::randomToken(16));
  ASSIGN_OR_RETURN(users->dummy_hash_, crypto::argon2idHash(dummy_password, params));
  return users;
}

absl::StatusOr<User> Users::add(const NewUser& in) {
  std::string email;
  if (!in.email.empty() || in.phone_number.empty()) {
    ASSIGN_OR_RETURN(email, normalizeEmail(in.email));
  }
  if (!in.website.empty() && !isWebUrl(in.website)) {
    return absl::InvalidArgumentError(
        strCat("website: '", in.website, "' is not an absolute http(s) URL"));
  }
  if (!in.webid.empty() && !isWebUrl(in.webid)) {
    return absl::InvalidArgumentError(
        strCat("webid: '", in.webid, "' is not an absolute http(s) URL"));
  }
  if (!internal::isPlainText(in.name, kMaxNameBytes)) {
    return absl::InvalidArgumentError(
        "name: must be printable UTF-8 text of at most 256 bytes");
  }
  if (!in.phone_number.empty() && !isE164(in.phone_number)) {
    return absl::InvalidArgumentError(
        strCat("phone: '", in.phone_number, "' is not an E.164 number such as +14155550100"));
  }
  Record r;
  if (in.password) {
    if (in.password->empty()) return absl::InvalidArgumentError("password: empty");
    if (in.password->size() > limits::kMaxPasswordBytes) {
      return absl::InvalidArgumentError(
          strCat("password: longer than ", limits::kMaxPasswordBytes, " bytes"));
    }
    ASSIGN_OR_RETURN(r.password_hash, crypto::argon2idHash(*in.password, params_));
  }
  ASSIGN_OR_RETURN(r.user.subject, internal::randomToken(kSubjectBytes));
  r.user.email = email;
  r.user.email_verified = in.email_verified;
  r.user.name = in.name;
  r.user.phone_number = in.phone_number;
  r.user.phone_number_verified = in.phone_number_verified && !in.phone_number.empty();
  r.user.website = in.website;
  r.user.webid = in.webid;
  r.user.has_password = !r.password_hash.empty();
  r.user.created_ms = clock_.nowMs();

  // The indexes are claimed first and atomically: of two concurrent adds of
  // one email (or phone number), exactly one wins.
  if (!email.empty()) {
    ASSIGN_OR_RETURN(bool claimed, storage_.compareAndSet(kByEmailNamespace, email, std::nullopt,
                                                          r.user.subject, 0));
    if (!claimed) {
      return absl::AlreadyExistsError(strCat("a user with email ", email, " already exists"));
    }
  }
  auto release = [&] {
    if (!email.empty()) storage_.remove(kByEmailNamespace, email).IgnoreError();
  };
  if (!in.phone_number.empty()) {
    absl::StatusOr<bool> claimed = storage_.compareAndSet(kByPhoneNamespace, in.phone_number,
                                                          std::nullopt, r.user.subject, 0);
    if (!claimed.ok() || !*claimed) {
      release();
      if (!claimed.ok()) return claimed.status();
      return absl::AlreadyExistsError(
          strCat("a user with phone number ", in.phone_number, " already exists"));
    }
  }
  absl::Status stored = storage_.put(kNamespace, r.user.subject, encode(r), 0);
  if (!stored.ok()) {
    release();
    if (!in.phone_number.empty()) {
      storage_.remove(kByPhoneNamespace, in.phone_number).IgnoreError();
    }
    return stored;
  }
  return r.user;
}

absl::Status Users::remove(std::string_view email_or_phone) {
  std::optional<User> user;
  if (email_or_phone.starts_with("+")) {
    ASSIGN_OR_RETURN(user, findByPhone(email_or_phone));
    if (!user) return absl::NotFoundError(strCat("no user with phone number ", email_or_phone));
  } else {
    ASSIGN_OR_RETURN(std::string email, normalizeEmail(email_or_phone));
    ASSIGN_OR_RETURN(user, findByEmail(email));
    if (!user) return absl::NotFoundError(strCat("no user with email ", email));
  }
  // The record first: once it is gone, sessions and lookups fail even if
  // removing an index fails.
  RETURN_IF_ERROR(storage_.remove(kNamespace, user->subject));
  if (!user->email.empty()) RETURN_IF_ERROR(storage_.remove(kByEmailNamespace, user->email));
  if (!user->phone_number.empty()) {
    RETURN_IF_ERROR(storage_.remove(kByPhoneNamespace, user->phone_number));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<User>> Users::list(size_t limit) const {
  ASSIGN_OR_RETURN(std::vector<KeyValue> records, storage_.list(kNamespace, limit));
  std::vector<User> users;
  users.reserve(records.size());
  for (const KeyValue& kv : records) {
    ASSIGN_OR_RETURN(Record r, decode(kv.key, kv.value));
    users.push_back(std::move(r.user));
  }
  return users;
}

absl::StatusOr<std::optional<Record>> Users::load(std::string_view subject) const {
  if (!internal::looksLikeToken(subject, kSubjectBytes)) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<std::string> text, storage_.get(kNamespace, subject));
  if (!text) return std::nullopt;
  ASSIGN_OR_RETURN(Record r, decode(subject, *text));
  return r;
}

absl::StatusOr<std::optional<User>> Users::get(std::string_view subject) const {
  ASSIGN_OR_RETURN(std::optional<Record> r, load(subject));
  if (!r) return std::nullopt;
  return std::move(r->user);
}

absl::Status Users::markVerified(std::string_view subject, bool email, bool phone) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<std::string> text, storage_.get(kNamespace, subject));
    if (!text) return absl::NotFoundError(strCat("no user '", subject, "'"));
    ASSIGN_OR_RETURN(Record r, decode(subject, *text));
    bool changed = false;
    if (email && !r.user.email.empty() && !r.user.email_verified) {
      r.user.email_verified = changed = true;
    }
    if (phone && !r.user.phone_number.empty() && !r.user.phone_number_verified) {
      r.user.phone_number_verified = changed = true;
    }
    if (!changed) return absl::OkStatus();
    ASSIGN_OR_RETURN(bool written,
                     storage_.compareAndSet(kNamespace, subject, *text, encode(r), 0));
    if (written) return absl::OkStatus();
  }
  return absl::AbortedError(strCat("user '", subject, "': the record kept changing"));
}

absl::StatusOr<std::optional<User>> Users::findByEmail(std::string_view email_in) const {
  absl::StatusOr<std::string> email = normalizeEmail(email_in);
  if (!email.ok()) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<std::string> subject, storage_.get(kByEmailNamespace, *email));
  if (!subject) return std::nullopt;
  return get(*subject);
}

absl::StatusOr<std::optional<User>> Users::findByPhone(std::string_view phone) const {
  if (!isE164(phone)) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<std::string> subject, storage_.get(kByPhoneNamespace, phone));
  if (!subject) return std::nullopt;
  return get(*subject);
}

absl::StatusOr<std::optional<std::string>> Users::claimsJson(std::string_view subject) const {
  ASSIGN_OR_RETURN(std::optional<User> u, get(subject));
  if (!u) return std::nullopt;
  Json j = {{"sub", u->subject}};
  if (!u->email.empty()) {
    j["email"] = u->email;
    j["email_verified"] = u->email_verified;
  }
  if (!u->name.empty()) j["name"] = u->name;
  if (!u->phone_number.empty()) {
    j["phone_number"] = u->phone_number;
    j["phone_number_verified"] = u->phone_number_verified;
  }
  if (!u->website.empty()) j["website"] = u->website;
  if (!u->webid.empty()) j["webid"] = u->webid;
  return internal::dump(j);
}

absl::StatusOr<std::optional<std::string>> Users::verifyPassword(std::string_view email_in,
                                                                 std::string_view password) const {
  // Exactly one Argon2id verification on every path: against the user's hash
  // if there is one, else against the dummy hash (and then refused).
  std::optional<Record> record;
  absl::StatusOr<std::string> email = normalizeEmail(email_in);
  if (email.ok() && password.size() <= limits::kMaxPasswordBytes) {
    ASSIGN_OR_RETURN(std::optional<std::string> subject,
                     storage_.get(kByEmailNamespace, *email));
    if (subject) {
      ASSIGN_OR_RETURN(record, load(*subject));
    }
  }
  if (password.size() > limits::kMaxPasswordBytes) password = password.substr(0, 0);
  argon2_verifications_.fetch_add(1, std::memory_order_relaxed);
  if (!record || record->password_hash.empty()) {
    crypto::argon2idVerify(dummy_hash_, password).IgnoreError();
    return std::nullopt;
  }
  absl::StatusOr<bool> ok = crypto::argon2idVerify(record->password_hash, password);
  if (!ok.ok()) {
    return absl::DataLossError(strCat(kNamespace, ": the password hash of user '",
                                      record->user.subject, "' is unreadable: ",
                                      sv(ok.status().message())));
  }
  if (!*ok) return std::nullopt;
  return record->user.subject;
}

}  // namespace habanero::auth
