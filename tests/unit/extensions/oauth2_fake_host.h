// oauth2_fake_host.h — an in-process stand-in for the Habanero host, for driving the oauth2
// extension's sources natively (oauth2_flow_test.cc).
//
// It implements every habanero_* call of sdk/c/habanero.h over plain data (the FakeHost
// below): an in-memory KV with TTLs on a settable clock, the host's strict query/form parser
// (DUPLICATE, INVALID_ARGUMENT), a session, users and clients, and JWS with HS256 under a
// fixed key (so signatures, tampering and alg checks behave like the real host's, without its
// key store). The real host is exercised by tests/interop; this one makes protocol logic fast
// to test, with a controllable clock and sanitizers.
//
//   g.settings["issuer"] = "http://op.test";
//   FakeResponse r = call("GET", "/.well-known/openid-configuration");
//
// Not thread-safe; one request at a time, like one Wasm instance.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header of that (lower-case) name, or "".
  std::string header(const std::string& name) const;
};

struct FakeHost {
  // The request being handled.
  std::string method, path, query, body, mount = "/", scheme = "http";
  std::map<std::string, std::string> headers;  // lower-case names
  FakeResponse resp;
  // The world.
  int64_t now_ms = 1700000000000;
  std::map<std::string, std::pair<std::string, int64_t>> kv;  // value, expiry ms (0: none)
  std::map<std::string, std::string> settings;
  std::optional<std::string> session;  // session_get's JSON; nullopt: no session
  std::string login_return_to, login_hint;  // the last session_require_login
  std::map<std::string, std::string> users;    // sub -> user_get JSON
  std::map<std::string, std::string> clients;  // client_id -> client_get JSON
  std::map<std::string, std::string> secrets;  // client_id -> secret (confidential clients)
  std::vector<std::string> logs;
};

extern FakeHost g;

// Runs one request through the extension's habanero_on_request. A non-zero return (which
// the real host turns into 500) comes back as status 500.
FakeResponse call(const std::string& method, const std::string& target,
                  std::map<std::string, std::string> headers = {}, const std::string& body = "");
