// The conformance suite's in-process host: src/runtime as `habanero serve`
// runs it (Engine, Extension::load, HostServices), with real parts behind every
// host call — SQLite storage, the key store, users, clients, sessions, the
// outbox, the fetcher (loopback allowed, so a local HTTP server can be fetched),
// an SMTP server (aiosmtpd) for "mail" and an HTTP server answering like a
// Twilio-style SMS API for "sms" (the Python servers of tests/unit/outbound,
// started on first use). Its log is captured.
#pragma once

#include <memory>

#include "abi_host.h"

namespace habanero::conformance {

class InProcessHost : public AbiHost {
 public:
  // `wasm_dir` holds the probes' .wasm files and manifests (HABANERO_WASM_OUT);
  // compiled modules are cached in `cache_dir` (may be shared between processes;
  // "" = a temporary one).
  InProcessHost(std::string wasm_dir, std::string cache_dir);
  ~InProcessHost() override;

  std::string name() const override { return "in-process"; }
  absl::Status prepare(const nlohmann::json& fixtures) override;
  absl::Status load(const Setup& setup) override;
  Response dispatch(const Request& request) override;
  std::optional<std::string> fixture(std::string_view name) override;
  std::optional<std::string> log() override;
  void clearLog() override;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace habanero::conformance
