// session.hh — the browser's session with the host, for protocol extensions (capability
// "sessions").
//
//   sdk::Session s;
//   switch (sdk::currentSession(s)) {
//     case sdk::SessionLookup::None: return requireLogin();
//     case sdk::SessionLookup::Unavailable: return unavailable();
//     case sdk::SessionLookup::Found: break;
//   }
#ifndef HABANERO_SDK_CPP_HABANERO_SESSION_HH_
#define HABANERO_SDK_CPP_HABANERO_SESSION_HH_

#include <habanero.hh>

#include <cstdint>
#include <string>
#include <vector>

#include <habanero/json.hh>
#include <habanero/page.hh>

namespace habanero::sdk {

struct Session {
  std::string sub;
  std::vector<std::string> amr;  // RFC 8176 methods of the login
  int64_t auth_time = 0;         // seconds since the epoch
  std::string sid;
};

enum class SessionLookup { Found, None, Unavailable };

// The current request's session into `out` (left unchanged unless Found). None: no valid
// session cookie (or a session without a subject). Unavailable: the host failed or answered
// something that is not a session (logged).
inline SessionLookup currentSession(Session& out) {
  std::string text;
  switch (sessionGet(text)) {
    case Result::Ok:
      break;
    case Result::NotFound:
      return SessionLookup::None;
    default:
      return SessionLookup::Unavailable;
  }
  std::optional<Json> j = parseJsonObject(text);
  if (!j) {
    logError("session_get returned something that is not a JSON object");
    return SessionLookup::Unavailable;
  }
  Session s;
  s.sub = jsonString(*j, "sub").value_or("");
  s.amr = jsonStringList(*j, "amr");
  s.auth_time = jsonInt(*j, "auth_time").value_or(0);
  if (s.auth_time > 100000000000) s.auth_time /= 1000;  // tolerate milliseconds
  s.sid = jsonString(*j, "sid").value_or("");
  if (s.sub.empty()) return SessionLookup::None;
  out = std::move(s);
  return SessionLookup::Found;
}

// currentSession() for a browser page: on Unavailable it has answered (503 page) and the
// caller returns.
inline SessionLookup currentSessionOrRespond(Session& out) {
  SessionLookup sl = currentSession(out);
  if (sl == SessionLookup::Unavailable) {
    respondErrorPage(503, "Try again", "The server could not read your session.");
  }
  return sl;
}

// Whether `s` satisfies a login required at `loginAfter` (seconds since the epoch; <= 0:
// any session does): the session began at or after it.
inline bool sessionIsFresh(const Session& s, int64_t loginAfter) {
  return loginAfter <= 0 || s.auth_time >= loginAfter;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_SESSION_HH_
