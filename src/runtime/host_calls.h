// The host side of ABI v1 (sdk/c/habanero.h, docs/abi.md).
//
// defineHostCalls() puts every row of the host-call table (host_call_list.h)
// into a linker, with the Wasm signature derived from its implementation's C++
// type; which of them a module may import is decided at load time
// (capabilities.h). The implementations live in host_calls/<capability>.cc.
// During a call they find the request they serve through the store's data, a
// HostState that lives exactly as long as the store of one request.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <wasmtime.h>

#include "habanero/clock.h"
#include "habanero/dispatch.h"
#include "habanero/signer.h"
#include "habanero/status.h"
#include "habanero/storage.h"
#include "http/form.h"
#include "outbound/fetch.h"
#include "runtime/extension_spec.h"
#include "runtime/observer.h"

namespace habanero::auth {
class Clients;
class DomainEvents;
class Sessions;
class Throttle;
class Users;
}  // namespace habanero::auth
namespace habanero::events {
class Outbox;
struct Event;
}  // namespace habanero::events
namespace habanero::outbound {
class Mailer;
class SmsSender;
}  // namespace habanero::outbound

namespace habanero::runtime {

// Host facilities the host calls reach. Borrowed; they outlive every request.
// Which capability needs which facility is the host-call table's facilities
// column (host_call_list.h): the loader refuses a module that may call a host
// function whose facility is missing, and a call whose facility is missing
// answers UNAVAILABLE.
struct HostServices {
  Storage* storage = nullptr;       // facility::kStorage ("kv")
  const Signer* signer = nullptr;   // facility::kSigner ("keys")
  const Clock* clock = &SystemClock::instance();
  auth::Sessions* sessions = nullptr;      // facility::kSessions ("sessions", "login")
  auth::Users* users = nullptr;            // facility::kUsers ("users", "login", "signup")
  const auth::Clients* clients = nullptr;  // facility::kClients ("clients")
  // Optional: failed client_authenticate calls, by client id and by source
  // address; an empty bucket answers DENIED without checking (null: no throttle).
  auth::Throttle* client_auth_by_client = nullptr;
  auth::Throttle* client_auth_by_address = nullptr;
  // Optional: the host's own domain events (sign-ins, tokens signed, session
  // ends; auth/domain_events.h, docs/events.md); null: none are published.
  const auth::DomainEvents* domain_events = nullptr;
  // Design 0002.
  events::Outbox* outbox = nullptr;        // facility::kOutbox ("events")
  outbound::Mailer* mailer = nullptr;      // facility::kMailer ("mail")
  outbound::SmsSender* sms = nullptr;      // facility::kSms ("sms")
  outbound::Fetcher* fetcher = nullptr;    // facility::kFetcher ("fetch")
  // The host's fetch policy (loopback, timeout, size); each extension's
  // fetch_hosts grant narrows allowed_hosts, which must be empty here.
  outbound::FetchPolicy fetch_policy;
  // Optional: what the operator can do about a missing facility, by
  // facilityName() ("mailer" -> "set [mail] url and from"); appended to the
  // load error.
  std::map<std::string, std::string, std::less<>> missing_facility_hints;
  // Optional: told about instances, traps, deadlines and failed host calls
  // (observer.h); null: nobody is.
  Observer* observer = nullptr;

  // Whether every facility:: bit in `facilities` is present.
  bool has(uint32_t facilities) const;
};

// Per-request state: the store's data. Single-threaded (one request runs on
// one thread from start to end).
struct HostState {
  std::string_view extension;                             // KV namespace, log tag
  uint32_t granted = 0;  // capabilityBit()s the operator granted; other calls answer DENIED
  const ExtensionSpec* spec = nullptr;  // settings; grants: publish topics, fetch hosts
  const HostServices* services = nullptr;
  const Request* request = nullptr;   // an empty request inside habanero_on_event
  const events::Event* event = nullptr;  // set only inside habanero_on_event
  std::string_view mount;

  // The epoch deadline (design 0002): time a host call spends waiting on the
  // network or the Argon2id pool (rows marked Wait::kNetwork or kCpuPool) is
  // not charged to the guest — after
  // such a call the deadline is moved out by the time it took.
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

// Defines every ABI v1 host function (module "habanero") in `linker`, one per
// row of the host-call table.
absl::Status defineHostCalls(wasmtime_linker_t* linker);

// The Wasm signature of every host call exactly as defineHostCalls() defines
// it, in table order (for the test that holds the SDK headers and
// docs/abi.md to the table).
struct HostCallSignature {
  std::string name;
  std::string capability;
  std::vector<std::string> params;  // "i32" or "i64"; every call returns one i32
};
std::vector<HostCallSignature> hostCallSignatures();

}  // namespace habanero::runtime
