/* bad_pointers: calls every host call of ABI v1 with pointer/length pairs that do not lie
 * inside guest memory, and with out-of-range enum values, and responds 200 with a JSON
 * object of the result codes:
 *
 *   {"request_get.out_oob":2, "request_get.field_7":4, ...}
 *
 * Keys are "<call>.<argument>_<case>". Every value must be 2 (INVALID_MEMORY, for the
 * pointer cases) or 4 (INVALID_ARGUMENT, for the *_range / *_crlf cases); anything else is
 * a host bug. Pointer cases, each with every other argument valid:
 *   oob       ptr 0xFFFFFFF0, len 0x100: wholly past the end of memory
 *   overflow  ptr 0xFFFFFF00, len 0xFFFFFFFF: ptr+len overflows 32 bits
 *   wrap      ptr 0x10, len 0xFFFFFFF8: ptr+len wraps to 0x8, which a 32-bit bounds
 *             check takes for "inside" (a host that falls for it reads ~4 GiB)
 *   straddle  starts 8 bytes before the end of memory, 16 long
 * For fixed-size outputs (out_len: 4 bytes, clock: 8, digests: 32) the cases are oob
 * (0xFFFFFFF0 - size: wholly past the end), wrap (0x1_0000_0000 - size/2: the end wraps) and
 * straddle (memory end - size/2).
 * The host validates every pair before doing anything, so results do not depend on
 * whether a key, header or setting exists, and no call has an effect.
 * The response is written last; if the instance could not make valid calls after all
 * this, the host sees no 200. */
#include <habanero.h>

/* ---- a tiny JSON object writer ----------------------------------------------------------- */

static char json[32768];
static uint32_t json_len;

static void put_str(const char *s) {
  while (*s && json_len < sizeof json) json[json_len++] = *s++;
}

static void put_i32(int32_t v) {
  char digits[12];
  uint32_t n = 0;
  uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) put_str("-");
  while (n && json_len < sizeof json) json[json_len++] = digits[--n];
}

static void record(const char *call, const char *arg, const char *kase, habanero_result_t r) {
  put_str(json_len == 0 ? "{\"" : ",\"");
  put_str(call);
  put_str(".");
  put_str(arg);
  if (kase[0]) {
    put_str("_");
    put_str(kase);
  }
  put_str("\":");
  put_i32(r);
}

/* ---- bad pointers -------------------------------------------------------------------------- */

typedef struct {
  const char *name;
  uint32_t ptr;
  uint32_t len;
} Span;

enum { kSpans = 4, kFixed = 3 };
static Span spans[kSpans];         /* for (ptr, len) pairs */
static uint32_t fixed_ptr[kFixed]; /* for fixed-size outputs; see fixed() */
static const char *const kFixedNames[kFixed] = {"oob", "wrap", "straddle"};

static uint32_t memory_end(void) { return (uint32_t)(__builtin_wasm_memory_size(0) * 65536u); }

static void init_spans(void) {
  uint32_t end = memory_end();
  spans[0] = (Span){"oob", 0xFFFFFFF0u, 0x100u};
  spans[1] = (Span){"overflow", 0xFFFFFF00u, 0xFFFFFFFFu};
  spans[2] = (Span){"wrap", 0x10u, 0xFFFFFFF8u};
  spans[3] = (Span){"straddle", end - 8u, 16u};
}

/* Pointers for an output of `size` bytes that does not fit in memory. */
static void fixed(uint32_t size) {
  uint32_t end = memory_end();
  fixed_ptr[0] = 0xFFFFFFF0u - size; /* wholly past the end (memory < 4 GiB) */
  fixed_ptr[1] = 0u - size / 2;      /* ptr + size wraps past 2^32 */
  fixed_ptr[2] = end - size / 2;
}

#define P(u) ((uint8_t *)(uintptr_t)(u))
#define CP(u) ((const uint8_t *)(uintptr_t)(u))

/* Valid buffers for the arguments that are not under test. */
static uint8_t good[512];
static uint32_t good_len;
static const uint8_t kName[] = "host"; /* a header/param/setting/key name */
#define NAME kName, 4
#define OUT good, sizeof good, &good_len
static const uint8_t kJws[] = "eyJhbGciOiJub25lIn0.e30.";

#define FOR_SPANS(i) for (int i = 0; i < kSpans; ++i)
#define FOR_FIXED(i) for (int i = 0; i < kFixed; ++i)
#define SP(i) CP(spans[i].ptr), spans[i].len
#define SPW(i) P(spans[i].ptr), spans[i].len

static void http_request(void) {
  static const int32_t kFields[] = {7, -1, 0x7FFFFFFF};
  static const char *const kFieldNames[] = {"7", "neg", "max"};
  for (int i = 0; i < 3; ++i) {
    record("request_get", "field", kFieldNames[i], habanero_request_get(kFields[i], OUT));
  }
  FOR_SPANS(i) {
    record("request_get", "out", spans[i].name,
           habanero_request_get(HABANERO_REQUEST_METHOD, SPW(i), &good_len));
  }
  fixed(4);
  FOR_FIXED(i) {
    record("request_get", "out_len", kFixedNames[i],
           habanero_request_get(HABANERO_REQUEST_METHOD, good, sizeof good,
                                (uint32_t *)P(fixed_ptr[i])));
  }

  FOR_SPANS(i) {
    record("request_header", "name", spans[i].name, habanero_request_header(SP(i), OUT));
    record("request_header", "out", spans[i].name,
           habanero_request_header(NAME, SPW(i), &good_len));
  }
  FOR_FIXED(i) {
    record("request_header", "out_len", kFixedNames[i],
           habanero_request_header(NAME, good, sizeof good, (uint32_t *)P(fixed_ptr[i])));
  }

  static const int32_t kSources[] = {2, -1};
  static const char *const kSourceNames[] = {"2", "neg"};
  for (int i = 0; i < 2; ++i) {
    record("request_param", "source", kSourceNames[i],
           habanero_request_param(kSources[i], NAME, OUT));
  }
  FOR_SPANS(i) {
    record("request_param", "name", spans[i].name,
           habanero_request_param(HABANERO_PARAMS_QUERY, SP(i), OUT));
    record("request_param", "out", spans[i].name,
           habanero_request_param(HABANERO_PARAMS_QUERY, NAME, SPW(i), &good_len));
  }
  FOR_FIXED(i) {
    record("request_param", "out_len", kFixedNames[i],
           habanero_request_param(HABANERO_PARAMS_QUERY, NAME, good, sizeof good,
                                  (uint32_t *)P(fixed_ptr[i])));
  }
}

static void http_response(void) {
  static const int32_t kStatuses[] = {0, 99, 600, 1000, -1};
  static const char *const kStatusNames[] = {"0", "99", "600", "1000", "neg"};
  for (int i = 0; i < 5; ++i) {
    record("response_set_status", "status", kStatusNames[i],
           habanero_response_set_status(kStatuses[i]));
  }

  static const uint8_t kHeader[] = "x-bad";
  static const uint8_t kValue[] = "v";
  FOR_SPANS(i) {
    record("response_add_header", "name", spans[i].name,
           habanero_response_add_header(SP(i), kValue, 1));
    record("response_add_header", "value", spans[i].name,
           habanero_response_add_header(kHeader, 5, SP(i)));
  }
  record("response_add_header", "name", "crlf",
         habanero_response_add_header((const uint8_t *)"x\r\ny", 4, kValue, 1));
  record("response_add_header", "value", "lf",
         habanero_response_add_header(kHeader, 5, (const uint8_t *)"a\nb", 3));
  record("response_add_header", "value", "cr",
         habanero_response_add_header(kHeader, 5, (const uint8_t *)"a\rb", 3));
  record("response_add_header", "value", "nul",
         habanero_response_add_header(kHeader, 5, (const uint8_t *)"a\0b", 3));

  FOR_SPANS(i) { record("response_write", "data", spans[i].name, habanero_response_write(SP(i))); }

  static const uint8_t kUrl[] = "/elsewhere";
  static const int32_t kRedirects[] = {200, 300, 304, 306, -1};
  static const char *const kRedirectNames[] = {"200", "300", "304", "306", "neg"};
  for (int i = 0; i < 5; ++i) {
    record("response_redirect", "status", kRedirectNames[i],
           habanero_response_redirect(kRedirects[i], kUrl, sizeof kUrl - 1));
  }
  FOR_SPANS(i) {
    record("response_redirect", "url", spans[i].name, habanero_response_redirect(302, SP(i)));
  }
  record("response_redirect", "url", "crlf",
         habanero_response_redirect(302, (const uint8_t *)"/a\r\nSet-Cookie: x=1", 19));
}

static void kv(void) {
  static const uint8_t kValue[] = "value";
  FOR_SPANS(i) {
    record("kv_get", "key", spans[i].name, habanero_kv_get(SP(i), OUT));
    record("kv_get", "out", spans[i].name, habanero_kv_get(NAME, SPW(i), &good_len));
    record("kv_put", "key", spans[i].name, habanero_kv_put(SP(i), kValue, 5, 0));
    record("kv_put", "value", spans[i].name, habanero_kv_put(NAME, SP(i), 0));
    record("kv_delete", "key", spans[i].name, habanero_kv_delete(SP(i)));
    record("kv_take", "key", spans[i].name, habanero_kv_take(SP(i), OUT));
    record("kv_take", "out", spans[i].name, habanero_kv_take(NAME, SPW(i), &good_len));
    record("kv_compare_and_set", "key", spans[i].name,
           habanero_kv_compare_and_set(SP(i), 0, kValue, 0, kValue, 5, 0));
    record("kv_compare_and_set", "expected", spans[i].name,
           habanero_kv_compare_and_set(NAME, 1, SP(i), kValue, 5, 0));
    record("kv_compare_and_set", "value", spans[i].name,
           habanero_kv_compare_and_set(NAME, 0, kValue, 0, SP(i), 0));
  }
  fixed(4);
  FOR_FIXED(i) {
    record("kv_get", "out_len", kFixedNames[i],
           habanero_kv_get(NAME, good, sizeof good, (uint32_t *)P(fixed_ptr[i])));
    record("kv_take", "out_len", kFixedNames[i],
           habanero_kv_take(NAME, good, sizeof good, (uint32_t *)P(fixed_ptr[i])));
  }
}

static void crypto(void) {
  static const uint8_t kData[] = "data";
  uint8_t digest[32];
  /* crypto_random caps len at 65536 (LIMIT_EXCEEDED); keep every case under it so only
   * the memory check can fail. */
  uint32_t end = memory_end();
  const Span random_spans[3] = {
      {"oob", 0xFFFFFFF0u, 0x100u},
      {"overflow", 0xFFFFFF00u, 0x10000u}, /* ptr+len wraps to 0xFF00 */
      {"straddle", end - 8u, 16u},
  };
  for (int i = 0; i < 3; ++i) {
    record("crypto_random", "out", random_spans[i].name,
           habanero_crypto_random(P(random_spans[i].ptr), random_spans[i].len));
  }
  FOR_SPANS(i) {
    record("crypto_sha256", "data", spans[i].name, habanero_crypto_sha256(SP(i), digest));
    record("crypto_hmac_sha256", "key", spans[i].name,
           habanero_crypto_hmac_sha256(SP(i), kData, 4, digest));
    record("crypto_hmac_sha256", "data", spans[i].name,
           habanero_crypto_hmac_sha256(kData, 4, SP(i), digest));
    record("crypto_equal", "a", spans[i].name, habanero_crypto_equal(SP(i), kData, 4));
    record("crypto_equal", "b", spans[i].name, habanero_crypto_equal(kData, 4, SP(i)));
  }
  fixed(32);
  FOR_FIXED(i) {
    record("crypto_sha256", "out", kFixedNames[i],
           habanero_crypto_sha256(kData, 4, P(fixed_ptr[i])));
    record("crypto_hmac_sha256", "out", kFixedNames[i],
           habanero_crypto_hmac_sha256(kData, 4, kData, 4, P(fixed_ptr[i])));
  }
}

static void keys(void) {
  static const uint8_t kPayload[] = "{}";
  FOR_SPANS(i) {
    record("jws_sign", "header", spans[i].name, habanero_jws_sign(SP(i), kPayload, 2, OUT));
    record("jws_sign", "payload", spans[i].name, habanero_jws_sign(CP(0), 0, SP(i), OUT));
    record("jws_sign", "out", spans[i].name,
           habanero_jws_sign(CP(0), 0, kPayload, 2, SPW(i), &good_len));
    record("jws_verify", "jws", spans[i].name, habanero_jws_verify(SP(i), OUT));
    record("jws_verify", "out", spans[i].name,
           habanero_jws_verify(kJws, sizeof kJws - 1, SPW(i), &good_len));
  }
  fixed(4);
  FOR_FIXED(i) {
    record(
        "jws_sign", "out_len", kFixedNames[i],
        habanero_jws_sign(CP(0), 0, kPayload, 2, good, sizeof good, (uint32_t *)P(fixed_ptr[i])));
    record(
        "jws_verify", "out_len", kFixedNames[i],
        habanero_jws_verify(kJws, sizeof kJws - 1, good, sizeof good, (uint32_t *)P(fixed_ptr[i])));
  }
}

static void clock_log_settings(void) {
  fixed(8);
  FOR_FIXED(i) {
    record("clock_now_ms", "out", kFixedNames[i],
           habanero_clock_now_ms((int64_t *)P(fixed_ptr[i])));
  }

  static const uint8_t kMsg[] = "bad_pointers: log level test";
  static const int32_t kLevels[] = {4, -1, 0x7FFFFFFF};
  static const char *const kLevelNames[] = {"4", "neg", "max"};
  for (int i = 0; i < 3; ++i) {
    record("log", "level", kLevelNames[i], habanero_log(kLevels[i], kMsg, sizeof kMsg - 1));
  }
  FOR_SPANS(i) { record("log", "msg", spans[i].name, habanero_log(HABANERO_LOG_INFO, SP(i))); }

  FOR_SPANS(i) {
    record("setting_get", "name", spans[i].name, habanero_setting_get(SP(i), OUT));
    record("setting_get", "out", spans[i].name, habanero_setting_get(NAME, SPW(i), &good_len));
  }
  fixed(4);
  FOR_FIXED(i) {
    record("setting_get", "out_len", kFixedNames[i],
           habanero_setting_get(NAME, good, sizeof good, (uint32_t *)P(fixed_ptr[i])));
  }
}

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  json_len = 0;
  init_spans();
  http_request();
  http_response();
  kv();
  crypto();
  keys();
  clock_log_settings();
  put_str("}");

  /* Valid calls must still work. */
  static const uint8_t kType[] = "application/json";
  if (habanero_response_set_status(200) != HABANERO_OK ||
      habanero_response_add_header((const uint8_t *)"content-type", 12, kType, sizeof kType - 1) !=
          HABANERO_OK ||
      habanero_request_get(HABANERO_REQUEST_METHOD, OUT) != HABANERO_OK) {
    habanero_response_set_status(500);
    return 0;
  }
  habanero_response_write((const uint8_t *)json, json_len);
  return 0;
}
