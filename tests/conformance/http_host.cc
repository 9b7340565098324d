#include "http_host.h"

#include <cstdlib>

#include <curl/curl.h>

#include "habanero/strings.h"

namespace habanero::conformance {
namespace {

struct Received {
  Response response;
  bool in_headers = true;
};

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Received*>(user);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    r->response.headers.clear();  // a new response (after 100 Continue)
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    r->response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return size * n;
}

// No response at all: status 0, the reason as the body (no headers).
Response failed(std::string why) {
  Response r;
  r.status = 0;
  r.body = std::move(why);
  return r;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  static_cast<Received*>(user)->response.body.append(data, size * n);
  return size * n;
}

}  // namespace

HttpHost::HttpHost(std::string base_url, std::string name)
    : base_url_(std::move(base_url)), name_(std::move(name)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  // ${fixture:NAME} from the environment: HABANERO_CONFORMANCE_FIXTURE_FETCH_BASE=…
  for (const char* name : {"fetch_base"}) {
    std::string var = "HABANERO_CONFORMANCE_FIXTURE_";
    for (const char* c = name; *c; ++c) var += static_cast<char>(std::toupper(*c));
    if (const char* v = std::getenv(var.c_str()); v != nullptr) fixtures_[name] = v;
  }
}

absl::Status HttpHost::prepare(const nlohmann::json&) { return absl::OkStatus(); }

absl::Status HttpHost::load(const Setup& setup) {
  if (auto it = loaded_.find(setup.name); it != loaded_.end()) return it->second;
  // A request any setup's module answers quickly (the probe: 400 without a program).
  Request probe;
  probe.method = "GET";
  probe.path = setup.mount() + "/";
  probe.query = "kind=none";
  probe.headers = {{"x-probe", "[]"}};
  Response r = dispatch(probe);
  absl::Status s = absl::OkStatus();
  if (r.status == 503 && r.body.find("extension unavailable") != std::string::npos) {
    s = absl::UnavailableError(strCat(setup.mount(), " answers 503 extension unavailable"));
  } else if (r.status == 0 || r.status == 404) {
    s = absl::NotFoundError(strCat(base_url_, setup.mount(), "/: status ", r.status,
                                   " (is the setup deployed?) ", r.body));
  }
  loaded_[setup.name] = s;
  return s;
}

Response HttpHost::dispatch(const Request& request) {
  Received rx;
  rx.response.status = 0;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return failed("curl_easy_init failed");
  std::string url = base_url_ + request.path;
  if (!request.query.empty()) url += "?" + request.query;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");
  headers = curl_slist_append(headers, "Accept:");
  for (const auto& [k, v] : request.headers) {
    headers = curl_slist_append(headers, (v.empty() ? k + ";" : k + ": " + v).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &rx);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &rx);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60'000L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return failed(strCat("request to ", url, " failed: ", curl_easy_strerror(rc)));
  rx.response.status = static_cast<int>(status);
  return std::move(rx.response);
}

std::optional<std::string> HttpHost::fixture(std::string_view name) {
  auto it = fixtures_.find(std::string(name));
  if (it == fixtures_.end()) return std::nullopt;
  return it->second;
}

}  // namespace habanero::conformance
