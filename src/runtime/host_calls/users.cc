// Capabilities "users" (the host's user records) and "signup" (creating
// them), design 0001/0002, docs/abi.md §6.
#include <spdlog/spdlog.h>

#include "auth/domain_events.h"
#include "auth/signup.h"
#include "auth/users.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result userGet(Call& c, uint32_t subject_ptr, uint32_t subject_len, uint32_t out, uint32_t cap,
               uint32_t out_len) {
  auto subject = c.mem.view(subject_ptr, subject_len);
  if (!subject || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto claims = c.services().users->claimsJson(*subject);
  if (!claims.ok()) return c.unavailable(claims.status());
  if (!claims->has_value()) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, **claims);
}

Result userVerifyPassword(Call& c, uint32_t email_ptr, uint32_t email_len, uint32_t password_ptr,
                          uint32_t password_len, uint32_t out, uint32_t cap, uint32_t out_len) {
  auto email = c.mem.view(email_ptr, email_len);
  auto password = c.mem.view(password_ptr, password_len);
  if (!email || !password || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto subject = c.services().users->verifyPassword(*email, *password);
  if (!subject.ok()) return c.unavailable(subject.status());
  if (!subject->has_value()) {
    if (const auth::DomainEvents* events = c.services().domain_events) {
      // The subject when the address is a user's (never the address typed, which may
      // hold a password typed into the wrong field).
      nlohmann::json fields = {{"method", "pwd"}, {"authenticator", c.st.extension},
                               {"ip", c.request().remote_addr}};
      auto user = c.services().users->findByEmail(*email);
      fields["known_user"] = user.ok() && user->has_value();
      if (user.ok() && user->has_value()) fields["subject"] = (*user)->subject;
      events->publish(auth::topics::kSignInFailed, std::move(fields));
    }
    return HABANERO_MISMATCH;
  }
  return c.writeOut(out, cap, out_len, **subject);
}

Result userFind(Call& c, int32_t kind, uint32_t value_ptr, uint32_t value_len, uint32_t out,
                uint32_t cap, uint32_t out_len) {
  auto value = c.mem.view(value_ptr, value_len);
  if (!value || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auth::Users& users = *c.services().users;
  absl::StatusOr<std::optional<auth::User>> user;
  switch (kind) {
    case HABANERO_USER_BY_EMAIL:
      if (!auth::normalizeEmail(*value).ok()) return HABANERO_INVALID_ARGUMENT;
      user = users.findByEmail(*value);
      break;
    case HABANERO_USER_BY_PHONE:
      if (!auth::isE164(*value)) return HABANERO_INVALID_ARGUMENT;
      user = users.findByPhone(*value);
      break;
    default:
      return HABANERO_INVALID_ARGUMENT;
  }
  if (!user.ok()) return c.unavailable(user.status());
  if (!user->has_value()) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, (*user)->subject);
}

Result userCreate(Call& c, uint32_t json_ptr, uint32_t json_len, uint32_t out, uint32_t cap,
                  uint32_t out_len) {
  auto text = c.mem.view(json_ptr, json_len);
  if (!text || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto wanted = auth::parseSignup(*text);
  if (!wanted.ok()) return HABANERO_INVALID_ARGUMENT;
  auto added = c.services().users->add(*wanted);
  if (!added.ok()) {
    switch (added.status().code()) {
      case absl::StatusCode::kAlreadyExists: return HABANERO_DUPLICATE;
      case absl::StatusCode::kInvalidArgument: return HABANERO_INVALID_ARGUMENT;
      default: return c.unavailable(added.status());
    }
  }
  spdlog::info("[{}] signed up user {}", c.st.extension, added->subject);
  return c.writeOut(out, cap, out_len, added->subject);
}

}  // namespace habanero::runtime::host
