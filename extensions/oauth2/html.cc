#include "html.h"

#include "guest.h"

namespace habanero::oauth2 {

void respondLogoutConfirmPage(std::string_view action, std::string_view logout_id,
                              std::string_view client_name) {
  std::string body = "<h1>Sign out?</h1>\n";
  if (!client_name.empty()) {
    body += "<p>" + htmlEscape(client_name) + " asks to sign you out.</p>\n";
  } else {
    body += "<p>Do you want to sign out?</p>\n";
  }
  body += "<form method=\"post\" action=\"" + htmlEscape(action) + "\">\n";
  body += hiddenInput("l", logout_id) + "\n";
  body += "<div class=\"actions\">"
          "<button type=\"submit\" class=\"primary\" name=\"decision\" value=\"logout\" "
          "autofocus>Sign out</button>"
          "<button type=\"submit\" class=\"secondary\" name=\"decision\" value=\"stay\">Stay "
          "signed in</button></div>\n</form>\n";
  respondPage(200, "Sign out?", body);
}

void respondSignedOutPage() {
  respondPage(200, "Signed out",
              "<h1>You are signed out</h1>\n<p>You can close this window.</p>\n");
}

}  // namespace habanero::oauth2
