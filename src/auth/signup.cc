#include "auth/signup.h"

#include <nlohmann/json.hpp>

#include "habanero/json_member.h"

namespace habanero::auth {

using Json = nlohmann::json;

absl::StatusOr<NewUser> parseSignup(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("signup: not a JSON object");
  NewUser u;
  u.email = jsonStringMember(j, "email").value_or("");
  u.phone_number = jsonStringMember(j, "phone_number").value_or("");
  u.name = jsonStringMember(j, "name").value_or("");
  if (u.email.empty() == u.phone_number.empty()) {
    return absl::InvalidArgumentError("signup: exactly one of email and phone_number");
  }
  u.email_verified = !u.email.empty();
  u.phone_number_verified = !u.phone_number.empty();
  return u;
}

}  // namespace habanero::auth
