#include "server/native_pages.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"
#include "http/form.h"
#include "server/web_assets.h"

namespace habanero::server {
namespace {

constexpr std::string_view kLoginPath = "/login";
constexpr std::string_view kStylePath = "/static/style.css";

Response methodNotAllowed() {
  Response r = Response::text(405, "method not allowed\n");
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

bool isGet(const Request& request) { return request.method == "GET" || request.method == "HEAD"; }

}  // namespace

NativePages::NativePages(Dispatcher& next, const auth::Sessions& sessions, MethodsFn methods,
                         std::string page_template)
    : next_(next),
      sessions_(sessions),
      methods_(std::move(methods)),
      page_template_(page_template.empty() ? std::string(web::kPageHtml)
                                           : std::move(page_template)) {}

Response NativePages::page(int status, std::string_view title, std::string body_html) const {
  Response r;
  r.status = status;
  // The headers of every page, the host's as the extensions' (one CSP).
  for (auto [name, value] : sdk::kPageHeaders) r.headers.emplace_back(name, value);
  r.body = sdk::renderPage(page_template_, title, body_html);
  return r;
}

Response NativePages::message(int status, std::string_view text) const {
  return page(status, "Sign in",
              strCat("<h1>Sign in</h1>\n<p class=\"error\">", htmlEscape(text), "</p>\n"));
}

Response NativePages::dispatch(const Request& request) {
  if (request.path == kStylePath) {
    if (!isGet(request)) return methodNotAllowed();
    Response r;
    r.headers = {{"Content-Type", "text/css; charset=utf-8"},
                 {"Cache-Control", "public, max-age=3600"},
                 {"X-Content-Type-Options", "nosniff"}};
    r.body = std::string(web::kStyleCss);
    return r;
  }
  if (request.path == kLoginPath) {
    if (!isGet(request)) return methodNotAllowed();
    return loginPage(request);
  }
  return next_.dispatch(request);
}

Response NativePages::loginPage(const Request& request) const {
  static constexpr std::string_view kExpired =
      "This sign-in link has expired; start again from the application.";
  absl::StatusOr<http::Params> params = http::parseForm(request.query);
  if (!params.ok()) return message(400, kExpired);
  http::Params::Lookup rt = params->find("rt");
  if (!rt.ok()) return message(400, kExpired);
  absl::StatusOr<std::optional<auth::LoginAttempt>> attempt =
      sessions_.findAttempt(rt.value, request.headers, request.secure);
  if (!attempt.ok()) {
    spdlog::error("/login: {}", sv(attempt.status().message()));
    return message(503, "Sign-in is unavailable right now; try again in a moment.");
  }
  if (!attempt->has_value()) return message(400, kExpired);

  std::vector<LoginMethod> methods = methods_();
  if (methods.empty()) {
    spdlog::warn("/login: no authenticator extension is loaded");
    return message(503, "No sign-in method is available; ask the operator to enable one.");
  }
  auto linkTo = [&](const LoginMethod& m) {
    std::string_view mount = m.mount;
    if (mount.ends_with('/')) mount.remove_suffix(1);
    return strCat(mount, "/?rt=", http::percentEncode(rt.value));
  };
  if (methods.size() == 1) {
    Response r;
    r.status = 302;
    r.headers = {{"Location", linkTo(methods[0])},
                 {"Cache-Control", "no-store"},
                 {"Referrer-Policy", "no-referrer"}};
    return r;
  }
  std::string body = "<h1>Sign in</h1>\n<p>Choose how to sign in:</p>\n<ul class=\"methods\">\n";
  for (const LoginMethod& m : methods) {
    body += strCat("<li><a class=\"button\" href=\"", htmlEscape(linkTo(m)), "\">",
                   htmlEscape(m.display_name), "</a></li>\n");
  }
  body += "</ul>\n";
  return page(200, "Sign in", std::move(body));
}

}  // namespace habanero::server
