// What every host-call implementation (host_calls/<capability>.cc) is made
// of, and their declarations. Internal to the runtime.
//
// An implementation is thin glue: it reads guest memory only through the
// Call's GuestMemory (the one checked accessor, GuestMemory::slice, under
// view() and write()), calls one facility, and writes the result back. Policy
// (login completion, fetch rules, JSON shapes) lives with the facility.
//
// Every implementation has the shape
//   Result fn(Call& call, <uint32_t|int32_t|uint64_t|int64_t>...)
// and the parameter types ARE the Wasm signature (host_calls/table.cc derives
// it). Before an implementation runs, the table's trampoline has checked the
// capability grant (DENIED) and the facilities (UNAVAILABLE); the
// implementation then checks every guest pointer before anything else
// (INVALID_MEMORY wins over every other result).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "../../../sdk/c/habanero.h"
#include "habanero/status.h"
#include "runtime/guest_memory.h"
#include "runtime/host_calls.h"

namespace habanero::runtime::host {

using Result = habanero_result_t;

// One host call in progress. Lives for the duration of the call.
struct Call {
  HostState& st;
  const GuestMemory& mem;
  std::string_view name;  // the call's import name, for logs

  const HostServices& services() const { return *st.services; }
  const Request& request() const { return *st.request; }

  // Whether [out, out + cap) and the u32 at out_len are guest memory. Checked
  // before work whose effect cannot be undone.
  bool outBufferValid(uint32_t out, uint32_t cap, uint32_t out_len) const;

  // Writes `data` to the out-buffer and its length to *out_len, following the
  // ABI's BUFFER_TOO_SMALL protocol (on too small: the size needed, nothing
  // else written). Returns OK, INVALID_MEMORY or BUFFER_TOO_SMALL.
  Result writeOut(uint32_t out, uint32_t cap, uint32_t out_len, std::string_view data) const;

  // Logs a failure that is the host's fault (storage down etc.) as
  // "[extension] <call>: <message>" and returns UNAVAILABLE.
  Result unavailable(const absl::Status& status) const;
};

// A sender's Status (outbound/mail.h, sms.h) as the ABI's result: OK,
// INVALID_ARGUMENT, REJECTED (refused for good) or UNAVAILABLE; failures are
// logged as "[extension] <call>: <message>".
Result sendResult(const Call& call, const absl::Status& status);

// A guest's text as one log line: control characters become \xNN, so a guest
// cannot forge lines that look like another extension's.
std::string logSafe(std::string_view s);

// Host-made response headers and redirects (sessions, login). They count
// against the response budget like the guest's but are never refused: the
// host's own few hundred bytes must not fail a login. A redirect answers 303
// after a POST (RFC 9700 §4.11: the browser never re-posts credentials), 302
// otherwise, and replaces any Location.
void hostHeader(HostState& st, std::string_view name, std::string value);
void hostRedirect(HostState& st, std::string url);

// ---- the implementations, by capability (docs/abi.md §6) ----

// "http": request.cc
Result requestGet(Call&, int32_t field, uint32_t out, uint32_t cap, uint32_t out_len);
Result requestHeader(Call&, uint32_t name, uint32_t name_len, uint32_t out, uint32_t cap,
                     uint32_t out_len);
Result requestParam(Call&, int32_t source, uint32_t name, uint32_t name_len, uint32_t out,
                    uint32_t cap, uint32_t out_len);
Result responseSetStatus(Call&, int32_t status);
Result responseAddHeader(Call&, uint32_t name, uint32_t name_len, uint32_t value,
                         uint32_t value_len);
Result responseWrite(Call&, uint32_t data, uint32_t len);
Result responseRedirect(Call&, int32_t status, uint32_t url, uint32_t url_len);

// "kv": kv.cc
Result kvGet(Call&, uint32_t key, uint32_t key_len, uint32_t out, uint32_t cap, uint32_t out_len);
Result kvPut(Call&, uint32_t key, uint32_t key_len, uint32_t value, uint32_t value_len,
             int64_t ttl_ms);
Result kvDelete(Call&, uint32_t key, uint32_t key_len);
Result kvTake(Call&, uint32_t key, uint32_t key_len, uint32_t out, uint32_t cap, uint32_t out_len);
Result kvCompareAndSet(Call&, uint32_t key, uint32_t key_len, int32_t has_expected,
                       uint32_t expected, uint32_t expected_len, uint32_t value,
                       uint32_t value_len, int64_t ttl_ms);

// "crypto": crypto.cc
Result cryptoRandom(Call&, uint32_t out, uint32_t len);
Result cryptoSha256(Call&, uint32_t data, uint32_t len, uint32_t out32);
Result cryptoHmacSha256(Call&, uint32_t key, uint32_t key_len, uint32_t data, uint32_t data_len,
                        uint32_t out32);
Result cryptoEqual(Call&, uint32_t a, uint32_t a_len, uint32_t b, uint32_t b_len);
Result cryptoJwsVerifyJwk(Call&, uint32_t jws, uint32_t jws_len, uint32_t jwk, uint32_t jwk_len,
                          uint32_t out, uint32_t cap, uint32_t out_len);
Result cryptoJwkThumbprint(Call&, uint32_t jwk, uint32_t jwk_len, uint32_t out, uint32_t cap,
                           uint32_t out_len);

// "keys": keys.cc
Result jwsSign(Call&, uint32_t header, uint32_t header_len, uint32_t payload,
               uint32_t payload_len, uint32_t out, uint32_t cap, uint32_t out_len);
Result jwsVerify(Call&, uint32_t jws, uint32_t jws_len, uint32_t out, uint32_t cap,
                 uint32_t out_len);
Result jwksGet(Call&, uint32_t out, uint32_t cap, uint32_t out_len);

// "clock" and "log": log.cc; "settings": settings.cc
Result clockNowMs(Call&, uint32_t out);
Result log(Call&, int32_t level, uint32_t msg, uint32_t len);
Result settingGet(Call&, uint32_t name, uint32_t name_len, uint32_t out, uint32_t cap,
                  uint32_t out_len);

// "sessions" and "login": sessions.cc
Result sessionGet(Call&, uint32_t out, uint32_t cap, uint32_t out_len);
Result sessionRequireLogin(Call&, uint32_t return_to, uint32_t return_to_len,
                           uint32_t login_hint, uint32_t login_hint_len);
Result sessionEnd(Call&);
Result loginAttemptGet(Call&, uint32_t rt, uint32_t rt_len, uint32_t out, uint32_t cap,
                       uint32_t out_len);
Result loginComplete(Call&, uint32_t rt, uint32_t rt_len, uint32_t subject,
                     uint32_t subject_len, uint32_t amr_json, uint32_t amr_json_len);

// "users" and "signup": users.cc
Result userGet(Call&, uint32_t subject, uint32_t subject_len, uint32_t out, uint32_t cap,
               uint32_t out_len);
Result userVerifyPassword(Call&, uint32_t email, uint32_t email_len, uint32_t password,
                          uint32_t password_len, uint32_t out, uint32_t cap, uint32_t out_len);
Result userFind(Call&, int32_t kind, uint32_t value, uint32_t value_len, uint32_t out,
                uint32_t cap, uint32_t out_len);
Result userCreate(Call&, uint32_t user_json, uint32_t user_json_len, uint32_t out, uint32_t cap,
                  uint32_t out_len);

// "clients": clients.cc
Result clientGet(Call&, uint32_t client_id, uint32_t client_id_len, uint32_t out, uint32_t cap,
                 uint32_t out_len);
Result clientAuthenticate(Call&, uint32_t client_id, uint32_t client_id_len, uint32_t secret,
                          uint32_t secret_len);

// "events": events.cc
Result eventPublish(Call&, uint32_t topic, uint32_t topic_len, uint32_t payload,
                    uint32_t payload_len);
Result eventGet(Call&, int32_t field, uint32_t out, uint32_t cap, uint32_t out_len);

// "mail": mail.cc; "sms": sms.cc; "fetch": fetch.cc
Result mailSend(Call&, uint32_t message_json, uint32_t message_json_len);
Result smsSend(Call&, uint32_t message_json, uint32_t message_json_len);
Result httpFetch(Call&, uint32_t request_json, uint32_t request_json_len, uint32_t out,
                 uint32_t cap, uint32_t out_len);

}  // namespace habanero::runtime::host
