#include "html.h"

#include <habanero.hh>

#include "core/codec.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

// One small stylesheet, inline and allowed by its hash (no 'unsafe-inline'). Colours meet
// WCAG AA contrast; focus is always visible.
constexpr std::string_view kStyle =
    "body{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f4f4;margin:0}"
    "main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.2)}"
    "h1{font-size:1.4rem;margin-top:0}"
    "ul{padding-left:1.2rem}"
    ".actions{display:flex;gap:.75rem;margin-top:1.5rem}"
    "button{font:inherit;padding:.5rem 1.25rem;border-radius:4px;border:1px solid #0b5394;"
    "cursor:pointer}"
    "button.primary{background:#0b5394;color:#fff}"
    "button.secondary{background:#fff;color:#0b5394}"
    "button:focus-visible{outline:3px solid #e69138;outline-offset:2px}"
    "code{background:#eee;padding:0 .25rem}"
    ".muted{color:#4a4a4a}";

std::string contentSecurityPolicy() {
  std::string style_src = "'none'";
  if (auto digest = sdk::sha256(kStyle)) {
    style_src = "'sha256-" +
                base64Encode(std::string_view(reinterpret_cast<const char*>(digest->data()),
                                              digest->size())) +
                "'";
  }
  return "default-src 'none'; style-src " + style_src +
         "; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";
}

}  // namespace

void respondPage(int status, std::string_view title, std::string_view body_html) {
  std::string page;
  page.reserve(1024 + body_html.size() + kStyle.size());
  page += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
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
                     "</p><p class=\"muted\">Return to the application you came from and try "
                     "again.</p>";
  respondPage(status, title, body);
}

std::string scopeDescription(std::string_view scope) {
  if (scope == "openid") return "Sign you in with your account";
  if (scope == "profile") return "See your basic profile (name, picture, locale)";
  if (scope == "email") return "See your email address";
  if (scope == "phone") return "See your phone number";
  if (scope == "address") return "See your postal address";
  if (scope == "offline_access") return "Keep access while you are not using it (offline access)";
  return "Use the permission \xe2\x80\x9c" + std::string(scope) + "\xe2\x80\x9d";
}

void respondConsentPage(const ConsentView& v) {
  std::string who = v.client_name.empty() ? v.client_id : v.client_name;
  std::string body;
  body += "<h1>Allow access?</h1><p><strong>" + htmlEscape(who) + "</strong>";
  if (!v.client_name.empty()) body += " <span class=\"muted\">(" + htmlEscape(v.client_id) + ")</span>";
  body += " would like to:</p>";
  body += "<ul>";
  for (const auto& s : v.scopes) body += "<li>" + htmlEscape(scopeDescription(s)) + "</li>";
  if (v.scopes.empty()) body += "<li>Access your account</li>";
  body += "</ul>";
  if (!v.user.empty()) {
    body += "<p class=\"muted\">Signed in as " + htmlEscape(v.user) + ".</p>";
  }
  body += "<form method=\"post\" action=\"" + htmlEscape(v.action) + "\">";
  body += "<input type=\"hidden\" name=\"p\" value=\"" + htmlEscape(v.pending_id) + "\">";
  body += "<input type=\"hidden\" name=\"csrf\" value=\"" + htmlEscape(v.csrf) + "\">";
  body += "<div class=\"actions\">"
          "<button type=\"submit\" class=\"primary\" name=\"decision\" value=\"approve\" "
          "autofocus>Allow</button>"
          "<button type=\"submit\" class=\"secondary\" name=\"decision\" value=\"deny\">Deny"
          "</button></div></form>";
  respondPage(200, "Allow access?", body);
}

void respondLogoutConfirmPage(std::string_view action, std::string_view logout_id,
                              std::string_view client_name) {
  std::string body = "<h1>Sign out?</h1>";
  if (!client_name.empty()) {
    body += "<p>" + htmlEscape(client_name) + " asks to sign you out.</p>";
  } else {
    body += "<p>Do you want to sign out?</p>";
  }
  body += "<form method=\"post\" action=\"" + htmlEscape(action) + "\">";
  body += "<input type=\"hidden\" name=\"l\" value=\"" + htmlEscape(logout_id) + "\">";
  body += "<div class=\"actions\">"
          "<button type=\"submit\" class=\"primary\" name=\"decision\" value=\"logout\" "
          "autofocus>Sign out</button>"
          "<button type=\"submit\" class=\"secondary\" name=\"decision\" value=\"stay\">Stay "
          "signed in</button></div></form>";
  respondPage(200, "Sign out?", body);
}

void respondSignedOutPage() {
  respondPage(200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>");
}

}  // namespace habanero::oauth2
