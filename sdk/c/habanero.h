/*
 * habanero.h — the Habanero extension ABI, version 1, for guests (C99/C++).
 *
 * An extension is a WebAssembly module (wasm32-wasi reactor) that the host
 * instantiates afresh for every request it routes to it. The host calls the
 * guest's exported `habanero_on_request`; the guest reads the request and
 * writes the response through the host calls below, which it imports from the
 * module "habanero". Nothing survives between two requests except what the
 * guest puts in its key-value store.
 *
 * Conventions (every call):
 *   - Each call returns a habanero_result_t. HABANERO_OK is 0; every other
 *     value is an error the guest can handle. The list after each call says
 *     which results it can return.
 *   - Inputs are (pointer, length) pairs into guest memory. A pair that does
 *     not lie wholly inside the guest's memory returns HABANERO_INVALID_MEMORY
 *     and the call has no effect. Memory is checked before anything else, so
 *     INVALID_MEMORY wins over every other result. A pair the call ignores
 *     (e.g. `expected` when has_expected == 0) is not checked.
 *   - Outputs go into a guest-owned buffer (out, out_cap) and the number of
 *     bytes is written to *out_len. If the buffer is too small the call
 *     returns HABANERO_BUFFER_TOO_SMALL, writes the size needed to *out_len and
 *     consumes nothing (a `take` is not performed), so the guest can grow the
 *     buffer and call again.
 *   - Strings are bytes; the host neither adds nor expects a NUL terminator.
 *   - A call that belongs to a capability the operator did not grant cannot be
 *     imported at all: the module is refused at load, naming the import.
 *
 * Example (a complete extension):
 *
 *   #include <habanero.h>
 *   HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
 *     habanero_response_set_status(200);
 *     habanero_response_write((const uint8_t *)"hi\n", 3);
 *     return 0;
 *   }
 *
 * habanero_on_request returns 0 when it has produced its response (whatever
 * its status); any other value means the extension failed, and the host
 * answers 500 instead. A trap also answers 500; running past the deadline
 * answers 503.
 *
 * The ABI version the module speaks is declared by exporting a function named
 * `habanero_abi_v1` (sdk/c/habanero_abi.c does it for you); a module without
 * it, or with another version, is refused at load. See docs/abi.md.
 *
 * Each HABANERO_IMPORT below stands under the banner of its capability; the
 * host's test tests/unit/runtime/abi_table_test.cc holds every name, Wasm
 * parameter type and capability here to the host's one host-call table
 * (src/runtime/host_call_list.h).
 */
#ifndef HABANERO_H_
#define HABANERO_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HABANERO_ABI_VERSION 1

#if defined(__wasm__)
#define HABANERO_IMPORT(name) __attribute__((import_module("habanero"), import_name(name)))
#define HABANERO_EXPORT(name) __attribute__((export_name(name)))
#else
#define HABANERO_IMPORT(name)
#define HABANERO_EXPORT(name)
#endif

typedef int32_t habanero_result_t;

enum {
  HABANERO_OK = 0,
  HABANERO_NOT_FOUND = 1,         /* no such header, parameter, key or setting */
  HABANERO_INVALID_MEMORY = 2,    /* a pointer/length pair outside guest memory */
  HABANERO_BUFFER_TOO_SMALL = 3,  /* *out_len holds the size needed */
  HABANERO_INVALID_ARGUMENT = 4,  /* e.g. an unknown field, a bad status code */
  HABANERO_DUPLICATE = 5,         /* a parameter given more than once */
  HABANERO_CONFLICT = 6,          /* compare-and-set saw another value */
  HABANERO_MISMATCH = 7,          /* compare: not equal; verify: bad signature */
  HABANERO_LIMIT_EXCEEDED = 8,    /* a size limit (key, value, response) */
  HABANERO_UNAVAILABLE = 9,       /* the host could not reach its store etc. */
  HABANERO_BAD_STATE = 10,        /* reserved: no v1 call returns it */
  HABANERO_DENIED = 11,           /* refused by policy: an ungranted topic, an
                                     address the fetch guard refuses, ... */
  HABANERO_REJECTED = 12,         /* the remote side refused for good (SMTP 5xx,
                                     gateway 4xx): retrying will not help */
};

/* ---- capability "http": the request ------------------------------------ */

typedef enum {
  HABANERO_REQUEST_METHOD = 0,      /* "GET", "POST", ... */
  HABANERO_REQUEST_PATH = 1,        /* full path, percent-encoded as received */
  HABANERO_REQUEST_QUERY = 2,       /* raw query string without '?' ("" if none) */
  HABANERO_REQUEST_BODY = 3,        /* raw body bytes */
  HABANERO_REQUEST_REMOTE_ADDR = 4, /* client IP as text */
  HABANERO_REQUEST_MOUNT = 5,       /* the path prefix the extension is mounted at */
  HABANERO_REQUEST_SCHEME = 6,      /* "http" or "https" */
} habanero_request_field_t;

/* Copies one field of the current request.
 * Returns: OK, INVALID_MEMORY, BUFFER_TOO_SMALL, INVALID_ARGUMENT (unknown field). */
HABANERO_IMPORT("request_get")
habanero_result_t habanero_request_get(int32_t field, uint8_t *out, uint32_t out_cap,
                                       uint32_t *out_len);

/* Copies the value of a request header (name matched case-insensitively).
 * Several headers of one name are joined with ", ".
 * Returns: OK, NOT_FOUND, INVALID_MEMORY, BUFFER_TOO_SMALL. */
HABANERO_IMPORT("request_header")
habanero_result_t habanero_request_header(const uint8_t *name, uint32_t name_len, uint8_t *out,
                                          uint32_t out_cap, uint32_t *out_len);

typedef enum {
  HABANERO_PARAMS_QUERY = 0, /* the URL query string */
  HABANERO_PARAMS_FORM = 1,  /* an application/x-www-form-urlencoded body */
} habanero_params_source_t;

/* Copies the decoded value of one parameter of the query or the form body.
 * A parameter present more than once returns DUPLICATE (RFC 6749 §3.1) and
 * nothing is copied. The form source is empty unless the request's
 * Content-Type is application/x-www-form-urlencoded.
 * Returns: OK, NOT_FOUND, DUPLICATE, INVALID_MEMORY, BUFFER_TOO_SMALL,
 *          INVALID_ARGUMENT (unknown source, or the source is not valid
 *          percent-encoding / UTF-8). */
HABANERO_IMPORT("request_param")
habanero_result_t habanero_request_param(int32_t source, const uint8_t *name, uint32_t name_len,
                                         uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* ---- capability "http": the response ----------------------------------- */

/* Sets the response status (200..599; 1xx are not final responses). Default 200.
 * Returns: OK, INVALID_ARGUMENT. */
HABANERO_IMPORT("response_set_status")
habanero_result_t habanero_response_set_status(int32_t status);

/* Adds a response header. The name must be an HTTP token; the value must not
 * contain control characters other than HTAB. Framing headers the server sets
 * itself (Content-Length, Transfer-Encoding, Connection, ...) are ignored.
 * Returns: OK, INVALID_MEMORY, INVALID_ARGUMENT, LIMIT_EXCEEDED. */
HABANERO_IMPORT("response_add_header")
habanero_result_t habanero_response_add_header(const uint8_t *name, uint32_t name_len,
                                               const uint8_t *value, uint32_t value_len);

/* Appends bytes to the response body.
 * Returns: OK, INVALID_MEMORY, LIMIT_EXCEEDED. */
HABANERO_IMPORT("response_write")
habanero_result_t habanero_response_write(const uint8_t *data, uint32_t len);

/* Sets status (301, 302, 303, 307 or 308) and the Location header, replacing
 * any Location added before. An empty URL or one containing CR, LF or NUL is
 * INVALID_ARGUMENT.
 * Returns: OK, INVALID_MEMORY, INVALID_ARGUMENT, LIMIT_EXCEEDED. */
HABANERO_IMPORT("response_redirect")
habanero_result_t habanero_response_redirect(int32_t status, const uint8_t *url, uint32_t url_len);

/* ---- capability "kv": the extension's own key-value store --------------- */
/* Keys are private to the extension (the host prefixes them with its name).
 * ttl_ms <= 0 means no expiry. An expired key behaves as absent. */

/* Keys longer than 512 bytes are LIMIT_EXCEEDED.
 * Returns: OK, NOT_FOUND, INVALID_MEMORY, BUFFER_TOO_SMALL, LIMIT_EXCEEDED, UNAVAILABLE. */
HABANERO_IMPORT("kv_get")
habanero_result_t habanero_kv_get(const uint8_t *key, uint32_t key_len, uint8_t *out,
                                  uint32_t out_cap, uint32_t *out_len);

/* Returns: OK, INVALID_MEMORY, LIMIT_EXCEEDED, UNAVAILABLE. */
HABANERO_IMPORT("kv_put")
habanero_result_t habanero_kv_put(const uint8_t *key, uint32_t key_len, const uint8_t *value,
                                  uint32_t value_len, int64_t ttl_ms);

/* Returns: OK (also when absent), INVALID_MEMORY, UNAVAILABLE. */
HABANERO_IMPORT("kv_delete")
habanero_result_t habanero_kv_delete(const uint8_t *key, uint32_t key_len);

/* Atomically reads and deletes a key: of concurrent takers exactly one gets it.
 * On BUFFER_TOO_SMALL the key is already taken and its value is held for this
 * request: calling again with a large enough buffer returns it.
 * Returns: OK, NOT_FOUND, INVALID_MEMORY, BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("kv_take")
habanero_result_t habanero_kv_take(const uint8_t *key, uint32_t key_len, uint8_t *out,
                                   uint32_t out_cap, uint32_t *out_len);

/* Sets key to value only if its current value equals expected; with
 * has_expected == 0, only if the key is absent.
 * Returns: OK, CONFLICT, INVALID_MEMORY, LIMIT_EXCEEDED, UNAVAILABLE. */
HABANERO_IMPORT("kv_compare_and_set")
habanero_result_t habanero_kv_compare_and_set(const uint8_t *key, uint32_t key_len,
                                              int32_t has_expected, const uint8_t *expected,
                                              uint32_t expected_len, const uint8_t *value,
                                              uint32_t value_len, int64_t ttl_ms);

/* ---- capability "crypto" ------------------------------------------------ */

/* Fills out[0..len) from the host's CSPRNG.
 * Returns: OK, INVALID_MEMORY, LIMIT_EXCEEDED (len > 65536), UNAVAILABLE. */
HABANERO_IMPORT("crypto_random")
habanero_result_t habanero_crypto_random(uint8_t *out, uint32_t len);

/* Writes SHA-256(data) to out[0..32).
 * Returns: OK, INVALID_MEMORY. */
HABANERO_IMPORT("crypto_sha256")
habanero_result_t habanero_crypto_sha256(const uint8_t *data, uint32_t len, uint8_t *out32);

/* Writes HMAC-SHA-256(key, data) to out[0..32).
 * Returns: OK, INVALID_MEMORY. */
HABANERO_IMPORT("crypto_hmac_sha256")
habanero_result_t habanero_crypto_hmac_sha256(const uint8_t *key, uint32_t key_len,
                                              const uint8_t *data, uint32_t data_len,
                                              uint8_t *out32);

/* Compares two byte strings in time independent of their contents.
 * Returns: OK (equal), MISMATCH, INVALID_MEMORY. */
HABANERO_IMPORT("crypto_equal")
habanero_result_t habanero_crypto_equal(const uint8_t *a, uint32_t a_len, const uint8_t *b,
                                        uint32_t b_len);

/* Verifies a compact JWS against a public key given as a JWK (JSON; EC P-256
 * for ES256, OKP Ed25519 for EdDSA, RSA for RS256/PS256). The header's alg must
 * match the key; "none" and HMAC algorithms are refused. On OK copies the
 * payload (the decoded JWS payload bytes) to out.
 * Returns: OK, MISMATCH (bad signature, alg/key mismatch), INVALID_ARGUMENT
 *          (not a compact JWS, bad JWK), INVALID_MEMORY, BUFFER_TOO_SMALL. */
HABANERO_IMPORT("crypto_jws_verify_jwk")
habanero_result_t habanero_crypto_jws_verify_jwk(const uint8_t *jws, uint32_t jws_len,
                                                 const uint8_t *jwk_json, uint32_t jwk_json_len,
                                                 uint8_t *out, uint32_t out_cap,
                                                 uint32_t *out_len);

/* Writes the RFC 7638 SHA-256 thumbprint of a public JWK, base64url without
 * padding (43 bytes). Returns: OK, INVALID_ARGUMENT (not a supported public
 *          JWK), INVALID_MEMORY, BUFFER_TOO_SMALL. */
HABANERO_IMPORT("crypto_jwk_thumbprint")
habanero_result_t habanero_crypto_jwk_thumbprint(const uint8_t *jwk_json, uint32_t jwk_json_len,
                                                 uint8_t *out, uint32_t out_cap,
                                                 uint32_t *out_len);

/* ---- capability "keys": JWS with host-held keys ------------------------- */

/* Signs payload as a compact JWS with the host's active signing key; the
 * private key never enters guest memory. header_json is a JSON object of
 * extra protected-header members (e.g. {"typ":"at+jwt"}), or empty; the host
 * sets "alg" and "kid" itself.
 * Returns: OK, INVALID_MEMORY, INVALID_ARGUMENT (header not a JSON object),
 *          BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("jws_sign")
habanero_result_t habanero_jws_sign(const uint8_t *header_json, uint32_t header_len,
                                    const uint8_t *payload, uint32_t payload_len, uint8_t *out,
                                    uint32_t out_cap, uint32_t *out_len);

/* Verifies a compact JWS against the host's current and retained keys and
 * copies its payload. "alg": "none" and unknown kids never verify.
 * Returns: OK, MISMATCH (bad signature, unknown key, malformed), INVALID_MEMORY,
 *          BUFFER_TOO_SMALL, UNAVAILABLE (the host has no signing keys). */
HABANERO_IMPORT("jws_verify")
habanero_result_t habanero_jws_verify(const uint8_t *jws, uint32_t jws_len, uint8_t *out,
                                      uint32_t out_cap, uint32_t *out_len);

/* Writes the host's public signing keys (active first, then retained ones) as a
 * JWKS JSON document.
 * Returns: OK, INVALID_MEMORY, BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("jwks_get")
habanero_result_t habanero_jwks_get(uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* ---- capability "clock" ------------------------------------------------- */

/* Writes the host's wall-clock time in milliseconds since the Unix epoch.
 * Returns: OK, INVALID_MEMORY. */
HABANERO_IMPORT("clock_now_ms")
habanero_result_t habanero_clock_now_ms(int64_t *out);

/* ---- capability "log" --------------------------------------------------- */

typedef enum {
  HABANERO_LOG_DEBUG = 0,
  HABANERO_LOG_INFO = 1,
  HABANERO_LOG_WARN = 2,
  HABANERO_LOG_ERROR = 3,
} habanero_log_level_t;

/* Writes a line to the host log, tagged with the extension's name. At most
 * 4096 bytes are kept; control characters are escaped as \xNN.
 * Returns: OK, INVALID_MEMORY, INVALID_ARGUMENT (unknown level). */
HABANERO_IMPORT("log")
habanero_result_t habanero_log(int32_t level, const uint8_t *msg, uint32_t len);

/* ---- capability "settings" ---------------------------------------------- */

/* Copies a setting from the operator's configuration of this extension
 * ([extensions.settings] in the TOML file), as text.
 * Returns: OK, NOT_FOUND, INVALID_MEMORY, BUFFER_TOO_SMALL. */
HABANERO_IMPORT("setting_get")
habanero_result_t habanero_setting_get(const uint8_t *name, uint32_t name_len, uint8_t *out,
                                       uint32_t out_cap, uint32_t *out_len);

/* ---- capability "sessions": the browser session (protocol extensions) ----
 * The host keeps the session: an HttpOnly, SameSite=Lax cookie (Secure over
 * https) naming a record the guest never sees. See docs/design/0001. */

/* Copies the current request's session as JSON:
 *   {"sub":"…","amr":["pwd"],"auth_time":1700000000,"sid":"…"}
 * Returns: OK, NOT_FOUND (no valid session), INVALID_MEMORY, BUFFER_TOO_SMALL,
 *          UNAVAILABLE. */
HABANERO_IMPORT("session_get")
habanero_result_t habanero_session_get(uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* Makes the response a redirect to the host's login page. Once an
 * authenticator has proven who the user is, the browser comes back to
 * `return_to`, a path on this server starting with '/' (e.g.
 * "/authorize/resume?p=…"). login_hint may be empty.
 * Returns: OK, INVALID_MEMORY, INVALID_ARGUMENT (return_to not a local path),
 *          UNAVAILABLE. */
HABANERO_IMPORT("session_require_login")
habanero_result_t habanero_session_require_login(const uint8_t *return_to, uint32_t return_to_len,
                                                 const uint8_t *login_hint,
                                                 uint32_t login_hint_len);

/* Ends the current session (if any) and clears its cookie in the response.
 * Returns: OK, UNAVAILABLE. */
HABANERO_IMPORT("session_end")
habanero_result_t habanero_session_end(void);

/* ---- capability "login": authenticators ---------------------------------
 * A login attempt is identified by the `rt` query/form parameter the host's
 * login page passes to the authenticator's mount. */

/* Copies the attempt as JSON: {"login_hint":"…"}.
 * Returns: OK, NOT_FOUND (unknown or expired attempt), INVALID_MEMORY,
 *          BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("login_attempt_get")
habanero_result_t habanero_login_attempt_get(const uint8_t *rt, uint32_t rt_len, uint8_t *out,
                                             uint32_t out_cap, uint32_t *out_len);

/* Completes the attempt for `subject`, authenticated by the methods in
 * amr_json (a JSON array of RFC 8176 values, e.g. ["pwd"]): the host starts a
 * new session (a new cookie value), ends the attempt, and makes the response a
 * redirect to the attempt's return_to (303 when the request is a POST, so the
 * browser follows with a GET; 302 otherwise).
 * Returns: OK, NOT_FOUND (unknown/expired attempt or unknown subject),
 *          INVALID_MEMORY, INVALID_ARGUMENT (amr_json not an array of strings),
 *          UNAVAILABLE. */
HABANERO_IMPORT("login_complete")
habanero_result_t habanero_login_complete(const uint8_t *rt, uint32_t rt_len,
                                          const uint8_t *subject, uint32_t subject_len,
                                          const uint8_t *amr_json, uint32_t amr_json_len);

/* ---- capability "users": the host's user records ------------------------ */

/* Copies the user's claims as JSON: {"sub","email","email_verified","name",
 * "phone_number",…} (absent claims are omitted). Never a password hash.
 * Returns: OK, NOT_FOUND, INVALID_MEMORY, BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("user_get")
habanero_result_t habanero_user_get(const uint8_t *subject, uint32_t subject_len, uint8_t *out,
                                    uint32_t out_cap, uint32_t *out_len);

/* Checks an email and password (Argon2id, in the host) and copies the user's
 * subject. An unknown email costs the same time and answers the same MISMATCH.
 * Returns: OK, MISMATCH, INVALID_MEMORY, BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("user_verify_password")
habanero_result_t habanero_user_verify_password(const uint8_t *email, uint32_t email_len,
                                                const uint8_t *password, uint32_t password_len,
                                                uint8_t *out, uint32_t out_cap,
                                                uint32_t *out_len);

/* Finds a user by an exact, normalised identifier and copies the subject.
 * HABANERO_USER_BY_EMAIL: the address is normalised as `user add` does
 * (trimmed, ASCII lower-case). HABANERO_USER_BY_PHONE: an E.164 number.
 * Returns: OK, NOT_FOUND, INVALID_ARGUMENT (unknown kind; value not an
 *          address / E.164 number), INVALID_MEMORY, BUFFER_TOO_SMALL,
 *          UNAVAILABLE. */
typedef enum {
  HABANERO_USER_BY_EMAIL = 0,
  HABANERO_USER_BY_PHONE = 1,
} habanero_user_key_t;
HABANERO_IMPORT("user_find")
habanero_result_t habanero_user_find(int32_t kind, const uint8_t *value, uint32_t value_len,
                                     uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* ---- capability "signup": creating users --------------------------------
 * For authenticators that may register a user on first login (an operator's
 * choice: grant "signup" only then). */

/* Creates a user without a password from JSON {"email":"…"} or
 * {"phone_number":"+…"} (optionally "name"), marks that identifier verified,
 * and copies the new subject.
 * Returns: OK, DUPLICATE (a user with that identifier exists), INVALID_ARGUMENT,
 *          INVALID_MEMORY, BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("user_create")
habanero_result_t habanero_user_create(const uint8_t *user_json, uint32_t user_json_len,
                                       uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* ---- capability "events": durable topics (design 0002) ------------------
 * An event is published to a topic the operator granted the extension
 * (`publish = [...]` in its configuration) and is delivered, at least once,
 * to every loaded extension whose manifest lists the topic in `subscribes`:
 * the host calls the subscriber's export
 *
 *     int32_t habanero_on_event(void);
 *
 * in a fresh instance (no request: the "http" calls answer NOT_FOUND /
 * INVALID_ARGUMENT), where event_get reads the event. Its return value:
 * HABANERO_EVENT_DONE, HABANERO_EVENT_RETRY (a transient failure: the host
 * retries with exponential back-off) or HABANERO_EVENT_FAILED (permanent: the
 * host records the failure for the operator, `habanero outbox list`). A trap
 * or a deadline counts as RETRY. Events are stored in the host's outbox before
 * event_publish returns, so a crash loses none; a retried event may be seen
 * twice, so subscribers must be idempotent. Retries stop after the
 * configured number of attempts (then FAILED). */
enum {
  HABANERO_EVENT_DONE = 0,
  HABANERO_EVENT_RETRY = 1,
  HABANERO_EVENT_FAILED = 2,
};

/* Publishes `payload` (at most 64 KiB; any bytes, JSON by convention) to
 * `topic`. Returns: OK (stored durably), DENIED (topic not granted),
 *          LIMIT_EXCEEDED, INVALID_MEMORY, UNAVAILABLE (not stored). */
HABANERO_IMPORT("event_publish")
habanero_result_t habanero_event_publish(const uint8_t *topic, uint32_t topic_len,
                                         const uint8_t *payload, uint32_t payload_len);

typedef enum {
  HABANERO_EVENT_TOPIC = 0,
  HABANERO_EVENT_PAYLOAD = 1,
  HABANERO_EVENT_ID = 2,       /* unique per event; the same on every retry */
  HABANERO_EVENT_ATTEMPT = 3,  /* decimal: 1 on the first delivery */
  HABANERO_EVENT_PUBLISHER = 4,/* the publishing extension's name */
} habanero_event_field_t;

/* Copies a field of the event being delivered.
 * Returns: OK, NOT_FOUND (not inside habanero_on_event), INVALID_ARGUMENT,
 *          INVALID_MEMORY, BUFFER_TOO_SMALL. */
HABANERO_IMPORT("event_get")
habanero_result_t habanero_event_get(int32_t field, uint8_t *out, uint32_t out_cap,
                                     uint32_t *out_len);

/* ---- capability "mail": sending email (the host holds the SMTP account) -- */

/* Sends one message synchronously through the operator's SMTP server
 * ([mail] url, from). message_json: {"to":"a@b","subject":"…","text":"…",
 * "html":"…"(optional)}; the host sets From, Date, Message-ID and the MIME
 * structure. Meant for habanero_on_event handlers, not the request path.
 * Returns: OK (accepted by the server), INVALID_ARGUMENT (bad JSON, address or
 *          header text), REJECTED (the server refused for good: 5xx),
 *          UNAVAILABLE (not configured, unreachable, 4xx: retry later),
 *          INVALID_MEMORY. */
HABANERO_IMPORT("mail_send")
habanero_result_t habanero_mail_send(const uint8_t *message_json, uint32_t message_json_len);

/* ---- capability "sms": sending text messages (the host holds the gateway) */

/* Sends one SMS through the operator's gateway ([sms] url: a Kannel smsbox or
 * a Twilio-style HTTPS Messages API). message_json: {"to":"+E164","text":"…"}.
 * Returns: OK, INVALID_ARGUMENT (bad JSON, number or empty text), REJECTED,
 *          UNAVAILABLE (retry later), INVALID_MEMORY. */
HABANERO_IMPORT("sms_send")
habanero_result_t habanero_sms_send(const uint8_t *message_json, uint32_t message_json_len);

/* ---- capability "fetch": outbound HTTP GET (design 0002) ----------------
 * Only http(s); the host resolves the name and refuses loopback, private,
 * link-local, unique-local and other special addresses (also on every
 * redirect), enforces size and time limits and the operator's host allow-list
 * for the extension (`fetch_hosts`), and caches responses as Cache-Control
 * allows. */

/* request_json: {"url":"https://…","accept":"text/turtle, …"(optional),
 *                "parse":"turtle"(optional)}
 * Copies the response as JSON:
 *   {"status":200,"url":"<final URL after redirects>","content_type":"…",
 *    "links":["<…>; rel=…", …] (every Link header value),
 *    "body":"…" (as text; absent when parse is set),
 *    "triples":[["s","p","o"],…] (with parse:"turtle": IRIs absolute,
 *               literals as their lexical form, blank nodes as "_:id")}
 * Any HTTP status is OK here (the guest decides what a 404 means).
 * Returns: OK, INVALID_ARGUMENT (bad JSON, not an http(s) URL; Turtle that does
 *          not parse), DENIED (address or host refused), LIMIT_EXCEEDED
 *          (response larger than the limit), UNAVAILABLE (DNS, connection,
 *          timeout), INVALID_MEMORY, BUFFER_TOO_SMALL (the host keeps the
 *          response for an immediate retry with the same request). */
HABANERO_IMPORT("http_fetch")
habanero_result_t habanero_http_fetch(const uint8_t *request_json, uint32_t request_json_len,
                                      uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* ---- capability "clients": the host's client registrations -------------- */

/* Copies a client's registration as JSON: {"client_id","name","public",
 * "redirect_uris":[…],"post_logout_redirect_uris":[…],"grant_types":[…],
 * "scopes":[…],"first_party","token_format":"jwt"|"opaque"}. Never the secret.
 * Returns: OK, NOT_FOUND, INVALID_MEMORY, BUFFER_TOO_SMALL, UNAVAILABLE. */
HABANERO_IMPORT("client_get")
habanero_result_t habanero_client_get(const uint8_t *client_id, uint32_t client_id_len,
                                      uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* Checks a confidential client's secret in constant time. An unknown client or
 * a public one answers MISMATCH. DENIED: too many recent failures for this client id or
 * from this source address ([auth] client_auth_*); the secret was not checked and the host
 * has set Retry-After on the response — answer 429.
 * Returns: OK, MISMATCH, DENIED, INVALID_MEMORY, UNAVAILABLE. */
HABANERO_IMPORT("client_authenticate")
habanero_result_t habanero_client_authenticate(const uint8_t *client_id, uint32_t client_id_len,
                                               const uint8_t *secret, uint32_t secret_len);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HABANERO_H_ */
