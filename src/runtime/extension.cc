#include "runtime/extension.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "runtime/capabilities.h"
#include "../../sdk/c/habanero.h"

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
// Whether an export is a function () -> i32.
bool isEntryPoint(const wasm_externtype_t* type) {
  const wasm_functype_t* ft = wasm_externtype_as_functype_const(type);
  const wasm_valtype_vec_t* params = wasm_functype_params(ft);
  const wasm_valtype_vec_t* results = wasm_functype_results(ft);
  return params->size == 0 && results->size == 1 &&
         wasm_valtype_kind(results->data[0]) == WASM_I32;
}

absl::Status checkExports(const wasmtime_module_t* module, const std::string& path,
                          bool needs_on_event) {
  wasm_exporttype_vec_t exports;
  wasmtime_module_exports(module, &exports);
  bool abi_v1 = false, entry = false, memory = false, on_event = false;
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
      entry = isEntryPoint(type);
    } else if (name == "habanero_on_event" && kind == WASM_EXTERN_FUNC) {
      on_event = isEntryPoint(type);
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
  if (needs_on_event && !on_event) {
    return absl::FailedPreconditionError(strCat(
        path, ": its manifest subscribes to topics but it does not export habanero_on_event: "
              "() -> i32"));
  }
  return absl::OkStatus();
}

// Every import must be a granted host call or an allowed WASI function. An
// import of an optional capability (manifest `optional_capabilities`) that is
// not granted is allowed: the call answers DENIED at run time.
absl::Status checkImports(const wasmtime_module_t* module, const std::string& path,
                          const std::vector<std::string>& grants,
                          const std::vector<std::string>& declared,
                          const std::vector<std::string>& optional) {
  wasm_importtype_vec_t imports;
  wasmtime_module_imports(module, &imports);
  absl::Status status;
  for (size_t i = 0; i < imports.size && status.ok(); ++i) {
    std::string_view mod = nameOf(wasm_importtype_module(imports.data[i]));
    std::string_view fn = nameOf(wasm_importtype_name(imports.data[i]));
    if (mod == kHostModule) {
      std::optional<std::string_view> cap = capabilityOf(fn);
      bool is_optional =
          cap && std::find(optional.begin(), optional.end(), *cap) != optional.end();
      if (!cap) {
        status = absl::PermissionDeniedError(
            strCat(path, ": imports unknown host function habanero.", fn));
      } else if (is_optional) {
        // Linked either way; granted or not is decided per call.
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


// The facilities capability `cap` needs (the union of its host calls'), or an
// error naming the first one `services` lacks.
absl::Status checkFacilities(std::string_view extension, const Capability& cap,
                             const HostServices& services) {
  for (uint32_t i = 0; i < facility::kCount; ++i) {
    uint32_t bit = 1u << i;
    if ((cap.facilities & bit) == 0 || services.has(bit)) continue;
    std::string message = strCat(extension, ": capability '", cap.name, "' needs ",
                                 facilityDescription(bit), ", which this host does not have");
    auto hint = services.missing_facility_hints.find(facilityName(bit));
    if (hint != services.missing_facility_hints.end()) {
      message = strCat(message, " (", hint->second, ")");
    }
    return absl::FailedPreconditionError(message);
  }
  return absl::OkStatus();
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
    Engine& engine, const ExtensionSpec& spec, const std::string& module_path,
    const HostServices& services) {
  std::shared_ptr<Extension> ext(new Extension());
  ext->engine_ = &engine;
  ext->services_ = &services;
  ext->spec_ = spec;
  ext->module_path_ = module_path;
  ext->manifest_path_ = manifestPathFor(module_path);
  // Stamp before reading: a replacement racing with the load is noticed later.
  ext->module_stamp_ = FileStamp::of(module_path);
  ext->manifest_stamp_ = FileStamp::of(ext->manifest_path_);
  const std::vector<std::string>& grants = spec.grants.capabilities;

  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readFile(module_path));
  if (bytes.size() < 8 || std::string_view(reinterpret_cast<const char*>(bytes.data()), 4) !=
                              std::string_view("\0asm", 4)) {
    return absl::InvalidArgumentError(strCat(
        module_path, ": not a WebAssembly module (", bytes.size() < 8 ? "truncated" : "bad magic",
        ")"));
  }
  ASSIGN_OR_RETURN(ext->manifest_, loadManifest(ext->manifest_path_));
  const Manifest& m = ext->manifest_;
  if (m.name != spec.name) {
    return absl::InvalidArgumentError(strCat(ext->manifest_path_, ": name '", m.name,
                                             "' differs from the configured name '", spec.name,
                                             "'"));
  }
  if (m.abi != kAbiVersion) {
    return absl::FailedPreconditionError(strCat(
        ext->manifest_path_, ": declares ABI v", m.abi, "; this host speaks v", kAbiVersion));
  }
  for (const std::string& cap : m.capabilities) {
    if (std::find(grants.begin(), grants.end(), cap) == grants.end()) {
      return absl::PermissionDeniedError(
          strCat(ext->manifest_path_, ": wants capability '", cap,
                 "', which the operator has not granted to '", spec.name, "' (grants: [",
                 joinGrants(grants), "])"));
    }
  }
  if (spec.limits.memory_bytes > engine.options().max_memory_bytes) {
    return absl::InvalidArgumentError(strCat(spec.name, ": memory limit ",
                                             spec.limits.memory_bytes, " exceeds the engine's ",
                                             engine.options().max_memory_bytes));
  }
  // What the module may use: its required capabilities, and the optional ones
  // the operator granted. Each needs the facilities of its host calls.
  auto wants = [&](std::string_view cap) {
    if (std::find(m.capabilities.begin(), m.capabilities.end(), cap) != m.capabilities.end()) {
      return true;
    }
    return std::find(m.optional_capabilities.begin(), m.optional_capabilities.end(), cap) !=
               m.optional_capabilities.end() &&
           std::find(grants.begin(), grants.end(), cap) != grants.end();
  };
  for (const Capability& cap : allCapabilities()) {
    if (!wants(cap.name)) continue;
    RETURN_IF_ERROR(checkFacilities(spec.name, cap, services));
  }

  ASSIGN_OR_RETURN(ext->module_, engine.compile(bytes, module_path));
  RETURN_IF_ERROR(checkExports(ext->module_.get(), module_path, !m.subscribes.empty()));
  RETURN_IF_ERROR(checkImports(ext->module_.get(), module_path, grants, m.capabilities,
                               m.optional_capabilities));
  for (const std::string& grant : grants) ext->granted_ |= capabilityBit(grant);

  wasmtime_instance_pre_t* pre = nullptr;
  ErrorPtr err(wasmtime_linker_instantiate_pre(engine.linker(), ext->module_.get(), &pre));
  if (err) {
    return absl::FailedPreconditionError(
        strCat(module_path, ": cannot link: ", errorMessage(err.get())));
  }
  ext->pre_.reset(pre);
  return std::shared_ptr<const Extension>(std::move(ext));
}

Extension::Run Extension::run(HostState& st, std::string_view entry, uint32_t deadline_ms) const {
  st.extension = spec_.name;
  st.granted = granted_;
  st.spec = &spec_;
  st.services = services_;
  st.mount = spec_.mount;

  StorePtr store(wasmtime_store_new(engine_->raw(), &st, nullptr));
  wasmtime_store_limiter(store.get(), static_cast<int64_t>(spec_.limits.memory_bytes),
                         spec_.limits.table_elements, /*instances=*/1, /*tables=*/1,
                         /*memories=*/1);
  wasmtime_context_t* ctx = wasmtime_store_context(store.get());
  wasmtime_context_set_epoch_deadline(ctx, engine_->ticksFor(deadline_ms));
  st.context = ctx;
  st.started = std::chrono::steady_clock::now();
  st.deadline_ms = deadline_ms;
  st.epoch_tick_ms = engine_->options().epoch_tick_ms;

  wasi_config_t* wasi = wasi_config_new();  // no preopens, env or args: nothing to reach
  wasi_config_set_stdout_custom(wasi, GuestOutput::write, new GuestOutput(spec_.name, 0),
                                GuestOutput::finalize);
  wasi_config_set_stderr_custom(wasi, GuestOutput::write, new GuestOutput(spec_.name, 1),
                                GuestOutput::finalize);
  ErrorPtr err(wasmtime_context_set_wasi(ctx, wasi));
  if (err) return {Run::kFailed, 0, strCat("WASI set-up failed: ", errorMessage(err.get()))};

  Observer* observer = services_->observer;
  auto failure = [&](wasmtime_error_t* raw_err, wasm_trap_t* raw_trap,
                     std::string_view stage) -> Run {
    ErrorPtr e(raw_err);
    TrapPtr t(raw_trap);
    if (t) {
      wasmtime_trap_code_t code;
      if (wasmtime_trap_code(t.get(), &code) && code == WASMTIME_TRAP_CODE_INTERRUPT) {
        if (observer) observer->deadlineExceeded(spec_.name);
        return {Run::kDeadline, 0,
                strCat(stage, " exceeded its deadline of ", deadline_ms, " ms; stopped")};
      }
      if (observer) observer->trapped(spec_.name);
      return {Run::kFailed, 0, strCat("trap in ", stage, ": ", trapMessage(t.get()))};
    }
    int exit_status = 0;
    if (e && wasmtime_error_exit_status(e.get(), &exit_status)) {
      return {Run::kFailed, 0, strCat("exited with status ", exit_status, " in ", stage)};
    }
    std::string msg = e ? errorMessage(e.get()) : std::string("unknown error");
    if (msg.find("maximum concurrent") != std::string::npos) {
      return {Run::kBusy, 0, strCat("no instance slot free: ", msg)};
    }
    return {Run::kFailed, 0, strCat(stage, " failed: ", msg)};
  };

  wasmtime_instance_t instance;
  wasm_trap_t* trap = nullptr;
  wasmtime_error_t* raw_err = wasmtime_instance_pre_instantiate(pre_.get(), ctx, &instance, &trap);
  if (raw_err || trap) return failure(raw_err, trap, "instantiation");
  if (observer) observer->instanceCreated(spec_.name);

  wasmtime_extern_t item;
  if (wasmtime_instance_export_get(ctx, &instance, "_initialize", 11, &item)) {
    if (item.kind == WASMTIME_EXTERN_FUNC) {
      raw_err = wasmtime_func_call(ctx, &item.of.func, nullptr, 0, nullptr, 0, &trap);
      if (raw_err || trap) return failure(raw_err, trap, "_initialize");
    }
    wasmtime_extern_delete(&item);
  }
  if (!wasmtime_instance_export_get(ctx, &instance, entry.data(), entry.size(), &item) ||
      item.kind != WASMTIME_EXTERN_FUNC) {
    return {Run::kFailed, 0, strCat(entry, " vanished")};  // checked at load
  }
  wasmtime_val_t result;
  raw_err = wasmtime_func_call(ctx, &item.of.func, nullptr, 0, &result, 1, &trap);
  wasmtime_extern_delete(&item);
  if (raw_err || trap) return failure(raw_err, trap, entry);
  if (result.kind != WASMTIME_I32) return {Run::kFailed, 0, strCat(entry, " returned no i32")};
  return {Run::kReturned, result.of.i32, ""};
}

Response Extension::handle(const Request& request) const {
  HostState st;
  st.request = &request;
  Run r = run(st, "habanero_on_request", spec_.limits.deadline_ms);
  switch (r.kind) {
    case Run::kReturned:
      if (r.value == 0) return std::move(st.response);
      spdlog::error("[{}] habanero_on_request returned {}", spec_.name, r.value);
      return Response::text(500, "extension failed\n");
    case Run::kDeadline:
      spdlog::warn("[{}] {}", spec_.name, r.error);
      return Response::text(503, "extension exceeded its deadline\n");
    case Run::kBusy:
      spdlog::warn("[{}] {}", spec_.name, r.error);
      return Response::text(503, "server busy\n");
    case Run::kFailed:
      break;
  }
  spdlog::error("[{}] {}", spec_.name, r.error);
  return Response::text(500, "extension failed\n");
}

events::Delivery Extension::handleEvent(const events::Event& event) const {
  static const Request kNoRequest{};  // http calls inside on_event see an empty request
  HostState st;
  st.request = &kNoRequest;
  st.event = &event;
  // Time spent waiting on SMTP servers and gateways is not charged to the
  // deadline (rows marked Wait::kNetwork), so the request's limit applies.
  Run r = run(st, "habanero_on_event", spec_.limits.deadline_ms);
  if (r.kind != Run::kReturned) return {events::Outcome::kRetry, r.error};
  switch (r.value) {
    case HABANERO_EVENT_DONE:
      return {events::Outcome::kDone, ""};
    case HABANERO_EVENT_RETRY:
      return {events::Outcome::kRetry, "the subscriber asked to retry"};
    case HABANERO_EVENT_FAILED:
      return {events::Outcome::kFailed, "the subscriber reported a permanent failure"};
    default:
      return {events::Outcome::kRetry, strCat("habanero_on_event returned ", r.value)};
  }
}

}  // namespace habanero::runtime
