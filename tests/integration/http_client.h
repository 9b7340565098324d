// A minimal blocking HTTP/1.1 client for integration tests (raw sockets, so
// tests can also send malformed bytes).
#pragma once

#include <cstdint>
#include <string>

namespace habanero::testing {

struct HttpReply {
  int status = 0;         // 0: the connection closed without a response
  std::string headers;    // raw header block
  std::string body;
};

// Sends `raw` bytes to 127.0.0.1:port and reads one response (or until close).
HttpReply sendRaw(uint16_t port, const std::string& raw, int timeout_ms = 10'000);

// GET path (with query) on a fresh connection.
HttpReply httpGet(uint16_t port, const std::string& target);

}  // namespace habanero::testing
