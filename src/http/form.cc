#include "http/form.h"

#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace habanero::http {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

Params::Lookup Params::find(std::string_view name) const {
  Lookup result;
  for (const auto& [k, v] : entries_) {
    if (k != name) continue;
    if (result.kind == Lookup::kValue) return Lookup{Lookup::kDuplicate, {}};
    result = Lookup{Lookup::kValue, v};
  }
  return result;
}

std::vector<std::string_view> Params::findAll(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [k, v] : entries_) {
    if (k == name) values.emplace_back(v);
  }
  return values;
}

size_t Params::count(std::string_view name) const {
  size_t n = 0;
  for (const auto& entry : entries_) n += entry.first == name;
  return n;
}

std::optional<std::string_view> Params::firstDuplicate() const {
  std::unordered_set<std::string_view> seen;
  seen.reserve(entries_.size());
  for (const auto& entry : entries_) {
    if (!seen.insert(entry.first).second) return std::string_view(entry.first);
  }
  return std::nullopt;
}

bool isValidUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;  // continuation byte or 0xF8..0xFF as a lead byte
    }
    if (static_cast<size_t>(end - p) < len) return false;
    for (size_t i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += len;
  }
  return true;
}

absl::StatusOr<std::string> percentDecode(std::string_view input, bool plus_as_space) {
  std::string out;
  out.reserve(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    if (c == '%') {
      int hi = i + 1 < input.size() ? hexValue(input[i + 1]) : -1;
      int lo = i + 2 < input.size() ? hexValue(input[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad percent escape at offset ", i,
                                                       ": '%' must be followed by two hex digits"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (!isValidUtf8(out)) return absl::InvalidArgumentError("decoded text is not valid UTF-8");
  return out;
}

absl::StatusOr<Params> parseForm(std::string_view input, size_t max_params) {
  std::vector<Params::Entry> entries;
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t amp = input.find('&', pos);
    if (amp == std::string_view::npos) amp = input.size();
    std::string_view pair = input.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    if (entries.size() >= max_params) {
      return absl::InvalidArgumentError(absl::StrCat("more than ", max_params, " form parameters"));
    }
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    absl::StatusOr<std::string> name = percentDecode(raw_name, /*plus_as_space=*/true);
    if (!name.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("form parameter #", entries.size() + 1, " name: ", name.status().message()));
    }
    absl::StatusOr<std::string> value = percentDecode(raw_value, /*plus_as_space=*/true);
    if (!value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("form parameter #", entries.size() + 1,
                                                     " value: ", value.status().message()));
    }
    entries.emplace_back(std::move(*name), std::move(*value));
  }
  return Params(std::move(entries));
}

std::string percentEncode(std::string_view input) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(input.size());
  for (unsigned char c : input) {
    if (isUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string encodeForm(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params.entries()) {
    if (!out.empty()) out.push_back('&');
    out += percentEncode(name);
    out.push_back('=');
    out += percentEncode(value);
  }
  return out;
}

}  // namespace habanero::http
