// html.h — the oauth2 extension's own pages: the logout confirmation and "signed out".
// Pages come from the guest library's one
// shell (<habanero/page.hh>): no scripts, the host's stylesheet, one Content-Security-Policy.
#ifndef HABANERO_EXTENSIONS_OAUTH2_HTML_H_
#define HABANERO_EXTENSIONS_OAUTH2_HTML_H_

#include <string>
#include <string_view>

namespace habanero::oauth2 {

// The "sign out?" confirmation for a logout request that could not be trusted on its own.
void respondLogoutConfirmPage(std::string_view action, std::string_view logout_id,
                              std::string_view client_name);

// "You are signed out."
void respondSignedOutPage();

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_HTML_H_
