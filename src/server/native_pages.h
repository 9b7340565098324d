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
// Everything else goes to the next Dispatcher. Pages come from the one shell
// every page uses (web/page.html, or the operator's [web] page_template), escape
// every value, carry no scripts and the one Content-Security-Policy of
// sdk/cpp/habanero/page_shell.hh — the same as every extension's pages.
//
//   NativePages pages(router, sessions, [&] { return authenticatorsOf(router); }, shell);
//   HttpServer server(options, pages);
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <habanero/page_shell.hh>
#include <habanero/template.hh>
#include <habanero/text.hh>

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

  // `next` and `sessions` are borrowed and must outlive this. `page_template`:
  // the shell of the pages (checked by the caller: sdk::pageTemplateProblem);
  // empty means the built-in web/page.html.
  NativePages(Dispatcher& next, const auth::Sessions& sessions, MethodsFn methods,
              std::string page_template = {});

  Response dispatch(const Request& request) override;

 private:
  Response loginPage(const Request& request) const;
  Response page(int status, std::string_view title, std::string body_html) const;
  Response message(int status, std::string_view text) const;

  Dispatcher& next_;
  const auth::Sessions& sessions_;
  MethodsFn methods_;
  std::string page_template_;
};

// The escaping and templates of every page are the guest library's, shared
// with the extensions (pure headers).
using sdk::htmlEscape;
using sdk::renderTemplate;

}  // namespace habanero::server
