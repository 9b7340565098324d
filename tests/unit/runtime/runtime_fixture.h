// A real runtime for tests: SQLite store and key store in a temporary data
// directory, an engine with a module cache there, and the .wasm test modules
// the build produced (HABANERO_WASM_OUT). Log lines are captured.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "auth/clients.h"
#include "auth/sessions.h"
#include "auth/users.h"
#include "crypto/key_store.h"
#include "habanero/storage.h"
#include "runtime/engine.h"
#include "runtime/extension.h"
#include "runtime/host_calls.h"
#include "runtime/extension_spec.h"

namespace habanero::runtime {

class RuntimeFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The path of a module the build produced, e.g. wasmPath("noop").
  static std::string wasmPath(const std::string& name);
  // A configuration for module `name` mounted at "/<name>".
  static ExtensionSpec configFor(const std::string& name, std::vector<std::string> grants);
  absl::StatusOr<ExtensionPtr> load(const ExtensionSpec& config);
  absl::StatusOr<ExtensionPtr> load(const ExtensionSpec& config, const std::string& path);

  static Request get(const std::string& path, const std::string& query = "");

  // Every log line written since SetUp (or the last clearLog()).
  std::string logText() const;
  void clearLog();

  std::string dir_;
  StoragePtr storage_;
  std::unique_ptr<crypto::KeyStore> keys_;
  std::unique_ptr<auth::Users> users_;      // cheap Argon2id costs
  std::unique_ptr<auth::Clients> clients_;
  std::unique_ptr<auth::Sessions> sessions_;
  HostServices services_;
  EnginePtr engine_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_sink_;
};

}  // namespace habanero::runtime
