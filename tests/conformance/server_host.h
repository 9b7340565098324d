// The HTTP driver's own check: the whole server (server::App — store, keys,
// router, HTTP front) on 127.0.0.1:0 with every setup of the suite deployed
// as README.md "Running against another host" says, reached through HttpHost.
// What it must declare is in differences/http-server.json.
#pragma once

#include <map>
#include <memory>

#include "abi_host.h"

namespace habanero::conformance {

class ServerHost : public AbiHost {
 public:
  // `wasm_dir` holds the probes (HABANERO_WASM_OUT); every setup is deployed.
  ServerHost(std::string wasm_dir, std::map<std::string, Setup> setups);
  ~ServerHost() override;

  std::string name() const override { return "http-server"; }
  absl::Status prepare(const nlohmann::json& fixtures) override;
  absl::Status load(const Setup& setup) override;
  bool reportsLoadErrors() const override { return false; }
  Response dispatch(const Request& request) override;
  std::optional<std::string> fixture(std::string_view name) override;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace habanero::conformance
