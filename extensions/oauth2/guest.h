// guest.h — the guest library (sdk/cpp/habanero/) as the oauth2 extension uses it: the
// headers, the library's names visible unqualified inside habanero::oauth2, and the few
// answers whose wording is this extension's own.
#ifndef HABANERO_EXTENSIONS_OAUTH2_GUEST_H_
#define HABANERO_EXTENSIONS_OAUTH2_GUEST_H_

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

#include <string_view>

namespace habanero::oauth2 {

namespace sdk = habanero::sdk;
using namespace habanero::sdk;

// The realm of this extension's WWW-Authenticate challenges.
inline constexpr std::string_view kRealm = "oauth2";

// An RFC 6750 §3 error of this server's protected resources (sdk::respondBearerError).
inline void respondBearerError(int status, std::string_view error, std::string_view description) {
  sdk::respondBearerError(kRealm, status, error, description);
}

// An error page for a browser: `title` and `message` plain text.
inline void respondErrorPage(int status, std::string_view title, std::string_view message) {
  sdk::respondErrorPage(status, title, message,
                        "Return to the application you came from and try again.");
}

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_GUEST_H_
