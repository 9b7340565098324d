#include "core/codec.h"
#include "core/params.h"
#include "indieauth.h"

namespace habanero::indieauth {

using habanero::oauth2::hasControl;
using habanero::oauth2::mediaTypeIs;

bool Params::get(std::string_view name, std::optional<std::string>& out, size_t max_bytes) {
  out.reset();
  std::string value;
  switch (sdk::param(source_, name, value)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::NotFound:
      return true;
    case sdk::Result::Duplicate:
      error_ = "duplicate parameter: " + std::string(name);
      return false;
    case sdk::Result::InvalidArgument:
      error_ = source_ == sdk::Source::Query ? "malformed query string" : "malformed form body";
      return false;
    default:
      error_ = "unreadable parameter: " + std::string(name);
      return false;
  }
  if (value.size() > max_bytes) {
    error_ = "parameter too long: " + std::string(name);
    return false;
  }
  if (hasControl(value)) {
    error_ = "control character in parameter: " + std::string(name);
    return false;
  }
  if (!value.empty()) out = std::move(value);
  return true;
}

bool isFormRequest() {
  auto type = sdk::header("content-type");
  return type && mediaTypeIs(*type, "application/x-www-form-urlencoded");
}

void respondJson(int status, const Json& body, bool no_store) {
  sdk::setStatus(status);
  sdk::addHeader("content-type", "application/json");
  if (no_store) {
    sdk::addHeader("cache-control", "no-store");
    sdk::addHeader("pragma", "no-cache");
  }
  sdk::write(dumpJson(body));
}

void respondOAuthError(int status, std::string_view error, std::string_view description) {
  Json body = {{"error", error}};
  if (!description.empty()) body["error_description"] = description;
  respondJson(status, body);
}

void respondBearerError(int status, std::string_view error, std::string_view description) {
  std::string challenge = "Bearer realm=\"indieauth\"";
  if (!error.empty()) {
    challenge += ", error=\"" + std::string(error) + "\"";
    if (!description.empty()) {
      std::string d;
      for (char c : description) d.push_back(c == '"' || c == '\\' ? '\'' : c);
      challenge += ", error_description=\"" + d + "\"";
    }
  }
  sdk::addHeader("www-authenticate", challenge);
  if (error.empty()) {
    sdk::setStatus(status);
    sdk::addHeader("cache-control", "no-store");
    return;
  }
  respondOAuthError(status, error, description);
}

void respondMethodNotAllowed(std::string_view allow, bool html) {
  sdk::addHeader("allow", allow);
  if (html) {
    respondErrorPage(405, "Method not allowed", "This address does not accept that method.");
  } else {
    respondOAuthError(405, "invalid_request", "method not allowed");
  }
}

void respondUnavailable() {
  sdk::addHeader("retry-after", "5");
  respondOAuthError(503, "temporarily_unavailable", "the server could not complete the request");
}

}  // namespace habanero::indieauth
