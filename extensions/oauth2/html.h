// html.h — the extension's server-rendered pages (error, consent, logout).
//
// Every page is complete HTML that works without JavaScript, escapes every dynamic value,
// and carries the security headers the issue asks for: Content-Security-Policy (no
// scripts; the one inline style allowed by its hash; frame-ancestors 'none'),
// Referrer-Policy: no-referrer, X-Frame-Options: DENY, X-Content-Type-Options: nosniff and
// Cache-Control: no-store. Forms carry a CSRF token the caller stored server-side.
#ifndef HABANERO_EXTENSIONS_OAUTH2_HTML_H_
#define HABANERO_EXTENSIONS_OAUTH2_HTML_H_

#include <string>
#include <string_view>
#include <vector>

namespace habanero::oauth2 {

// A page with `title` and `body_html` (already escaped markup) and status `status`.
void respondPage(int status, std::string_view title, std::string_view body_html);

// An error page: `title` and `message` are plain text (escaped here).
void respondErrorPage(int status, std::string_view title, std::string_view message);

struct ConsentView {
  std::string client_name;  // may be empty: the client_id is shown instead
  std::string client_id;
  std::string user;         // who is signed in (email or name); may be empty
  std::vector<std::string> scopes;
  std::string action;       // the form's target path
  std::string pending_id;   // hidden field p
  std::string csrf;         // hidden field csrf
};

// The consent page: names the client and each scope, with Allow and Deny buttons.
void respondConsentPage(const ConsentView& view);

// The "sign out?" confirmation for a logout request that could not be trusted on its own.
void respondLogoutConfirmPage(std::string_view action, std::string_view logout_id,
                              std::string_view client_name);

// "You are signed out."
void respondSignedOutPage();

// A human description of a scope ("See your email address").
std::string scopeDescription(std::string_view scope);

}  // namespace habanero::oauth2

#endif  // HABANERO_EXTENSIONS_OAUTH2_HTML_H_
