// conformance_probe: the ABI conformance suite's host-call interpreter
// (tests/conformance/README.md). It imports every host call of ABI v1; its
// manifest requires only "http" and lists every other capability as optional,
// so it loads under any grants and an ungranted call answers DENIED.
//
// A request carries a program in the header `x-probe`: a JSON array of steps,
// run in order, each one host call (or a pseudo-step). The response body is the
// report, JSON (no content-type header is added, so the steps own every header):
//
//   {"steps":[{"call":"kv_get","result":0,"code":"OK","out":"v","out_len":1}, …]}
//
// A step: {"call": NAME, "args": [ARG, …], "repeat": N, "require": CODE, "quiet": true}
//   args     one per logical parameter of the call, in habanero.h order, where a
//            (pointer, length) pair is one parameter and (out, out_cap, out_len) is
//            one; omitted trailing args take their defaults.
//   repeat   run the call N times; "result" is the last result, "ok_count" the OKs.
//   require  a result code (name or number): if the step's result differs, the
//            probe writes the mismatch to stderr and returns 1 (the host answers
//            500). For steps whose report could not be delivered (response budget).
//   quiet    report only call/result/code (for large values).
//
// Argument kinds:
//   i32 / i64   a JSON number.
//   input pair  "text" (its UTF-8 bytes) | {"hex":"00ff"} | {"repeat":"x","n":N} |
//               {"from":K} (the bytes step K wrote to its out-buffer) |
//               {"bad":"oob"|"overflow"|"wrap"|"straddle"|"past0"} | {"bad":"end0"}
//               (zero length at the end of memory: valid) | {"ptr":P,"len":L} | null
//               (pointer 0, length 0).
//   out triple  N (capacity; default 65536) | {"cap":N} | {"bad":VARIANT} (the buffer)
//               | {"bad_len":"oob"|"wrap"|"straddle"} (the 4-byte out_len).
//   fixed out   (crypto digests: 32 bytes; clock: 8) null | {"bad":"oob"|"wrap"|"straddle"}.
//   writable    (crypto_random) {"len":N} | N | {"bad":VARIANT}.
// Bad pointers (as tests/wasm/bad_pointers.c): oob = 0xFFFFFFF0+0x100 (past the end);
// overflow = 0xFFFFFF00+0xFFFFFFFF (wraps 32 bits); wrap = 0x10+0xFFFFFFF8 (the sum
// wraps to 8); straddle = 8 bytes before the end of memory, 16 long; past0 = one past
// the end, length 0. Fixed-size variants: oob = 0xFFFFFFF0-size, wrap = 2^32-size/2,
// straddle = end-size/2.
//
// Reported per step: "call", "result", "code"; for an out triple "out" (the bytes
// written, as text; invalid UTF-8 replaced), "hex" (when not valid text), "out_len"
// (null if the host left it untouched) and "buf_untouched" (whether out[0..cap) still
// holds its fill byte); for fixed outs "hex" (and "i64" for the clock); with repeat,
// "ok_count".
//
// Pseudo-steps: {"call":"$return","args":[N]} returns N from habanero_on_request at
// once (no report); {"call":"$grow","args":[PAGES]} reports memory.grow's result as
// "value"; {"call":"$pages"} reports the memory size in pages as "value".
#include <habanero.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

using Json = nlohmann::json;

namespace {

// ---- codes ---------------------------------------------------------------------------

constexpr const char* kCodes[] = {"OK",           "NOT_FOUND",       "INVALID_MEMORY",
                                  "BUFFER_TOO_SMALL", "INVALID_ARGUMENT", "DUPLICATE",
                                  "CONFLICT",     "MISMATCH",        "LIMIT_EXCEEDED",
                                  "UNAVAILABLE",  "BAD_STATE",       "DENIED",
                                  "REJECTED"};
constexpr int kCodeCount = sizeof kCodes / sizeof kCodes[0];

std::string codeName(int32_t r) {
  if (r >= 0 && r < kCodeCount) return kCodes[r];
  return "UNKNOWN_" + std::to_string(r);
}

// A code given as a name or a number; -1000 when neither.
int32_t codeOf(const Json& j) {
  if (j.is_number_integer()) return j.get<int32_t>();
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    for (int i = 0; i < kCodeCount; ++i) {
      if (s == kCodes[i]) return i;
    }
  }
  return -1000;
}

// ---- memory ----------------------------------------------------------------------------

uint32_t memoryEnd() { return static_cast<uint32_t>(__builtin_wasm_memory_size(0) * 65536u); }

struct Pair {
  uint32_t ptr = 0;
  uint32_t len = 0;
};

// A bad (ptr, len) pair; false for an unknown variant.
bool badPair(const std::string& v, Pair& p) {
  uint32_t end = memoryEnd();
  if (v == "oob") p = {0xFFFFFFF0u, 0x100u};
  else if (v == "overflow") p = {0xFFFFFF00u, 0xFFFFFFFFu};
  else if (v == "wrap") p = {0x10u, 0xFFFFFFF8u};
  else if (v == "straddle") p = {end - 8u, 16u};
  else if (v == "past0") p = {end + 1u, 0u};
  else if (v == "end0") p = {end, 0u};
  else return false;
  return true;
}

// A pointer to `size` bytes that are not all inside memory; false for an unknown variant.
bool badFixed(const std::string& v, uint32_t size, uint32_t& ptr) {
  uint32_t end = memoryEnd();
  if (v == "oob") ptr = 0xFFFFFFF0u - size;
  else if (v == "wrap") ptr = 0u - size / 2;
  else if (v == "straddle") ptr = end - size / 2;
  else return false;
  return true;
}

uint32_t addr(const void* p) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)); }

// Buffers live until the request ends (the instance is dropped afterwards).
std::vector<std::string*> g_keep;
std::string* keep(std::string s) {
  g_keep.push_back(new std::string(std::move(s)));
  return g_keep.back();
}

std::string g_error;  // the first argument error of the current step

std::vector<std::string> g_outs;  // what each step wrote to its out-buffer

// The bad-pointer variant the last input/writable spec asked for. Bad pointers are
// computed after all of a step's buffers are allocated (which may grow memory and
// move its end), just before the call.
std::string g_bad;

bool hexDecode(const std::string& hex, std::string& out) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2) return false;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

std::string hexEncode(const uint8_t* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

// An input pair from its spec.
Pair inputPair(const Json& spec) {
  Pair p;
  if (spec.is_null()) return p;
  if (spec.is_string()) {
    std::string* s = keep(spec.get<std::string>());
    // A non-null pointer even for "": a zero-length pair at a real address.
    return {s->empty() ? addr(s) : addr(s->data()), static_cast<uint32_t>(s->size())};
  }
  if (!spec.is_object()) {
    g_error = "an input is a string, an object or null";
    return p;
  }
  if (auto it = spec.find("hex"); it != spec.end() && it->is_string()) {
    std::string bytes;
    if (!hexDecode(it->get<std::string>(), bytes)) g_error = "bad hex";
    std::string* s = keep(std::move(bytes));
    return {addr(s->data()), static_cast<uint32_t>(s->size())};
  }
  if (auto it = spec.find("repeat"); it != spec.end() && it->is_string()) {
    auto n = spec.find("n");
    if (n == spec.end() || !n->is_number_unsigned()) {
      g_error = "repeat needs n";
      return p;
    }
    std::string unit = it->get<std::string>();
    std::string bytes;
    size_t count = n->get<size_t>();
    bytes.reserve(unit.size() * count);
    for (size_t i = 0; i < count; ++i) bytes += unit;
    std::string* s = keep(std::move(bytes));
    return {addr(s->data()), static_cast<uint32_t>(s->size())};
  }
  if (auto it = spec.find("from"); it != spec.end() && it->is_number_unsigned()) {
    size_t k = it->get<size_t>();
    if (k >= g_outs.size()) {
      g_error = "from names a later step";
      return p;
    }
    std::string* s = keep(g_outs[k]);
    return {addr(s->data()), static_cast<uint32_t>(s->size())};
  }
  if (auto it = spec.find("bad"); it != spec.end() && it->is_string()) {
    if (!badPair(it->get<std::string>(), p)) g_error = "unknown bad-pointer variant";
    g_bad = it->get<std::string>();  // resolved once every buffer of the step exists
    return p;
  }
  auto ptr = spec.find("ptr"), len = spec.find("len");
  if (ptr != spec.end() && len != spec.end() && ptr->is_number_unsigned() &&
      len->is_number_unsigned()) {
    return {ptr->get<uint32_t>(), len->get<uint32_t>()};
  }
  g_error = "unknown input spec";
  return p;
}

constexpr uint8_t kFill = 0xA5;
constexpr uint32_t kUntouched = 0xFFFFFFFFu;

struct Out {
  std::string bad, bad_len;  // variants, resolved just before the call
  uint32_t ptr = 0, cap = 0, len_ptr = 0;
  uint8_t* buf = nullptr;       // our buffer, when the pair is a real one
  uint32_t* len_cell = nullptr;  // our out_len cell, when real
};

Out outTriple(const Json* spec) {
  Out o;
  uint32_t cap = 65536;
  std::string& bad = o.bad;
  std::string& bad_len = o.bad_len;
  if (spec != nullptr && !spec->is_null()) {
    if (spec->is_number_unsigned()) {
      cap = spec->get<uint32_t>();
    } else if (spec->is_object()) {
      if (auto it = spec->find("cap"); it != spec->end() && it->is_number_unsigned()) {
        cap = it->get<uint32_t>();
      }
      if (auto it = spec->find("bad"); it != spec->end() && it->is_string()) bad = *it;
      if (auto it = spec->find("bad_len"); it != spec->end() && it->is_string()) bad_len = *it;
    } else {
      g_error = "an out-buffer is a capacity or an object";
    }
  }
  if (!bad.empty()) {
    Pair p;
    if (!badPair(bad, p)) g_error = "unknown bad-pointer variant";
    o.ptr = p.ptr;
    o.cap = p.len;
  } else {
    o.buf = static_cast<uint8_t*>(std::malloc(cap == 0 ? 1 : cap));
    if (o.buf == nullptr) {
      g_error = "out of memory for the out-buffer";
      return o;
    }
    std::memset(o.buf, kFill, cap);
    o.ptr = addr(o.buf);
    o.cap = cap;
  }
  if (!bad_len.empty()) {
    if (!badFixed(bad_len, 4, o.len_ptr)) g_error = "unknown bad_len variant";
  } else {
    o.len_cell = static_cast<uint32_t*>(std::malloc(4));
    *o.len_cell = kUntouched;
    o.len_ptr = addr(o.len_cell);
  }
  return o;
}

struct Fixed {
  std::string bad;  // variant, resolved just before the call
  uint32_t ptr = 0;
  uint8_t* buf = nullptr;
  uint32_t size = 0;
};

Fixed fixedOut(const Json* spec, uint32_t size) {
  Fixed f;
  f.size = size;
  if (spec != nullptr && spec->is_object()) {
    if (auto it = spec->find("bad"); it != spec->end() && it->is_string()) {
      if (!badFixed(*it, size, f.ptr)) g_error = "unknown bad-pointer variant";
      f.bad = it->get<std::string>();
      return f;
    }
  }
  f.buf = static_cast<uint8_t*>(std::malloc(size));
  std::memset(f.buf, kFill, size);
  f.ptr = addr(f.buf);
  return f;
}

// crypto_random's (out, len).
Pair writablePair(const Json* spec, uint8_t** buf) {
  Pair p;
  uint32_t len = 16;
  if (spec != nullptr && spec->is_number_unsigned()) len = spec->get<uint32_t>();
  if (spec != nullptr && spec->is_object()) {
    if (auto it = spec->find("bad"); it != spec->end() && it->is_string()) {
      if (!badPair(*it, p)) g_error = "unknown bad-pointer variant";
      g_bad = it->get<std::string>();
      return p;
    }
    if (auto it = spec->find("len"); it != spec->end() && it->is_number_unsigned()) {
      len = it->get<uint32_t>();
    }
  }
  *buf = static_cast<uint8_t*>(std::malloc(len == 0 ? 1 : len));
  if (*buf == nullptr) {
    g_error = "out of memory";
    return p;
  }
  std::memset(*buf, kFill, len);
  return {addr(*buf), len};
}

// ---- calls -----------------------------------------------------------------------------

// Parameter kinds, one char per logical parameter:
//   i i32 · l i64 · b input pair · o out triple · h fixed 32-byte out · c fixed 8-byte out
//   w writable pair
struct Slots {
  uint32_t v[12] = {};
  int64_t wide[12] = {};
  int n = 0;
  void add(uint32_t x) { v[n++] = x; }
  void addWide(int64_t x) { wide[n++] = x; }
};

#define U8(i) reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(s.v[i]))
#define CU8(i) reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(s.v[i]))
#define U32P(i) reinterpret_cast<uint32_t*>(static_cast<uintptr_t>(s.v[i]))
#define I64P(i) reinterpret_cast<int64_t*>(static_cast<uintptr_t>(s.v[i]))
#define I32(i) static_cast<int32_t>(s.v[i])

using Invoke = habanero_result_t (*)(const Slots&);

struct Call {
  const char* name;
  const char* params;
  Invoke invoke;
};

const Call kCalls[] = {
    {"request_get", "io",
     [](const Slots& s) { return habanero_request_get(I32(0), U8(1), s.v[2], U32P(3)); }},
    {"request_header", "bo",
     [](const Slots& s) {
       return habanero_request_header(CU8(0), s.v[1], U8(2), s.v[3], U32P(4));
     }},
    {"request_param", "ibo",
     [](const Slots& s) {
       return habanero_request_param(I32(0), CU8(1), s.v[2], U8(3), s.v[4], U32P(5));
     }},
    {"response_set_status", "i",
     [](const Slots& s) { return habanero_response_set_status(I32(0)); }},
    {"response_add_header", "bb",
     [](const Slots& s) {
       return habanero_response_add_header(CU8(0), s.v[1], CU8(2), s.v[3]);
     }},
    {"response_write", "b", [](const Slots& s) { return habanero_response_write(CU8(0), s.v[1]); }},
    {"response_redirect", "ib",
     [](const Slots& s) { return habanero_response_redirect(I32(0), CU8(1), s.v[2]); }},
    {"kv_get", "bo",
     [](const Slots& s) { return habanero_kv_get(CU8(0), s.v[1], U8(2), s.v[3], U32P(4)); }},
    {"kv_put", "bbl",
     [](const Slots& s) {
       return habanero_kv_put(CU8(0), s.v[1], CU8(2), s.v[3], s.wide[4]);
     }},
    {"kv_delete", "b", [](const Slots& s) { return habanero_kv_delete(CU8(0), s.v[1]); }},
    {"kv_take", "bo",
     [](const Slots& s) { return habanero_kv_take(CU8(0), s.v[1], U8(2), s.v[3], U32P(4)); }},
    {"kv_compare_and_set", "bibbl",
     [](const Slots& s) {
       return habanero_kv_compare_and_set(CU8(0), s.v[1], I32(2), CU8(3), s.v[4], CU8(5), s.v[6],
                                          s.wide[7]);
     }},
    {"crypto_random", "w", [](const Slots& s) { return habanero_crypto_random(U8(0), s.v[1]); }},
    {"crypto_sha256", "bh",
     [](const Slots& s) { return habanero_crypto_sha256(CU8(0), s.v[1], U8(2)); }},
    {"crypto_hmac_sha256", "bbh",
     [](const Slots& s) {
       return habanero_crypto_hmac_sha256(CU8(0), s.v[1], CU8(2), s.v[3], U8(4));
     }},
    {"crypto_equal", "bb",
     [](const Slots& s) { return habanero_crypto_equal(CU8(0), s.v[1], CU8(2), s.v[3]); }},
    {"crypto_jws_verify_jwk", "bbo",
     [](const Slots& s) {
       return habanero_crypto_jws_verify_jwk(CU8(0), s.v[1], CU8(2), s.v[3], U8(4), s.v[5],
                                             U32P(6));
     }},
    {"crypto_jwk_thumbprint", "bo",
     [](const Slots& s) {
       return habanero_crypto_jwk_thumbprint(CU8(0), s.v[1], U8(2), s.v[3], U32P(4));
     }},
    {"jws_sign", "bbo",
     [](const Slots& s) {
       return habanero_jws_sign(CU8(0), s.v[1], CU8(2), s.v[3], U8(4), s.v[5], U32P(6));
     }},
    {"jws_verify", "bo",
     [](const Slots& s) { return habanero_jws_verify(CU8(0), s.v[1], U8(2), s.v[3], U32P(4)); }},
    {"jwks_get", "o", [](const Slots& s) { return habanero_jwks_get(U8(0), s.v[1], U32P(2)); }},
    {"clock_now_ms", "c", [](const Slots& s) { return habanero_clock_now_ms(I64P(0)); }},
    {"log", "ib", [](const Slots& s) { return habanero_log(I32(0), CU8(1), s.v[2]); }},
    {"setting_get", "bo",
     [](const Slots& s) {
       return habanero_setting_get(CU8(0), s.v[1], U8(2), s.v[3], U32P(4));
     }},
    {"session_get", "o",
     [](const Slots& s) { return habanero_session_get(U8(0), s.v[1], U32P(2)); }},
    {"session_require_login", "bb",
     [](const Slots& s) {
       return habanero_session_require_login(CU8(0), s.v[1], CU8(2), s.v[3]);
     }},
    {"session_end", "", [](const Slots&) { return habanero_session_end(); }},
    {"login_attempt_get", "bo",
     [](const Slots& s) {
       return habanero_login_attempt_get(CU8(0), s.v[1], U8(2), s.v[3], U32P(4));
     }},
    {"login_complete", "bbb",
     [](const Slots& s) {
       return habanero_login_complete(CU8(0), s.v[1], CU8(2), s.v[3], CU8(4), s.v[5]);
     }},
    {"user_get", "bo",
     [](const Slots& s) { return habanero_user_get(CU8(0), s.v[1], U8(2), s.v[3], U32P(4)); }},
    {"user_verify_password", "bbo",
     [](const Slots& s) {
       return habanero_user_verify_password(CU8(0), s.v[1], CU8(2), s.v[3], U8(4), s.v[5],
                                            U32P(6));
     }},
    {"user_find", "ibo",
     [](const Slots& s) {
       return habanero_user_find(I32(0), CU8(1), s.v[2], U8(3), s.v[4], U32P(5));
     }},
    {"user_create", "bo",
     [](const Slots& s) {
       return habanero_user_create(CU8(0), s.v[1], U8(2), s.v[3], U32P(4));
     }},
    {"event_publish", "bb",
     [](const Slots& s) { return habanero_event_publish(CU8(0), s.v[1], CU8(2), s.v[3]); }},
    {"event_get", "io",
     [](const Slots& s) { return habanero_event_get(I32(0), U8(1), s.v[2], U32P(3)); }},
    {"mail_send", "b", [](const Slots& s) { return habanero_mail_send(CU8(0), s.v[1]); }},
    {"sms_send", "b", [](const Slots& s) { return habanero_sms_send(CU8(0), s.v[1]); }},
    {"http_fetch", "bo",
     [](const Slots& s) { return habanero_http_fetch(CU8(0), s.v[1], U8(2), s.v[3], U32P(4)); }},
    {"client_get", "bo",
     [](const Slots& s) { return habanero_client_get(CU8(0), s.v[1], U8(2), s.v[3], U32P(4)); }},
    {"client_authenticate", "bb",
     [](const Slots& s) {
       return habanero_client_authenticate(CU8(0), s.v[1], CU8(2), s.v[3]);
     }},
};

const Call* findCall(std::string_view name) {
  for (const Call& c : kCalls) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

bool isUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

// Runs one host-call step; the report, or an object with "error".
Json runCall(const Call& call, const Json& step, int32_t* last_result) {
  static const Json kEmpty = Json::array();
  auto args_it = step.find("args");
  const Json& args = args_it != step.end() && args_it->is_array() ? *args_it : kEmpty;
  auto arg = [&](size_t i) -> const Json* { return i < args.size() ? &args[i] : nullptr; };

  g_error.clear();
  Slots s;
  Out out;
  bool has_out = false;
  Fixed fixed;
  bool has_fixed = false;
  uint8_t* random_buf = nullptr;
  Pair random_pair;
  struct Fixup {
    int slot;       // the pointer's slot; a pair's length is the next one
    bool pair;      // (ptr, len) pair, else a fixed-size pointer
    uint32_t size;  // fixed-size pointers: the size
    std::string variant;
  };
  std::vector<Fixup> fixups;
  size_t n_params = std::strlen(call.params);
  for (size_t i = 0; i < n_params; ++i) {
    const Json* a = arg(i);
    switch (call.params[i]) {
      case 'i':
        s.add(a != nullptr && a->is_number_integer() ? static_cast<uint32_t>(a->get<int64_t>())
                                                      : 0u);
        if (a == nullptr || !a->is_number_integer()) g_error = "an i32 argument is missing";
        break;
      case 'l':
        s.addWide(a != nullptr && a->is_number_integer() ? a->get<int64_t>() : 0);
        break;
      case 'b': {
        g_bad.clear();
        Pair p = inputPair(a != nullptr ? *a : Json());
        if (!g_bad.empty()) fixups.push_back({s.n, true, 0, g_bad});
        s.add(p.ptr);
        s.add(p.len);
        break;
      }
      case 'o':
        out = outTriple(a);
        has_out = true;
        if (!out.bad.empty()) fixups.push_back({s.n, true, 0, out.bad});
        if (!out.bad_len.empty()) fixups.push_back({s.n + 2, false, 4, out.bad_len});
        s.add(out.ptr);
        s.add(out.cap);
        s.add(out.len_ptr);
        break;
      case 'h':
      case 'c':
        fixed = fixedOut(a, call.params[i] == 'h' ? 32 : 8);
        has_fixed = true;
        if (!fixed.bad.empty()) fixups.push_back({s.n, false, fixed.size, fixed.bad});
        s.add(fixed.ptr);
        break;
      case 'w':
        g_bad.clear();
        random_pair = writablePair(a, &random_buf);
        if (!g_bad.empty()) fixups.push_back({s.n, true, 0, g_bad});
        s.add(random_pair.ptr);
        s.add(random_pair.len);
        break;
    }
  }
  Json report = Json::object();
  report["call"] = call.name;
  if (!g_error.empty()) {
    report["error"] = g_error;
    g_outs.emplace_back();
    return report;
  }
  int64_t repeat = 1;
  if (auto it = step.find("repeat"); it != step.end() && it->is_number_unsigned()) {
    repeat = it->get<int64_t>();
  }
  // Every buffer exists now: place the bad pointers relative to the final memory end.
  for (const Fixup& f : fixups) {
    if (f.pair) {
      Pair p;
      badPair(f.variant, p);
      s.v[f.slot] = p.ptr;
      s.v[f.slot + 1] = p.len;
    } else {
      badFixed(f.variant, f.size, s.v[f.slot]);
    }
  }
  habanero_result_t r = HABANERO_OK;
  int64_t ok_count = 0;
  for (int64_t k = 0; k < repeat; ++k) {
    r = call.invoke(s);
    if (r == HABANERO_OK) ok_count++;
  }
  *last_result = r;
  report["result"] = r;
  report["code"] = codeName(r);
  if (repeat != 1) report["ok_count"] = ok_count;

  std::string written;
  bool quiet = step.value("quiet", false);
  if (has_out && out.buf != nullptr && out.len_cell != nullptr) {
    uint32_t len = *out.len_cell;
    if (r == HABANERO_OK && len <= out.cap) {
      written.assign(reinterpret_cast<const char*>(out.buf), len);
    }
    bool untouched = true;
    for (uint32_t k = 0; k < out.cap; ++k) {
      if (out.buf[k] != kFill) {
        untouched = false;
        break;
      }
    }
    if (!quiet) {
      if (len == kUntouched) report["out_len"] = nullptr;
      else report["out_len"] = len;
      report["buf_untouched"] = untouched;
      if (r == HABANERO_OK) {
        report["out"] = written;
        if (!isUtf8(written)) {
          report["hex"] = hexEncode(reinterpret_cast<const uint8_t*>(written.data()),
                                    written.size());
        }
      }
    }
  } else if (has_out && out.len_cell != nullptr && !quiet) {
    uint32_t len = *out.len_cell;
    if (len == kUntouched) report["out_len"] = nullptr;
    else report["out_len"] = len;
  }
  if (has_fixed && fixed.buf != nullptr) {
    written.assign(reinterpret_cast<const char*>(fixed.buf), fixed.size);
    if (!quiet && r == HABANERO_OK) {
      report["hex"] = hexEncode(fixed.buf, fixed.size);
      if (fixed.size == 8) {
        int64_t v;
        std::memcpy(&v, fixed.buf, 8);
        report["i64"] = v;
      }
    }
  }
  if (random_buf != nullptr) {
    written.assign(reinterpret_cast<const char*>(random_buf), random_pair.len);
    if (!quiet && r == HABANERO_OK && random_pair.len <= 4096) {
      report["hex"] = hexEncode(random_buf, random_pair.len);
    }
  }
  if (quiet) {
    Json q = Json::object();
    q["call"] = report["call"];
    q["result"] = report["result"];
    q["code"] = report["code"];
    if (repeat != 1) q["ok_count"] = ok_count;
    report = std::move(q);
  }
  g_outs.push_back(std::move(written));
  return report;
}

// Reads the request header `name` whole; false if absent.
bool header(const char* name, std::string& value) {
  uint32_t cap = 4096, len = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    value.resize(cap);
    habanero_result_t r = habanero_request_header(
        reinterpret_cast<const uint8_t*>(name), static_cast<uint32_t>(std::strlen(name)),
        reinterpret_cast<uint8_t*>(value.data()), cap, &len);
    if (r == HABANERO_OK) {
      value.resize(len);
      return true;
    }
    if (r != HABANERO_BUFFER_TOO_SMALL) return false;
    cap = len;
  }
  return false;
}

void respond(int32_t status, const std::string& body) {
  habanero_response_set_status(status);
  habanero_response_write(reinterpret_cast<const uint8_t*>(body.data()),
                          static_cast<uint32_t>(body.size()));
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  std::string program;
  if (!header("x-probe", program)) {
    respond(400, "{\"error\":\"no x-probe header\"}");
    return 0;
  }
  Json steps = Json::parse(program, nullptr, /*allow_exceptions=*/false);
  if (!steps.is_array()) {
    respond(400, "{\"error\":\"x-probe is not a JSON array\"}");
    return 0;
  }
  Json reports = Json::array();
  for (size_t i = 0; i < steps.size(); ++i) {
    const Json& step = steps[i];
    std::string name;
    if (step.is_object()) {
      if (auto it = step.find("call"); it != step.end() && it->is_string()) name = *it;
    }
    Json report;
    int32_t result = HABANERO_OK;
    if (name == "$return") {
      int32_t value = 1;
      if (auto it = step.find("args"); it != step.end() && it->is_array() && !it->empty() &&
                                       (*it)[0].is_number_integer()) {
        value = (*it)[0].get<int32_t>();
      }
      return value;
    } else if (name == "$grow" || name == "$pages") {
      int64_t pages = 0;
      if (auto it = step.find("args"); it != step.end() && it->is_array() && !it->empty() &&
                                       (*it)[0].is_number_unsigned()) {
        pages = (*it)[0].get<int64_t>();
      }
      report = {{"call", name},
                {"value", name == "$grow"
                              ? static_cast<int64_t>(static_cast<int32_t>(
                                    __builtin_wasm_memory_grow(0, static_cast<size_t>(pages))))
                              : static_cast<int64_t>(__builtin_wasm_memory_size(0))}};
      g_outs.emplace_back();
    } else if (const Call* call = findCall(name)) {
      report = runCall(*call, step, &result);
    } else {
      report = {{"call", name}, {"error", "unknown call"}};
      g_outs.emplace_back();
    }
    if (auto it = step.find("require"); it != step.end()) {
      int32_t want = codeOf(*it);
      if (!report.contains("result") || want != result) {
        std::fprintf(stderr, "conformance_probe: step %zu (%s) returned %s, required %s\n", i,
                     name.c_str(), codeName(result).c_str(), it->dump().c_str());
        return 1;
      }
    }
    reports.push_back(std::move(report));
  }
  Json body = {{"steps", std::move(reports)}};
  std::string text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  // Status and headers are the steps' business: the report is only the body (no
  // content-type). It is dropped when the steps used up the response budget.
  habanero_response_write(reinterpret_cast<const uint8_t*>(text.data()),
                          static_cast<uint32_t>(text.size()));
  return 0;
}
