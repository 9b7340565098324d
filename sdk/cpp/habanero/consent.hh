// consent.hh — the consent step of an authorization server: the page that asks the signed-in
// user whether an application may have what it asks for, and the checks of its POST.
//
// The protocol extension keeps the pending request (its own record) with a CSRF token and the
// subject the page was shown to; the page posts `p` (the request id), `csrf` and
// `decision` = approve | deny to the extension's consent route. Needs the capabilities
// "http", "settings", "sessions" and "crypto".
//
//   sdk::ConsentPage page{.title = "Allow access?", .leadHtml = "<strong>App</strong> would like to:",
//                         .asks = {"See your email address"}, .action = "/consent",
//                         .pendingId = req.id, .csrf = req.csrf};
//   sdk::respondConsentPage(page);
//
//   std::optional<sdk::ConsentForm> form = sdk::readConsentForm();   // POST /consent
//   if (!form) return;                                                // answered
//   … load the pending request form->pendingId (answer if gone) …
//   sdk::Session session;
//   if (!sdk::checkConsent(*form, req.csrf, req.consent_sub, session)) return;  // answered
//   … take the request (single use), then redirect with a code or access_denied …
#ifndef HABANERO_SDK_CPP_HABANERO_CONSENT_HH_
#define HABANERO_SDK_CPP_HABANERO_CONSENT_HH_

#include <habanero.hh>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <habanero/form.hh>
#include <habanero/page.hh>
#include <habanero/session.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

// Longest request id and CSRF token a consent form may post.
inline constexpr size_t kMaxConsentFieldBytes = 64;

struct ConsentPage {
  std::string title;                   // plain text: the heading and the page title
  std::string leadHtml;                // markup before the list (values escaped by the caller)
  std::vector<std::string> asks;       // plain text, one list item each; none: no list
  std::vector<std::string> notesHtml;  // markup paragraphs after the list
  std::string action;                  // the form's target path
  std::string pendingId;               // hidden field p
  std::string csrf;                    // hidden field csrf
};

// Answers 200 with the consent page: the lead, the list, the notes and a form with Allow
// (decision=approve, focused) and Deny (decision=deny).
inline void respondConsentPage(const ConsentPage& v) {
  std::string body = "<h1>" + htmlEscape(v.title) + "</h1>\n<p>" + v.leadHtml + "</p>\n";
  if (!v.asks.empty()) {
    body += "<ul>\n";
    for (const std::string& a : v.asks) body += "<li>" + htmlEscape(a) + "</li>\n";
    body += "</ul>\n";
  }
  for (const std::string& n : v.notesHtml) body += n + "\n";
  body += "<form method=\"post\" action=\"" + htmlEscape(v.action) + "\">\n";
  body += hiddenInput("p", v.pendingId) + "\n" + hiddenInput("csrf", v.csrf) + "\n";
  body +=
      "<div class=\"actions\">"
      "<button type=\"submit\" class=\"primary\" name=\"decision\" value=\"approve\" "
      "autofocus>Allow</button>"
      "<button type=\"submit\" class=\"secondary\" name=\"decision\" value=\"deny\">Deny"
      "</button></div>\n</form>\n";
  respondPage(200, v.title, body);
}

// A posted consent form.
struct ConsentForm {
  std::string pendingId;
  std::string csrf;
  bool approve = false;
};

// Reads the consent POST: the method, the form encoding and the three fields. On anything
// wrong answers with an error page (405, 400) and returns nullopt.
inline std::optional<ConsentForm> readConsentForm() {
  if (method() != "POST") {
    addHeader("allow", "POST");
    respondErrorPage(405, "Method not allowed", "The consent form must be submitted with POST.");
    return std::nullopt;
  }
  if (!isFormRequest()) {
    respondErrorPage(400, "Bad request", "The consent form was not submitted as a form.");
    return std::nullopt;
  }
  Params form(Source::Form);
  std::optional<std::string> p, csrf, decision;
  if (!form.get("p", p, kMaxConsentFieldBytes) || !form.get("csrf", csrf, kMaxConsentFieldBytes) ||
      !form.get("decision", decision, 16)) {
    respondErrorPage(400, "Bad request", form.error());
    return std::nullopt;
  }
  if (!p || !csrf || !decision || (*decision != "approve" && *decision != "deny")) {
    respondErrorPage(400, "Bad request", "The consent form is incomplete.");
    return std::nullopt;
  }
  return ConsentForm{std::move(*p), std::move(*csrf), *decision == "approve"};
}

// After the pending request was loaded: the posted token must equal the stored one and the
// user who was asked (`consentSub`) must still be the one signed in. On Ok-to-continue fills
// `session` and returns true; otherwise answers with an error page (400, 503) and returns
// false.
inline bool checkConsent(const ConsentForm& form, std::string_view storedCsrf,
                         std::string_view consentSub, Session& session) {
  if (!csrfMatches(form.csrf, storedCsrf)) {
    respondErrorPage(400, "Bad request", "The consent form is not valid. Start again.");
    return false;
  }
  SessionLookup sl = currentSession(session);
  if (sl == SessionLookup::Unavailable) {
    respondErrorPage(503, "Try again", "The server could not read your session.");
    return false;
  }
  if (sl == SessionLookup::None || session.sub != consentSub) {
    respondErrorPage(400, "Session changed",
                     "You are no longer signed in as the user who was asked. Start again from "
                     "the application.");
    return false;
  }
  return true;
}

// The page for a consent form whose request another tab or a replay already used.
inline void respondConsentAlreadyUsed() {
  respondErrorPage(400, "Request already used",
                   "This sign-in request was already completed. Start again from the "
                   "application.");
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_CONSENT_HH_
