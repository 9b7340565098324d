// The one Wasmtime engine of a process: Cranelift, the pooling allocator,
// epoch interruption driven by a ticker thread, and a shared linker holding
// every host call of ABI v1 plus a sandboxed WASI preview 1.
//
// Compiled modules are cached on disk (serialized) under `cache_dir`, keyed by
// the module's SHA-256, Wasmtime's version and this engine's configuration, so
// a restart does not recompile. A corrupt cache entry is logged and replaced.
//
//   ASSIGN_OR_RETURN(EnginePtr engine, Engine::create(options));
//   ASSIGN_OR_RETURN(ModulePtr module, engine->compile(bytes, "hello.wasm"));
//
// Thread-safe: compile(), raw() and linker() may be used from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "habanero/limits.h"
#include "habanero/status.h"
#include "runtime/wasmtime_handles.h"

namespace habanero::runtime {

struct EngineOptions {
  uint32_t epoch_tick_ms = limits::kEpochTickMs;
  uint32_t pool_instances = limits::kPoolTotalInstances;  // concurrent instances, all extensions
  uint64_t max_memory_bytes = limits::kMemoryBytes;      // the largest any extension may get
  uint32_t max_table_elements = limits::kTableElements;
  std::string cache_dir;                                 // "" disables the module cache
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> create(const EngineOptions& options);
  ~Engine();  // stops the ticker; every module, instance and store must be gone
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Compiles `wasm` (or loads it from the cache). `origin` names it in errors.
  absl::StatusOr<ModulePtr> compile(std::span<const uint8_t> wasm, std::string_view origin);

  wasm_engine_t* raw() const { return engine_.get(); }
  const wasmtime_linker_t* linker() const { return linker_.get(); }
  const EngineOptions& options() const { return options_; }

  // Epoch ticks that cover `ms` of wall time (at least 1, plus one tick of
  // slack so a deadline is never shorter than asked).
  uint64_t ticksFor(uint32_t ms) const;

  // Counters for tests and metrics.
  uint64_t cacheHits() const { return cache_hits_.load(); }
  uint64_t compilations() const { return compilations_.load(); }

 private:
  explicit Engine(const EngineOptions& options) : options_(options) {}

  EngineOptions options_;
  WasmEnginePtr engine_;
  LinkerPtr linker_;
  std::string fingerprint_;  // configuration part of the cache key
  std::atomic<bool> stop_{false};
  std::thread ticker_;
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> compilations_{0};
};

using EnginePtr = std::unique_ptr<Engine>;

}  // namespace habanero::runtime
