// CORS for browser-based public clients (single-page apps), in front of the
// extension router.
//
// A page on https://app.example calling our /token with fetch() needs the
// browser's permission, which the server grants per origin:
//
//   Cors cors(next, clients, {.paths = {"/token", "/userinfo", "/revoke"},
//                             .public_paths = {"/.well-known/openid-configuration", "/jwks"},
//                             .allowed_origins = {}});
//
// Contract:
//   - `public_paths` (discovery, JWKS) hold no secrets and need no
//     credentials: every origin may read them (Access-Control-Allow-Origin: *,
//     never with Allow-Credentials).
//   - `paths` (token, userinfo, revocation): an origin is allowed when it is the
//     origin of a redirect URI of a registered client, or listed in
//     `allowed_origins` (exact "scheme://host[:port]"). When the request names
//     its client (`client_id` in a form body, as public clients send it), only
//     that client's redirect URI origins (and `allowed_origins`) count. The
//     allowed origin is echoed exactly, with `Vary: Origin`; credentials
//     (cookies) are never allowed, so no request can carry a session.
//   - A preflight (OPTIONS with Access-Control-Request-Method) on those paths
//     is answered here with 204 and the allowed methods and headers; from an
//     origin that is not allowed, 403 without CORS headers. Other OPTIONS
//     requests, and everything on other paths, pass through untouched.
//   - A response to a disallowed origin passes through without CORS headers:
//     the browser then refuses to show it to the page.
// Thread-safe: reads the clients' snapshot per request.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/clients.h"
#include "habanero/dispatch.h"

namespace habanero::server {

// "scheme://host[:port]" of an http(s) URI, lower-cased, default ports
// dropped; "" for anything else (custom schemes of native apps, junk).
std::string originOf(std::string_view uri);

class Cors final : public Dispatcher {
 public:
  struct Options {
    std::set<std::string, std::less<>> paths;         // credentialed endpoints
    std::set<std::string, std::less<>> public_paths;  // readable from any origin
    std::vector<std::string> allowed_origins;         // besides the clients' origins
    uint32_t max_age_s = 600;                         // preflight cache
  };

  // `next` and `clients` are borrowed and must outlive this.
  Cors(Dispatcher& next, const auth::Clients& clients, Options options);

  Response dispatch(const Request& request) override;

 private:
  bool allowed(std::string_view origin, const Request& request) const;

  Dispatcher& next_;
  const auth::Clients& clients_;
  const Options options_;
};

}  // namespace habanero::server
