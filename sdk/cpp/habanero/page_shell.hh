// page_shell.hh — the one page shell and the one Content-Security-Policy of every HTML page
// Habanero shows: the host's own /login page and every extension's pages.
//
// Pure (no host calls), so the host (src/server/native_pages.cc, config.cc) and guests
// (<habanero/page.hh>) share it. The shell itself is web/page.html, or the operator's file
// named by `[web] page_template`; the host reads it at start-up, checks it with
// pageTemplateProblem() and hands it to every extension as the setting "page_template".
//
// A shell is HTML with two required placeholders:
//   {{title}}  the page title, HTML-escaped (may appear more than once)
//   {{body}}   the page's markup (a heading, text, forms), inserted as is
// Pages carry no scripts and load nothing but the host's stylesheet (/static/style.css), so a
// shell that adds scripts, inline styles or other origins' resources is blocked by the CSP.
//
//   std::string html = sdk::renderPage(shell, "Sign in", "<h1>Sign in</h1>\n<form …>");
//   for (auto [name, value] : sdk::kPageHeaders) addHeader(name, value);
#ifndef HABANERO_SDK_CPP_HABANERO_PAGE_SHELL_HH_
#define HABANERO_SDK_CPP_HABANERO_PAGE_SHELL_HH_

#include <string>
#include <string_view>
#include <utility>

#include <habanero/template.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

// The policy of every page: no scripts, styles and images from this origin only, never
// framed, no <base>. No form-action: browsers apply it to the redirects that follow a post,
// and a login or consent form ends in a redirect to the client's redirect URI.
inline constexpr std::string_view kPageCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

// Headers every page carries, names lower-case.
inline constexpr std::pair<std::string_view, std::string_view> kPageHeaders[] = {
    {"content-type", "text/html; charset=utf-8"},
    {"content-security-policy", kPageCsp},
    {"referrer-policy", "no-referrer"},
    {"x-content-type-options", "nosniff"},
    {"x-frame-options", "DENY"},
    {"cache-control", "no-store"},
};

// The setting under which the host hands every extension the shell.
inline constexpr std::string_view kPageTemplateSetting = "page_template";

// The placeholders a shell must have.
inline constexpr std::string_view kPagePlaceholders[] = {"title", "body"};

// Only for a host that hands no shell (a test host): a bare page linking the stylesheet.
// Habanero's server always hands one (web/page.html or the operator's).
inline constexpr std::string_view kBarePageTemplate =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>{{title}}</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n</head>\n"
    "<body>\n<main class=\"card\">\n{{body}}</main>\n</body>\n</html>\n";

// What is wrong with `tmpl` as a shell ("lacks the placeholder {{body}}"); "" if usable.
inline std::string pageTemplateProblem(std::string_view tmpl) {
  if (tmpl.empty()) return "is empty";
  if (!isValidUtf8(tmpl)) return "is not UTF-8";
  for (std::string_view name : kPagePlaceholders) {
    if (!hasPlaceholder(tmpl, name)) return "lacks the placeholder {{" + std::string(name) + "}}";
  }
  return std::string();
}

// The page: `title` is plain text (escaped here), `bodyHtml` markup the caller built with
// every untrusted value escaped.
inline std::string renderPage(std::string_view tmpl, std::string_view title,
                              std::string_view bodyHtml) {
  return renderTemplate(tmpl, {{"title", htmlEscape(title)}, {"body", std::string(bodyHtml)}});
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_PAGE_SHELL_HH_
