// Fuzzes the HTTP request parser: the exact parse-check-convert path the server
// runs on every connection (parseRequestBytes), with small limits so the limit
// paths are reached. Checks the promises the server makes to its Dispatcher.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace habanero::http;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const Limits limits{.max_header_bytes = 2048, .max_body_bytes = 4096};
  absl::StatusOr<habanero::Request> request = parseRequestBytes(input, limits);
  if (!request.ok()) {
    switch (httpStatusForError(request.status())) {
      case 400:
      case 413:
      case 417:
      case 431:
      case 501:
      case 505: return 0;
      default: std::abort();  // a client mistake must map to a 4xx/501/505
    }
  }
  if (request->path.empty() || request->path[0] != '/') std::abort();
  for (char c : request->path) {
    if (c < 0x21 || c > 0x7E || c == '#' || c == '?') std::abort();
  }
  for (char c : request->query) {
    if (c < 0x21 || c > 0x7E || c == '#') std::abort();
  }
  if (request->body.size() > limits.max_body_bytes) std::abort();
  if (request->method.empty()) std::abort();
  return 0;
}
