// Binds the host-call table (host_call_list.h) to Wasmtime: each row's Wasm
// signature is derived from its implementation's C++ parameter types (as
// Wasmtime's C++ Linker::func_wrap does), and one trampoline per row does
// what every call shares — the grant check, the facility check, the guest
// memory view, the network-wait deadline — before the implementation runs.
#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "habanero/strings.h"
#include "runtime/capabilities.h"
#include "runtime/host_call_list.h"
#include "runtime/host_calls/glue.h"
#include "runtime/wasmtime_handles.h"

namespace habanero::runtime {
namespace {

using host::Call;
using host::Result;
using Raw = wasmtime_val_raw_t;

// ---- signatures from C++ types -------------------------------------------

// The Wasm type of one implementation parameter, and how to read it from a
// raw value: 32-bit integers are i32, 64-bit ones i64. Nothing else may
// follow the Call& (a compile error names the type).
template <typename T>
concept WasmInteger = std::is_same_v<T, int32_t> || std::is_same_v<T, uint32_t> ||
                      std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>;

template <WasmInteger T>
struct WasmParam {
  static constexpr wasm_valkind_t kKind = sizeof(T) == 4 ? WASM_I32 : WASM_I64;
  static T from(const Raw& v) {
    if constexpr (sizeof(T) == 4) {
      return static_cast<T>(v.i32);
    } else {
      return static_cast<T>(v.i64);
    }
  }
};

template <typename Fn>
struct Signature;
template <typename... Args>
struct Signature<Result (*)(Call&, Args...)> {
  static constexpr std::array<wasm_valkind_t, sizeof...(Args)> kParams = {
      WasmParam<Args>::kKind...};

  // Calls `Impl` with the raw arguments converted to its parameter types.
  template <auto Impl>
  static Result invoke(Call& call, const Raw* args) {
    return unpack<Impl>(call, args, std::index_sequence_for<Args...>{});
  }

 private:
  template <auto Impl, size_t... I>
  static Result unpack(Call& call, [[maybe_unused]] const Raw* args, std::index_sequence<I...>) {
    return Impl(call, WasmParam<Args>::from(args[I])...);
  }
};

// ---- the bound table -------------------------------------------------------

struct BoundCall {
  std::string_view name;
  std::string_view capability;
  uint32_t facilities;
  Wait wait;
  std::span<const wasm_valkind_t> params;  // every call returns one i32
  Result (*invoke)(Call&, const Raw*);
};

template <auto Impl>
constexpr BoundCall bind(std::string_view name, std::string_view capability, uint32_t facilities,
                         Wait wait) {
  using Sig = Signature<decltype(Impl)>;
  return {name, capability, facilities, wait, Sig::kParams, &Sig::template invoke<Impl>};
}

#define HABANERO_BIND_HOST_CALL(name, capability, facilities, wait, impl) \
  bind<&host::impl>(#name, #capability, facilities, wait),
const BoundCall kBound[] = {HABANERO_FOR_ALL_HOST_CALLS(HABANERO_BIND_HOST_CALL)};
#undef HABANERO_BIND_HOST_CALL

// What a trampoline needs of its row at run time.
struct Env {
  const BoundCall* call;
  uint32_t capability_bit;
};

// ---- what every call shares ------------------------------------------------

HostState& stateOf(wasmtime_caller_t* caller) {
  return *static_cast<HostState*>(wasmtime_context_get_data(wasmtime_caller_context(caller)));
}

// The guest's memory as it is now. An instance without an exported memory
// gets an empty view, so every pointer is out of bounds.
GuestMemory memoryOf(wasmtime_caller_t* caller, HostState& st) {
  wasmtime_context_t* ctx = wasmtime_caller_context(caller);
  if (!st.have_memory) {
    wasmtime_extern_t item;
    if (!wasmtime_caller_export_get(caller, "memory", 6, &item)) return {};
    if (item.kind != WASMTIME_EXTERN_MEMORY) {
      wasmtime_extern_delete(&item);
      return {};
    }
    st.memory = item.of.memory;
    st.have_memory = true;
  }
  return GuestMemory(wasmtime_memory_data(ctx, &st.memory),
                     wasmtime_memory_data_size(ctx, &st.memory));
}

// Scope of a call that waits on the network: on exit, the time spent is added
// to the request's I/O time and the epoch deadline is reset to what the guest
// has left of its own budget (deadline_ms minus time not spent waiting).
class NetworkWait {
 public:
  explicit NetworkWait(HostState& st) : st_(st), start_(std::chrono::steady_clock::now()) {}
  ~NetworkWait() {
    if (st_.context == nullptr || st_.deadline_ms == 0) return;
    auto now = std::chrono::steady_clock::now();
    st_.io_wait_ms += std::chrono::duration_cast<std::chrono::milliseconds>(now - start_).count();
    int64_t used =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - st_.started).count() -
        st_.io_wait_ms;
    int64_t left = std::max<int64_t>(int64_t{st_.deadline_ms} - used, 1);
    uint64_t tick = std::max<uint32_t>(st_.epoch_tick_ms, 1);
    wasmtime_context_set_epoch_deadline(st_.context, (left + tick - 1) / tick + 1);
  }
  NetworkWait(const NetworkWait&) = delete;
  NetworkWait& operator=(const NetworkWait&) = delete;

 private:
  HostState& st_;
  std::chrono::steady_clock::time_point start_;
};

// Every host call checks, before anything else, that its capability is
// granted to the calling extension: the load-time import check covers
// required capabilities; this covers optional ones (and is a second line).
// Then its facilities (the loader refuses a module whose facilities are
// missing, so this too is a second line). Host calls never trap.
wasm_trap_t* trampoline(void* env, wasmtime_caller_t* caller, Raw* args, size_t) {
  const Env& e = *static_cast<const Env*>(env);
  HostState& st = stateOf(caller);
  Result result;
  if ((st.granted & e.capability_bit) == 0) {
    result = HABANERO_DENIED;
  } else if (st.services == nullptr || !st.services->has(e.call->facilities)) {
    result = HABANERO_UNAVAILABLE;
  } else {
    GuestMemory mem = memoryOf(caller, st);
    Call call{st, mem, e.call->name};
    std::optional<NetworkWait> wait;
    if (e.call->wait != Wait::kNo) wait.emplace(st);
    result = e.call->invoke(call, args);
  }
  args[0].i32 = result;
  if (isHostCallError(result) && st.services != nullptr && st.services->observer != nullptr) {
    st.services->observer->hostCallFailed(st.extension, e.call->name, result);
  }
  return nullptr;
}

wasm_functype_t* functype(std::span<const wasm_valkind_t> params) {
  wasm_valtype_vec_t p, r;
  wasm_valtype_vec_new_uninitialized(&p, params.size());
  for (size_t i = 0; i < params.size(); ++i) p.data[i] = wasm_valtype_new(params[i]);
  wasm_valtype_vec_new_uninitialized(&r, 1);
  r.data[0] = wasm_valtype_new(WASM_I32);
  return wasm_functype_new(&p, &r);
}

}  // namespace

absl::Status defineHostCalls(wasmtime_linker_t* linker) {
  // One Env per row, made once (thread-safe static init), living forever.
  static const std::array<Env, std::size(kBound)> kEnv = [] {
    std::array<Env, std::size(kBound)> env{};
    for (size_t i = 0; i < env.size(); ++i) {
      env[i] = {&kBound[i], capabilityBit(kBound[i].capability)};
    }
    return env;
  }();
  for (const Env& env : kEnv) {
    const BoundCall& call = *env.call;
    if (env.capability_bit == 0) {
      return absl::InternalError(strCat("host call ", call.name, " is in no capability"));
    }
    wasm_functype_t* ty = functype(call.params);
    ErrorPtr err(wasmtime_linker_define_func_unchecked(
        linker, kHostModule.data(), kHostModule.size(), call.name.data(), call.name.size(), ty,
        trampoline, const_cast<Env*>(&env), nullptr));
    wasm_functype_delete(ty);
    if (err) {
      return absl::InternalError(
          strCat("defining host call ", call.name, ": ", errorMessage(err.get())));
    }
  }
  return absl::OkStatus();
}

std::vector<HostCallSignature> hostCallSignatures() {
  std::vector<HostCallSignature> out;
  for (const BoundCall& call : kBound) {
    HostCallSignature s{std::string(call.name), std::string(call.capability), {}};
    for (wasm_valkind_t k : call.params) s.params.push_back(k == WASM_I64 ? "i64" : "i32");
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace habanero::runtime
