// clients.h — client registrations (from the host) and client authentication.
//
// The host keeps registrations and secret hashes (capability "clients"); the extension
// reads a registration with client_get and checks a secret with client_authenticate. It
// never sees a secret hash.
//
// Authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3):
//   client_secret_basic  Authorization: Basic base64(urlenc(id) ":" urlenc(secret))
//   client_secret_post   client_id and client_secret in the form body
//   none                 client_id only, for public clients
// Using two methods at once is invalid_request; every failure to authenticate is
// invalid_client with 401 (and WWW-Authenticate: Basic when Basic was tried).
#ifndef HABANERO_EXTENSIONS_OAUTH2_CLIENTS_H_
#define HABANERO_EXTENSIONS_OAUTH2_CLIENTS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace habanero::oauth2 {

struct Client {
  std::string id;
  std::string name;
  bool is_public = false;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
  std::vector<std::string> grant_types;  // default: authorization_code, refresh_token
  // The scopes the client may ask for; nullopt means the server's supported scopes.
  std::optional<std::vector<std::string>> scopes;
  bool first_party = false;
  bool opaque_tokens = false;  // token_format "opaque"
  bool from_document = false;  // a Client Identifier Document (client_id is its URL)

  bool allowsGrant(std::string_view grant) const;
  // Whether every requested scope is one this client may ask for.
  bool allowsScopes(const std::vector<std::string>& requested) const;
  std::string displayName() const { return name.empty() ? id : name; }
};

enum class ClientLookup { Found, NotFound, Unavailable };

// Reads a registration: the host's (client_get), or, for a client_id that is an https URL
// (http on localhost) the host does not know, a Client Identifier Document (Solid-OIDC
// §5.1) fetched with http_fetch: its "client_id" must equal the URL; its redirect_uris are
// matched exactly; client_name is shown on the consent page; it is a public client
// (token_endpoint_auth_method "none"); grant_types are limited to authorization_code and
// refresh_token, scopes to those of `scope`. A document is used for 5 minutes (KV
// `cid/<hash>`); a refused one (reason logged) is remembered for a minute. `out` is set only
// when Found.
ClientLookup loadClient(std::string_view client_id, Client& out);

// The outcome of client authentication; when `ok` is false the caller answers with
// respondOAuthError(status, error, description, basic_challenge).
struct ClientAuth {
  bool ok = false;
  Client client;
  bool authenticated = false;  // a secret was checked (false: a public client via "none")
  int status = 401;
  std::string error = "invalid_client";
  std::string description;
  bool basic_challenge = false;
};

// Authenticates the client of a form POST. With `allow_public`, a public client may
// identify itself by client_id alone; otherwise only confidential clients pass.
ClientAuth authenticateClient(bool allow_public);

// The scopes this server supports (scopes_supported in discovery).
const std::vector<std::string>& supportedScopes();

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_CLIENTS_H_
