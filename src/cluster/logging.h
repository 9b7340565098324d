// Log lines as text or JSON, and the request id they carry.
//
// A gateway assigns every request an id (GatewayDispatcher, X-Request-Id) and
// sends it with the request; the worker that runs it works under the same id.
// While a RequestIdScope lives, every log line its thread writes carries the
// id: in JSON lines as "request_id", in text lines as "[request <id>]".
//
//   RETURN_IF_ERROR(setLogFormat(config.log.format));   // once, at start-up
//   {
//     RequestIdScope scope(id);
//     spdlog::info("...");     // {"time":"…","level":"info","message":"…","request_id":"…"}
//   }
//
// JSON lines: one object per line with "time" (UTC, RFC 3339 with
// milliseconds), "level" (trace, debug, info, warn, error, critical),
// "message", and "request_id" when the thread works on a request.
//
// Thread-safety: setLogFormat() before other threads log; scopes are per
// thread (lines written by other threads, e.g. Wasmtime's WASI output
// thread, carry no id).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

#include "habanero/status.h"

namespace habanero::cluster {

// The id of the request the calling thread works on ("" when none).
std::string_view currentRequestId();

// Sets the calling thread's request id for the scope's life; restores the
// previous one after.
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string_view id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string previous_;
};

// "text" (spdlog's pattern, plus the request id) or "json", for every logger
// now and later. InvalidArgument naming log.format for anything else.
absl::Status setLogFormat(std::string_view format);

// The formatters setLogFormat() installs (for tests and other sinks).
std::unique_ptr<spdlog::formatter> jsonLogFormatter();
std::unique_ptr<spdlog::formatter> textLogFormatter();

}  // namespace habanero::cluster
