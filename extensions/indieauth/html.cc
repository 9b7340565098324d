// The extension's pages: complete HTML without scripts, every dynamic value escaped, with
// the security headers the oauth2 extension's pages carry (CSP allowing only the inline
// style by its hash, no framing, no referrer, no caching).
#include "core/codec.h"
#include "indieauth.h"

namespace habanero::indieauth {
namespace {

constexpr std::string_view kStyle =
    "body{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f4f4;margin:0}"
    "main{max-width:30rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.2)}"
    "h1{font-size:1.4rem;margin-top:0}"
    "ul{padding-left:1.2rem}"
    ".actions{display:flex;gap:.75rem;margin-top:1.5rem}"
    "button{font:inherit;padding:.5rem 1.25rem;border-radius:4px;border:1px solid #0b5394;"
    "cursor:pointer}"
    "button.primary{background:#0b5394;color:#fff}"
    "button.secondary{background:#fff;color:#0b5394}"
    "button:focus-visible{outline:3px solid #e69138;outline-offset:2px}"
    "code{background:#eee;padding:0 .25rem;word-break:break-all}"
    ".muted{color:#4a4a4a}.warn{color:#8a1c00}";

std::string contentSecurityPolicy() {
  std::string style_src = "'none'";
  if (auto digest = sdk::sha256(kStyle)) {
    style_src = "'sha256-" +
                habanero::oauth2::base64Encode(std::string_view(
                    reinterpret_cast<const char*>(digest->data()), digest->size())) +
                "'";
  }
  return "default-src 'none'; style-src " + style_src +
         "; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";
}

}  // namespace

std::string htmlEscape(std::string_view s) { return habanero::oauth2::htmlEscape(s); }

void respondPage(int status, std::string_view title, std::string_view body_html) {
  std::string page;
  page.reserve(1024 + body_html.size() + kStyle.size());
  page +=
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"referrer\" content=\"no-referrer\"><title>";
  page += htmlEscape(title);
  page += "</title><style>";
  page += kStyle;
  page += "</style></head><body><main>";
  page += body_html;
  page += "</main></body></html>\n";
  sdk::setStatus(status);
  sdk::addHeader("content-type", "text/html; charset=utf-8");
  sdk::addHeader("content-security-policy", contentSecurityPolicy());
  sdk::addHeader("referrer-policy", "no-referrer");
  sdk::addHeader("x-frame-options", "DENY");
  sdk::addHeader("x-content-type-options", "nosniff");
  sdk::addHeader("cache-control", "no-store");
  sdk::write(page);
}

void respondErrorPage(int status, std::string_view title, std::string_view message) {
  std::string body = "<h1>" + htmlEscape(title) + "</h1><p>" + htmlEscape(message) +
                     "</p><p class=\"muted\">Return to the application you came from.</p>";
  respondPage(status, title, body);
}

std::string scopeDescription(std::string_view scope) {
  if (scope == "profile") return "See your name, photo and profile URL";
  if (scope == "email") return "See your email address";
  if (scope == "create") return "Create new posts on your site (Micropub create)";
  if (scope == "update") return "Edit your posts (Micropub update)";
  if (scope == "delete") return "Delete your posts (Micropub delete)";
  if (scope == "undelete") return "Restore deleted posts (Micropub undelete)";
  if (scope == "media") return "Upload files to your media endpoint";
  if (scope == "draft") return "Create drafts only";
  if (scope == "read") return "Read your feeds (Microsub)";
  if (scope == "follow") return "Follow and unfollow feeds (Microsub)";
  if (scope == "mute" || scope == "block") return "Mute or block in your reader (Microsub)";
  if (scope == "channels") return "Manage your reader's channels (Microsub)";
  return "Use the permission \xe2\x80\x9c" + std::string(scope) + "\xe2\x80\x9d";
}

}  // namespace habanero::indieauth
