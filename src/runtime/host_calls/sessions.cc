// Capabilities "sessions" and "login" (design 0001, docs/abi.md §6). The
// policy — cookies, attempts bound to a browser, completing a login — is
// auth::Sessions'; this file only moves bytes and shapes the response.
#include "auth/domain_events.h"
#include "auth/sessions.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {

Result sessionGet(Call& c, uint32_t out, uint32_t cap, uint32_t out_len) {
  if (!c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto session = c.services().sessions->getLive(c.request().headers, c.request().secure,
                                                       c.services().users);
  if (!session.ok()) return c.unavailable(session.status());
  if (!session->has_value()) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, auth::Sessions::toJson(**session));
}

Result sessionRequireLogin(Call& c, uint32_t return_to_ptr, uint32_t return_to_len,
                           uint32_t login_hint_ptr, uint32_t login_hint_len) {
  auto return_to = c.mem.view(return_to_ptr, return_to_len);
  auto login_hint = c.mem.view(login_hint_ptr, login_hint_len);
  if (!return_to || !login_hint) return HABANERO_INVALID_MEMORY;
  // ResourceExhausted (too many pending attempts from this address or in all)
  // is UNAVAILABLE like a store failure: the guest answers 503 + Retry-After.
  auto begun = c.services().sessions->beginLogin(*return_to, *login_hint, c.request().headers,
                                                 c.request().secure, c.request().remote_addr);
  if (!begun.ok()) {
    if (begun.status().code() == absl::StatusCode::kInvalidArgument) {
      return HABANERO_INVALID_ARGUMENT;
    }
    // Over the cap: auth::Sessions logged it at info; no error line per refusal.
    if (begun.status().code() == absl::StatusCode::kResourceExhausted) {
      return HABANERO_UNAVAILABLE;
    }
    return c.unavailable(begun.status());
  }
  hostRedirect(c.st, std::move(begun->login_url));
  hostHeader(c.st, "Set-Cookie", std::move(begun->set_cookie));
  return HABANERO_OK;
}

Result sessionEnd(Call& c) {
  auth::Sessions& sessions = *c.services().sessions;
  // Who is signing out, for the domain event (only when someone subscribes).
  std::optional<auth::Session> ending;
  if (c.services().domain_events != nullptr) {
    auto current = sessions.get(c.request().headers, c.request().secure);
    if (current.ok() && current->has_value()) ending = std::move(**current);
  }
  absl::Status ended = sessions.end(c.request().headers, c.request().secure);
  if (!ended.ok()) return c.unavailable(ended);
  if (ending) {
    c.services().domain_events->publish(
        auth::topics::kSessionEnded,
        {{"subject", ending->subject}, {"sid", ending->sid}, {"extension", c.st.extension},
         {"ip", c.request().remote_addr}});
  }
  hostHeader(c.st, "Set-Cookie", sessions.clearSessionCookie(c.request().secure));
  return HABANERO_OK;
}

Result loginAttemptGet(Call& c, uint32_t rt_ptr, uint32_t rt_len, uint32_t out, uint32_t cap,
                       uint32_t out_len) {
  auto rt = c.mem.view(rt_ptr, rt_len);
  if (!rt || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto attempt = c.services().sessions->findAttempt(*rt, c.request().headers, c.request().secure);
  if (!attempt.ok()) return c.unavailable(attempt.status());
  if (!attempt->has_value()) return HABANERO_NOT_FOUND;
  return c.writeOut(out, cap, out_len, auth::Sessions::toJson(**attempt));
}

Result loginComplete(Call& c, uint32_t rt_ptr, uint32_t rt_len, uint32_t subject_ptr,
                     uint32_t subject_len, uint32_t amr_ptr, uint32_t amr_len) {
  auto rt = c.mem.view(rt_ptr, rt_len);
  auto subject = c.mem.view(subject_ptr, subject_len);
  auto amr_json = c.mem.view(amr_ptr, amr_len);
  if (!rt || !subject || !amr_json) return HABANERO_INVALID_MEMORY;
  auto done = c.services().sessions->completeLogin(*rt, *subject, *amr_json, *c.services().users,
                                                   c.request().headers, c.request().secure);
  if (!done.ok()) {
    switch (done.status().code()) {
      case absl::StatusCode::kInvalidArgument: return HABANERO_INVALID_ARGUMENT;
      case absl::StatusCode::kNotFound: return HABANERO_NOT_FOUND;
      default: return c.unavailable(done.status());
    }
  }
  if (const auth::DomainEvents* events = c.services().domain_events) {
    events->publish(auth::topics::kSignInSucceeded,
                    {{"subject", done->session.subject}, {"amr", done->session.amr},
                     {"sid", done->session.sid}, {"authenticator", c.st.extension},
                     {"ip", c.request().remote_addr}});
  }
  hostRedirect(c.st, std::move(done->return_to));
  hostHeader(c.st, "Set-Cookie", std::move(done->set_cookie));
  return HABANERO_OK;
}

}  // namespace habanero::runtime::host
