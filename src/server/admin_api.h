// The admin HTTP API: the CLI's record commands over HTTP, for operators who
// cannot run `habanero` next to the server. Off by default ([admin] enabled).
//
//   GET    /admin/clients          registrations (no secret material)
//   POST   /admin/clients          JSON {id, secret?, public?, redirect_uris, post_logout_redirect_uris,
//                                  grant_types, scopes, name, first_party, token_format}; 201 with the
//                                  registration and, when the host generated it, "client_secret"
//                                  (the only time it is visible)
//   PUT    /admin/clients/{id}     JSON as for POST (without id): replaces the registration
//                                  (a secret not given is generated anew); 200, or 404
//   DELETE /admin/clients/{id}     204
//   GET    /admin/users            users (no password hashes)
//   POST   /admin/users            JSON {email, password?, name?, phone?, email_verified?}; 201
//   DELETE /admin/users/{email}    204; the user's sessions end at once
//   GET    /admin/keys             signing keys in use (no secret material)
//   POST   /admin/keys/rotate      a new active key; 200 with the key list
//
// Every request needs "Authorization: Bearer <admin.token>" (compared in
// constant time); otherwise 401 with WWW-Authenticate: Bearer. Errors are
// JSON {"error": code, "message": text} with 400 (bad input), 404 (no such
// record or route), 405, 409 (id or email taken). When the API is disabled,
// every /admin/ path is 404. Changes act on the running server's own Clients
// and KeyStore, so they take effect at once (no reload needed). Client and key
// changes are published as domain events when `events` is given
// (habanero.client.created / changed / removed, habanero.key.rotated; docs/events.md).
//
//   AdminApi admin(config.admin, pages, users, clients, keys);
//   HttpServer server(options, admin);
//
// Thread-safe: dispatch() runs concurrently on the front's io threads.
#pragma once

#include <string>

#include "habanero/dispatch.h"
#include "server/config.h"

namespace habanero::auth {
struct Client;
class Clients;
class DomainEvents;
struct NewClient;
class Users;
}  // namespace habanero::auth

namespace habanero::crypto {
class KeyStore;
}  // namespace habanero::crypto

namespace habanero::server {

class AdminApi final : public Dispatcher {
 public:
  static constexpr std::string_view kPrefix = "/admin";

  // Everything but /admin and /admin/... goes to `next`. The references are
  // borrowed and must outlive this.
  AdminApi(const Config::Admin& config, Dispatcher& next, auth::Users& users,
           auth::Clients& clients, crypto::KeyStore& keys,
           const auth::DomainEvents* events = nullptr);

  Response dispatch(const Request& request) override;

 private:
  bool authorized(const Request& request) const;
  Response clients(const Request& request, std::string_view rest);
  Response users(const Request& request, std::string_view rest);
  Response keys(const Request& request, std::string_view rest);
  // Reads a registration from a JSON body (POST: with "id"; PUT: the id is the
  // path's). Returns the problem, "" when none.
  static std::string readClient(std::string_view body, bool with_id, auth::NewClient& c);
  void publishClient(std::string_view topic, const auth::Client& c) const;

  const bool enabled_;
  const std::string token_digest_;  // SHA-256 of admin.token
  Dispatcher& next_;
  auth::Users& users_;
  auth::Clients& clients_;
  crypto::KeyStore& keys_;
  const auth::DomainEvents* events_;  // may be null
};

}  // namespace habanero::server
