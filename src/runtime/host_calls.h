// The host side of ABI v1 (sdk/c/habanero.h, docs/abi.md).
//
// defineHostCalls() puts every host function of every capability into a
// linker; which of them a module may import is decided at load time
// (capabilities.h). During a call the functions find the request they serve
// through the store's data, a HostState that lives exactly as long as the
// store of one request.
#pragma once

#include <map>
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

namespace habanero::runtime {

// Host facilities the host calls reach. Borrowed; they outlive every request.
// A call whose facility is missing answers UNAVAILABLE; the loader refuses a
// module that wants a capability whose facility is missing.
struct HostServices {
  Storage* storage = nullptr;       // required for "kv"
  const Signer* signer = nullptr;   // required for "keys"
  const Clock* clock = &SystemClock::instance();
  auth::Sessions* sessions = nullptr;      // required for "sessions" and "login"
  const auth::Users* users = nullptr;      // required for "users" and "login"
  const auth::Clients* clients = nullptr;  // required for "clients"
};

// Per-request state: the store's data. Single-threaded (one request runs on
// one thread from start to end).
struct HostState {
  std::string_view extension;                             // KV namespace, log tag
  const std::map<std::string, std::string>* settings = nullptr;
  const HostServices* services = nullptr;
  const Request* request = nullptr;
  std::string_view mount;

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

  // Partial lines the guest wrote to stdout (0) and stderr (1).
  std::string output[2];
  // Writes any partial output lines to the log. Called when the request ends.
  void flushOutput();
  // WASI stdout/stderr sink: appends, logging each complete line.
  void appendOutput(int stream, std::string_view bytes);
};

// Defines every ABI v1 host function (module "habanero") in `linker`.
absl::Status defineHostCalls(wasmtime_linker_t* linker);

}  // namespace habanero::runtime
