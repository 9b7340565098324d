// One loaded extension: its manifest, compiled module and InstancePre, and the
// embedder's description of it (ExtensionSpec: mount, grants, limits,
// settings).
//
// Loading checks, in order, and fails with a message naming the file:
//   the .wasm exists and is a valid module; the manifest exists and parses;
//   the manifest's name equals the configured name; the module speaks ABI v1
//   (exports habanero_abi_v1, not another version) and exports
//   habanero_on_request and memory; every capability the manifest wants is
//   granted; the host has the facilities of every capability the module may
//   use (the host-call table's facilities column); every import is a granted
//   host call or an allowed WASI function.
//
// handle() runs one request in a fresh Store and instance (nothing is shared
// between two requests), with the extension's memory, table and wall-time
// limits. It never throws and is safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "habanero/dispatch.h"
#include "events/outbox.h"
#include "habanero/status.h"
#include "runtime/engine.h"
#include "runtime/extension_spec.h"
#include "runtime/host_calls.h"
#include "runtime/manifest.h"

namespace habanero::runtime {

// Identifies the files an extension was loaded from, to notice replacement.
struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t size = -1;
  uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
  static FileStamp of(const std::string& path);  // size -1 if missing
};

class Extension {
 public:
  // `module_path` is the resolved .wasm path; the manifest is the file beside
  // it with ".wasm" replaced by ".manifest.toml". `services` must outlive the
  // extension.
  // `spec.module` is not read: `module_path` is what the caller resolved it
  // to.
  static absl::StatusOr<std::shared_ptr<const Extension>> load(
      Engine& engine, const ExtensionSpec& spec, const std::string& module_path,
      const HostServices& services);

  // Runs the request. `sub_path` is the request path below the mount.
  Response handle(const Request& request) const;

  // Delivers an event to the module's habanero_on_event (design 0002), in a
  // fresh instance with the same limits. A trap, deadline or unknown return
  // value is a retry. Safe to call from any thread.
  events::Delivery handleEvent(const events::Event& event) const;

  const std::string& name() const { return spec_.name; }
  const std::string& mount() const { return spec_.mount; }
  const Manifest& manifest() const { return manifest_; }
  const ExtensionSpec& spec() const { return spec_; }
  const std::string& modulePath() const { return module_path_; }
  const std::string& manifestPath() const { return manifest_path_; }
  // Stamps of the module and manifest at load time.
  const FileStamp& moduleStamp() const { return module_stamp_; }
  const FileStamp& manifestStamp() const { return manifest_stamp_; }

  static std::string manifestPathFor(const std::string& module_path);

 private:
  Extension() = default;

  // The outcome of calling one entry point () -> i32 in a fresh instance.
  struct Run {
    enum Kind { kReturned, kDeadline, kBusy, kFailed } kind;
    int32_t value;      // when kReturned
    std::string error;  // otherwise, for the log
  };
  Run run(HostState& st, std::string_view entry, uint32_t deadline_ms) const;

  Engine* engine_ = nullptr;
  const HostServices* services_ = nullptr;
  ExtensionSpec spec_;
  Manifest manifest_;
  std::string module_path_, manifest_path_;
  FileStamp module_stamp_, manifest_stamp_;
  ModulePtr module_;
  InstancePrePtr pre_;
  uint32_t granted_ = 0;  // capabilityBit() of every granted capability
};

using ExtensionPtr = std::shared_ptr<const Extension>;

}  // namespace habanero::runtime
