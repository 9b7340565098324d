// form.hh — reading request parameters and forms, and the checks a browser form needs:
// same-origin posts (Sec-Fetch-Site) and CSRF tokens.
//
// Parameters come from the host's strict parser (request_param): a value given twice is
// Duplicate, a source that is not valid percent-encoding/UTF-8 is InvalidArgument for every
// name. Params turns those into one description and adds a size limit and a control-character
// check, so handlers only see plausible text. Needs the capability "http" (and "crypto" for
// the CSRF helpers, "settings" for the 403 page).
//
//   sdk::Params q(sdk::Source::Query);
//   std::optional<std::string> state;
//   if (!q.get("state", state, 2048)) return fail(q.error());   // "duplicate parameter: state"
//
//   std::string csrf = *sdk::newCsrfToken();                       // stored with the request
//   form += sdk::hiddenInput("csrf", csrf);
//   if (!sdk::csrfMatches(posted, stored)) …                       // constant time
#ifndef HABANERO_SDK_CPP_HABANERO_FORM_HH_
#define HABANERO_SDK_CPP_HABANERO_FORM_HH_

#include <habanero.hh>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <habanero/page.hh>
#include <habanero/random.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

class Params {
 public:
  explicit Params(Source source) : source_(source) {}

  // Reads `name` into `out` (nullopt when absent or empty). Returns false, with error() set,
  // if it is given more than once, the source is malformed, the value is longer than
  // `maxBytes` or contains a control character.
  bool get(std::string_view name, std::optional<std::string>& out, size_t maxBytes) {
    out.reset();
    std::string value;
    switch (param(source_, name, value)) {
      case Result::Ok:
        break;
      case Result::NotFound:
        return true;
      case Result::Duplicate:
        return fail(name, "duplicate parameter: ");
      case Result::InvalidArgument:
        failed_.clear();
        error_ = source_ == Source::Query ? "malformed query string" : "malformed form body";
        return false;
      default:
        return fail(name, "unreadable parameter: ");
    }
    if (value.size() > maxBytes) return fail(name, "parameter too long: ");
    if (hasControl(value)) return fail(name, "control character in parameter: ");
    if (!value.empty()) out = std::move(value);
    return true;
  }

  // get() for a parameter that must be there: also false, with error() "<name> is
  // required", when it is absent or empty.
  bool getRequired(std::string_view name, std::string& out, size_t maxBytes) {
    std::optional<std::string> value;
    if (!get(name, value, maxBytes)) return false;
    if (!value) return fail(name, "", " is required");
    out = std::move(*value);
    return true;
  }

  // The description of the first failure ("duplicate parameter: state").
  const std::string& error() const { return error_; }
  // The parameter that failed first ("" for a malformed source).
  const std::string& failedName() const { return failed_; }

 private:
  bool fail(std::string_view name, std::string_view before, std::string_view after = {}) {
    failed_ = std::string(name);
    error_ = std::string(before) + failed_ + std::string(after);
    return false;
  }

  Source source_;
  std::string error_;
  std::string failed_;
};

// Whether the request's Content-Type is application/x-www-form-urlencoded.
inline bool isFormRequest() {
  std::optional<std::string> type = header("content-type");
  return type && mediaTypeIs(*type, "application/x-www-form-urlencoded");
}

// Whether the browser says this post comes from another site (Sec-Fetch-Site neither
// same-origin nor none). Only an extension's own pages may post its forms; a request without
// the header (an old browser, a script) is not refused by this check.
inline bool crossSitePost() {
  if (std::optional<std::string> site = header("sec-fetch-site")) {
    return *site != "same-origin" && *site != "none";
  }
  return false;
}

// Answers 403 (a page) and returns true when crossSitePost(); callers then return.
inline bool refuseCrossSitePost() {
  if (!crossSitePost()) return false;
  respondErrorPage(403, "Request refused", "This form can only be sent from its own page.");
  return true;
}

// `<input type="hidden" name="…" value="…">` with both escaped.
inline std::string hiddenInput(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + htmlEscape(name) + "\" value=\"" + htmlEscape(value) +
         "\">";
}

// A fresh CSRF token (256 bits, base64url) to store with the request a form continues;
// nullopt if the host's CSPRNG failed.
inline std::optional<std::string> newCsrfToken() { return randomToken(); }

// Whether the posted token equals the stored one, compared in constant time; never when the
// stored one is empty (no form was shown).
inline bool csrfMatches(std::string_view posted, std::string_view stored) {
  return !stored.empty() && constantTimeEqual(posted, stored);
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_FORM_HH_
