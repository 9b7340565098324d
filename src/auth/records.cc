#include "auth/records.h"

#include <algorithm>

#include "crypto/base64url.h"
#include "crypto/random.h"
#include "http/form.h"

namespace habanero::auth::internal {

absl::StatusOr<std::string> randomToken(size_t bytes) {
  ASSIGN_OR_RETURN(std::string raw, crypto::randomBytes(bytes));
  return crypto::base64UrlEncode(raw);
}

bool looksLikeToken(std::string_view s, size_t bytes) {
  if (s.size() != (bytes * 4 + 2) / 3) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

bool isPlainText(std::string_view s, size_t max_bytes) {
  if (s.size() > max_bytes || !http::isValidUtf8(s)) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u == 0x7f) return false;
    // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
    if (u == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      return false;
    }
  }
  return true;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json parse(std::string_view text) {
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

namespace {
const Json* field(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
}  // namespace

bool readString(const Json& j, std::string_view key, std::string& out) {
  const Json* f = field(j, key);
  if (f == nullptr || !f->is_string()) return false;
  out = f->get_ref<const std::string&>();
  return true;
}

bool readBool(const Json& j, std::string_view key, bool& out) {
  const Json* f = field(j, key);
  if (f == nullptr || !f->is_boolean()) return false;
  out = f->get<bool>();
  return true;
}

bool readInt(const Json& j, std::string_view key, int64_t& out) {
  const Json* f = field(j, key);
  if (f == nullptr || !f->is_number_integer()) return false;
  out = f->get<int64_t>();
  return true;
}

bool readStrings(const Json& j, std::string_view key, std::vector<std::string>& out) {
  const Json* f = field(j, key);
  if (f == nullptr || !f->is_array()) return false;
  std::vector<std::string> values;
  for (const Json& item : *f) {
    if (!item.is_string()) return false;
    values.push_back(item.get_ref<const std::string&>());
  }
  out = std::move(values);
  return true;
}

}  // namespace habanero::auth::internal
