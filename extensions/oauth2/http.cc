#include "http.h"

#include "core/codec.h"
#include "core/params.h"

namespace habanero::oauth2 {

bool Params::get(std::string_view name, std::optional<std::string>& out, size_t max_bytes) {
  out.reset();
  std::string value;
  switch (sdk::param(source_, name, value)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::NotFound:
      return true;
    case sdk::Result::Duplicate:
      failed_ = std::string(name);
      error_ = "duplicate parameter: " + failed_;
      return false;
    case sdk::Result::InvalidArgument:
      failed_.clear();
      error_ = source_ == sdk::Source::Query ? "malformed query string" : "malformed form body";
      return false;
    default:
      failed_ = std::string(name);
      error_ = "unreadable parameter: " + failed_;
      return false;
  }
  if (value.size() > max_bytes) {
    failed_ = std::string(name);
    error_ = "parameter too long: " + failed_;
    return false;
  }
  if (hasControl(value)) {
    failed_ = std::string(name);
    error_ = "control character in parameter: " + failed_;
    return false;
  }
  if (!value.empty()) out = std::move(value);
  return true;
}

bool isFormRequest() {
  auto type = sdk::header("content-type");
  return type && mediaTypeIs(*type, "application/x-www-form-urlencoded");
}

void respondJson(int status, const Json& body) {
  sdk::setStatus(status);
  sdk::addHeader("content-type", "application/json");
  sdk::addHeader("cache-control", "no-store");
  sdk::addHeader("pragma", "no-cache");
  sdk::write(dumpJson(body));
}

void respondOAuthError(int status, std::string_view error, std::string_view description,
                       bool basic_challenge) {
  if (basic_challenge) sdk::addHeader("www-authenticate", "Basic realm=\"oauth2\", charset=\"UTF-8\"");
  Json body = {{"error", error}};
  if (!description.empty()) body["error_description"] = description;
  respondJson(status, body);
}

void respondBearerError(int status, std::string_view error, std::string_view description) {
  std::string challenge = "Bearer realm=\"oauth2\"";
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

void respondMethodNotAllowed(std::string_view allow) {
  sdk::addHeader("allow", allow);
  respondOAuthError(405, "invalid_request", "method not allowed");
}

void respondUnavailable() {
  sdk::addHeader("retry-after", "5");
  respondOAuthError(503, "temporarily_unavailable", "the server could not complete the request");
}

}  // namespace habanero::oauth2
