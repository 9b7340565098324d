// habanero.hh — a thin C++20 layer over the Habanero extension ABI v1 (sdk/c/habanero.h).
//
// Header-only and free of exceptions and RTTI (guests build with -fno-exceptions
// -fno-rtti). Every function wraps one host call; those that copy out a value grow a
// std::string and retry on BUFFER_TOO_SMALL, so callers never see that result. Only the
// functions a module uses become imports, so a module still needs only the capabilities
// of the calls it makes (listed per section below).
//
// Conventions:
//   - Functions that can fail in ways a caller should tell apart return Result and fill
//     an out-parameter, which is left empty unless the result is Ok.
//   - Getters returning std::optional give nullopt for "absent" and for any error.
//   - string_view arguments are read during the call only; nothing is retained.
//   - The request is the one being handled; nothing survives the request except the kv
//     store.
//
// Example (a complete extension):
//
//   #include <habanero.hh>
//   namespace sdk = habanero::sdk;
//
//   HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
//     std::string name;
//     if (sdk::queryParam("name", name) != sdk::Result::Ok) name = "world";
//     sdk::respond(200, "text/plain; charset=utf-8", "Hello, " + name + "!\n");
//     return 0;
//   }
#ifndef HABANERO_SDK_CPP_HABANERO_HH_
#define HABANERO_SDK_CPP_HABANERO_HH_

#include <habanero.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace habanero::sdk {

// The result of a host call; values equal the HABANERO_* codes of habanero.h.
enum class Result : int32_t {
  Ok = HABANERO_OK,
  NotFound = HABANERO_NOT_FOUND,
  InvalidMemory = HABANERO_INVALID_MEMORY,
  BufferTooSmall = HABANERO_BUFFER_TOO_SMALL,
  InvalidArgument = HABANERO_INVALID_ARGUMENT,
  Duplicate = HABANERO_DUPLICATE,
  Conflict = HABANERO_CONFLICT,
  Mismatch = HABANERO_MISMATCH,
  LimitExceeded = HABANERO_LIMIT_EXCEEDED,
  Unavailable = HABANERO_UNAVAILABLE,
  BadState = HABANERO_BAD_STATE,
  Denied = HABANERO_DENIED,
  Rejected = HABANERO_REJECTED,
};

// A stable lower-case name for logs ("ok", "not_found", ...); "unknown" otherwise.
constexpr std::string_view resultName(Result r) {
  switch (r) {
    case Result::Ok:
      return "ok";
    case Result::NotFound:
      return "not_found";
    case Result::InvalidMemory:
      return "invalid_memory";
    case Result::BufferTooSmall:
      return "buffer_too_small";
    case Result::InvalidArgument:
      return "invalid_argument";
    case Result::Duplicate:
      return "duplicate";
    case Result::Conflict:
      return "conflict";
    case Result::Mismatch:
      return "mismatch";
    case Result::LimitExceeded:
      return "limit_exceeded";
    case Result::Unavailable:
      return "unavailable";
    case Result::BadState:
      return "bad_state";
    case Result::Denied:
      return "denied";
    case Result::Rejected:
      return "rejected";
  }
  return "unknown";
}

namespace detail {

inline Result toResult(habanero_result_t r) { return static_cast<Result>(r); }
inline const uint8_t* bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}
inline uint32_t size32(std::string_view s) { return static_cast<uint32_t>(s.size()); }

// Calls `call(out, out_cap, &out_len)` with a buffer that grows to the size the host
// asks for. Retries a few times, since a value (a kv entry) may grow between calls.
// On any result but Ok, `out` is empty.
template <class Call>
Result readGrowing(std::string& out, Call&& call) {
  out.resize(out.capacity() > 256 ? out.capacity() : 256);
  for (int attempt = 0; attempt < 4; ++attempt) {
    uint32_t len = 0;
    habanero_result_t r = call(reinterpret_cast<uint8_t*>(out.data()), size32(out), &len);
    if (r == HABANERO_OK) {
      out.resize(len < out.size() ? len : out.size());
      return Result::Ok;
    }
    if (r != HABANERO_BUFFER_TOO_SMALL || len <= out.size()) {
      out.clear();
      return toResult(r);
    }
    out.resize(len);
  }
  out.clear();
  return Result::BufferTooSmall;
}

}  // namespace detail

// ---- capability "http": the request ---------------------------------------------------

enum class Field : int32_t {
  Method = HABANERO_REQUEST_METHOD,
  Path = HABANERO_REQUEST_PATH,  // percent-encoded as received, mount included
  Query = HABANERO_REQUEST_QUERY,
  Body = HABANERO_REQUEST_BODY,
  RemoteAddr = HABANERO_REQUEST_REMOTE_ADDR,
  Mount = HABANERO_REQUEST_MOUNT,
  Scheme = HABANERO_REQUEST_SCHEME,
};

// Copies one field of the request. Returns Ok, or InvalidArgument for an unknown field.
inline Result request(Field field, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_request_get(static_cast<int32_t>(field), p, cap, len);
  });
}

// One field of the request; empty if the host failed to give it (a host bug).
inline std::string request(Field field) {
  std::string out;
  request(field, out);
  return out;
}
inline std::string method() { return request(Field::Method); }
inline std::string path() { return request(Field::Path); }
inline std::string query() { return request(Field::Query); }
inline std::string body() { return request(Field::Body); }

// The request path below the mount, always starting with '/' ("/" for the mount
// itself). E.g. mount "/hello", path "/hello/count" -> "/count".
inline std::string subPath() {
  std::string p = path();
  std::string m = request(Field::Mount);
  while (!m.empty() && m.back() == '/') m.pop_back();
  std::string_view pv(p);
  if (pv.starts_with(m) && (pv.size() == m.size() || pv[m.size()] == '/')) p.erase(0, m.size());
  if (p.empty() || p.front() != '/') p.insert(p.begin(), '/');
  return p;
}

// The value of a request header (several of one name joined by ", "); nullopt if the
// request has none.
inline std::optional<std::string> header(std::string_view name) {
  std::string out;
  Result r = detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_request_header(detail::bytes(name), detail::size32(name), p, cap, len);
  });
  if (r != Result::Ok) return std::nullopt;
  return out;
}

enum class Source : int32_t { Query = HABANERO_PARAMS_QUERY, Form = HABANERO_PARAMS_FORM };

// The decoded value of a query or form parameter.
// Returns Ok, NotFound, Duplicate (given more than once: reject the request), or
// InvalidArgument (the source is not valid percent-encoding / UTF-8).
inline Result param(Source source, std::string_view name, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_request_param(static_cast<int32_t>(source), detail::bytes(name),
                                  detail::size32(name), p, cap, len);
  });
}
inline Result queryParam(std::string_view name, std::string& out) {
  return param(Source::Query, name, out);
}
inline Result formParam(std::string_view name, std::string& out) {
  return param(Source::Form, name, out);
}

// ---- capability "http": the response --------------------------------------------------

// Sets the status (100..599; default 200). Returns Ok or InvalidArgument.
inline Result setStatus(int32_t status) {
  return detail::toResult(habanero_response_set_status(status));
}

// Adds a header: the name an HTTP token, the value free of control characters
// other than HTAB. Returns Ok, InvalidArgument or LimitExceeded.
inline Result addHeader(std::string_view name, std::string_view value) {
  return detail::toResult(habanero_response_add_header(
      detail::bytes(name), detail::size32(name), detail::bytes(value), detail::size32(value)));
}

// Appends to the body. Returns Ok or LimitExceeded (response size limit).
inline Result write(std::string_view data) {
  return detail::toResult(habanero_response_write(detail::bytes(data), detail::size32(data)));
}

// Sets status (301, 302, 303, 307, 308) and Location. Returns Ok, InvalidArgument or
// LimitExceeded.
inline Result redirect(int32_t status, std::string_view url) {
  return detail::toResult(
      habanero_response_redirect(status, detail::bytes(url), detail::size32(url)));
}

// Status, Content-Type (omitted if empty) and body in one go; the first failure wins.
inline Result respond(int32_t status, std::string_view contentType, std::string_view body) {
  Result r = setStatus(status);
  if (r == Result::Ok && !contentType.empty()) r = addHeader("content-type", contentType);
  if (r == Result::Ok && !body.empty()) r = write(body);
  return r;
}

// ---- capability "kv": the extension's own store ---------------------------------------
// Keys are private to the extension. ttlMs <= 0 means no expiry.

// Returns Ok, NotFound, LimitExceeded (key over 512 bytes) or Unavailable.
inline Result kvGet(std::string_view key, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_kv_get(detail::bytes(key), detail::size32(key), p, cap, len);
  });
}

// Reads and deletes atomically: of concurrent takers exactly one gets Ok.
// Returns Ok, NotFound or Unavailable.
inline Result kvTake(std::string_view key, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_kv_take(detail::bytes(key), detail::size32(key), p, cap, len);
  });
}

// Returns Ok, LimitExceeded or Unavailable.
inline Result kvPut(std::string_view key, std::string_view value, int64_t ttlMs = 0) {
  return detail::toResult(habanero_kv_put(detail::bytes(key), detail::size32(key),
                                          detail::bytes(value), detail::size32(value), ttlMs));
}

// Deletes a key (Ok also when absent). Returns Ok or Unavailable.
inline Result kvRemove(std::string_view key) {
  return detail::toResult(habanero_kv_delete(detail::bytes(key), detail::size32(key)));
}

// Sets key to value if its current value equals *expected, or, with expected ==
// nullopt, if the key is absent. Returns Ok, Conflict, LimitExceeded or Unavailable.
inline Result kvCompareAndSet(std::string_view key, std::optional<std::string_view> expected,
                              std::string_view value, int64_t ttlMs = 0) {
  std::string_view e = expected.value_or(std::string_view());
  return detail::toResult(habanero_kv_compare_and_set(
      detail::bytes(key), detail::size32(key), expected.has_value() ? 1 : 0, detail::bytes(e),
      detail::size32(e), detail::bytes(value), detail::size32(value), ttlMs));
}

// ---- capability "crypto" ---------------------------------------------------------------

using Digest = std::array<uint8_t, 32>;

// Fills `out` from the host's CSPRNG. Returns Ok, LimitExceeded (more than 65536) or
// Unavailable.
inline Result randomFill(std::span<uint8_t> out) {
  return detail::toResult(habanero_crypto_random(out.data(), static_cast<uint32_t>(out.size())));
}

// `n` random bytes; nullopt if the host refused (n > 65536).
inline std::optional<std::string> randomBytes(size_t n) {
  std::string out(n, '\0');
  if (randomFill(std::span(reinterpret_cast<uint8_t*>(out.data()), n)) != Result::Ok) {
    return std::nullopt;
  }
  return out;
}

// SHA-256 of data; nullopt only if the host failed (a host bug).
inline std::optional<Digest> sha256(std::string_view data) {
  Digest d{};
  if (habanero_crypto_sha256(detail::bytes(data), detail::size32(data), d.data()) != HABANERO_OK) {
    return std::nullopt;
  }
  return d;
}

// HMAC-SHA-256(key, data); nullopt only if the host failed (a host bug).
inline std::optional<Digest> hmacSha256(std::string_view key, std::string_view data) {
  Digest d{};
  if (habanero_crypto_hmac_sha256(detail::bytes(key), detail::size32(key), detail::bytes(data),
                                  detail::size32(data), d.data()) != HABANERO_OK) {
    return std::nullopt;
  }
  return d;
}

// Compares in time independent of the contents. False also if the host failed.
inline bool constantTimeEqual(std::string_view a, std::string_view b) {
  return habanero_crypto_equal(detail::bytes(a), detail::size32(a), detail::bytes(b),
                               detail::size32(b)) == HABANERO_OK;
}

// Lower-case hex of bytes (no host call).
inline std::string hex(std::span<const uint8_t> data) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}
inline std::string hex(std::string_view data) {
  return hex(std::span(detail::bytes(data), data.size()));
}

// Verifies a compact JWS with a public JWK (JSON) and copies the payload. Returns Ok,
// Mismatch (bad signature, alg not matching the key) or InvalidArgument (malformed).
inline Result jwsVerifyWithJwk(std::string_view jws, std::string_view jwkJson,
                               std::string& payload) {
  return detail::readGrowing(payload, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_crypto_jws_verify_jwk(detail::bytes(jws), detail::size32(jws),
                                          detail::bytes(jwkJson), detail::size32(jwkJson), p,
                                          cap, len);
  });
}

// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url. Returns Ok or InvalidArgument.
inline Result jwkThumbprint(std::string_view jwkJson, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_crypto_jwk_thumbprint(detail::bytes(jwkJson), detail::size32(jwkJson), p,
                                          cap, len);
  });
}

// ---- capability "keys": JWS with host-held keys -----------------------------------------

// Signs payload as a compact JWS with the active key. headerJson: extra protected-header
// members as a JSON object, or empty. Returns Ok, InvalidArgument (header not a JSON
// object) or Unavailable (no signing key).
inline Result jwsSign(std::string_view headerJson, std::string_view payload, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_jws_sign(detail::bytes(headerJson), detail::size32(headerJson),
                             detail::bytes(payload), detail::size32(payload), p, cap, len);
  });
}

// Verifies a compact JWS and copies its payload. Returns Ok or Mismatch (bad signature,
// unknown key, "alg": "none", malformed) or Unavailable (no signing keys).
inline Result jwsVerify(std::string_view jws, std::string& payload) {
  return detail::readGrowing(payload, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_jws_verify(detail::bytes(jws), detail::size32(jws), p, cap, len);
  });
}

// The host's public signing keys (active first, then retained ones) as a JWKS document.
// Returns Ok or Unavailable.
inline Result jwksGet(std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_jwks_get(p, cap, len);
  });
}

// ---- capability "clock" ------------------------------------------------------------------

// Wall-clock milliseconds since the Unix epoch; nullopt only if the host failed.
inline std::optional<int64_t> nowMs() {
  int64_t t = 0;
  if (habanero_clock_now_ms(&t) != HABANERO_OK) return std::nullopt;
  return t;
}

// ---- capability "log" ----------------------------------------------------------------------

enum class Level : int32_t {
  Debug = HABANERO_LOG_DEBUG,
  Info = HABANERO_LOG_INFO,
  Warn = HABANERO_LOG_WARN,
  Error = HABANERO_LOG_ERROR,
};

// Writes one line to the host log, tagged with the extension's name. Returns Ok.
inline Result log(Level level, std::string_view msg) {
  return detail::toResult(
      habanero_log(static_cast<int32_t>(level), detail::bytes(msg), detail::size32(msg)));
}
inline Result logDebug(std::string_view msg) { return log(Level::Debug, msg); }
inline Result logInfo(std::string_view msg) { return log(Level::Info, msg); }
inline Result logWarn(std::string_view msg) { return log(Level::Warn, msg); }
inline Result logError(std::string_view msg) { return log(Level::Error, msg); }

// ---- capability "settings" ---------------------------------------------------------------

// A setting from the operator's configuration of this extension. Returns Ok or NotFound.
inline Result setting(std::string_view name, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_setting_get(detail::bytes(name), detail::size32(name), p, cap, len);
  });
}

// The setting, or nullopt if it is not configured.
inline std::optional<std::string> setting(std::string_view name) {
  std::string out;
  if (setting(name, out) != Result::Ok) return std::nullopt;
  return out;
}

// The setting, or `fallback` if it is not configured.
inline std::string settingOr(std::string_view name, std::string_view fallback) {
  std::string out;
  if (setting(name, out) != Result::Ok) return std::string(fallback);
  return out;
}

// ---- capability "sessions": the browser session (protocol extensions) --------------------

// The current request's session as JSON {"sub","amr":[…],"auth_time","sid"}. Returns Ok,
// NotFound (no valid session cookie) or Unavailable.
inline Result sessionGet(std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_session_get(p, cap, len);
  });
}

// Makes the response a redirect to the host's login page; after login the browser returns
// to `returnTo`, a local path starting with '/'. `loginHint` may be empty. Returns Ok,
// InvalidArgument (returnTo not a local path) or Unavailable.
inline Result sessionRequireLogin(std::string_view returnTo, std::string_view loginHint) {
  return detail::toResult(habanero_session_require_login(detail::bytes(returnTo),
                                                         detail::size32(returnTo),
                                                         detail::bytes(loginHint),
                                                         detail::size32(loginHint)));
}

// Ends the current session (if any) and clears its cookie. Returns Ok or Unavailable.
inline Result sessionEnd() { return detail::toResult(habanero_session_end()); }

// ---- capability "users": the host's user records ---------------------------------------------

// The user's claims as JSON ({"sub","email","email_verified","name",…}). Returns Ok,
// NotFound or Unavailable.
inline Result userGet(std::string_view subject, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_user_get(detail::bytes(subject), detail::size32(subject), p, cap, len);
  });
}

// ---- capability "clients": the host's client registrations ------------------------------------

// A client's registration as JSON ({"client_id","name","public","redirect_uris",…}), never
// its secret. Returns Ok, NotFound or Unavailable.
inline Result clientGet(std::string_view clientId, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_client_get(detail::bytes(clientId), detail::size32(clientId), p, cap, len);
  });
}

// Checks a confidential client's secret in constant time. Returns Ok, Mismatch (wrong
// secret, unknown or public client) or Unavailable.
inline Result clientAuthenticate(std::string_view clientId, std::string_view secret) {
  return detail::toResult(habanero_client_authenticate(detail::bytes(clientId),
                                                       detail::size32(clientId),
                                                       detail::bytes(secret),
                                                       detail::size32(secret)));
}

// ---- capability "users": finding users; capability "signup": creating them -------------

enum class UserKey : int32_t { Email = HABANERO_USER_BY_EMAIL, Phone = HABANERO_USER_BY_PHONE };

// The subject of the user with that (normalised) email or E.164 number. Returns Ok,
// NotFound, InvalidArgument (not an address / number) or Unavailable.
inline Result userFind(UserKey kind, std::string_view value, std::string& subject) {
  return detail::readGrowing(subject, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_user_find(static_cast<int32_t>(kind), detail::bytes(value),
                              detail::size32(value), p, cap, len);
  });
}

// Creates a password-less user from {"email"} or {"phone_number"} (+ optional "name").
// Returns Ok, Duplicate, InvalidArgument or Unavailable.
inline Result userCreate(std::string_view userJson, std::string& subject) {
  return detail::readGrowing(subject, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_user_create(detail::bytes(userJson), detail::size32(userJson), p, cap, len);
  });
}

// ---- capability "events": durable topics -----------------------------------------------

// Publishes payload to a granted topic; stored durably when Ok. Returns Ok, Denied,
// LimitExceeded or Unavailable.
inline Result publish(std::string_view topic, std::string_view payload) {
  return detail::toResult(habanero_event_publish(detail::bytes(topic), detail::size32(topic),
                                                 detail::bytes(payload),
                                                 detail::size32(payload)));
}

enum class EventField : int32_t {
  Topic = HABANERO_EVENT_TOPIC,
  Payload = HABANERO_EVENT_PAYLOAD,
  Id = HABANERO_EVENT_ID,
  Attempt = HABANERO_EVENT_ATTEMPT,
  Publisher = HABANERO_EVENT_PUBLISHER,
};

// A field of the event being delivered (inside habanero_on_event). Returns Ok or NotFound.
inline Result event(EventField field, std::string& out) {
  return detail::readGrowing(out, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_event_get(static_cast<int32_t>(field), p, cap, len);
  });
}

// ---- capabilities "mail" and "sms" -----------------------------------------------------

// {"to","subject","text","html"?}. Returns Ok, InvalidArgument, Rejected or Unavailable.
inline Result mailSend(std::string_view messageJson) {
  return detail::toResult(
      habanero_mail_send(detail::bytes(messageJson), detail::size32(messageJson)));
}

// {"to":"+E164","text"}. Returns Ok, InvalidArgument, Rejected or Unavailable.
inline Result smsSend(std::string_view messageJson) {
  return detail::toResult(
      habanero_sms_send(detail::bytes(messageJson), detail::size32(messageJson)));
}

// ---- capability "fetch" ----------------------------------------------------------------

// request {"url","accept"?,"parse":"turtle"?} -> response JSON (see habanero.h). Returns
// Ok (any HTTP status), InvalidArgument, Denied, LimitExceeded or Unavailable.
inline Result httpFetch(std::string_view requestJson, std::string& responseJson) {
  return detail::readGrowing(responseJson, [&](uint8_t* p, uint32_t cap, uint32_t* len) {
    return habanero_http_fetch(detail::bytes(requestJson), detail::size32(requestJson), p, cap,
                               len);
  });
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_HH_
