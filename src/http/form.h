// application/x-www-form-urlencoded bodies and URL query strings.
//
// parseForm() decodes "a=1&b=x+y&c=%C3%A9" into ordered name/value pairs. It
// keeps every occurrence of a name, so callers can refuse duplicates where a
// protocol demands it (OAuth 2.0: "parameters MUST NOT be included more than
// once"):
//
//   ASSIGN_OR_RETURN(Params params, parseForm(request.body));
//   Params::Lookup id = params.find("client_id");
//   if (id.kind == Params::Lookup::kDuplicate) return invalidRequest("client_id repeated");
//   if (id.kind == Params::Lookup::kNotFound) return invalidRequest("client_id missing");
//   use(id.value);
//
// Decoding is strict: '+' means space, '%' must be followed by two hex digits,
// and every decoded name and value must be valid UTF-8. Anything else is
// InvalidArgument; nothing is silently repaired.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "habanero/status.h"

namespace habanero::http {

// Most name/value pairs parseForm() accepts by default.
inline constexpr size_t kMaxFormParams = 1000;

// Decoded name/value pairs in input order. A plain value: copyable, not
// thread-safe for concurrent mutation.
class Params {
 public:
  using Entry = std::pair<std::string, std::string>;

  // Result of find(). `value` is set only for kValue and points into the
  // Params it came from: valid until that Params is modified or destroyed.
  struct Lookup {
    enum Kind { kNotFound, kDuplicate, kValue };
    Kind kind = kNotFound;
    std::string_view value;

    bool ok() const { return kind == kValue; }
  };

  Params() = default;
  explicit Params(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  // The single value of `name` (exact, case-sensitive match); kDuplicate when
  // it occurs more than once (even with equal values), kNotFound when absent.
  Lookup find(std::string_view name) const;

  // Every value of `name`, in input order; empty when absent. Views live as
  // long as this Params is unmodified.
  std::vector<std::string_view> findAll(std::string_view name) const;

  // How often `name` occurs.
  size_t count(std::string_view name) const;

  // The first name (in input order) that occurs more than once, or
  // std::nullopt when every name is unique. The view lives as long as this
  // Params is unmodified.
  std::optional<std::string_view> firstDuplicate() const;

  void add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  friend bool operator==(const Params&, const Params&) = default;

 private:
  std::vector<Entry> entries_;
};

// Parses a query string (without the leading '?') or a form body. Pairs are
// separated by '&'; empty pairs ("a=1&&b=2", a trailing '&') are skipped; a
// pair without '=' is a name with an empty value; names may be empty ("=x").
// InvalidArgument for a bad percent escape, a decoded name or value that is
// not valid UTF-8, or more than `max_params` pairs. "" gives an empty Params.
absl::StatusOr<Params> parseForm(std::string_view input, size_t max_params = kMaxFormParams);

// Decodes %XX escapes (and '+' as space when `plus_as_space`). InvalidArgument
// for a '%' not followed by two hex digits or a result that is not valid UTF-8.
absl::StatusOr<std::string> percentDecode(std::string_view input, bool plus_as_space);

// Percent-encodes every byte except the RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~), with upper-case hex. The result is safe in a query
// string, a form body and a path segment.
std::string percentEncode(std::string_view input);

// Serialises `params` as "name=value&..." with percentEncode(); the inverse of
// parseForm() for any Params whose names and values are valid UTF-8.
std::string encodeForm(const Params& params);

// True if `bytes` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF). U+0000 is well-formed.
bool isValidUtf8(std::string_view bytes);

}  // namespace habanero::http
