// The ABI conformance suite (cases.json) as gtest cases, one per conformance case,
// named after it. A case the host declares as a difference (differences/<host>.json)
// must fail, with its reason printed; one that then passes fails the test, so the
// list stays true.
//
// Built twice (CMakeLists.txt):
//   abi_conformance_test       AbiConformance.<case> on the in-process host; with
//                              HABANERO_CONFORMANCE_URL set, over HTTP against the
//                              host at that base URL instead (README.md).
//   abi_conformance_http_test  AbiConformanceOverHttp.<case>: the HTTP driver against
//                              the whole server on port 0 (server_host.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_join.h"
#include "http_host.h"
#include "inprocess_host.h"
#include "server_host.h"
#include "suite.h"

namespace habanero::conformance {
namespace {

const char* kCases = HABANERO_SOURCE_DIR "/tests/conformance/cases.json";

struct Shared {
  std::unique_ptr<AbiHost> host;
  absl::Status prepared;
  Differences differences;
};

#ifdef HABANERO_CONFORMANCE_OVER_HTTP
constexpr char kSuiteName[] = "AbiConformanceOverHttp";
#else
constexpr char kSuiteName[] = "AbiConformance";
#endif

Shared* g_shared = nullptr;

// The host lives from the first case to the end of the run (then its temporary
// files and servers go).
class HostEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete g_shared;
    g_shared = nullptr;
  }
};
::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new HostEnvironment);

Shared& shared(const Suite& suite) {
  if (g_shared == nullptr) g_shared = [&] {
    auto* out = new Shared();
#ifdef HABANERO_CONFORMANCE_OVER_HTTP
    out->host = std::make_unique<ServerHost>(HABANERO_WASM_OUT, suite.setups());
#else
    if (const char* url = std::getenv("HABANERO_CONFORMANCE_URL"); url != nullptr && *url) {
      const char* name = std::getenv("HABANERO_CONFORMANCE_HOST");
      out->host = std::make_unique<HttpHost>(url, name != nullptr ? name : "http");
    } else {
      out->host = std::make_unique<InProcessHost>(HABANERO_WASM_OUT, HABANERO_CONFORMANCE_CACHE);
    }
#endif
    out->prepared = out->host->prepare(suite.fixtures());
    auto d = suite.differencesFor(out->host->name());
    if (!d.ok()) out->prepared = d.status();
    else out->differences = *d;
    return out;
  }();
  return *g_shared;
}

class ConformanceCase : public ::testing::Test {
 public:
  ConformanceCase(const Suite* suite, const Case* c) : suite_(suite), case_(c) {}
  void TestBody() override {
    Shared& s = shared(*suite_);
    ASSERT_TRUE(s.prepared.ok()) << s.prepared;
    RecordProperty("doc", case_->doc);
    CaseResult r = suite_->run(*case_, *s.host);
    if (r.skipped) GTEST_SKIP() << *r.skipped;
    auto diff = s.differences.reasons.find(case_->name);
    if (diff != s.differences.reasons.end()) {
      EXPECT_FALSE(r.failures.empty())
          << "declared as a difference of host '" << s.host->name() << "' (" << diff->second
          << ") but it passes: remove it from differences/" << s.host->name() << ".json";
      if (!r.failures.empty()) {
        std::cout << "known difference: " << diff->second << "\n";
      }
      return;
    }
    EXPECT_TRUE(r.failures.empty()) << case_->name << ": " << case_->doc << "\n  "
                                    << absl::StrJoin(r.failures, "\n  ");
  }

 private:
  const Suite* suite_;
  const Case* case_;
};

class BrokenSuite : public ::testing::Test {
 public:
  explicit BrokenSuite(absl::Status s) : status_(std::move(s)) {}
  void TestBody() override { FAIL() << status_; }

 private:
  absl::Status status_;
};

// Registers every case before main() runs (gtest_discover_tests lists them).
const bool kRegistered = [] {
  // HABANERO_CONFORMANCE_CASES: another cases file (break_each_case.py uses it).
  const char* path = std::getenv("HABANERO_CONFORMANCE_CASES");
  static absl::StatusOr<Suite> suite = Suite::open(path != nullptr && *path ? path : kCases);
  if (!suite.ok()) {
    ::testing::RegisterTest(kSuiteName, "cases_json", nullptr, nullptr, __FILE__, __LINE__,
                            [] { return new BrokenSuite(suite.status()); });
    return true;
  }
  for (const Case& c : suite->cases()) {
    const Case* cp = &c;
    const Suite* sp = &*suite;
    ::testing::RegisterTest(kSuiteName, c.name.c_str(), nullptr, nullptr, __FILE__,
                            __LINE__, [sp, cp] { return new ConformanceCase(sp, cp); });
  }
  return true;
}();

}  // namespace
}  // namespace habanero::conformance
