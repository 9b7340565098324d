// event_counter: a subscriber whose every delivery is counted in its own kv, for the events
// broker's fault test (tests/cluster/events_broker_test.py).
//
//   /publish?prefix=P&count=N   publishes N events on topic "counter.tick" with payloads
//                               "P-0" … "P-(N-1)"; {"result","published"}
//   /count?payload=X            {"count": deliveries of the event whose payload is X}
//   /total                      {"count": deliveries of every event}
//
// habanero_on_event: adds one to "p/<payload>" and to "total" by compare-and-set (so two
// deliveries running at once on two workers are both counted), then DONE.
#include <habanero.hh>

#include <charconv>
#include <optional>
#include <string>

namespace sdk = habanero::sdk;

namespace {

// The count under `key`, 0 if absent; nullopt if the store failed.
std::optional<long> readCount(const std::string& key, std::string* raw) {
  std::string text;
  sdk::Result r = sdk::kvGet(key, text);
  if (r == sdk::Result::NotFound) return 0;
  if (r != sdk::Result::Ok) return std::nullopt;
  if (raw) *raw = text;
  long n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

bool bump(const std::string& key) {
  for (int i = 0; i < 64; ++i) {
    std::string raw;
    std::optional<long> n = readCount(key, &raw);
    if (!n) return false;
    std::optional<std::string_view> expected;
    if (*n > 0) expected = raw;
    sdk::Result r = sdk::kvCompareAndSet(key, expected, std::to_string(*n + 1));
    if (r == sdk::Result::Ok) return true;
    if (r != sdk::Result::Conflict) return false;
  }
  return false;
}

void count(const std::string& key) {
  std::optional<long> n = readCount(key, nullptr);
  if (!n) {
    sdk::respond(503, "application/json", "{\"error\":\"kv\"}");
    return;
  }
  sdk::respond(200, "application/json", "{\"count\":" + std::to_string(*n) + "}");
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  std::string path = sdk::subPath();
  if (path == "/count") {
    std::string payload;
    sdk::queryParam("payload", payload);
    count("p/" + payload);
    return 0;
  }
  if (path == "/total") {
    count("total");
    return 0;
  }
  if (path != "/publish") {
    sdk::respond(404, "text/plain", "no such route\n");
    return 0;
  }
  std::string count_text, prefix;
  sdk::queryParam("count", count_text);
  sdk::queryParam("prefix", prefix);
  int n = 0;
  auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), n);
  if (ec != std::errc() || end != count_text.data() + count_text.size() || n < 1 || n > 1000) {
    sdk::respond(400, "application/json", "{\"error\":\"count must be 1..1000\"}");
    return 0;
  }
  int published = 0;
  sdk::Result r = sdk::Result::Ok;
  for (int i = 0; i < n; ++i) {
    r = sdk::publish("counter.tick", prefix + "-" + std::to_string(i));
    if (r != sdk::Result::Ok) break;
    ++published;
  }
  sdk::respond(200, "application/json",
               "{\"result\":" + std::to_string(static_cast<int32_t>(r)) +
                   ",\"published\":" + std::to_string(published) + "}");
  return 0;
}

HABANERO_EXPORT("habanero_on_event") int32_t onEvent() {
  std::string payload;
  sdk::event(sdk::EventField::Payload, payload);
  if (!bump("p/" + payload) || !bump("total")) return HABANERO_EVENT_RETRY;
  return HABANERO_EVENT_DONE;
}
