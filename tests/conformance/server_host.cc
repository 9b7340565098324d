// Deploys the suite on server::App. Like inprocess_host.cc, the one place that
// knows the server's configuration types: adapt it when they change.
#include "server_host.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/users.h"
#include "habanero/strings.h"
#include "http_host.h"
#include "outside_parts.h"
#include "server/app.h"

namespace habanero::conformance {
namespace {

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

struct ServerHost::Parts {
  std::string wasm_dir;
  std::map<std::string, Setup> setups;
  std::string dir;
  OutsideParts outside;
  server::AppPtr app;
  std::unique_ptr<HttpHost> http;
};

ServerHost::ServerHost(std::string wasm_dir, std::map<std::string, Setup> setups)
    : parts_(std::make_unique<Parts>()) {
  parts_->wasm_dir = std::move(wasm_dir);
  parts_->setups = std::move(setups);
  char tmpl[] = "/tmp/habanero-conformance-server-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  parts_->dir = tmpl;
}

ServerHost::~ServerHost() {
  parts_->http.reset();
  parts_->app.reset();
  std::error_code ec;
  std::filesystem::remove_all(parts_->dir, ec);
}

absl::Status ServerHost::prepare(const nlohmann::json& fixtures) {
  Parts& p = *parts_;
  std::string ext_dir = p.dir + "/extensions";
  std::filesystem::create_directories(ext_dir);
  server::Config c;
  c.server.listen = "127.0.0.1:0";
  c.server.data_dir = p.dir + "/data";
  c.server.threads = 4;
  c.runtime.extension_dir = ext_dir;
  c.outbound.allow_loopback = true;  // the fixture server
  bool mail = false, sms = false;
  for (const auto& [name, setup] : p.setups) {
    // Deploy: <setup>.wasm and its manifest renamed after the setup.
    std::string manifest = readAll(strCat(p.wasm_dir, "/", setup.probe, ".manifest.toml"));
    std::string from = strCat("name = \"", setup.probe, "\"");
    size_t at = manifest.find(from);
    if (at == std::string::npos) return absl::NotFoundError(strCat(setup.probe, ": no manifest"));
    manifest.replace(at, from.size(), strCat("name = \"", name, "\""));
    std::ofstream(strCat(ext_dir, "/", name, ".manifest.toml")) << manifest;
    std::error_code ec;
    std::filesystem::copy_file(strCat(p.wasm_dir, "/", setup.probe, ".wasm"),
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
    ASSIGN_OR_RETURN(c.mail.url, p.outside.smtpUrl());
    c.mail.from = "Conformance <conformance@example.com>";
  }
  if (sms) {
    ASSIGN_OR_RETURN(c.sms.url, p.outside.smsUrl());
    c.sms.ca_file = p.outside.smsCaFile();
  }
  ASSIGN_OR_RETURN(p.app, server::App::create(c));
  for (const nlohmann::json& u : fixtures.value("users", nlohmann::json::array())) {
    auth::NewUser nu;
    nu.email = u.value("email", "");
    if (u.contains("password")) nu.password = u["password"].get<std::string>();
    nu.name = u.value("name", "");
    nu.phone_number = u.value("phone_number", "");
    nu.email_verified = u.value("email_verified", false);
    RETURN_IF_ERROR(p.app->users().add(nu).status());
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
    RETURN_IF_ERROR(p.app->clients().upsert(nc).status());
  }
  RETURN_IF_ERROR(p.app->start());
  p.http = std::make_unique<HttpHost>(strCat("http://127.0.0.1:", p.app->port()), name());
  ASSIGN_OR_RETURN(std::string web, p.outside.webBase());
  p.http->setFixture("fetch_base", web);
  return absl::OkStatus();
}

absl::Status ServerHost::load(const Setup& setup) {
  if (!parts_->http) return absl::FailedPreconditionError("prepare() first");
  return parts_->http->load(setup);
}

Response ServerHost::dispatch(const Request& request) { return parts_->http->dispatch(request); }

std::optional<std::string> ServerHost::fixture(std::string_view name) {
  if (!parts_->http) return std::nullopt;
  return parts_->http->fixture(name);
}

}  // namespace habanero::conformance
