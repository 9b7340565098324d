// login.hh — the login facility for authenticator extensions (capabilities "login" and, for
// passwords, "users"; the pages also "settings"): the pending attempt a login form serves,
// completing it, and checking a password.
//
// The host's /login page sends the browser to <mount>/?rt=<attempt>; the authenticator shows
// its form for that attempt, proves who the user is and calls loginComplete, after which the
// host answers (session cookie, redirect back to the protocol extension).
//
//   std::string rt;
//   sdk::Json attempt;
//   if (!sdk::liveAttemptOrRespond(sdk::Source::Query, rt, attempt)) return;  // answered
//   std::string hint = sdk::jsonString(attempt, "login_hint").value_or("");
//   if (sdk::loginComplete(rt, sub, "[\"pwd\"]") == sdk::Result::Ok) return;  // host answers
#ifndef HABANERO_SDK_CPP_HABANERO_LOGIN_HH_
#define HABANERO_SDK_CPP_HABANERO_LOGIN_HH_

#include <habanero.hh>

#include <string>
#include <string_view>

#include <habanero/json.hh>
#include <habanero/page.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

// Whether `rt` can name an attempt: what the host mints is short and printable.
inline bool plausibleRt(std::string_view rt) {
  return !rt.empty() && rt.size() <= 256 && !hasControl(rt);
}

enum class Attempt { Live, Gone, Unavailable };

// The pending login attempt `rt` of this browser; on Live, `out` holds it as a JSON object
// ({"login_hint",…}; empty if the host's answer was not one). Gone: unknown, expired, done
// or another browser's. Unavailable: the host failed (logged).
inline Attempt loginAttempt(std::string_view rt, Json& out) {
  std::string text;
  Result r = detail::readGrowing(text, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_login_attempt_get(detail::bytes(rt), detail::size32(rt), p, cap, len);
  });
  if (r == Result::NotFound) return Attempt::Gone;
  if (r != Result::Ok) {
    logError("login_attempt_get: " + std::string(resultName(r)));
    return Attempt::Unavailable;
  }
  out = parseJsonObject(text).value_or(Json::object());
  return Attempt::Live;
}

// The page for a sign-in form whose attempt is missing, unknown or over (400).
inline void respondAttemptExpiredPage() {
  respondErrorPage(400, "Sign-in page expired",
                   "This sign-in page is no longer valid. Go back to the application and sign in "
                   "again.");
}

// The live attempt named by the request's `rt` parameter (from `source`): fills `rt` and
// `attempt` and returns true; otherwise answers — respondAttemptExpiredPage() for a missing,
// implausible or gone attempt, respondUnavailablePage() when the host failed — and returns
// false.
inline bool liveAttemptOrRespond(Source source, std::string& rt, Json& attempt) {
  if (param(source, "rt", rt) != Result::Ok || !plausibleRt(rt)) {
    respondAttemptExpiredPage();
    return false;
  }
  switch (loginAttempt(rt, attempt)) {
    case Attempt::Live:
      return true;
    case Attempt::Gone:
      respondAttemptExpiredPage();
      return false;
    case Attempt::Unavailable:
      break;
  }
  respondUnavailablePage();
  return false;
}

// Completes attempt `rt` for `sub` with `amrJson` (a JSON array of RFC 8176 values). On Ok
// the host has made the response; NotFound: the attempt is gone. Returns Ok, NotFound,
// InvalidArgument or Unavailable.
inline Result loginComplete(std::string_view rt, std::string_view sub, std::string_view amrJson) {
  return detail::toResult(habanero_login_complete(
      detail::bytes(rt), detail::size32(rt), detail::bytes(sub), detail::size32(sub),
      detail::bytes(amrJson), detail::size32(amrJson)));
}

// Checks a password; on Ok `subject` names the user. Mismatch for an unknown email and a
// wrong password alike (the host makes both cost the same). Returns Ok, Mismatch or
// Unavailable.
inline Result verifyPassword(std::string_view email, std::string_view password,
                             std::string& subject) {
  return detail::readGrowing(subject, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_user_verify_password(detail::bytes(email), detail::size32(email),
                                         detail::bytes(password), detail::size32(password), p,
                                         cap, len);
  });
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_LOGIN_HH_
