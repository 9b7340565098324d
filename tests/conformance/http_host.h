// The conformance suite's HTTP driver: sends each case's requests to a host that
// is already running (the server, a gRPC worker behind its gateway, an edge host)
// at a base URL. That host must have loaded every setup of cases.json as an
// extension named after the setup, mounted at "/<setup>", and seeded the fixtures
// (README.md, "Running against another host").
//
// What HTTP cannot see: the host's load errors (a refused setup is recognised by
// its mount answering 503 "extension unavailable") and its log (cases' "log"
// expectations are skipped).
#pragma once

#include <map>
#include <string>

#include "abi_host.h"

namespace habanero::conformance {

class HttpHost : public AbiHost {
 public:
  // `base_url`: scheme://host[:port] without a trailing '/'. `name` picks the
  // differences file (differences/<name>.json).
  HttpHost(std::string base_url, std::string name);

  std::string name() const override { return name_; }
  absl::Status prepare(const nlohmann::json& fixtures) override;
  absl::Status load(const Setup& setup) override;
  bool reportsLoadErrors() const override { return false; }
  Response dispatch(const Request& request) override;
  std::optional<std::string> fixture(std::string_view name) override;

  // Values for ${fixture:NAME}, e.g. {"fetch_base", "http://10.0.0.5:8000"}.
  void setFixture(std::string name, std::string value) { fixtures_[name] = std::move(value); }

 private:
  std::string base_url_;
  std::string name_;
  std::map<std::string, std::string> fixtures_;
  std::map<std::string, absl::Status> loaded_;
};

}  // namespace habanero::conformance
