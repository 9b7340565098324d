// oauth_response.hh — JSON answers of OAuth endpoints: success bodies, RFC 6749 §5.2 errors,
// RFC 6750 §3 bearer challenges. Needs the capability "http".
//
//   sdk::respondOAuthError(400, "invalid_grant", "the code has expired");
//   sdk::respondBearerError("oauth2", 401, "invalid_token", "expired");  // WWW-Authenticate
#ifndef HABANERO_SDK_CPP_HABANERO_OAUTH_RESPONSE_HH_
#define HABANERO_SDK_CPP_HABANERO_OAUTH_RESPONSE_HH_

#include <habanero.hh>

#include <string>
#include <string_view>

#include <habanero/json.hh>
#include <habanero/page.hh>

namespace habanero::sdk {

// A JSON response; with `noStore`, Cache-Control: no-store and Pragma: no-cache (RFC 6749
// §5.1: anything carrying tokens).
inline void respondJson(int32_t status, const Json& body, bool noStore = true) {
  setStatus(status);
  addHeader("content-type", "application/json");
  if (noStore) {
    addHeader("cache-control", "no-store");
    addHeader("pragma", "no-cache");
  }
  write(dumpJson(body));
}

// An RFC 6749 §5.2 error: {"error","error_description"?}, no-store. A non-empty
// `basicRealm` adds WWW-Authenticate: Basic (invalid_client after Basic authentication).
inline void respondOAuthError(int32_t status, std::string_view error,
                              std::string_view description, std::string_view basicRealm = {}) {
  if (!basicRealm.empty()) {
    addHeader("www-authenticate",
              "Basic realm=\"" + std::string(basicRealm) + "\", charset=\"UTF-8\"");
  }
  Json body = {{"error", error}};
  if (!description.empty()) body["error_description"] = description;
  respondJson(status, body);
}

// The quoted-string form of a description for a challenge ('"' and '\' become '\'').
inline std::string challengeText(std::string_view description) {
  std::string d;
  for (char c : description) d.push_back(c == '"' || c == '\\' ? '\'' : c);
  return d;
}

// An RFC 6750 §3 error of a protected resource: WWW-Authenticate: Bearer realm="<realm>" with
// error and error_description, and the JSON error body. With `error` empty (no credentials
// were presented) the challenge names neither and the body is empty.
inline void respondBearerError(std::string_view realm, int32_t status, std::string_view error,
                               std::string_view description) {
  std::string challenge = "Bearer realm=\"" + std::string(realm) + "\"";
  if (!error.empty()) {
    challenge += ", error=\"" + std::string(error) + "\"";
    if (!description.empty()) {
      challenge += ", error_description=\"" + challengeText(description) + "\"";
    }
  }
  addHeader("www-authenticate", challenge);
  if (error.empty()) {
    setStatus(status);
    addHeader("cache-control", "no-store");
    return;
  }
  respondOAuthError(status, error, description);
}

// 405 with Allow and an invalid_request body.
inline void respondMethodNotAllowed(std::string_view allow) {
  addHeader("allow", allow);
  respondOAuthError(405, "invalid_request", "method not allowed");
}

// 503 temporarily_unavailable with Retry-After (the host's store or keys failed; it logged
// why).
inline void respondUnavailable() {
  addHeader("retry-after", "5");
  respondOAuthError(503, "temporarily_unavailable", "the server could not complete the request");
}

// The page for an authorization error (RFC 6749 §4.1.2.1) that must not be redirected: the
// client's redirect URI was never shown to the user (a discovered client), so the browser
// stays on our origin. 503 for temporarily_unavailable, else 400; the error and description
// are named. Needs "settings" too (the page shell).
inline void respondAuthorizationErrorPage(std::string_view error, std::string_view description) {
  std::string text = "The application's sign-in request could not be completed (" +
                     std::string(error) +
                     (description.empty() ? std::string() : ": " + std::string(description)) +
                     "). Return to the application and try again.";
  if (error == "temporarily_unavailable") {
    respondErrorPage(503, "Try again", text);
  } else {
    respondErrorPage(400, "Request refused", text);
  }
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_OAUTH_RESPONSE_HH_
