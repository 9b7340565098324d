// indieauth.h — the IndieAuth authorization server's parts, shared by its handlers.
//
// The extension is an IndieAuth (living standard of 11 July 2024) authorization server with
// its own issuer, `{server issuer}{mount}` (default mount "/indieauth"). See README.md for the
// endpoints, settings and the decisions behind them. Everything here runs inside one request;
// state between requests lives in the extension's KV (store layout in store.cc):
//
//   p/<id>        pending authorization request (login, consent)          10 min
//   c/<hash>      authorization code (single use: kv_take)                code_ttl
//   cu/<hash>     what a redeemed code issued, so a replay revokes it     1 h
//   at/<hash>     access token (opaque, 256 bits, stored hashed)          access_token_ttl
//   rt/<hash>     refresh token (rotated on use)                          refresh_token_ttl
//   w/<hash>      verdict on a user's own website (links here or not)     website_check_ttl
#ifndef HABANERO_EXTENSIONS_INDIEAUTH_INDIEAUTH_H_
#define HABANERO_EXTENSIONS_INDIEAUTH_INDIEAUTH_H_

#include <habanero.hh>
#include <habanero/codec.hh>
#include <habanero/consent.hh>
#include <habanero/form.hh>
#include <habanero/json.hh>
#include <habanero/oauth_params.hh>
#include <habanero/oauth_response.hh>
#include <habanero/page.hh>
#include <habanero/pkce.hh>
#include <habanero/random.hh>
#include <habanero/records.hh>
#include <habanero/redirect_uri.hh>
#include <habanero/session.hh>
#include <habanero/settings.hh>
#include <habanero/text.hh>
#include <habanero/users.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace habanero::indieauth {

// The extension is written on the guest library (sdk/cpp/habanero/): its names are used
// unqualified here.
namespace sdk = habanero::sdk;
using namespace habanero::sdk;

// ---- configuration (config.cc) -----------------------------------------------------------

// How long a pending authorization request (login, consent) stays valid.
inline constexpr int64_t kPendingTtlSeconds = 600;
// The longest code lifetime the settings may ask for (the standard recommends at most 10 min).
inline constexpr int64_t kMaxCodeTtlSeconds = 600;

struct Config {
  std::string base;    // the server's issuer without a trailing '/'
  std::string mount;   // "/indieauth"; "" when mounted at "/"
  std::string issuer;  // base + mount: our IndieAuth issuer identifier
  int64_t code_ttl = 300;
  int64_t access_token_ttl = 3600;
  int64_t refresh_token_ttl = 30 * 24 * 3600;  // 0: no refresh tokens
  int64_t website_check_ttl = 300;
  std::string introspection_token;  // "" : only registered confidential clients may introspect
  bool allow_loopback_profiles = false;

  std::string url(std::string_view route) const { return issuer + std::string(route); }
  std::string metadataUrl() const { return url("/.well-known/oauth-authorization-server"); }
  std::string authorizationEndpoint() const { return url("/auth"); }
  std::string tokenEndpoint() const { return url("/token"); }
  std::string profileUrl(std::string_view sub) const { return url("/u/") + std::string(sub); }
  // A local path of this extension ("/indieauth/consent").
  std::string localPath(std::string_view route) const { return mount + std::string(route); }
};

// Reads the settings; nullopt (logged) when `issuer` is missing or not an http(s) URL.
std::optional<Config> loadConfig();

int64_t nowSeconds();

// ---- answers with this extension's wording ------------------------------------------------

// The realm of this extension's WWW-Authenticate challenges.
inline constexpr std::string_view kRealm = "indieauth";

// RFC 6750 §3: WWW-Authenticate: Bearer (with error only when credentials were presented).
inline void respondBearerError(int status, std::string_view error, std::string_view description) {
  sdk::respondBearerError(kRealm, status, error, description);
}

// An error page for a browser: `title` and `message` plain text.
inline void respondErrorPage(int status, std::string_view title, std::string_view message) {
  sdk::respondErrorPage(status, title, message, "Return to the application you came from.");
}

// 405 with Allow: an error page for browser routes (`html`), else an OAuth error.
inline void respondMethodNotAllowed(std::string_view allow, bool html) {
  if (!html) return sdk::respondMethodNotAllowed(allow);
  sdk::addHeader("allow", allow);
  respondErrorPage(405, "Method not allowed", "This address does not accept that method.");
}

// ---- clients (client.cc) --------------------------------------------------------------------

// What the server knows about a client after client information discovery (§4.2).
struct ClientInfo {
  std::string client_id;  // canonical
  std::string name;       // client_name / h-app p-name; "" if unknown
  std::string uri;        // client_uri / h-app u-url (a prefix of client_id); "" if unknown
  std::string logo;       // logo_uri / h-app u-logo, absolute; "" if unknown
  std::vector<std::string> redirect_uris;  // published, resolved to absolute URLs
  bool fetched = false;                    // a document was retrieved and used
  std::string source;                      // "metadata", "h-app", "html", or "" (not fetched)
  std::string note;                        // why nothing was fetched, for logs

  // The name to show: client_name, else the client_id's host.
  std::string displayName() const;
};

enum class Discovery { Ok, Refused, Unavailable };

// Fetches and reads the client_id document. Refused (with `error` for the page) when the
// document contradicts the client_id (JSON with another client_id). A client_id on a
// loopback address is never fetched (§4.2); neither is one the host's fetch guard refuses.
Discovery discoverClient(std::string_view client_id_canonical, std::string_view client_id_raw,
                         ClientInfo& out, std::string& error);

// §4.2.2 / §10.1: whether the client may use `redirect_uri`: listed in its metadata
// (exactly), or on the client_id's scheme, host and port.
bool redirectUriAllowed(const ClientInfo& client, std::string_view redirect_uri);

// ---- the user's identity (identity.cc) ------------------------------------------------------

struct Identity {
  std::string sub;
  std::string me;       // the profile URL this server vouches for
  std::string hosted;   // the profile page Habanero hosts for the user
  std::string website;  // the user's own site ("" if none configured)
  bool website_verified = false;
  std::string website_problem;  // why the website is not used as `me`
  Json user;                    // the host's user record (claims)
};

// Loads the user and decides their `me`: the website once verified (fetched, and it links
// to this server's metadata or authorization endpoint), else the hosted profile URL.
Lookup resolveIdentity(const Config& config, std::string_view sub, Identity& out);

// The §5.3.4 profile object for the scopes: name, url, photo; email with "email".
Json profileFor(const Identity& id, const std::vector<std::string>& scopes);

// ---- handlers ---------------------------------------------------------------------------------

void handleMetadata(const Config& c);                           // metadata.cc
void handleProfilePage(const Config& c, std::string_view sub);  // metadata.cc
void handleAuthorization(const Config& c);        // authorize.cc: GET request, POST redeem
void handleAuthorizationResume(const Config& c);  // authorize.cc
void handleConsent(const Config& c);              // authorize.cc
void handleToken(const Config& c);                // token.cc
void handleIntrospect(const Config& c);           // token.cc
void handleRevoke(const Config& c);               // token.cc
void handleUserinfo(const Config& c);             // token.cc

// Redeems an authorization code (§5.3): at the authorization endpoint (`at_token_endpoint`
// false: me and profile only) or the token endpoint (access token too). token.cc.
void redeemCode(const Config& c, bool at_token_endpoint);

}  // namespace habanero::indieauth

#endif  // HABANERO_EXTENSIONS_INDIEAUTH_INDIEAUTH_H_
