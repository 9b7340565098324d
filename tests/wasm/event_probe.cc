// event_probe: exercises the host calls of design 0002 for the runtime tests
// (tests/unit/runtime/events_host_calls_test.cc). JSON answers, "result" is the raw
// habanero_result_t of the call under test.
//
//   /publish?topic=&payload=   event_publish              {"result"}
//   /event_get                 event_get outside on_event {"result"}  (must be NOT_FOUND)
//   /signup?email=             user_create (optional capability "signup") {"result","sub"}
//   /find?kind=&value=         user_find                  {"result","sub"}
//   /fetch?url=                http_fetch                 {"result","response"}
//
// habanero_on_event: records "<topic>|<payload>|<attempt>|<publisher>" under kv key
// "seen/<id>", then returns by payload: "done" -> DONE, "retry" -> RETRY, "fail" ->
// FAILED, "trap" -> traps (unreachable), "weird" -> 42 (not an event result).
#include <habanero.hh>

#include <string>

namespace sdk = habanero::sdk;

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

std::string param(const char* name) {
  std::string v;
  sdk::queryParam(name, v);
  return v;
}

void reply(sdk::Result r, const std::string& extra = "") {
  sdk::respond(200, "application/json",
               "{\"result\":" + std::to_string(static_cast<int32_t>(r)) + extra + "}");
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  std::string path = sdk::subPath();
  if (path == "/publish") {
    reply(sdk::publish(param("topic"), param("payload")));
  } else if (path == "/event_get") {
    std::string v;
    reply(sdk::event(sdk::EventField::Payload, v));
  } else if (path == "/signup") {
    std::string sub;
    sdk::Result r = sdk::userCreate("{\"email\":" + quote(param("email")) + "}", sub);
    reply(r, ",\"sub\":" + quote(sub));
  } else if (path == "/find") {
    std::string sub;
    sdk::Result r = sdk::userFind(param("kind") == "phone" ? sdk::UserKey::Phone
                                                           : sdk::UserKey::Email,
                                  param("value"), sub);
    reply(r, ",\"sub\":" + quote(sub));
  } else if (path == "/fetch") {
    std::string response;
    sdk::Result r = sdk::httpFetch("{\"url\":" + quote(param("url")) + "}", response);
    reply(r, ",\"response\":" + quote(response));
  } else {
    sdk::respond(404, "text/plain", "no such probe\n");
  }
  return 0;
}

HABANERO_EXPORT("habanero_on_event") int32_t onEvent() {
  std::string topic, payload, attempt, id, publisher;
  sdk::event(sdk::EventField::Topic, topic);
  sdk::event(sdk::EventField::Payload, payload);
  sdk::event(sdk::EventField::Attempt, attempt);
  sdk::event(sdk::EventField::Id, id);
  sdk::event(sdk::EventField::Publisher, publisher);
  sdk::kvPut("seen/" + id, topic + "|" + payload + "|" + attempt + "|" + publisher);
  if (payload == "retry") return HABANERO_EVENT_RETRY;
  if (payload == "fail") return HABANERO_EVENT_FAILED;
  if (payload == "trap") __builtin_trap();
  if (payload == "weird") return 42;
  return HABANERO_EVENT_DONE;
}
