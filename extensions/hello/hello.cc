// hello: the example extension.
//
//   GET <mount>/        200 "<greeting>, <name>!\n"; greeting is the setting "greeting"
//                       (default "Hello"), name the query parameter "name" (default
//                       "world"). A duplicated or invalid name is a 400.
//   GET <mount>/count   increments a counter in kv and returns the new value.
//   anything else       404.
// Logs one info line per request.
#include <habanero.hh>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sdk = habanero::sdk;

namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr size_t kMaxName = 64;
constexpr int kCasAttempts = 16;
constexpr std::string_view kCounterKey = "count";

// A name is 1..kMaxName bytes of UTF-8 (checked by the host) without control characters.
bool validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

int greet() {
  std::string name;
  switch (sdk::queryParam("name", name)) {
    case sdk::Result::Ok:
      if (!validName(name)) {
        sdk::respond(400, kText, "invalid name\n");
        return 400;
      }
      break;
    case sdk::Result::NotFound:
      name = "world";
      break;
    case sdk::Result::Duplicate:
      sdk::respond(400, kText, "duplicate name\n");
      return 400;
    default:
      sdk::respond(400, kText, "invalid query\n");
      return 400;
  }
  std::string greeting = sdk::settingOr("greeting", "Hello");
  sdk::respond(200, kText, greeting + ", " + name + "!\n");
  return 200;
}

// Parses a stored counter; false if it is not a decimal uint64.
bool parseCount(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

int count() {
  for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
    std::string current;
    uint64_t n = 0;
    sdk::Result r = sdk::kvGet(kCounterKey, current);
    if (r == sdk::Result::Ok) {
      if (!parseCount(current, n)) {
        sdk::logError("counter value is corrupt");
        sdk::respond(500, kText, "counter unavailable\n");
        return 500;
      }
    } else if (r != sdk::Result::NotFound) {
      sdk::respond(503, kText, "counter unavailable\n");
      return 503;
    }
    std::string next = std::to_string(n + 1);
    std::optional<std::string_view> expected;
    if (r == sdk::Result::Ok) expected = current;
    r = sdk::kvCompareAndSet(kCounterKey, expected, next);
    if (r == sdk::Result::Ok) {
      sdk::respond(200, kText, next + "\n");
      return 200;
    }
    if (r != sdk::Result::Conflict) break;
  }
  sdk::respond(503, kText, "counter busy\n");
  return 503;
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  std::string method = sdk::method();
  std::string sub = sdk::subPath();
  int status;
  if (method == "GET" && sub == "/") {
    status = greet();
  } else if (method == "GET" && sub == "/count") {
    status = count();
  } else {
    sdk::respond(404, kText, "not found\n");
    status = 404;
  }
  constexpr size_t kMaxLoggedPath = 128;
  sdk::logInfo(method + " " + sub.substr(0, kMaxLoggedPath) + " -> " + std::to_string(status));
  return 0;
}
