#include "runtime/extension.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "runtime/capabilities.h"

namespace habanero::runtime {
namespace {

std::string_view nameOf(const wasm_name_t* n) { return {n->data, n->size}; }

std::string joinGrants(const std::vector<std::string>& grants) {
  std::string out;
  for (const std::string& g : grants) out += (out.empty() ? "" : ", ") + g;
  return out;
}

absl::StatusOr<std::vector<uint8_t>> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(strCat(path, ": cannot read module"));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Checks the module's exports: the ABI version marker, the entry point and
// its memory.
absl::Status checkExports(const wasmtime_module_t* module, const std::string& path) {
  wasm_exporttype_vec_t exports;
  wasmtime_module_exports(module, &exports);
  bool abi_v1 = false, entry = false, memory = false;
  std::string other_abi;
  for (size_t i = 0; i < exports.size; ++i) {
    std::string_view name = nameOf(wasm_exporttype_name(exports.data[i]));
    const wasm_externtype_t* type = wasm_exporttype_type(exports.data[i]);
    wasm_externkind_t kind = wasm_externtype_kind(type);
    if (name == "habanero_abi_v1" && kind == WASM_EXTERN_FUNC) {
      abi_v1 = true;
    } else if (name.starts_with("habanero_abi_v")) {
      other_abi = std::string(name.substr(std::string_view("habanero_abi_v").size()));
    } else if (name == "habanero_on_request" && kind == WASM_EXTERN_FUNC) {
      const wasm_functype_t* ft = wasm_externtype_as_functype_const(type);
      const wasm_valtype_vec_t* params = wasm_functype_params(ft);
      const wasm_valtype_vec_t* results = wasm_functype_results(ft);
      entry = params->size == 0 && results->size == 1 &&
              wasm_valtype_kind(results->data[0]) == WASM_I32;
    } else if (name == "memory" && kind == WASM_EXTERN_MEMORY) {
      memory = true;
    }
  }
  wasm_exporttype_vec_delete(&exports);
  if (!abi_v1) {
    if (!other_abi.empty()) {
      return absl::FailedPreconditionError(strCat(
          path, ": speaks Habanero ABI v", other_abi, "; this host speaks v", kAbiVersion));
    }
    return absl::FailedPreconditionError(
        strCat(path, ": declares no Habanero ABI version (export habanero_abi_v1)"));
  }
  if (!entry) {
    return absl::FailedPreconditionError(
        strCat(path, ": does not export habanero_on_request: () -> i32"));
  }
  if (!memory) return absl::FailedPreconditionError(strCat(path, ": exports no memory"));
  return absl::OkStatus();
}

// Every import must be a granted host call or an allowed WASI function.
absl::Status checkImports(const wasmtime_module_t* module, const std::string& path,
                          const std::vector<std::string>& grants,
                          const std::vector<std::string>& declared) {
  wasm_importtype_vec_t imports;
  wasmtime_module_imports(module, &imports);
  absl::Status status;
  for (size_t i = 0; i < imports.size && status.ok(); ++i) {
    std::string_view mod = nameOf(wasm_importtype_module(imports.data[i]));
    std::string_view fn = nameOf(wasm_importtype_name(imports.data[i]));
    if (mod == kHostModule) {
      std::optional<std::string_view> cap = capabilityOf(fn);
      if (!cap) {
        status = absl::PermissionDeniedError(
            strCat(path, ": imports unknown host function habanero.", fn));
      } else if (std::find(grants.begin(), grants.end(), *cap) == grants.end()) {
        status = absl::PermissionDeniedError(
            strCat(path, ": imports habanero.", fn, " of capability '", *cap,
                         "', which the operator has not granted"));
      } else if (std::find(declared.begin(), declared.end(), *cap) == declared.end()) {
        status = absl::PermissionDeniedError(
            strCat(path, ": imports habanero.", fn, " of capability '", *cap,
                   "', which its manifest does not declare"));
      }
    } else if (mod == kWasiModule) {
      if (!isAllowedWasiImport(fn)) {
        status = absl::PermissionDeniedError(
            strCat(path, ": imports ", mod, ".", fn, ", which Habanero does not provide"));
      }
    } else {
      status = absl::PermissionDeniedError(
          strCat(path, ": imports ", mod, ".", fn, " from an unknown module"));
    }
  }
  wasm_importtype_vec_delete(&imports);
  return status;
}


}  // namespace

FileStamp FileStamp::of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
}

std::string Extension::manifestPathFor(const std::string& module_path) {
  std::string base = module_path;
  if (base.ends_with(".wasm")) base.resize(base.size() - 5);
  return base + ".manifest.toml";
}

absl::StatusOr<std::shared_ptr<const Extension>> Extension::load(
    Engine& engine, const server::ExtensionConfig& config, const std::string& module_path,
    const HostServices& services) {
  std::shared_ptr<Extension> ext(new Extension());
  ext->engine_ = &engine;
  ext->services_ = &services;
  ext->config_ = config;
  ext->module_path_ = module_path;
  ext->manifest_path_ = manifestPathFor(module_path);
  // Stamp before reading: a replacement racing with the load is noticed later.
  ext->module_stamp_ = FileStamp::of(module_path);
  ext->manifest_stamp_ = FileStamp::of(ext->manifest_path_);

  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readFile(module_path));
  if (bytes.size() < 8 || std::string_view(reinterpret_cast<const char*>(bytes.data()), 4) !=
                              std::string_view("\0asm", 4)) {
    return absl::InvalidArgumentError(strCat(
        module_path, ": not a WebAssembly module (", bytes.size() < 8 ? "truncated" : "bad magic",
        ")"));
  }
  ASSIGN_OR_RETURN(ext->manifest_, loadManifest(ext->manifest_path_));
  const Manifest& m = ext->manifest_;
  if (m.name != config.name) {
    return absl::InvalidArgumentError(strCat(ext->manifest_path_, ": name '", m.name,
                                                   "' differs from the configured name '",
                                                   config.name, "'"));
  }
  if (m.abi != kAbiVersion) {
    return absl::FailedPreconditionError(strCat(
        ext->manifest_path_, ": declares ABI v", m.abi, "; this host speaks v", kAbiVersion));
  }
  for (const std::string& cap : m.capabilities) {
    if (std::find(config.grants.begin(), config.grants.end(), cap) == config.grants.end()) {
      return absl::PermissionDeniedError(
          strCat(ext->manifest_path_, ": wants capability '", cap,
                       "', which the operator has not granted to '", config.name,
                       "' (grants: [", joinGrants(config.grants), "])"));
    }
  }
  if (config.memory_bytes > engine.options().max_memory_bytes) {
    return absl::InvalidArgumentError(strCat(
        config.name, ": memory limit ", config.memory_bytes, " exceeds the engine's ",
        engine.options().max_memory_bytes));
  }
  auto wants = [&](std::string_view cap) {
    return std::find(m.capabilities.begin(), m.capabilities.end(), cap) != m.capabilities.end();
  };
  if (wants("kv") && services.storage == nullptr) {
    return absl::FailedPreconditionError(strCat(config.name, ": kv needs a store"));
  }
  if ((wants("sessions") || wants("login")) && services.sessions == nullptr) {
    return absl::FailedPreconditionError(
        strCat(config.name, ": sessions and login need the host's session store"));
  }
  if ((wants("users") || wants("login")) && services.users == nullptr) {
    return absl::FailedPreconditionError(
        strCat(config.name, ": users and login need the host's user records"));
  }
  if (wants("clients") && services.clients == nullptr) {
    return absl::FailedPreconditionError(
        strCat(config.name, ": clients needs the host's client registrations"));
  }

  ASSIGN_OR_RETURN(ext->module_, engine.compile(bytes, module_path));
  RETURN_IF_ERROR(checkExports(ext->module_.get(), module_path));
  RETURN_IF_ERROR(checkImports(ext->module_.get(), module_path, config.grants, m.capabilities));

  wasmtime_instance_pre_t* pre = nullptr;
  ErrorPtr err(wasmtime_linker_instantiate_pre(engine.linker(), ext->module_.get(), &pre));
  if (err) {
    return absl::FailedPreconditionError(
        strCat(module_path, ": cannot link: ", errorMessage(err.get())));
  }
  ext->pre_.reset(pre);
  return std::shared_ptr<const Extension>(std::move(ext));
}

Response Extension::handle(const Request& request) const {
  HostState st;
  st.extension = config_.name;
  st.settings = &config_.settings;
  st.services = services_;
  st.request = &request;
  st.mount = config_.mount;

  StorePtr store(wasmtime_store_new(engine_->raw(), &st, nullptr));
  wasmtime_store_limiter(store.get(), static_cast<int64_t>(config_.memory_bytes),
                         config_.table_elements, /*instances=*/1, /*tables=*/1, /*memories=*/1);
  wasmtime_context_t* ctx = wasmtime_store_context(store.get());
  wasmtime_context_set_epoch_deadline(ctx, engine_->ticksFor(config_.deadline_ms));

  wasi_config_t* wasi = wasi_config_new();  // no preopens, env or args: nothing to reach
  wasi_config_set_stdout_custom(wasi, GuestOutput::write, new GuestOutput(config_.name, 0),
                                GuestOutput::finalize);
  wasi_config_set_stderr_custom(wasi, GuestOutput::write, new GuestOutput(config_.name, 1),
                                GuestOutput::finalize);
  ErrorPtr err(wasmtime_context_set_wasi(ctx, wasi));
  if (err) {
    spdlog::error("[{}] WASI set-up failed: {}", config_.name, errorMessage(err.get()));
    return Response::text(500, "extension failed\n");
  }

  auto failure = [&](wasmtime_error_t* raw_err, wasm_trap_t* raw_trap, std::string_view stage) {
    ErrorPtr e(raw_err);
    TrapPtr t(raw_trap);
    if (t) {
      wasmtime_trap_code_t code;
      if (wasmtime_trap_code(t.get(), &code) && code == WASMTIME_TRAP_CODE_INTERRUPT) {
        spdlog::warn("[{}] {} exceeded its deadline of {} ms; stopped", config_.name, stage,
                     config_.deadline_ms);
        return Response::text(503, "extension exceeded its deadline\n");
      }
      spdlog::error("[{}] trap in {}: {}", config_.name, stage, trapMessage(t.get()));
      return Response::text(500, "extension failed\n");
    }
    int exit_status = 0;
    if (e && wasmtime_error_exit_status(e.get(), &exit_status)) {
      spdlog::error("[{}] exited with status {} in {}", config_.name, exit_status, stage);
    } else {
      std::string msg = e ? errorMessage(e.get()) : std::string("unknown error");
      if (msg.find("maximum concurrent") != std::string::npos) {
        spdlog::warn("[{}] no instance slot free: {}", config_.name, msg);
        return Response::text(503, "server busy\n");
      }
      spdlog::error("[{}] {} failed: {}", config_.name, stage, msg);
    }
    return Response::text(500, "extension failed\n");
  };

  wasmtime_instance_t instance;
  wasm_trap_t* trap = nullptr;
  wasmtime_error_t* raw_err = wasmtime_instance_pre_instantiate(pre_.get(), ctx, &instance, &trap);
  if (raw_err || trap) return failure(raw_err, trap, "instantiation");

  wasmtime_extern_t item;
  if (wasmtime_instance_export_get(ctx, &instance, "_initialize", 11, &item)) {
    if (item.kind == WASMTIME_EXTERN_FUNC) {
      raw_err = wasmtime_func_call(ctx, &item.of.func, nullptr, 0, nullptr, 0, &trap);
      if (raw_err || trap) return failure(raw_err, trap, "_initialize");
    }
    wasmtime_extern_delete(&item);
  }
  if (!wasmtime_instance_export_get(ctx, &instance, "habanero_on_request", 19, &item) ||
      item.kind != WASMTIME_EXTERN_FUNC) {
    spdlog::error("[{}] habanero_on_request vanished", config_.name);  // checked at load
    return Response::text(500, "extension failed\n");
  }
  wasmtime_val_t result;
  raw_err = wasmtime_func_call(ctx, &item.of.func, nullptr, 0, &result, 1, &trap);
  wasmtime_extern_delete(&item);
  if (raw_err || trap) return failure(raw_err, trap, "habanero_on_request");
  if (result.kind != WASMTIME_I32 || result.of.i32 != 0) {
    spdlog::error("[{}] habanero_on_request returned {}", config_.name,
                  result.kind == WASMTIME_I32 ? result.of.i32 : -1);
    return Response::text(500, "extension failed\n");
  }
  return std::move(st.response);
}

}  // namespace habanero::runtime
