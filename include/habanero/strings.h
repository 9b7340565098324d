// String helpers that take std::string_view.
//
// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so absl::StrCat and friends reject std::string_view
// arguments. These small equivalents accept std::string_view, absl::string_view
// (e.g. absl::Status::message()), C strings, chars and numbers.
//
//   return absl::InvalidArgumentError(strCat(path, ":", line, ": ", problem));
#pragma once

#include <strings.h>

#include <string>
#include <string_view>
#include <vector>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace habanero {
namespace strings_internal {

inline void append(std::string& out, std::string_view s) { out.append(s); }
inline void append(std::string& out, const std::string& s) { out.append(s); }
inline void append(std::string& out, const char* s) { out.append(s); }
inline void append(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void append(std::string& out, char c) { out.push_back(c); }
template <typename T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, bool>)
void append(std::string& out, T v) {
  out.append(std::to_string(v));
}

}  // namespace strings_internal

// Concatenates the pieces' text.
template <typename... Pieces>
std::string strCat(const Pieces&... pieces) {
  std::string out;
  (strings_internal::append(out, pieces), ...);
  return out;
}

// ASCII case-insensitive comparisons.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}
inline bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ::strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// The text of an absl::string_view as a std::string_view.
inline std::string_view sv(absl::string_view s) { return {s.data(), s.size()}; }

// The words of a space-separated list ("a b  c" -> a, b, c); views into `list`.
inline std::vector<std::string_view> words(std::string_view list) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < list.size()) {
    size_t start = list.find_first_not_of(' ', i);
    if (start == std::string_view::npos) break;
    size_t end = list.find(' ', start);
    if (end == std::string_view::npos) end = list.size();
    out.push_back(list.substr(start, end - start));
    i = end;
  }
  return out;
}

}  // namespace habanero
