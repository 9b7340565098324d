// page.hh — the HTML page shell of the magic-link authenticators: the same security headers
// and markup as the password authenticator (no script, the host's one stylesheet, CSP with
// frame-ancestors 'none', Referrer-Policy no-referrer, Cache-Control no-store).
//
//   page(200, "Sign in", "<h1>Sign in</h1>\n" + form);      // content is trusted markup
//   errorPage(400, "Link expired", "Start again.");          // texts are escaped here
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_PAGE_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_PAGE_HH_

#include <string>
#include <string_view>

#include "util.hh"

namespace habanero::magic {

// The one stylesheet of Habanero's pages, served by the host (web/style.css).
inline constexpr std::string_view kStylesheet = "/static/style.css";

// Sets status, the headers every page carries, and the body around `content` (markup the
// caller built with every untrusted value escaped).
inline void page(int32_t status, std::string_view title, std::string_view content) {
  constexpr std::string_view kCsp =
      "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'";
  // No form-action: browsers apply it to the redirects after a post, and the login ends in
  // a redirect to the client.
  sdk::setStatus(status);
  sdk::addHeader("content-type", "text/html; charset=utf-8");
  sdk::addHeader("content-security-policy", kCsp);
  sdk::addHeader("referrer-policy", "no-referrer");
  sdk::addHeader("x-content-type-options", "nosniff");
  sdk::addHeader("x-frame-options", "DENY");
  sdk::addHeader("cache-control", "no-store");
  std::string html;
  html.reserve(2048 + content.size());
  html += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  html += "<meta name=\"robots\" content=\"noindex, nofollow\">\n";
  html += "<title>" + htmlEscape(title) + "</title>\n";
  html += "<link rel=\"stylesheet\" href=\"" + std::string(kStylesheet) + "\">\n";
  html += "</head>\n<body>\n<main class=\"card\">\n";
  html += content;
  html += "</main>\n</body>\n</html>\n";
  sdk::write(html);
}

// A page with a heading and one paragraph (both escaped), and optionally a link.
inline void errorPage(int32_t status, std::string_view heading, std::string_view text,
                      std::string_view linkHref = {}, std::string_view linkText = {}) {
  std::string c =
      "<h1>" + htmlEscape(heading) + "</h1>\n<p id=\"message\">" + htmlEscape(text) + "</p>\n";
  if (!linkHref.empty()) {
    c += "<p><a href=\"" + htmlEscape(linkHref) + "\">" + htmlEscape(linkText) + "</a></p>\n";
  }
  page(status, heading, c);
}

inline void unavailablePage() {
  errorPage(503, "Try again later", "Signing in is not possible right now.");
}

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_PAGE_HH_
