// http.h — reading OAuth parameters and writing JSON and OAuth error responses.
//
// Parameters come from the host's strict parser (request_param): a value given twice is
// DUPLICATE, a source that is not valid percent-encoding/UTF-8 is INVALID_ARGUMENT for every
// name. Params turns those into one invalid_request description and adds size limits and a
// control-character check, so handlers only see plausible text.
//
//   Params q(sdk::Source::Query);
//   std::optional<std::string> state;
//   if (!q.get("state", state, kMaxStateBytes)) return fail(q.error());
#ifndef HABANERO_EXTENSIONS_OAUTH2_HTTP_H_
#define HABANERO_EXTENSIONS_OAUTH2_HTTP_H_

#include <habanero.hh>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "json.h"

namespace habanero::oauth2 {

namespace sdk = habanero::sdk;

class Params {
 public:
  explicit Params(sdk::Source source) : source_(source) {}

  // Reads `name` into `out` (nullopt when absent or empty). Returns false, with error() set,
  // if it is given more than once, the source is malformed, the value is longer than
  // `max_bytes` or contains a control character.
  bool get(std::string_view name, std::optional<std::string>& out, size_t max_bytes);

  // The description of the first failure ("duplicate parameter: state").
  const std::string& error() const { return error_; }
  // The parameter that failed first ("" for a malformed source).
  const std::string& failedName() const { return failed_; }

 private:
  sdk::Source source_;
  std::string error_;
  std::string failed_;
};

// Whether the request's Content-Type is application/x-www-form-urlencoded.
bool isFormRequest();

// A JSON response with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1).
void respondJson(int status, const Json& body);

// An RFC 6749 §5.2 error: {"error","error_description"}, no-store. `basic_challenge` adds
// WWW-Authenticate: Basic (invalid_client after Basic authentication, §5.2).
void respondOAuthError(int status, std::string_view error, std::string_view description,
                       bool basic_challenge = false);

// An RFC 6750 §3 error for a protected resource: WWW-Authenticate: Bearer with error and
// error_description (omitted when `error` is empty: no credentials were presented).
void respondBearerError(int status, std::string_view error, std::string_view description);

// 405 with Allow and an invalid_request body.
void respondMethodNotAllowed(std::string_view allow);

// 503 temporarily_unavailable (the host's store or keys failed; the host logged why).
void respondUnavailable();

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_HTTP_H_
