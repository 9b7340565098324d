#include "runtime/capabilities.h"

#include <algorithm>
#include <array>
#include <bit>
#include <vector>

#include "runtime/host_call_list.h"

namespace habanero::runtime {
namespace {

#define HABANERO_HOST_CALL_INFO(name, capability, facilities, wait, impl) \
  HostCallInfo{#name, #capability, facilities, wait},
const HostCallInfo kHostCalls[] = {HABANERO_FOR_ALL_HOST_CALLS(HABANERO_HOST_CALL_INFO)};
#undef HABANERO_HOST_CALL_INFO

// The capabilities, in order of first appearance in the table.
struct Capabilities {
  std::vector<std::vector<std::string_view>> functions;  // parallel to list
  std::vector<Capability> list;
};

const Capabilities& capabilities() {
  static const Capabilities kCapabilities = [] {
    Capabilities c;
    std::vector<std::string_view> names;
    std::vector<uint32_t> facilities;
    for (const HostCallInfo& call : kHostCalls) {
      auto it = std::find(names.begin(), names.end(), call.capability);
      size_t i = static_cast<size_t>(it - names.begin());
      if (it == names.end()) {
        names.push_back(call.capability);
        facilities.push_back(0);
        c.functions.emplace_back();
      }
      c.functions[i].push_back(call.name);
      facilities[i] |= call.facilities;
    }
    for (size_t i = 0; i < names.size(); ++i) {
      c.list.push_back({names[i], c.functions[i], facilities[i]});
    }
    return c;
  }();
  return kCapabilities;
}

struct FacilityText {
  std::string_view name;
  std::string_view description;
};
constexpr std::array<FacilityText, facility::kCount> kFacilities = {{
    {"storage", "a store"},
    {"signer", "the host's key store"},
    {"sessions", "the host's session store"},
    {"users", "the host's user records"},
    {"clients", "the host's client registrations"},
    {"outbox", "the host's event outbox"},
    {"mailer", "a mail sender (an SMTP server)"},
    {"sms", "an SMS gateway"},
    {"fetcher", "the host's fetcher"},
}};

// What wasi-libc's reactor start-up, printf and friends may import. Anything
// touching files, sockets or polling is absent on purpose.
constexpr std::array<std::string_view, 16> kWasi = {
    "fd_write",       "fd_close",        "fd_seek",         "fd_fdstat_get",
    "fd_prestat_get", "fd_prestat_dir_name", "proc_exit",   "clock_time_get",
    "clock_res_get",  "random_get",      "environ_get",     "environ_sizes_get",
    "args_get",       "args_sizes_get",  "sched_yield",     "fd_fdstat_set_flags"};

}  // namespace

std::string_view facilityDescription(uint32_t bit) {
  if (!std::has_single_bit(bit) || std::countr_zero(bit) >= int{facility::kCount}) return "?";
  return kFacilities[static_cast<size_t>(std::countr_zero(bit))].description;
}

std::string_view facilityName(uint32_t bit) {
  if (!std::has_single_bit(bit) || std::countr_zero(bit) >= int{facility::kCount}) return "?";
  return kFacilities[static_cast<size_t>(std::countr_zero(bit))].name;
}

std::span<const HostCallInfo> allHostCalls() { return kHostCalls; }

std::span<const Capability> allCapabilities() { return capabilities().list; }

std::optional<std::string_view> capabilityOf(std::string_view function) {
  for (const HostCallInfo& call : kHostCalls) {
    if (call.name == function) return call.capability;
  }
  return std::nullopt;
}

uint32_t capabilityBit(std::string_view name) {
  const std::vector<Capability>& list = capabilities().list;
  for (size_t i = 0; i < list.size() && i < 32; ++i) {
    if (list[i].name == name) return uint32_t{1} << i;
  }
  return 0;
}

uint32_t facilitiesOf(std::string_view capability) {
  for (const Capability& c : capabilities().list) {
    if (c.name == capability) return c.facilities;
  }
  return 0;
}

bool isKnownCapability(std::string_view name) {
  const std::vector<Capability>& list = capabilities().list;
  return std::any_of(list.begin(), list.end(), [&](const Capability& c) { return c.name == name; });
}

bool isValidTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > 128) return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool isAllowedWasiImport(std::string_view function) {
  return std::find(kWasi.begin(), kWasi.end(), function) != kWasi.end();
}

}  // namespace habanero::runtime
