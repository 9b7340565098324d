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

// The host's pages load nothing but its own stylesheet.
constexpr std::string_view kPageCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

Response page(int status, std::string_view title, std::string body_html) {
  Response r;
  r.status = status;
  r.headers = {{"Content-Type", "text/html; charset=utf-8"},
               {"Cache-Control", "no-store"},
               {"Content-Security-Policy", std::string(kPageCsp)},
               {"X-Frame-Options", "DENY"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"}};
  r.body = renderTemplate(web::kLoginHtml,
                          {{"title", htmlEscape(title)}, {"body", std::move(body_html)}});
  return r;
}

Response message(int status, std::string_view text) {
  return page(status, "Sign in", strCat("<p class=\"error\">", htmlEscape(text), "</p>\n"));
}

Response methodNotAllowed() {
  Response r = Response::text(405, "method not allowed\n");
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

bool isGet(const Request& request) { return request.method == "GET" || request.method == "HEAD"; }

}  // namespace

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string renderTemplate(std::string_view tmpl,
                           const std::vector<std::pair<std::string_view, std::string>>& values) {
  std::string out;
  out.reserve(tmpl.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("{{", i);
    if (open == std::string_view::npos) break;
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(tmpl.substr(i, open - i));
    std::string_view name = tmpl.substr(open + 2, close - open - 2);
    auto it = std::find_if(values.begin(), values.end(),
                           [&](const auto& v) { return v.first == name; });
    if (it != values.end()) out.append(it->second);
    else out.append(tmpl.substr(open, close + 2 - open));
    i = close + 2;
  }
  out.append(tmpl.substr(std::min(i, tmpl.size())));
  return out;
}

NativePages::NativePages(Dispatcher& next, const auth::Sessions& sessions, MethodsFn methods)
    : next_(next), sessions_(sessions), methods_(std::move(methods)) {}

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
      sessions_.findAttempt(rt.value, request.headers);
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
  std::string body = "<p>Choose how to sign in:</p>\n<ul class=\"methods\">\n";
  for (const LoginMethod& m : methods) {
    body += strCat("<li><a class=\"button\" href=\"", htmlEscape(linkTo(m)), "\">",
                   htmlEscape(m.display_name), "</a></li>\n");
  }
  body += "</ul>\n";
  return page(200, "Sign in", std::move(body));
}

}  // namespace habanero::server
