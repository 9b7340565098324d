#include "core/codec.h"
#include "indieauth.h"

namespace habanero::indieauth {
namespace {

Store fromResult(sdk::Result r) {
  switch (r) {
    case sdk::Result::Ok:
      return Store::Ok;
    case sdk::Result::NotFound:
      return Store::NotFound;
    default:
      return Store::Unavailable;
  }
}

Store parseInto(Store s, const std::string& text, Json& out) {
  if (s != Store::Ok) return s;
  auto j = parseJsonObject(text);
  if (!j) {
    sdk::logError("kv: a stored record is not a JSON object; treating it as absent");
    return Store::NotFound;
  }
  out = std::move(*j);
  return Store::Ok;
}

}  // namespace

std::optional<std::string> randomToken() {
  auto bytes = sdk::randomBytes(32);
  if (!bytes) return std::nullopt;
  return habanero::oauth2::base64urlEncode(*bytes);
}

std::optional<std::string> randomId() {
  auto bytes = sdk::randomBytes(16);
  if (!bytes) return std::nullopt;
  return habanero::oauth2::base64urlEncode(*bytes);
}

std::string tokenHash(std::string_view token) {
  auto digest = sdk::sha256(token);
  if (!digest) return std::string(64, '0');
  return sdk::hex(std::span<const uint8_t>(digest->data(), digest->size()));
}

std::string s256(std::string_view verifier) {
  auto digest = sdk::sha256(verifier);
  if (!digest) return {};
  return habanero::oauth2::base64urlEncode(
      std::string_view(reinterpret_cast<const char*>(digest->data()), digest->size()));
}

Store putRecord(std::string_view key, const Json& value, int64_t ttl_s) {
  int64_t ttl_ms = ttl_s <= 0 ? 1000 : ttl_s * 1000;
  return fromResult(sdk::kvPut(key, dumpJson(value), ttl_ms));
}

Store getRecord(std::string_view key, Json& out) {
  std::string text;
  return parseInto(fromResult(sdk::kvGet(key, text)), text, out);
}

Store takeRecord(std::string_view key, Json& out) {
  std::string text;
  return parseInto(fromResult(sdk::kvTake(key, text)), text, out);
}

Store deleteRecord(std::string_view key) { return fromResult(sdk::kvRemove(key)); }

}  // namespace habanero::indieauth
