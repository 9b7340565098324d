// The dispatch boundary: one request in, one response out.
//
// Request and Response are plain, transport-neutral values. The HTTP front
// builds a Request from the wire and writes the Response back; a later gRPC
// gateway will carry the same two values between a front and remote workers.
// Nothing on either side of this boundary knows which transport is in use.
//
//   habanero::Request req{.method = "GET", .path = "/hello"};
//   habanero::Response resp = dispatcher.dispatch(req);
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace habanero {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Returns the first value of header `name` (case-insensitive), or nullptr.
const std::string* findHeader(const Headers& headers, std::string_view name);

struct Request {
  std::string method;       // "GET", "POST", ...
  std::string path;         // percent-encoded path, always starts with '/'
  std::string query;        // raw query without '?', "" if none
  Headers headers;          // in wire order; names as sent
  std::string body;
  std::string remote_addr;  // client IP as text
  bool secure = false;      // arrived over TLS
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response text(int status, std::string body);
};

// Routes a request to whatever answers it. Implementations are thread-safe:
// dispatch() is called concurrently from every front-end thread. It never
// throws; failures are expressed as a Response (5xx for the host's own faults).
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual Response dispatch(const Request& request) = 0;
};

}  // namespace habanero
