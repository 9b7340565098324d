// Move-only owners for the Wasmtime C handles the runtime keeps, and the one
// place Wasmtime errors and traps become text.
#pragma once

#include <memory>
#include <string>

#include <wasmtime.h>

namespace habanero::runtime {

struct ModuleDeleter {
  void operator()(wasmtime_module_t* m) const { wasmtime_module_delete(m); }
};
struct InstancePreDeleter {
  void operator()(wasmtime_instance_pre_t* p) const { wasmtime_instance_pre_delete(p); }
};
struct StoreDeleter {
  void operator()(wasmtime_store_t* s) const { wasmtime_store_delete(s); }
};
struct LinkerDeleter {
  void operator()(wasmtime_linker_t* l) const { wasmtime_linker_delete(l); }
};
struct EngineDeleter {
  void operator()(wasm_engine_t* e) const { wasm_engine_delete(e); }
};
struct ErrorDeleter {
  void operator()(wasmtime_error_t* e) const { wasmtime_error_delete(e); }
};
struct TrapDeleter {
  void operator()(wasm_trap_t* t) const { wasm_trap_delete(t); }
};

using ModulePtr = std::unique_ptr<wasmtime_module_t, ModuleDeleter>;
using InstancePrePtr = std::unique_ptr<wasmtime_instance_pre_t, InstancePreDeleter>;
using StorePtr = std::unique_ptr<wasmtime_store_t, StoreDeleter>;
using LinkerPtr = std::unique_ptr<wasmtime_linker_t, LinkerDeleter>;
using WasmEnginePtr = std::unique_ptr<wasm_engine_t, EngineDeleter>;
using ErrorPtr = std::unique_ptr<wasmtime_error_t, ErrorDeleter>;
using TrapPtr = std::unique_ptr<wasm_trap_t, TrapDeleter>;

// The message of an error or a trap (takes nothing; the caller still owns it).
std::string errorMessage(const wasmtime_error_t* error);
std::string trapMessage(const wasm_trap_t* trap);

}  // namespace habanero::runtime
