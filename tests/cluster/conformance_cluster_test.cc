// The ABI conformance suite (tests/conformance/cases.json) through a gateway
// to a gRPC worker: two server::App in this process — a worker (role
// "worker", gRPC on 127.0.0.1:0) with every setup deployed as README.md
// "Running against another host" says, and a gateway (role "gateway") in front
// of it — driven over HTTP by the suite's HttpHost. The cluster's HTTP front is
// the single process's, so it declares the differences of "http-server"
// (tests/conformance/differences/http-server.json) and those of
// conformance_differences.json here; a listed case must fail, as in
// conformance_test.cc.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "auth/clients.h"
#include "auth/users.h"
#include "habanero/strings.h"
#include "http_host.h"
#include "outside_parts.h"
#include "server/app.h"
#include "suite.h"

namespace habanero::conformance {
namespace {

const char* kCases = HABANERO_SOURCE_DIR "/tests/conformance/cases.json";
const char* kOwnDifferences = HABANERO_SOURCE_DIR "/tests/cluster/conformance_differences.json";

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port free right now on 127.0.0.1 (the gateway's issuer must be known before it binds).
uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class ClusterHost : public AbiHost {
 public:
  ClusterHost(std::string wasm_dir, std::map<std::string, Setup> setups)
      : wasm_dir_(std::move(wasm_dir)), setups_(std::move(setups)) {
    char tmpl[] = "/tmp/habanero-conformance-cluster-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~ClusterHost() override {
    http_.reset();
    gateway_.reset();
    worker_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string name() const override { return "cluster"; }
  bool reportsLoadErrors() const override { return false; }

  absl::Status prepare(const nlohmann::json& fixtures) override {
    std::string ext_dir = dir_ + "/extensions";
    std::filesystem::create_directories(ext_dir);
    uint16_t port = freePort();
    server::Config c;
    c.server.listen = strCat("127.0.0.1:", port);
    c.server.issuer = strCat("http://localhost:", port);
    c.server.data_dir = dir_ + "/data";  // one SQLite store for both processes' parts
    c.server.threads = 4;
    c.runtime.extension_dir = ext_dir;
    c.outbound.allow_loopback = true;  // the fixture server
    bool mail = false, sms = false;
    for (const auto& [name, setup] : setups_) {
      std::string manifest = readAll(strCat(wasm_dir_, "/", setup.probe, ".manifest.toml"));
      std::string from = strCat("name = \"", setup.probe, "\"");
      size_t at = manifest.find(from);
      if (at == std::string::npos) return absl::NotFoundError(strCat(setup.probe, ": no manifest"));
      manifest.replace(at, from.size(), strCat("name = \"", name, "\""));
      std::ofstream(strCat(ext_dir, "/", name, ".manifest.toml")) << manifest;
      std::error_code ec;
      std::filesystem::copy_file(strCat(wasm_dir_, "/", setup.probe, ".wasm"),
                                 strCat(ext_dir, "/", name, ".wasm"), ec);
      if (ec) return absl::NotFoundError(strCat(setup.probe, ".wasm: ", ec.message()));
      server::ExtensionConfig e;
      e.name = name;
      e.module = name + ".wasm";
      e.mount = setup.mount();
      e.grants = setup.grants;
      e.settings = setup.settings;
      e.publish = setup.publish;
      e.fetch_hosts = setup.fetch_hosts;
      e.memory_bytes = setup.memory_bytes;
      e.deadline_ms = setup.deadline_ms;
      c.extensions.push_back(std::move(e));
      for (const std::string& g : setup.grants) {
        mail = mail || g == "mail";
        sms = sms || g == "sms";
      }
    }
    if (mail) {
      ASSIGN_OR_RETURN(c.mail.url, outside_.smtpUrl());
      c.mail.from = "Conformance <conformance@example.com>";
    }
    if (sms) {
      ASSIGN_OR_RETURN(c.sms.url, outside_.smsUrl());
      c.sms.ca_file = outside_.smsCaFile();
    }

    server::Config w = c;
    w.cluster.role = "worker";
    w.cluster.listen = "127.0.0.1:0";
    ASSIGN_OR_RETURN(worker_, server::App::create(w));
    for (const nlohmann::json& u : fixtures.value("users", nlohmann::json::array())) {
      auth::NewUser nu;
      nu.email = u.value("email", "");
      if (u.contains("password")) nu.password = u["password"].get<std::string>();
      nu.name = u.value("name", "");
      nu.phone_number = u.value("phone_number", "");
      nu.email_verified = u.value("email_verified", false);
      RETURN_IF_ERROR(worker_->users().add(nu).status());
    }
    for (const nlohmann::json& cl : fixtures.value("clients", nlohmann::json::array())) {
      auth::NewClient nc;
      nc.client_id = cl.value("client_id", "");
      if (cl.contains("secret")) nc.secret = cl["secret"].get<std::string>();
      nc.is_public = cl.value("public", false);
      nc.name = cl.value("name", "");
      for (const auto& uri : cl.value("redirect_uris", nlohmann::json::array())) {
        nc.redirect_uris.push_back(uri);
      }
      RETURN_IF_ERROR(worker_->clients().upsert(nc).status());
    }
    RETURN_IF_ERROR(worker_->start());

    server::Config g = c;
    g.cluster.role = "gateway";
    g.cluster.workers = strCat("127.0.0.1:", worker_->port());
    g.cluster.health_interval_ms = 100;
    ASSIGN_OR_RETURN(gateway_, server::App::create(g));
    RETURN_IF_ERROR(gateway_->start());
    http_ = std::make_unique<HttpHost>(strCat("http://127.0.0.1:", gateway_->port()), name());
    ASSIGN_OR_RETURN(std::string web, outside_.webBase());
    http_->setFixture("fetch_base", web);
    return absl::OkStatus();
  }

  absl::Status load(const Setup& setup) override { return http_->load(setup); }
  Response dispatch(const Request& request) override { return http_->dispatch(request); }
  std::optional<std::string> fixture(std::string_view name) override {
    return http_ ? http_->fixture(name) : std::nullopt;
  }

 private:
  std::string wasm_dir_;
  std::map<std::string, Setup> setups_;
  std::string dir_;
  OutsideParts outside_;
  server::AppPtr worker_;
  server::AppPtr gateway_;
  std::unique_ptr<HttpHost> http_;
};

struct Shared {
  std::unique_ptr<ClusterHost> host;
  absl::Status prepared;
  Differences differences;
};
Shared* g_shared = nullptr;

class HostEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete g_shared;
    g_shared = nullptr;
  }
};
::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new HostEnvironment);

// http-server's declared differences plus the cluster's own (conformance_differences.json).
absl::StatusOr<Differences> clusterDifferences(const Suite& suite) {
  ASSIGN_OR_RETURN(Differences d, suite.differencesFor("http-server"));
  std::ifstream in(kOwnDifferences);
  if (!in) return d;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false, true);
  if (!j.is_object() || !j.contains("differences") || !j["differences"].is_array()) {
    return absl::InvalidArgumentError(
        strCat(kOwnDifferences, ": expected {\"differences\": [...]}"));
  }
  for (const nlohmann::json& e : j["differences"]) {
    d.reasons[e.value("case", "")] = e.value("reason", "");
  }
  return d;
}

Shared& shared(const Suite& suite) {
  if (g_shared == nullptr) {
    g_shared = new Shared();
    g_shared->host = std::make_unique<ClusterHost>(HABANERO_WASM_OUT, suite.setups());
    g_shared->prepared = g_shared->host->prepare(suite.fixtures());
    auto d = clusterDifferences(suite);
    if (!d.ok()) g_shared->prepared = d.status();
    else g_shared->differences = *d;
  }
  return *g_shared;
}

class ConformanceCase : public ::testing::Test {
 public:
  ConformanceCase(const Suite* suite, const Case* c) : suite_(suite), case_(c) {}
  void TestBody() override {
    Shared& s = shared(*suite_);
    ASSERT_TRUE(s.prepared.ok()) << s.prepared;
    CaseResult r = suite_->run(*case_, *s.host);
    if (r.skipped) GTEST_SKIP() << *r.skipped;
    auto diff = s.differences.reasons.find(case_->name);
    if (diff != s.differences.reasons.end()) {
      EXPECT_FALSE(r.failures.empty())
          << "declared as a difference (" << diff->second << ") but it passes through the "
          << "gateway: remove it from tests/cluster/conformance_differences.json";
      if (!r.failures.empty()) std::cout << "known difference: " << diff->second << "\n";
      return;
    }
    EXPECT_TRUE(r.failures.empty()) << case_->name << ": " << case_->doc << "\n  "
                                    << absl::StrJoin(r.failures, "\n  ");
  }

 private:
  const Suite* suite_;
  const Case* case_;
};

const bool kRegistered = [] {
  static absl::StatusOr<Suite> suite = Suite::open(kCases);
  if (!suite.ok()) {
    ::testing::RegisterTest("AbiConformanceThroughGateway", "cases_json", nullptr, nullptr,
                            __FILE__, __LINE__, [] {
                              struct Broken : ::testing::Test {
                                void TestBody() override { FAIL() << suite.status(); }
                              };
                              return static_cast<::testing::Test*>(new Broken());
                            });
    return true;
  }
  for (const Case& c : suite->cases()) {
    const Case* cp = &c;
    const Suite* sp = &*suite;
    ::testing::RegisterTest("AbiConformanceThroughGateway", c.name.c_str(), nullptr, nullptr,
                            __FILE__, __LINE__, [sp, cp] { return new ConformanceCase(sp, cp); });
  }
  return true;
}();

}  // namespace
}  // namespace habanero::conformance
