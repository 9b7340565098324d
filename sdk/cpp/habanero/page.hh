// page.hh — answering with an HTML page: the shell the host hands (page_shell.hh), the
// headers every page carries, and the error page.
//
// Needs the capabilities "http" and "settings". A page replaces nothing already set but adds
// its headers, so a caller may add its own (Retry-After, Allow) before or after.
//
//   sdk::respondPage(200, "Sign in", "<h1>Sign in</h1>\n" + form);   // body: trusted markup
//   sdk::respondErrorPage(400, "Link expired", "Start again.");       // texts escaped here
#ifndef HABANERO_SDK_CPP_HABANERO_PAGE_HH_
#define HABANERO_SDK_CPP_HABANERO_PAGE_HH_

#include <habanero.hh>

#include <cstdint>
#include <string>
#include <string_view>

#include <habanero/page_shell.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

// The shell the host handed (setting "page_template"), else kBarePageTemplate.
inline std::string pageTemplate() {
  return settingOr(kPageTemplateSetting, kBarePageTemplate);
}

// Sets the status, the headers of kPageHeaders and the body: `bodyHtml` (markup the caller
// built with every untrusted value escaped) inside the shell, titled `title` (plain text).
inline void respondPage(int32_t status, std::string_view title, std::string_view bodyHtml) {
  setStatus(status);
  for (const auto& [name, value] : kPageHeaders) addHeader(name, value);
  write(renderPage(pageTemplate(), title, bodyHtml));
}

// A link an error page offers (both empty: none).
struct PageLink {
  std::string_view href;
  std::string_view text;
};

// A page with a heading and a message (id "message"), optionally a muted note and a link;
// every text is plain (escaped here).
inline void respondErrorPage(int32_t status, std::string_view title, std::string_view message,
                             std::string_view note = {}, PageLink link = {}) {
  std::string body =
      "<h1>" + htmlEscape(title) + "</h1>\n<p id=\"message\">" + htmlEscape(message) + "</p>\n";
  if (!note.empty()) body += "<p class=\"muted\">" + htmlEscape(note) + "</p>\n";
  if (!link.href.empty()) {
    body += "<p><a href=\"" + htmlEscape(link.href) + "\">" + htmlEscape(link.text) + "</a></p>\n";
  }
  respondPage(status, title, body);
}

// 503 "Try again later": a host facility failed (the host logged why).
inline void respondUnavailablePage() {
  respondErrorPage(503, "Try again later", "Signing in is not possible right now.");
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_PAGE_HH_
