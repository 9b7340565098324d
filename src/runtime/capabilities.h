// The capabilities of ABI v1 and the host functions each one unlocks, as
// derived from the one host-call table (host_call_list.h).
//
// The loader checks every import of a module against the capabilities the
// operator granted it, and the linker defines exactly the functions listed
// here. An import of module "habanero" that is not in a granted capability
// refuses the module, naming the import. This part has no Wasmtime in it, so
// configuration code can validate grants without the runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace habanero::runtime {

inline constexpr std::string_view kHostModule = "habanero";
inline constexpr std::string_view kWasiModule = "wasi_snapshot_preview1";
inline constexpr int kAbiVersion = 1;

// Host facilities a host call needs (bits; HostServices holds them).
namespace facility {
enum : uint32_t {
  kNone = 0,
  kStorage = 1u << 0,   // HostServices::storage
  kSigner = 1u << 1,    // ::signer
  kSessions = 1u << 2,  // ::sessions
  kUsers = 1u << 3,     // ::users
  kClients = 1u << 4,   // ::clients
  kOutbox = 1u << 5,    // ::outbox
  kMailer = 1u << 6,    // ::mailer
  kSms = 1u << 7,       // ::sms
  kFetcher = 1u << 8,   // ::fetcher
};
inline constexpr uint32_t kCount = 9;
}  // namespace facility

// What a facility is, for load errors: "a store", "the host's session store".
std::string_view facilityDescription(uint32_t bit);
// The facility's short name ("storage", "mailer"), as HostServices names it.
std::string_view facilityName(uint32_t bit);

// Whether a host call waits on something outside the guest: the network, or
// the host's Argon2id pool (crypto/cpu_pool.h), where a call may queue behind
// other logins. Such waits are not charged to the guest's deadline.
enum class Wait : uint8_t { kNo, kNetwork, kCpuPool };

// One row of the host-call table, without its implementation.
struct HostCallInfo {
  std::string_view name;        // import name in module "habanero"
  std::string_view capability;  // the capability that unlocks it
  uint32_t facilities;          // facility:: bits it needs
  Wait wait;
};

// Every host call of ABI v1, in table order.
std::span<const HostCallInfo> allHostCalls();

struct Capability {
  std::string_view name;
  std::span<const std::string_view> functions;
  uint32_t facilities;  // union of its functions' facilities
};

// Every capability of ABI v1, in table (and documentation) order.
std::span<const Capability> allCapabilities();

// The capability that contains host function `function`, or nullopt if no
// capability does.
std::optional<std::string_view> capabilityOf(std::string_view function);

// A bit per capability (its position in allCapabilities()), for the per-call
// grant check; 0 for an unknown name.
uint32_t capabilityBit(std::string_view name);

// The facility:: bits capability `name` needs; 0 for an unknown name.
uint32_t facilitiesOf(std::string_view capability);

// Whether `name` is a capability of ABI v1.
bool isKnownCapability(std::string_view name);

// Whether `topic` is a valid event topic name: 1..128 bytes of [a-z0-9_.-].
bool isValidTopic(std::string_view topic);

// WASI preview-1 functions a module may import. The host wires them to a WASI
// context with no filesystem, no sockets, no environment and no arguments;
// stdout/stderr go to the log.
bool isAllowedWasiImport(std::string_view function);

}  // namespace habanero::runtime
