// The capabilities of ABI v1 and the host functions each one unlocks.
//
// This table is the single source of truth: the loader checks every import of
// a module against the capabilities the operator granted it, and the linker
// defines exactly the functions listed here. An import of module "habanero"
// that is not in a granted capability refuses the module, naming the import.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace habanero::runtime {

inline constexpr std::string_view kHostModule = "habanero";
inline constexpr std::string_view kWasiModule = "wasi_snapshot_preview1";
inline constexpr int kAbiVersion = 1;

struct Capability {
  std::string_view name;
  std::span<const std::string_view> functions;
};

// Every capability of ABI v1, in documentation order.
std::span<const Capability> allCapabilities();

// The capability that contains host function `function`, or nullopt if no
// capability does.
std::optional<std::string_view> capabilityOf(std::string_view function);

// A bit per capability (its position in allCapabilities()), for the per-call
// grant check; 0 for an unknown name.
uint32_t capabilityBit(std::string_view name);

// Whether `name` is a capability of ABI v1.
bool isKnownCapability(std::string_view name);

// Whether `topic` is a valid event topic name: 1..128 bytes of [a-z0-9_.-].
bool isValidTopic(std::string_view topic);

// WASI preview-1 functions a module may import. The host wires them to a WASI
// context with no filesystem, no sockets, no environment and no arguments;
// stdout/stderr go to the log.
bool isAllowedWasiImport(std::string_view function);

}  // namespace habanero::runtime
