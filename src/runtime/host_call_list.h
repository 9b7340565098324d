// THE table of ABI v1 host calls: one row per call, nothing else lists them.
//
// Each row is V(name, capability, facilities, wait, implementation):
//   name            the import name in module "habanero" (and sdk/c's habanero_<name>)
//   capability      the capability that unlocks it (the operator's grant)
//   facilities      the host facilities it needs (facility:: bits, capabilities.h);
//                   loading refuses a module that may call it when one is missing
//   wait            Wait::kNetwork if the call waits on the network, Wait::kCpuPool
//                   if on the Argon2id pool: that time is not charged to the guest's
//                   deadline (a candidate for async later)
//   implementation  host::<fn> in src/runtime/host_calls/<capability>.cc; its C++
//                   parameter types (after the Call&) give the Wasm signature:
//                   uint32_t/int32_t -> i32, uint64_t/int64_t -> i64; result i32
//
// From this table derive: the capability list and import checks
// (capabilities.cc), the facility checks at load (extension.cc), the linker
// definitions and their signatures (host_calls/table.cc), and the test that
// holds sdk/c/habanero.h, sdk/cpp/habanero.hh and docs/abi.md to it
// (tests/unit/runtime/abi_table_test.cc). Capabilities are numbered in the
// order they first appear here: keep rows grouped by capability.
//
// Adding a host call: one row here, the implementation, the declaration in
// the C header (and its C++ wrapper), and its section in docs/abi.md.
#pragma once

// clang-format off
#define HABANERO_FOR_ALL_HOST_CALLS(V)                                                         \
  V(request_get,           http,     facility::kNone,     Wait::kNo,      requestGet)          \
  V(request_header,        http,     facility::kNone,     Wait::kNo,      requestHeader)       \
  V(request_param,         http,     facility::kNone,     Wait::kNo,      requestParam)        \
  V(response_set_status,   http,     facility::kNone,     Wait::kNo,      responseSetStatus)   \
  V(response_add_header,   http,     facility::kNone,     Wait::kNo,      responseAddHeader)   \
  V(response_write,        http,     facility::kNone,     Wait::kNo,      responseWrite)       \
  V(response_redirect,     http,     facility::kNone,     Wait::kNo,      responseRedirect)    \
  V(kv_get,                kv,       facility::kStorage,  Wait::kNo,      kvGet)               \
  V(kv_put,                kv,       facility::kStorage,  Wait::kNo,      kvPut)               \
  V(kv_delete,             kv,       facility::kStorage,  Wait::kNo,      kvDelete)            \
  V(kv_take,               kv,       facility::kStorage,  Wait::kNo,      kvTake)              \
  V(kv_compare_and_set,    kv,       facility::kStorage,  Wait::kNo,      kvCompareAndSet)     \
  V(crypto_random,         crypto,   facility::kNone,     Wait::kNo,      cryptoRandom)        \
  V(crypto_sha256,         crypto,   facility::kNone,     Wait::kNo,      cryptoSha256)        \
  V(crypto_hmac_sha256,    crypto,   facility::kNone,     Wait::kNo,      cryptoHmacSha256)    \
  V(crypto_equal,          crypto,   facility::kNone,     Wait::kNo,      cryptoEqual)         \
  V(crypto_jws_verify_jwk, crypto,   facility::kNone,     Wait::kNo,      cryptoJwsVerifyJwk)  \
  V(crypto_jwk_thumbprint, crypto,   facility::kNone,     Wait::kNo,      cryptoJwkThumbprint) \
  V(jws_sign,              keys,     facility::kSigner,   Wait::kNo,      jwsSign)             \
  V(jws_verify,            keys,     facility::kSigner,   Wait::kNo,      jwsVerify)           \
  V(jwks_get,              keys,     facility::kSigner,   Wait::kNo,      jwksGet)             \
  V(clock_now_ms,          clock,    facility::kNone,     Wait::kNo,      clockNowMs)          \
  V(log,                   log,      facility::kNone,     Wait::kNo,      log)                 \
  V(setting_get,           settings, facility::kNone,     Wait::kNo,      settingGet)          \
  V(session_get,           sessions, facility::kSessions, Wait::kNo,      sessionGet)          \
  V(session_require_login, sessions, facility::kSessions, Wait::kNo,      sessionRequireLogin) \
  V(session_end,           sessions, facility::kSessions, Wait::kNo,      sessionEnd)          \
  V(login_attempt_get,     login,    facility::kSessions, Wait::kNo,      loginAttemptGet)     \
  V(login_complete,        login,    facility::kSessions | facility::kUsers,                   \
    Wait::kNo,      loginComplete)                                                             \
  V(user_get,              users,    facility::kUsers,    Wait::kNo,      userGet)             \
  V(user_verify_password,  users,    facility::kUsers,    Wait::kCpuPool, userVerifyPassword)  \
  V(user_find,             users,    facility::kUsers,    Wait::kNo,      userFind)            \
  V(client_get,            clients,  facility::kClients,  Wait::kNo,      clientGet)           \
  V(client_authenticate,   clients,  facility::kClients,  Wait::kCpuPool, clientAuthenticate)  \
  V(user_create,           signup,   facility::kUsers,    Wait::kNo,      userCreate)          \
  V(event_publish,         events,   facility::kOutbox,   Wait::kNo,      eventPublish)        \
  V(event_get,             events,   facility::kNone,     Wait::kNo,      eventGet)            \
  V(mail_send,             mail,     facility::kMailer,   Wait::kNetwork, mailSend)            \
  V(sms_send,              sms,      facility::kSms,      Wait::kNetwork, smsSend)             \
  V(http_fetch,            fetch,    facility::kFetcher,  Wait::kNetwork, httpFetch)
// clang-format on
