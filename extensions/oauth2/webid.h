// webid.h — WebIDs for Solid-OIDC: the `webid` claim of a user or a client, the profile
// documents this server hosts, and the check of an external WebID.
//
// A local user's WebID is <issuer>/webid/<sub>#me, whose profile document (served here, as
// Turtle) says `<#me> solid:oidcIssuer <issuer>` and carries the same statement as a Link
// header. A user whose record (user_get) has a "webid" keeps that one — but only once its
// profile, fetched with http_fetch and parsed as Turtle by the host, contains the triple
// <webid> solid:oidcIssuer <this issuer>. The verdict, either way, is cached in KV for
// webid_cache_ttl seconds (`wv/<hash>`). If the check fails the webid scope is not granted
// (the token response's scope says so) and the reason is logged at warn; no token carries a
// WebID this server has not verified.
#ifndef HABANERO_EXTENSIONS_OAUTH2_WEBID_H_
#define HABANERO_EXTENSIONS_OAUTH2_WEBID_H_

#include <string>
#include <string_view>

#include "config.h"
#include "guest.h"

namespace habanero::oauth2 {

inline constexpr std::string_view kSolidOidcIssuer = "http://www.w3.org/ns/solid/terms#oidcIssuer";

// The WebID this server hosts for `sub`.
std::string localWebid(const Config& config, std::string_view sub);

// The WebID of `user` (a user_get record) if it may appear in tokens: the external one
// once verified, else the local one. Empty when an external WebID does not name this
// issuer (logged).
std::string webidForUser(const Config& config, const Json& user);

// Whether the profile of `webid` names this server as its solid:oidcIssuer (cached).
bool webidNamesThisIssuer(const Config& config, std::string_view webid);

// The WebID a client_credentials client acts for (setting webid_clients), once verified;
// empty if none or not verified.
std::string webidForClient(const Config& config, std::string_view client_id);

// GET /webid/<sub>: the Turtle profile of a local user.
void handleWebidProfile(const Config& config);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_WEBID_H_
