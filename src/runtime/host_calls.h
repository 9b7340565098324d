// The host side of ABI v1 (sdk/c/habanero.h, docs/abi.md).
//
// defineHostCalls() puts every host function of every capability into a
// linker; which of them a module may import is decided at load time
// (capabilities.h). During a call the functions find the request they serve
// through the store's data, a HostState that lives exactly as long as the
// store of one request.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <wasmtime.h>

#include "habanero/clock.h"
#include "habanero/dispatch.h"
#include "habanero/signer.h"
#include "habanero/status.h"
#include "habanero/storage.h"
#include "http/form.h"

namespace habanero::auth {
class Clients;
class Sessions;
class Users;
}  // namespace habanero::auth
namespace habanero::events {
class Outbox;
struct Event;
}  // namespace habanero::events
namespace habanero::outbound {
class Mailer;
class SmsSender;
class Fetcher;
}  // namespace habanero::outbound
namespace habanero::server {
struct ExtensionConfig;
}  // namespace habanero::server

namespace habanero::runtime {

// Host facilities the host calls reach. Borrowed; they outlive every request.
// A call whose facility is missing answers UNAVAILABLE; the loader refuses a
// module that wants a capability whose facility is missing.
struct HostServices {
  Storage* storage = nullptr;       // required for "kv"
  const Signer* signer = nullptr;   // required for "keys"
  const Clock* clock = &SystemClock::instance();
  auth::Sessions* sessions = nullptr;      // required for "sessions" and "login"
  auth::Users* users = nullptr;            // required for "users", "login" and "signup"
  const auth::Clients* clients = nullptr;  // required for "clients"
  // Design 0002.
  events::Outbox* outbox = nullptr;        // required for "events"
  outbound::Mailer* mailer = nullptr;      // required for "mail" (only when [mail] is set)
  outbound::SmsSender* sms = nullptr;      // required for "sms" (only when [sms] is set)
  outbound::Fetcher* fetcher = nullptr;    // required for "fetch"
  bool fetch_allow_loopback = false;       // [outbound] allow_loopback
  uint32_t fetch_timeout_ms = 5000;
  uint64_t fetch_max_bytes = 1 << 20;
};

// Per-request state: the store's data. Single-threaded (one request runs on
// one thread from start to end).
struct HostState {
  std::string_view extension;                             // KV namespace, log tag
  uint32_t granted = 0;  // capabilityBit()s the operator granted; other calls answer DENIED
  const std::map<std::string, std::string>* settings = nullptr;
  const server::ExtensionConfig* config = nullptr;  // grants: publish topics, fetch hosts
  const HostServices* services = nullptr;
  const Request* request = nullptr;   // an empty request inside habanero_on_event
  const events::Event* event = nullptr;  // set only inside habanero_on_event
  std::string_view mount;

  // The epoch deadline (design 0002): time a host call spends waiting on the
  // network (http_fetch, mail_send, sms_send) is not charged to the guest —
  // after such a call the deadline is moved out by the time it took.
  wasmtime_context_t* context = nullptr;
  std::chrono::steady_clock::time_point started{};
  uint32_t deadline_ms = 0;
  uint32_t epoch_tick_ms = 1;
  int64_t io_wait_ms = 0;

  Response response;
  size_t response_bytes = 0;  // body + headers, against limits::kMaxResponseBytes

  // The guest's exported "memory", looked up on first use.
  wasmtime_memory_t memory{};
  bool have_memory = false;

  // Query and form parameters, parsed on first use.
  std::optional<absl::StatusOr<http::Params>> query;
  std::optional<absl::StatusOr<http::Params>> form;

  // Values kv_take removed from storage that did not fit the guest's buffer,
  // by key, until the guest calls again with a larger one.
  std::map<std::string, std::string> held_takes;
  // The last http_fetch answer that did not fit the guest's buffer, by the
  // request JSON, so the retry with a larger buffer does not fetch again.
  std::map<std::string, std::string> held_fetches;
};

// A guest's stdout (stream 0) or stderr (1), logged line by line and tagged
// with the extension's name. Wasmtime's WASI calls custom streams from a
// background thread, possibly after the request's store is gone: so a sink is
// heap-allocated, owned by Wasmtime (freed by finalize(), which also logs a
// partial last line), and locked. Pass write/finalize and `new GuestOutput`
// to wasi_config_set_stdout_custom / _stderr_custom.
class GuestOutput {
 public:
  GuestOutput(std::string extension, int stream)
      : extension_(std::move(extension)), stream_(stream) {}
  static ptrdiff_t write(void* self, const unsigned char* buf, size_t len);
  static void finalize(void* self);

 private:
  void append(std::string_view bytes);  // with mu_ held
  void logLine(std::string_view line) const;

  const std::string extension_;
  const int stream_;
  std::mutex mu_;
  std::string partial_;  // guarded by mu_
};

// Defines every ABI v1 host function (module "habanero") in `linker`.
absl::Status defineHostCalls(wasmtime_linker_t* linker);

}  // namespace habanero::runtime
