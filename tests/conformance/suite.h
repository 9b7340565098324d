// The ABI conformance suite's data and runner, independent of any host: reads
// cases.json, turns a case into requests for an AbiHost and checks the answers
// against the expectations (README.md describes the format).
//
//   auto suite = Suite::open(path);            // StatusOr<Suite>
//   for (const Case& c : suite->cases()) {
//     CaseResult r = suite->run(c, host);      // r.failures empty: conformant
//   }
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi_host.h"
#include "habanero/status.h"

namespace habanero::conformance {

struct Case {
  std::string name;  // [a-z0-9_]+, unique
  std::string doc;
  std::string setup;
  nlohmann::json json;  // the case as written
};

struct CaseResult {
  std::optional<std::string> skipped;  // why the case could not run on this host
  std::vector<std::string> failures;   // empty: the host behaved as expected
};

// A host's declared differences (differences/<host>.json): cases it is known to
// fail, each with its reason.
struct Differences {
  std::map<std::string, std::string> reasons;  // case name -> reason
};

class Suite {
 public:
  static absl::StatusOr<Suite> open(const std::string& path);

  const std::vector<Case>& cases() const { return cases_; }
  const nlohmann::json& fixtures() const { return fixtures_; }
  const std::map<std::string, Setup>& setups() const { return setups_; }

  // Loads the case's setup on `host`, runs its exchanges in order and checks
  // every expectation. Never throws.
  CaseResult run(const Case& c, AbiHost& host) const;

  // differences/<host>.json next to cases.json; empty if the file is absent.
  // Every case it names must exist.
  absl::StatusOr<Differences> differencesFor(const std::string& host) const;

 private:
  std::string dir_;
  std::vector<Case> cases_;
  std::map<std::string, Setup> setups_;
  nlohmann::json fixtures_;
};

// Matches `actual` against the expectation `expected` (README: "Matchers");
// appends a message naming `where` to `failures` for each mismatch.
void match(const nlohmann::json& expected, const nlohmann::json& actual, const std::string& where,
           std::vector<std::string>& failures);

}  // namespace habanero::conformance
