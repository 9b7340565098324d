#include "server/admin_api.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/domain_events.h"
#include "auth/users.h"
#include "crypto/hash.h"
#include "crypto/key_store.h"
#include "habanero/strings.h"
#include "http/form.h"

namespace habanero::server {
namespace {

using Json = nlohmann::json;

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Response json(int status, const Json& body) {
  Response r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"},
               {"Cache-Control", "no-store"},
               {"X-Content-Type-Options", "nosniff"}};
  r.body = dump(body);
  return r;
}

Response error(int status, std::string_view code, std::string_view message) {
  return json(status, Json{{"error", std::string(code)}, {"message", std::string(message)}});
}

// The Status of a records call as a response: 400, 404, 409 or 500.
Response fromStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return error(400, "bad_request", sv(s.message()));
    case absl::StatusCode::kNotFound: return error(404, "not_found", sv(s.message()));
    case absl::StatusCode::kAlreadyExists: return error(409, "conflict", sv(s.message()));
    default:
      spdlog::error("admin API: {}", sv(s.message()));
      return error(500, "internal", "the request could not be completed; see the server log");
  }
}

Response methodNotAllowed(std::string_view allow) {
  Response r = error(405, "method_not_allowed", strCat("allowed: ", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// The registration extensions see, plus when it was created.
Json clientJson(const auth::Client& c) {
  Json j = Json::parse(auth::registrationJson(c));
  j["created_ms"] = c.created_ms;
  return j;
}

Json userJson(const auth::User& u) {
  return Json{{"subject", u.subject},           {"email", u.email},
              {"email_verified", u.email_verified}, {"name", u.name},
              {"phone_number", u.phone_number}, {"has_password", u.has_password},
              {"created_ms", u.created_ms}};
}

Json keysJson(const std::vector<crypto::KeyInfo>& keys) {
  Json out = Json::array();
  for (const crypto::KeyInfo& k : keys) {
    out.push_back(Json{{"kid", k.kid},
                       {"alg", k.alg},
                       {"status", k.retired_ms == 0 ? "active" : "retired"},
                       {"created_ms", k.created_ms},
                       {"retired_ms", k.retired_ms},
                       {"expires_ms", k.expires_ms}});
  }
  return Json{{"keys", out}};
}

// Reads a JSON object body field by field without exceptions; the first
// problem is kept and reported as 400.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : j_(Json::parse(body.begin(), body.end(), nullptr, false)) {
    if (j_.is_discarded() || !j_.is_object()) problem_ = "the body must be a JSON object";
  }

  // Fails on fields not in `known`.
  void allowOnly(const std::vector<std::string_view>& known) {
    if (!problem_.empty()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
        problem_ = strCat("unknown field \"", it.key(), "\"");
        return;
      }
    }
  }
  bool has(std::string_view key) const { return problem_.empty() && j_.contains(key); }

  void string(std::string_view key, std::string& out) {
    if (!has(key)) return;
    const Json& v = j_[std::string(key)];
    if (!v.is_string()) {
      problem_ = strCat(key, ": expected a string");
      return;
    }
    out = v.get_ref<const std::string&>();
  }
  void boolean(std::string_view key, bool& out) {
    if (!has(key)) return;
    const Json& v = j_[std::string(key)];
    if (!v.is_boolean()) {
      problem_ = strCat(key, ": expected true or false");
      return;
    }
    out = v.get<bool>();
  }
  // An array of strings, or one string split on commas and spaces (as the
  // CLI's --grant-types and --scopes).
  void list(std::string_view key, std::vector<std::string>& out) {
    if (!has(key)) return;
    const Json& v = j_[std::string(key)];
    if (v.is_string()) {
      out = auth::splitList(v.get_ref<const std::string&>());
      return;
    }
    if (!v.is_array()) {
      problem_ = strCat(key, ": expected an array of strings");
      return;
    }
    out.clear();
    for (const Json& item : v) {
      if (!item.is_string()) {
        problem_ = strCat(key, ": expected an array of strings");
        return;
      }
      out.push_back(item.get<std::string>());
    }
  }

  const std::string& problem() const { return problem_; }

 private:
  Json j_;
  std::string problem_;
};

// The one path segment after a collection ("/web" -> "web"), percent-decoded;
// nullopt if there is none, it is malformed or it has more segments.
std::optional<std::string> recordId(std::string_view rest) {
  if (rest.size() < 2 || rest[0] != '/') return std::nullopt;
  std::string_view segment = rest.substr(1);
  if (segment.find('/') != std::string_view::npos) return std::nullopt;
  absl::StatusOr<std::string> decoded = http::percentDecode(segment, /*plus_as_space=*/false);
  if (!decoded.ok() || decoded->empty()) return std::nullopt;
  return *decoded;
}

}  // namespace

AdminApi::AdminApi(const Config::Admin& config, Dispatcher& next, auth::Users& users,
                   auth::Clients& clients, crypto::KeyStore& keys,
                   const auth::DomainEvents* events)
    : enabled_(config.enabled && !config.token.empty()),
      token_digest_(crypto::sha256(config.token)),
      next_(next),
      users_(users),
      clients_(clients),
      keys_(keys),
      events_(events) {}

bool AdminApi::authorized(const Request& request) const {
  const std::string* header = findHeader(request.headers, "Authorization");
  if (header == nullptr || !startsWithIgnoreCase(*header, "Bearer ")) return false;
  std::string_view token = std::string_view(*header).substr(7);
  // Comparing digests keeps the comparison's time independent of the length.
  return crypto::constantTimeEqual(crypto::sha256(token), token_digest_);
}

Response AdminApi::dispatch(const Request& request) {
  std::string_view path = request.path;
  if (!path.starts_with(kPrefix)) return next_.dispatch(request);
  std::string_view rest = path.substr(kPrefix.size());
  if (!rest.empty() && rest[0] != '/') return next_.dispatch(request);  // e.g. /administrator
  if (!enabled_) return error(404, "not_found", "not found");
  if (!authorized(request)) {
    Response r = error(401, "unauthorized", "missing or wrong admin token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"habanero-admin\"");
    return r;
  }
  auto under = [&](std::string_view collection) {
    if (!rest.starts_with(collection)) return false;
    std::string_view after = rest.substr(collection.size());
    return after.empty() || after[0] == '/';
  };
  if (under("/clients")) return clients(request, rest.substr(8));
  if (under("/users")) return users(request, rest.substr(6));
  if (under("/keys")) return keys(request, rest.substr(5));
  return error(404, "not_found", "no such admin resource");
}

Response AdminApi::clients(const Request& request, std::string_view rest) {
  if (rest.empty() || rest == "/") {
    if (request.method == "GET") {
      absl::StatusOr<std::vector<auth::Client>> all = clients_.list();
      if (!all.ok()) return fromStatus(all.status());
      Json out = Json::array();
      for (const auth::Client& c : *all) out.push_back(clientJson(c));
      return json(200, Json{{"clients", out}});
    }
    if (request.method != "POST") return methodNotAllowed("GET, POST");
    auth::NewClient c;
    std::string problem = readClient(request.body, /*with_id=*/true, c);
    if (!problem.empty()) return error(400, "bad_request", problem);
    absl::StatusOr<auth::AddedClient> added = clients_.add(c);
    if (!added.ok()) return fromStatus(added.status());
    Json out = clientJson(added->client);
    if (!added->generated_secret.empty()) out["client_secret"] = added->generated_secret;
    spdlog::info("admin API: added client '{}'", added->client.client_id);
    publishClient(auth::topics::kClientCreated, added->client);
    return json(201, out);
  }
  std::optional<std::string> id = recordId(rest);
  if (!id) return error(404, "not_found", "no such admin resource");
  if (request.method == "PUT") {
    auth::NewClient c;
    std::string problem = readClient(request.body, /*with_id=*/false, c);
    if (!problem.empty()) return error(400, "bad_request", problem);
    c.client_id = *id;
    if (clients_.find(*id) == nullptr) {
      // The snapshot may lag another process: ask the store before answering 404.
      absl::StatusOr<std::vector<auth::Client>> all = clients_.list();
      if (!all.ok()) return fromStatus(all.status());
      bool stored = std::any_of(all->begin(), all->end(),
                                [&](const auth::Client& x) { return x.client_id == *id; });
      if (!stored) return error(404, "not_found", strCat("no client '", *id, "'"));
    }
    absl::StatusOr<auth::AddedClient> replaced = clients_.upsert(c);
    if (!replaced.ok()) return fromStatus(replaced.status());
    Json out = clientJson(replaced->client);
    if (!replaced->generated_secret.empty()) out["client_secret"] = replaced->generated_secret;
    spdlog::info("admin API: replaced client '{}'", *id);
    publishClient(auth::topics::kClientChanged, replaced->client);
    return json(200, out);
  }
  if (request.method != "DELETE") return methodNotAllowed("PUT, DELETE");
  absl::Status removed = clients_.remove(*id);
  if (!removed.ok()) return fromStatus(removed);
  spdlog::info("admin API: removed client '{}'", *id);
  if (events_ != nullptr) {
    events_->publish(auth::topics::kClientRemoved, {{"client_id", *id}, {"by", "admin_api"}});
  }
  return Response{.status = 204, .headers = {{"Cache-Control", "no-store"}}, .body = ""};
}

std::string AdminApi::readClient(std::string_view text, bool with_id, auth::NewClient& c) {
  BodyReader body(text);
  std::vector<std::string_view> allowed = {"secret", "public", "redirect_uris",
                                           "post_logout_redirect_uris", "grant_types", "scopes",
                                           "name", "first_party", "token_format"};
  if (with_id) allowed.push_back("id");
  body.allowOnly(allowed);
  if (with_id) body.string("id", c.client_id);
  if (body.has("secret")) {
    std::string secret;
    body.string("secret", secret);
    c.secret = std::move(secret);
  }
  body.boolean("public", c.is_public);
  body.list("redirect_uris", c.redirect_uris);
  body.list("post_logout_redirect_uris", c.post_logout_redirect_uris);
  body.list("grant_types", c.grant_types);
  body.list("scopes", c.scopes);
  body.string("name", c.name);
  body.boolean("first_party", c.first_party);
  body.string("token_format", c.token_format);
  return body.problem();
}

void AdminApi::publishClient(std::string_view topic, const auth::Client& c) const {
  if (events_ == nullptr) return;
  events_->publish(topic, {{"client_id", c.client_id},
                           {"name", c.name},
                           {"public", c.is_public},
                           {"first_party", c.first_party},
                           {"grant_types", c.grant_types},
                           {"scopes", c.scopes},
                           {"redirect_uris", c.redirect_uris},
                           {"by", "admin_api"}});
}

Response AdminApi::users(const Request& request, std::string_view rest) {
  if (rest.empty() || rest == "/") {
    if (request.method == "GET") {
      absl::StatusOr<std::vector<auth::User>> all = users_.list();
      if (!all.ok()) return fromStatus(all.status());
      Json out = Json::array();
      for (const auth::User& u : *all) out.push_back(userJson(u));
      return json(200, Json{{"users", out}});
    }
    if (request.method != "POST") return methodNotAllowed("GET, POST");
    BodyReader body(request.body);
    body.allowOnly({"email", "password", "name", "phone", "email_verified"});
    auth::NewUser u;
    body.string("email", u.email);
    if (body.has("password")) {
      std::string password;
      body.string("password", password);
      u.password = std::move(password);
    }
    body.string("name", u.name);
    body.string("phone", u.phone_number);
    body.boolean("email_verified", u.email_verified);
    if (!body.problem().empty()) return error(400, "bad_request", body.problem());
    absl::StatusOr<auth::User> added = users_.add(u);
    if (!added.ok()) return fromStatus(added.status());
    spdlog::info("admin API: added user {}", added->email);
    return json(201, userJson(*added));
  }
  std::optional<std::string> email = recordId(rest);
  if (!email) return error(404, "not_found", "no such admin resource");
  if (request.method != "DELETE") return methodNotAllowed("DELETE");
  absl::Status removed = users_.remove(*email);
  if (!removed.ok()) return fromStatus(removed);
  spdlog::info("admin API: removed user {}", *email);
  return Response{.status = 204, .headers = {{"Cache-Control", "no-store"}}, .body = ""};
}

Response AdminApi::keys(const Request& request, std::string_view rest) {
  if (rest.empty() || rest == "/") {
    if (request.method != "GET") return methodNotAllowed("GET");
    return json(200, keysJson(keys_.listKeys()));
  }
  if (rest != "/rotate") return error(404, "not_found", "no such admin resource");
  if (request.method != "POST") return methodNotAllowed("POST");
  absl::Status rotated = keys_.rotate();
  if (!rotated.ok()) return fromStatus(rotated);
  std::vector<crypto::KeyInfo> infos = keys_.listKeys();
  spdlog::info("admin API: rotated signing keys; active key {}",
               infos.empty() ? std::string("-") : infos[0].kid);
  if (events_ != nullptr && !infos.empty()) {
    Json fields = {{"kid", infos[0].kid}, {"by", "admin_api"}};
    if (infos.size() > 1) fields["previous_kid"] = infos[1].kid;
    events_->publish(auth::topics::kKeyRotated, std::move(fields));
  }
  return json(200, keysJson(infos));
}

}  // namespace habanero::server
