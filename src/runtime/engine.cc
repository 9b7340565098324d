#include "runtime/engine.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "runtime/host_calls.h"

namespace habanero::runtime {

std::string errorMessage(const wasmtime_error_t* error) {
  wasm_name_t msg;
  wasmtime_error_message(error, &msg);
  std::string out(msg.data, msg.size);
  wasm_byte_vec_delete(&msg);
  return out;
}

std::string trapMessage(const wasm_trap_t* trap) {
  wasm_message_t msg;
  wasm_trap_message(trap, &msg);
  std::string out(msg.data, msg.size);
  wasm_byte_vec_delete(&msg);
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::create(const EngineOptions& options) {
  if (options.epoch_tick_ms == 0) return absl::InvalidArgumentError("epoch_tick_ms must be > 0");
  if (options.pool_instances == 0) return absl::InvalidArgumentError("pool_instances must be > 0");
  std::unique_ptr<Engine> engine(new Engine(options));

  wasm_config_t* config = wasm_config_new();
  wasmtime_config_strategy_set(config, WASMTIME_STRATEGY_CRANELIFT);
  wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
  wasmtime_config_epoch_interruption_set(config, true);
  wasmtime_config_max_wasm_stack_set(config, limits::kMaxWasmStack);

  wasmtime_pooling_allocation_config_t* pool = wasmtime_pooling_allocation_config_new();
  wasmtime_pooling_allocation_config_total_core_instances_set(pool, options.pool_instances);
  wasmtime_pooling_allocation_config_total_memories_set(pool, options.pool_instances);
  wasmtime_pooling_allocation_config_total_tables_set(pool, options.pool_instances);
  wasmtime_pooling_allocation_config_max_memories_per_module_set(pool, 1);
  wasmtime_pooling_allocation_config_max_tables_per_module_set(pool, 1);
  wasmtime_pooling_allocation_config_max_memory_size_set(pool, options.max_memory_bytes);
  wasmtime_pooling_allocation_config_table_elements_set(pool, options.max_table_elements);
  // Profiled (docs/performance.md): per-request madvise and page faults on
  // freshly decommitted pages dominated small requests.
  wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(
      pool, limits::kKeepResidentMemoryBytes);
  wasmtime_pooling_allocation_config_table_keep_resident_set(pool, limits::kKeepResidentTableBytes);
  wasmtime_pooling_allocation_config_decommit_batch_size_set(pool, limits::kDecommitBatchSize);
  wasmtime_pooling_allocation_strategy_set(config, pool);
  wasmtime_pooling_allocation_config_delete(pool);

  engine->engine_.reset(wasm_engine_new_with_config(config));  // takes `config`
  if (!engine->engine_) return absl::InternalError("Wasmtime refused the engine configuration");

  engine->fingerprint_ = strCat("wasmtime=", WASMTIME_VERSION,
                                      ";cranelift=speed;epoch=1;stack=", limits::kMaxWasmStack,
                                      ";pool-mem=", options.max_memory_bytes);

  engine->linker_.reset(wasmtime_linker_new(engine->engine_.get()));
  ErrorPtr err(wasmtime_linker_define_wasi(engine->linker_.get()));
  if (err) return absl::InternalError(strCat("defining WASI: ", errorMessage(err.get())));
  RETURN_IF_ERROR(defineHostCalls(engine->linker_.get()));

  if (!options.cache_dir.empty()) {
    // Owner-only whatever the umask (it lives in the data directory): every
    // directory created here, and every entry written (compile()).
    std::vector<std::filesystem::path> created;
    for (std::filesystem::path p = options.cache_dir; !p.empty() && !std::filesystem::exists(p);
         p = p.parent_path()) {
      created.push_back(p);
      if (p == p.parent_path()) break;
    }
    std::error_code ec;
    std::filesystem::create_directories(options.cache_dir, ec);
    if (ec) {
      return absl::InternalError(
          strCat(options.cache_dir, ": cannot create module cache: ", ec.message()));
    }
    for (const auto& dir : created) {
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    }
  }

  Engine* raw = engine.get();
  engine->ticker_ = std::thread([raw] {
    auto period = std::chrono::milliseconds(raw->options_.epoch_tick_ms);
    while (!raw->stop_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(period);
      wasmtime_engine_increment_epoch(raw->engine_.get());
    }
  });
  return engine;
}

Engine::~Engine() {
  stop_ = true;
  if (ticker_.joinable()) ticker_.join();
}

uint64_t Engine::ticksFor(uint32_t ms) const {
  uint64_t tick = options_.epoch_tick_ms;
  return (ms + tick - 1) / tick + 1;
}

absl::StatusOr<ModulePtr> Engine::compile(std::span<const uint8_t> wasm, std::string_view origin) {
  std::string cache_path;
  if (!options_.cache_dir.empty()) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, fingerprint_.data(), fingerprint_.size() + 1);  // with its NUL
    EVP_DigestUpdate(ctx, wasm.data(), wasm.size());
    EVP_DigestFinal_ex(ctx, digest, &digest_len);
    EVP_MD_CTX_free(ctx);
    std::string hex;
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned i = 0; i < digest_len; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 15]);
    }
    cache_path = strCat(options_.cache_dir, "/", hex, ".cwasm");

    struct stat st;
    if (::stat(cache_path.c_str(), &st) == 0) {
      wasmtime_module_t* module = nullptr;
      ErrorPtr err(wasmtime_module_deserialize_file(engine_.get(), cache_path.c_str(), &module));
      if (!err) {
        cache_hits_++;
        return ModulePtr(module);
      }
      spdlog::warn("module cache entry {} for {} is unusable ({}); recompiling", cache_path,
                   origin, errorMessage(err.get()));
    }
  }

  wasmtime_module_t* module = nullptr;
  ErrorPtr err(wasmtime_module_new(engine_.get(), wasm.data(), wasm.size(), &module));
  if (err) {
    return absl::InvalidArgumentError(
        strCat(origin, ": not a valid WebAssembly module: ", errorMessage(err.get())));
  }
  compilations_++;
  ModulePtr owned(module);

  if (!cache_path.empty()) {
    wasm_byte_vec_t bytes;
    ErrorPtr serr(wasmtime_module_serialize(owned.get(), &bytes));
    if (serr) {
      spdlog::warn("cannot serialize {} for the module cache: {}", origin,
                   errorMessage(serr.get()));
    } else {
      // Write beside the target, then rename: readers never see a partial file.
      std::string tmp = strCat(cache_path, ".tmp.", ::getpid());
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(bytes.data, static_cast<std::streamsize>(bytes.size));
        out.flush();
        if (!out) spdlog::warn("cannot write module cache entry {}", tmp);
      }
      std::error_code ec;
      std::filesystem::permissions(
          tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
          std::filesystem::perm_options::replace, ec);
      std::filesystem::rename(tmp, cache_path, ec);
      if (ec) spdlog::warn("cannot write module cache entry {}: {}", cache_path, ec.message());
      wasm_byte_vec_delete(&bytes);
    }
  }
  return owned;
}

}  // namespace habanero::runtime
