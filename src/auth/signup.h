// The "signup" capability's request (user_create, design 0002): which new
// user an authenticator may create, from its JSON.
//
//   ASSIGN_OR_RETURN(NewUser u, parseSignup(R"({"email":"ana@example.com"})"));
//   ASSIGN_OR_RETURN(User ana, users.add(u));
#pragma once

#include <string_view>

#include "auth/users.h"
#include "habanero/status.h"

namespace habanero::auth {

// Parses {"email"} or {"phone_number"} (exactly one, a string) with an
// optional "name" into a password-less NewUser whose identifier is marked
// verified: the authenticator proved control of it. InvalidArgument for
// anything else (not JSON, not an object, both or neither identifier). The
// identifier's own rules are checked by Users::add.
absl::StatusOr<NewUser> parseSignup(std::string_view json);

}  // namespace habanero::auth
