// event_mailer: a subscriber whose every delivery is visible outside the server, for the
// process-level outbox tests (tests/integration/outbox_kill_test.py) and the host's domain
// events (tests/integration/domain_events_test.py).
//
//   /publish?count=N&prefix=P   publishes N events on topic "cluster.test" with payloads
//                               "P-0" … "P-(N-1)"; {"result","published"}
//
// habanero_on_event: sends one mail to events@example.test whose subject is
// "event <node> <topic> <id> <attempt> <publisher>" (<node>: the setting "node", "-" when
// unset) and whose text is the payload. DONE when the mail server accepted it, RETRY otherwise (so a
// mail server that is down delays events, never loses them).
#include <habanero.hh>

#include <charconv>
#include <string>

namespace sdk = habanero::sdk;

namespace {

std::string quote(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  if (sdk::subPath() != "/publish") {
    sdk::respond(404, "text/plain", "no such route\n");
    return 0;
  }
  std::string count_text, prefix;
  sdk::queryParam("count", count_text);
  sdk::queryParam("prefix", prefix);
  int count = 0;
  auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (ec != std::errc() || end != count_text.data() + count_text.size() || count < 1 ||
      count > 1000) {
    sdk::respond(400, "application/json", "{\"error\":\"count must be 1..1000\"}");
    return 0;
  }
  int published = 0;
  sdk::Result r = sdk::Result::Ok;
  for (int i = 0; i < count; ++i) {
    r = sdk::publish("cluster.test", prefix + "-" + std::to_string(i));
    if (r != sdk::Result::Ok) break;
    ++published;
  }
  sdk::respond(200, "application/json",
               "{\"result\":" + std::to_string(static_cast<int32_t>(r)) +
                   ",\"published\":" + std::to_string(published) + "}");
  return 0;
}

HABANERO_EXPORT("habanero_on_event") int32_t onEvent() {
  std::string topic, payload, attempt, id, publisher;
  sdk::event(sdk::EventField::Topic, topic);
  sdk::event(sdk::EventField::Publisher, publisher);
  sdk::event(sdk::EventField::Payload, payload);
  sdk::event(sdk::EventField::Attempt, attempt);
  sdk::event(sdk::EventField::Id, id);
  std::string node = sdk::settingOr("node", "-");
  std::string subject =
      "event " + node + " " + topic + " " + id + " " + attempt + " " + publisher;
  sdk::Result r = sdk::mailSend("{\"to\":\"events@example.test\",\"subject\":" + quote(subject) +
                                ",\"text\":" + quote(payload) + "}");
  return r == sdk::Result::Ok ? HABANERO_EVENT_DONE : HABANERO_EVENT_RETRY;
}
