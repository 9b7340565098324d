// consent.hh — the consent step of an authorization server: the page that asks the signed-in
// user whether an application may have what it asks for, and the checks of its POST.
//
// The protocol extension keeps the pending request (its own record) with a CSRF token and the
// subject the page was shown to; the page posts `p` (the request id), `csrf` and
// `decision` = approve | deny to the extension's consent route. Needs the capabilities
// "http", "settings", "sessions" and "crypto".
//
//   if (!sdk::startConsent(req.id, req.created, req.csrf, now)) return;  // answered
//   req.consent_sub = session.sub;  … save the request …
//   sdk::ConsentPage page{.title = "Allow access?",
//                         .leadHtml = "<strong>App</strong> would like to:",
//                         .asks = {"See your email address"}, .action = "/consent",
//                         .pendingId = req.id, .csrf = req.csrf};
//   sdk::respondConsentPage(page);
//
//   sdk::Session session;                                            // POST /consent
//   std::optional<bool> approve = sdk::consentDecision(req, session, loadOrRespond, take);
//   if (!approve) return;                                             // answered
//   … redirect with a code, or with access_denied …
#ifndef HABANERO_SDK_CPP_HABANERO_CONSENT_HH_
#define HABANERO_SDK_CPP_HABANERO_CONSENT_HH_

#include <habanero.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <habanero/form.hh>
#include <habanero/page.hh>
#include <habanero/random.hh>
#include <habanero/session.hh>
#include <habanero/text.hh>

namespace habanero::sdk {

// Longest request id and CSRF token a consent form may post.
inline constexpr size_t kMaxConsentFieldBytes = 64;

// How the consent page names a scope: OpenID Connect's, IndieAuth's (Micropub, Microsub),
// else the scope itself in quotes.
inline std::string scopeDescription(std::string_view scope) {
  static constexpr std::pair<std::string_view, std::string_view> kScopes[] = {
      {"openid", "Sign you in with your account"},
      {"profile", "See your basic profile (name, photo, profile URL)"},
      {"email", "See your email address"},
      {"phone", "See your phone number"},
      {"address", "See your postal address"},
      {"offline_access", "Keep access while you are not using it (offline access)"},
      {"create", "Create new posts on your site (Micropub create)"},
      {"update", "Edit your posts (Micropub update)"},
      {"delete", "Delete your posts (Micropub delete)"},
      {"undelete", "Restore deleted posts (Micropub undelete)"},
      {"media", "Upload files to your media endpoint"},
      {"draft", "Create drafts only"},
      {"read", "Read your feeds (Microsub)"},
      {"follow", "Follow and unfollow feeds (Microsub)"},
      {"mute", "Mute or block in your reader (Microsub)"},
      {"block", "Mute or block in your reader (Microsub)"},
      {"channels", "Manage your reader's channels (Microsub)"},
  };
  for (const auto& [name, text] : kScopes) {
    if (name == scope) return std::string(text);
  }
  return "Use the permission \xe2\x80\x9c" + std::string(scope) + "\xe2\x80\x9d";
}

// Readies a pending request for its consent page: a fresh CSRF token into `csrf` and, when
// `id` is empty (the request was never saved), a fresh id with `created` = `nowS`. The
// caller then records who is asked and saves the request. False (answered 503) if the
// host's CSPRNG failed.
inline bool startConsent(std::string& id, int64_t& created, std::string& csrf, int64_t nowS) {
  std::optional<std::string> token = newCsrfToken();
  std::optional<std::string> fresh = id.empty() ? randomId() : std::optional<std::string>(id);
  if (!token || !fresh) {
    respondErrorPage(503, "Try again", "The server could not start the consent step.");
    return false;
  }
  if (id.empty()) created = nowS;
  id = std::move(*fresh);
  csrf = std::move(*token);
  return true;
}

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
  SessionLookup sl = currentSessionOrRespond(session);
  if (sl == SessionLookup::Unavailable) return false;
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

// The POST of the consent form up to the user's decision: reads the form, loads the pending
// request with `load(id, request)` (which answers and returns false when it fails), checks
// the token and the user (checkConsent), and uses the request up with `take(request)` (true
// when it took this very request: single use; otherwise the "already used" page). `Request`
// has the members `csrf` and `consent_sub`. Returns true to approve, false to deny; nullopt
// when it has answered.
template <class Request, class Load, class Take>
std::optional<bool> consentDecision(Request& request, Session& session, Load&& load,
                                    Take&& take) {
  std::optional<ConsentForm> form = readConsentForm();
  if (!form || !load(form->pendingId, request)) return std::nullopt;
  if (!checkConsent(*form, request.csrf, request.consent_sub, session)) return std::nullopt;
  if (!take(request)) {
    respondConsentAlreadyUsed();
    return std::nullopt;
  }
  return form->approve;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_CONSENT_HH_
