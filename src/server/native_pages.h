// Pages the host answers itself, in front of the extension router (design 0001):
//
//   GET /login?rt=<id>      the login page of a pending login attempt: with one
//                           authenticator configured, a redirect to
//                           <its mount>/?rt=<id>; with several, a page listing
//                           them (by display name); an unknown or expired
//                           attempt gets a 400 page saying to start again
//   GET /static/style.css   the one stylesheet (web/style.css), for the host's
//                           pages and authenticators' pages
//
// Everything else goes to the next Dispatcher. Pages are built from web/
// (compiled in), escape every value, carry no scripts and a strict
// Content-Security-Policy.
//
//   NativePages pages(router, sessions, [&] { return authenticatorsOf(router); });
//   HttpServer server(options, pages);
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sessions.h"
#include "habanero/dispatch.h"

namespace habanero::server {

// A login method the /login page offers: an authenticator extension.
struct LoginMethod {
  std::string mount;         // e.g. "/login/password"
  std::string display_name;  // e.g. "Email and password"
};

class NativePages final : public Dispatcher {
 public:
  // The methods currently available (called per /login request; must be
  // thread-safe and cheap, e.g. a read of the router's snapshot).
  using MethodsFn = std::function<std::vector<LoginMethod>()>;

  // `next` and `sessions` are borrowed and must outlive this.
  NativePages(Dispatcher& next, const auth::Sessions& sessions, MethodsFn methods);

  Response dispatch(const Request& request) override;

 private:
  Response loginPage(const Request& request) const;

  Dispatcher& next_;
  const auth::Sessions& sessions_;
  MethodsFn methods_;
};

// Escapes & < > " ' for HTML text and attribute values.
std::string htmlEscape(std::string_view text);

// Fills {{name}} placeholders of `tmpl` from `values` (already escaped) in one
// pass; unknown placeholders are left as they are.
std::string renderTemplate(std::string_view tmpl,
                           const std::vector<std::pair<std::string_view, std::string>>& values);

}  // namespace habanero::server
