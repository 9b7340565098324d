// users.hh — the host's user records as JSON (capability "users").
//
//   sdk::Json user;
//   switch (sdk::userRecord(sub, user)) {
//     case sdk::Lookup::Found: …  sdk::jsonString(user, "email")
//     case sdk::Lookup::NotFound: …
//     case sdk::Lookup::Unavailable: …
//   }
#ifndef HABANERO_SDK_CPP_HABANERO_USERS_HH_
#define HABANERO_SDK_CPP_HABANERO_USERS_HH_

#include <habanero.hh>

#include <string>
#include <string_view>
#include <utility>

#include <habanero/json.hh>

namespace habanero::sdk {

// The outcome of looking up a host record.
enum class Lookup { Found, NotFound, Unavailable };

// The claims of user `sub` ({"sub","email","email_verified","name",…}) into `out` (left
// unchanged unless Found). Unavailable: the host failed or answered something that is not
// a JSON object (logged).
inline Lookup userRecord(std::string_view sub, Json& out) {
  std::string text;
  switch (userGet(sub, text)) {
    case Result::Ok:
      break;
    case Result::NotFound:
      return Lookup::NotFound;
    default:
      return Lookup::Unavailable;
  }
  std::optional<Json> user = parseJsonObject(text);
  if (!user) {
    logError("user_get returned something that is not a JSON object");
    return Lookup::Unavailable;
  }
  out = std::move(*user);
  return Lookup::Found;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_USERS_HH_
