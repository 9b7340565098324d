#include "runtime/host_calls.h"

#include <algorithm>
#include <cctype>
#include <array>
#include <bit>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "auth/clients.h"
#include "auth/sessions.h"
#include "auth/users.h"
#include "crypto/jwk.h"
#include "events/outbox.h"
#include "outbound/fetch.h"
#include "outbound/mail.h"
#include "outbound/sms.h"
#include "outbound/turtle.h"
#include "server/config.h"
#include "habanero/strings.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "habanero/limits.h"
#include "runtime/capabilities.h"
#include "runtime/guest_memory.h"
#include "runtime/wasmtime_handles.h"
#include "../../sdk/c/habanero.h"

static_assert(std::endian::native == std::endian::little, "guest memory is little-endian");

namespace habanero::runtime {
namespace {

using Raw = wasmtime_val_raw_t;
using Result = habanero_result_t;

// ---- plumbing ----------------------------------------------------------

HostState& stateOf(wasmtime_caller_t* caller) {
  return *static_cast<HostState*>(wasmtime_context_get_data(wasmtime_caller_context(caller)));
}

// The guest's memory as it is now. An instance without an exported memory
// gets an empty view, so every pointer is out of bounds.
GuestMemory memoryOf(wasmtime_caller_t* caller, HostState& st) {
  wasmtime_context_t* ctx = wasmtime_caller_context(caller);
  if (!st.have_memory) {
    wasmtime_extern_t item;
    if (!wasmtime_caller_export_get(caller, "memory", 6, &item)) return {};
    if (item.kind != WASMTIME_EXTERN_MEMORY) {
      wasmtime_extern_delete(&item);
      return {};
    }
    st.memory = item.of.memory;
    st.have_memory = true;
  }
  return GuestMemory(wasmtime_memory_data(ctx, &st.memory),
                     wasmtime_memory_data_size(ctx, &st.memory));
}

uint32_t u32(const Raw& v) { return static_cast<uint32_t>(v.i32); }

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Writes `data` to the out-buffer (out, cap) and its length to *out_len,
// following the ABI's BUFFER_TOO_SMALL protocol.
Result writeOut(const GuestMemory& mem, uint32_t out, uint32_t cap, uint32_t out_len,
                std::string_view data) {
  if (!mem.slice(out_len, 4) || !mem.slice(out, cap)) return HABANERO_INVALID_MEMORY;
  if (data.size() > cap) {
    mem.writeU32(out_len, static_cast<uint32_t>(std::min<size_t>(data.size(), UINT32_MAX)));
    return HABANERO_BUFFER_TOO_SMALL;
  }
  mem.write(out, asBytes(data));
  mem.writeU32(out_len, static_cast<uint32_t>(data.size()));
  return HABANERO_OK;
}

// Checks an out-buffer before doing work whose effect cannot be undone.
bool outBufferValid(const GuestMemory& mem, uint32_t out, uint32_t cap, uint32_t out_len) {
  return mem.slice(out_len, 4) && mem.slice(out, cap);
}

std::string_view trimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// Header values: visible ASCII, obs-text and HTAB/space; no other controls.
bool validHeaderText(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

// A guest's text as one log line: control characters become \xNN, so a guest
// cannot forge lines that look like another extension's.
std::string logSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

bool validHeaderName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// Logs a host-call failure that is the host's fault (storage down etc.).
void logUnavailable(const HostState& st, std::string_view call, const absl::Status& s) {
  spdlog::error("[{}] {}: {}", st.extension, call, sv(s.message()));
}

// ---- capability "http" -------------------------------------------------

Result requestGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  const Request& r = *st.request;
  std::string_view value;
  switch (a[0].i32) {
    case HABANERO_REQUEST_METHOD: value = r.method; break;
    case HABANERO_REQUEST_PATH: value = r.path; break;
    case HABANERO_REQUEST_QUERY: value = r.query; break;
    case HABANERO_REQUEST_BODY: value = r.body; break;
    case HABANERO_REQUEST_REMOTE_ADDR: value = r.remote_addr; break;
    case HABANERO_REQUEST_MOUNT: value = st.mount; break;
    case HABANERO_REQUEST_SCHEME: value = r.secure ? "https" : "http"; break;
    default:
      if (!outBufferValid(mem, u32(a[1]), u32(a[2]), u32(a[3]))) return HABANERO_INVALID_MEMORY;
      return HABANERO_INVALID_ARGUMENT;
  }
  return writeOut(mem, u32(a[1]), u32(a[2]), u32(a[3]), value);
}

Result requestHeader(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto name = mem.view(u32(a[0]), u32(a[1]));
  if (!name || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) {
    return HABANERO_INVALID_MEMORY;
  }
  std::string joined;
  bool found = false;
  for (const auto& [k, v] : st.request->headers) {
    if (equalsIgnoreCase(k, *name)) {
      if (found) joined += ", ";
      joined += v;
      found = true;
    }
  }
  if (!found) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), joined);
}

const absl::StatusOr<http::Params>& paramsOf(HostState& st, int32_t source) {
  if (source == HABANERO_PARAMS_QUERY) {
    if (!st.query) st.query = http::parseForm(st.request->query);
    return *st.query;
  }
  if (!st.form) {
    const std::string* ct = findHeader(st.request->headers, "content-type");
    bool is_form = ct && startsWithIgnoreCase(trimLeft(*ct),
                                                    "application/x-www-form-urlencoded");
    st.form = is_form ? http::parseForm(st.request->body) : http::parseForm("");
  }
  return *st.form;
}

Result requestParam(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto name = mem.view(u32(a[1]), u32(a[2]));
  if (!name || !outBufferValid(mem, u32(a[3]), u32(a[4]), u32(a[5]))) {
    return HABANERO_INVALID_MEMORY;
  }
  int32_t source = a[0].i32;
  if (source != HABANERO_PARAMS_QUERY && source != HABANERO_PARAMS_FORM) {
    return HABANERO_INVALID_ARGUMENT;
  }
  const absl::StatusOr<http::Params>& params = paramsOf(st, source);
  if (!params.ok()) return HABANERO_INVALID_ARGUMENT;
  http::Params::Lookup found = params->find(*name);
  switch (found.kind) {
    case http::Params::Lookup::kNotFound: return HABANERO_NOT_FOUND;
    case http::Params::Lookup::kDuplicate: return HABANERO_DUPLICATE;
    case http::Params::Lookup::kValue: break;
  }
  return writeOut(mem, u32(a[3]), u32(a[4]), u32(a[5]), found.value);
}

Result responseSetStatus(HostState& st, const GuestMemory&, const Raw* a) {
  int32_t status = a[0].i32;
  if (status < 200 || status > 599) return HABANERO_INVALID_ARGUMENT;
  st.response.status = status;
  return HABANERO_OK;
}

Result responseAddHeader(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto name = mem.view(u32(a[0]), u32(a[1]));
  auto value = mem.view(u32(a[2]), u32(a[3]));
  if (!name || !value) return HABANERO_INVALID_MEMORY;
  if (!validHeaderName(*name) || !validHeaderText(*value)) return HABANERO_INVALID_ARGUMENT;
  if (st.response.headers.size() >= limits::kMaxResponseHeaders ||
      st.response_bytes + name->size() + value->size() > limits::kMaxResponseBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  st.response_bytes += name->size() + value->size();
  st.response.headers.emplace_back(std::string(*name), std::string(*value));
  return HABANERO_OK;
}

Result responseWrite(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto data = mem.view(u32(a[0]), u32(a[1]));
  if (!data) return HABANERO_INVALID_MEMORY;
  if (st.response_bytes + data->size() > limits::kMaxResponseBytes) return HABANERO_LIMIT_EXCEEDED;
  st.response_bytes += data->size();
  st.response.body.append(*data);
  return HABANERO_OK;
}

Result responseRedirect(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto url = mem.view(u32(a[1]), u32(a[2]));
  if (!url) return HABANERO_INVALID_MEMORY;
  int32_t status = a[0].i32;
  if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
    return HABANERO_INVALID_ARGUMENT;
  }
  if (url->empty() || !validHeaderText(*url)) return HABANERO_INVALID_ARGUMENT;
  if (st.response_bytes + url->size() > limits::kMaxResponseBytes) return HABANERO_LIMIT_EXCEEDED;
  st.response_bytes += url->size();
  st.response.status = status;
  auto& headers = st.response.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& h) { return equalsIgnoreCase(h.first, "location"); }),
                headers.end());
  headers.emplace_back("Location", std::string(*url));
  return HABANERO_OK;
}

// ---- capability "kv" ---------------------------------------------------

std::optional<std::string_view> kvKey(const GuestMemory& mem, const Raw& ptr, const Raw& len) {
  return mem.view(u32(ptr), u32(len));
}

Result kvGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto key = kvKey(mem, a[0], a[1]);
  if (!key || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes) return HABANERO_LIMIT_EXCEEDED;
  auto value = st.services->storage->get(st.extension, *key);
  if (!value.ok()) {
    logUnavailable(st, "kv_get", value.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!value->has_value()) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), **value);
}

Result kvPut(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto key = kvKey(mem, a[0], a[1]);
  auto value = mem.view(u32(a[2]), u32(a[3]));
  if (!key || !value) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes || value->size() > limits::kMaxValueBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  absl::Status s = st.services->storage->put(st.extension, *key, *value, a[4].i64);
  if (!s.ok()) {
    logUnavailable(st, "kv_put", s);
    return HABANERO_UNAVAILABLE;
  }
  return HABANERO_OK;
}

Result kvDelete(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto key = kvKey(mem, a[0], a[1]);
  if (!key) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes) return HABANERO_OK;  // cannot exist
  absl::Status s = st.services->storage->remove(st.extension, *key);
  if (!s.ok()) {
    logUnavailable(st, "kv_delete", s);
    return HABANERO_UNAVAILABLE;
  }
  return HABANERO_OK;
}

Result kvTake(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto key = kvKey(mem, a[0], a[1]);
  uint32_t out = u32(a[2]), cap = u32(a[3]), out_len = u32(a[4]);
  if (!key || !outBufferValid(mem, out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes) return HABANERO_NOT_FOUND;
  // A value taken earlier in this request but too big for the guest's buffer
  // is held here, so the retry receives it: nothing is lost, nothing races.
  auto held = st.held_takes.find(std::string(*key));
  if (held != st.held_takes.end()) {
    Result r = writeOut(mem, out, cap, out_len, held->second);
    if (r == HABANERO_OK) st.held_takes.erase(held);
    return r;
  }
  auto taken = st.services->storage->take(st.extension, *key);
  if (!taken.ok()) {
    logUnavailable(st, "kv_take", taken.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!taken->has_value()) return HABANERO_NOT_FOUND;
  Result r = writeOut(mem, out, cap, out_len, **taken);
  if (r == HABANERO_BUFFER_TOO_SMALL) st.held_takes.emplace(std::string(*key), std::move(**taken));
  return r;
}

Result kvCompareAndSet(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto key = kvKey(mem, a[0], a[1]);
  bool has_expected = a[2].i32 != 0;
  auto expected = mem.view(u32(a[3]), has_expected ? u32(a[4]) : 0);
  auto value = mem.view(u32(a[5]), u32(a[6]));
  if (!key || !value || (has_expected && !expected)) return HABANERO_INVALID_MEMORY;
  if (key->size() > limits::kMaxKeyBytes || value->size() > limits::kMaxValueBytes) {
    return HABANERO_LIMIT_EXCEEDED;
  }
  std::optional<std::string_view> exp;
  if (has_expected) exp = *expected;
  auto ok = st.services->storage->compareAndSet(st.extension, *key, exp, *value, a[7].i64);
  if (!ok.ok()) {
    logUnavailable(st, "kv_compare_and_set", ok.status());
    return HABANERO_UNAVAILABLE;
  }
  return *ok ? HABANERO_OK : HABANERO_CONFLICT;
}

// ---- capability "crypto" -----------------------------------------------

Result cryptoRandom(HostState&, const GuestMemory& mem, const Raw* a) {
  auto out = mem.slice(u32(a[0]), u32(a[1]));
  if (!out) return HABANERO_INVALID_MEMORY;
  if (out->size() > limits::kMaxRandomBytes) return HABANERO_LIMIT_EXCEEDED;
  if (!crypto::randomBytes(*out).ok()) return HABANERO_UNAVAILABLE;
  return HABANERO_OK;
}

Result cryptoSha256(HostState&, const GuestMemory& mem, const Raw* a) {
  auto data = mem.view(u32(a[0]), u32(a[1]));
  if (!data || !mem.slice(u32(a[2]), 32)) return HABANERO_INVALID_MEMORY;
  auto digest = crypto::sha256(*data);
  mem.write(u32(a[2]), asBytes(digest));
  return HABANERO_OK;
}

Result cryptoHmacSha256(HostState&, const GuestMemory& mem, const Raw* a) {
  auto key = mem.view(u32(a[0]), u32(a[1]));
  auto data = mem.view(u32(a[2]), u32(a[3]));
  if (!key || !data || !mem.slice(u32(a[4]), 32)) return HABANERO_INVALID_MEMORY;
  auto mac = crypto::hmacSha256(*key, *data);
  mem.write(u32(a[4]), asBytes(mac));
  return HABANERO_OK;
}

Result cryptoEqual(HostState&, const GuestMemory& mem, const Raw* a) {
  auto x = mem.view(u32(a[0]), u32(a[1]));
  auto y = mem.view(u32(a[2]), u32(a[3]));
  if (!x || !y) return HABANERO_INVALID_MEMORY;
  return crypto::constantTimeEqual(*x, *y) ? HABANERO_OK : HABANERO_MISMATCH;
}

Result cryptoJwsVerifyJwk(HostState&, const GuestMemory& mem, const Raw* a) {
  auto jws = mem.view(u32(a[0]), u32(a[1]));
  auto jwk = mem.view(u32(a[2]), u32(a[3]));
  if (!jws || !jwk || !outBufferValid(mem, u32(a[4]), u32(a[5]), u32(a[6]))) {
    return HABANERO_INVALID_MEMORY;
  }
  auto payload = crypto::verifyJwsWithJwk(*jws, *jwk);
  if (!payload.ok()) {
    return payload.status().code() == absl::StatusCode::kPermissionDenied
               ? HABANERO_MISMATCH
               : HABANERO_INVALID_ARGUMENT;
  }
  return writeOut(mem, u32(a[4]), u32(a[5]), u32(a[6]), *payload);
}

Result cryptoJwkThumbprint(HostState&, const GuestMemory& mem, const Raw* a) {
  auto jwk = mem.view(u32(a[0]), u32(a[1]));
  if (!jwk || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) return HABANERO_INVALID_MEMORY;
  auto thumbprint = crypto::jwkThumbprint(*jwk);
  if (!thumbprint.ok()) return HABANERO_INVALID_ARGUMENT;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), *thumbprint);
}

// ---- capability "keys" -------------------------------------------------

Result jwsSign(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto header = mem.view(u32(a[0]), u32(a[1]));
  auto payload = mem.view(u32(a[2]), u32(a[3]));
  if (!header || !payload || !outBufferValid(mem, u32(a[4]), u32(a[5]), u32(a[6]))) {
    return HABANERO_INVALID_MEMORY;
  }
  if (st.services->signer == nullptr) return HABANERO_UNAVAILABLE;
  auto jws = st.services->signer->sign(*header, *payload);
  if (!jws.ok()) {
    if (jws.status().code() == absl::StatusCode::kInvalidArgument) return HABANERO_INVALID_ARGUMENT;
    logUnavailable(st, "jws_sign", jws.status());
    return HABANERO_UNAVAILABLE;
  }
  return writeOut(mem, u32(a[4]), u32(a[5]), u32(a[6]), *jws);
}

Result jwsVerify(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto jws = mem.view(u32(a[0]), u32(a[1]));
  if (!jws || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) return HABANERO_INVALID_MEMORY;
  if (st.services->signer == nullptr) return HABANERO_UNAVAILABLE;
  auto payload = st.services->signer->verify(*jws);
  if (!payload.ok()) return HABANERO_MISMATCH;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), *payload);
}

Result jwksGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  if (!outBufferValid(mem, u32(a[0]), u32(a[1]), u32(a[2]))) return HABANERO_INVALID_MEMORY;
  if (st.services->signer == nullptr) return HABANERO_UNAVAILABLE;
  return writeOut(mem, u32(a[0]), u32(a[1]), u32(a[2]), st.services->signer->jwks());
}

// ---- capabilities "sessions" and "login" (design 0001) -----------------

// Host-made response headers and redirects. They count against the response
// budget like the guest's but are never refused: the host's own few hundred
// bytes must not fail a login.
void hostHeader(HostState& st, std::string_view name, std::string value) {
  st.response_bytes += name.size() + value.size();
  st.response.headers.emplace_back(std::string(name), std::move(value));
}

void hostRedirect(HostState& st, std::string url) {
  auto& headers = st.response.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& h) { return equalsIgnoreCase(h.first, "location"); }),
                headers.end());
  // After a POST (a login form), 303 makes every user agent follow with a GET
  // and never re-post the credentials (RFC 9700 §4.11).
  st.response.status = st.request->method == "POST" ? 303 : 302;
  hostHeader(st, "Location", std::move(url));
}

Result sessionGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  if (!outBufferValid(mem, u32(a[0]), u32(a[1]), u32(a[2]))) return HABANERO_INVALID_MEMORY;
  if (st.services->sessions == nullptr) return HABANERO_UNAVAILABLE;
  auto session = st.services->sessions->get(st.request->headers);
  if (!session.ok()) {
    logUnavailable(st, "session_get", session.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!session->has_value()) return HABANERO_NOT_FOUND;
  // A removed user's sessions end with the user.
  if (st.services->users != nullptr) {
    auto user = st.services->users->get((*session)->subject);
    if (!user.ok()) {
      logUnavailable(st, "session_get", user.status());
      return HABANERO_UNAVAILABLE;
    }
    if (!user->has_value()) return HABANERO_NOT_FOUND;
  }
  return writeOut(mem, u32(a[0]), u32(a[1]), u32(a[2]), auth::Sessions::toJson(**session));
}

Result sessionRequireLogin(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto return_to = mem.view(u32(a[0]), u32(a[1]));
  auto login_hint = mem.view(u32(a[2]), u32(a[3]));
  if (!return_to || !login_hint) return HABANERO_INVALID_MEMORY;
  if (st.services->sessions == nullptr) return HABANERO_UNAVAILABLE;
  auto begun = st.services->sessions->beginLogin(*return_to, *login_hint, st.request->headers,
                                                 st.request->secure);
  if (!begun.ok()) {
    if (begun.status().code() == absl::StatusCode::kInvalidArgument) {
      return HABANERO_INVALID_ARGUMENT;
    }
    logUnavailable(st, "session_require_login", begun.status());
    return HABANERO_UNAVAILABLE;
  }
  hostRedirect(st, strCat("/login?rt=", begun->rt));
  hostHeader(st, "Set-Cookie", std::move(begun->set_cookie));
  return HABANERO_OK;
}

Result sessionEnd(HostState& st, const GuestMemory&, const Raw*) {
  if (st.services->sessions == nullptr) return HABANERO_UNAVAILABLE;
  absl::Status ended = st.services->sessions->end(st.request->headers);
  if (!ended.ok()) {
    logUnavailable(st, "session_end", ended);
    return HABANERO_UNAVAILABLE;
  }
  hostHeader(st, "Set-Cookie", st.services->sessions->clearSessionCookie(st.request->secure));
  return HABANERO_OK;
}

Result loginAttemptGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto rt = mem.view(u32(a[0]), u32(a[1]));
  if (!rt || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) return HABANERO_INVALID_MEMORY;
  if (st.services->sessions == nullptr) return HABANERO_UNAVAILABLE;
  auto attempt = st.services->sessions->findAttempt(*rt, st.request->headers);
  if (!attempt.ok()) {
    logUnavailable(st, "login_attempt_get", attempt.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!attempt->has_value()) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), auth::Sessions::toJson(**attempt));
}

Result loginComplete(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto rt = mem.view(u32(a[0]), u32(a[1]));
  auto subject = mem.view(u32(a[2]), u32(a[3]));
  auto amr_json = mem.view(u32(a[4]), u32(a[5]));
  if (!rt || !subject || !amr_json) return HABANERO_INVALID_MEMORY;
  auth::Sessions* sessions = st.services->sessions;
  if (sessions == nullptr || st.services->users == nullptr) return HABANERO_UNAVAILABLE;
  auto amr = auth::parseAmr(*amr_json);
  if (!amr.ok()) return HABANERO_INVALID_ARGUMENT;
  const Headers& headers = st.request->headers;

  // Checked before the attempt is taken: a bad subject leaves it usable.
  auto found = sessions->findAttempt(*rt, headers);
  if (!found.ok()) {
    logUnavailable(st, "login_complete", found.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!found->has_value()) return HABANERO_NOT_FOUND;
  auto user = st.services->users->get(*subject);
  if (!user.ok()) {
    logUnavailable(st, "login_complete", user.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!user->has_value()) return HABANERO_NOT_FOUND;
  auto taken = sessions->takeAttempt(*rt, headers);
  if (!taken.ok()) {
    logUnavailable(st, "login_complete", taken.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!taken->has_value()) return HABANERO_NOT_FOUND;  // completed concurrently

  // A login always gets a fresh cookie; the browser's previous session ends.
  absl::Status ended = sessions->end(headers);
  if (!ended.ok()) logUnavailable(st, "login_complete: ending the previous session", ended);
  auto started = sessions->start(*subject, std::move(*amr));
  if (!started.ok()) {
    logUnavailable(st, "login_complete", started.status());
    return HABANERO_UNAVAILABLE;
  }
  hostRedirect(st, std::move((*taken)->return_to));
  hostHeader(st, "Set-Cookie", sessions->sessionCookie(started->cookie, st.request->secure));
  return HABANERO_OK;
}

// ---- capabilities "users" and "clients" (design 0001) ------------------

Result userGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto subject = mem.view(u32(a[0]), u32(a[1]));
  if (!subject || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) {
    return HABANERO_INVALID_MEMORY;
  }
  if (st.services->users == nullptr) return HABANERO_UNAVAILABLE;
  auto claims = st.services->users->claimsJson(*subject);
  if (!claims.ok()) {
    logUnavailable(st, "user_get", claims.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!claims->has_value()) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), **claims);
}

Result userVerifyPassword(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto email = mem.view(u32(a[0]), u32(a[1]));
  auto password = mem.view(u32(a[2]), u32(a[3]));
  if (!email || !password || !outBufferValid(mem, u32(a[4]), u32(a[5]), u32(a[6]))) {
    return HABANERO_INVALID_MEMORY;
  }
  if (st.services->users == nullptr) return HABANERO_UNAVAILABLE;
  auto subject = st.services->users->verifyPassword(*email, *password);
  if (!subject.ok()) {
    logUnavailable(st, "user_verify_password", subject.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!subject->has_value()) return HABANERO_MISMATCH;
  return writeOut(mem, u32(a[4]), u32(a[5]), u32(a[6]), **subject);
}

Result clientGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto id = mem.view(u32(a[0]), u32(a[1]));
  if (!id || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) return HABANERO_INVALID_MEMORY;
  if (st.services->clients == nullptr) return HABANERO_UNAVAILABLE;
  std::shared_ptr<const auth::RegisteredClient> client = st.services->clients->find(*id);
  if (client == nullptr) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), client->json);
}

Result clientAuthenticate(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto id = mem.view(u32(a[0]), u32(a[1]));
  auto secret = mem.view(u32(a[2]), u32(a[3]));
  if (!id || !secret) return HABANERO_INVALID_MEMORY;
  if (st.services->clients == nullptr) return HABANERO_UNAVAILABLE;
  return st.services->clients->authenticate(*id, *secret) ? HABANERO_OK : HABANERO_MISMATCH;
}

// ---- capabilities "clock", "log", "settings" ---------------------------

Result clockNowMs(HostState& st, const GuestMemory& mem, const Raw* a) {
  if (!mem.writeI64(u32(a[0]), st.services->clock->nowMs())) return HABANERO_INVALID_MEMORY;
  return HABANERO_OK;
}

Result log(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto msg = mem.view(u32(a[1]), u32(a[2]));
  if (!msg) return HABANERO_INVALID_MEMORY;
  spdlog::level::level_enum level;
  switch (a[0].i32) {
    case HABANERO_LOG_DEBUG: level = spdlog::level::debug; break;
    case HABANERO_LOG_INFO: level = spdlog::level::info; break;
    case HABANERO_LOG_WARN: level = spdlog::level::warn; break;
    case HABANERO_LOG_ERROR: level = spdlog::level::err; break;
    default: return HABANERO_INVALID_ARGUMENT;
  }
  spdlog::log(level, "[{}] {}", st.extension, logSafe(msg->substr(0, limits::kMaxLogLineBytes)));
  return HABANERO_OK;
}

Result settingGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto name = mem.view(u32(a[0]), u32(a[1]));
  if (!name || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) return HABANERO_INVALID_MEMORY;
  if (st.settings == nullptr) return HABANERO_NOT_FOUND;
  auto it = st.settings->find(std::string(*name));
  if (it == st.settings->end()) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), it->second);
}

// ---- design 0002: users find / signup, events, mail, sms, fetch ---------

// Scope of a host call's network wait: on exit, the time spent is added to
// the request's I/O time and the epoch deadline is reset to what the guest
// has left of its own budget (deadline_ms minus time not spent waiting).
class NetworkWait {
 public:
  explicit NetworkWait(HostState& st) : st_(st), start_(std::chrono::steady_clock::now()) {}
  ~NetworkWait() {
    if (st_.context == nullptr || st_.deadline_ms == 0) return;
    auto now = std::chrono::steady_clock::now();
    st_.io_wait_ms +=
        std::chrono::duration_cast<std::chrono::milliseconds>(now - start_).count();
    int64_t used = std::chrono::duration_cast<std::chrono::milliseconds>(now - st_.started)
                       .count() - st_.io_wait_ms;
    int64_t left = std::max<int64_t>(int64_t{st_.deadline_ms} - used, 1);
    uint64_t tick = std::max<uint32_t>(st_.epoch_tick_ms, 1);
    wasmtime_context_set_epoch_deadline(st_.context, (left + tick - 1) / tick + 1);
  }
  NetworkWait(const NetworkWait&) = delete;
  NetworkWait& operator=(const NetworkWait&) = delete;

 private:
  HostState& st_;
  std::chrono::steady_clock::time_point start_;
};

using Json = nlohmann::json;

Json parseJson(std::string_view text) { return Json::parse(text, nullptr, false); }

// A string member of a JSON object, or nullopt (missing or not a string).
std::optional<std::string> jsonString(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string dumpJson(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Result userFind(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto value = mem.view(u32(a[1]), u32(a[2]));
  if (!value || !outBufferValid(mem, u32(a[3]), u32(a[4]), u32(a[5]))) {
    return HABANERO_INVALID_MEMORY;
  }
  if (st.services->users == nullptr) return HABANERO_UNAVAILABLE;
  absl::StatusOr<std::optional<auth::User>> user;
  switch (a[0].i32) {
    case HABANERO_USER_BY_EMAIL:
      if (!auth::normalizeEmail(*value).ok()) return HABANERO_INVALID_ARGUMENT;
      user = st.services->users->findByEmail(*value);
      break;
    case HABANERO_USER_BY_PHONE:
      if (!auth::isE164(*value)) return HABANERO_INVALID_ARGUMENT;
      user = st.services->users->findByPhone(*value);
      break;
    default:
      return HABANERO_INVALID_ARGUMENT;
  }
  if (!user.ok()) {
    logUnavailable(st, "user_find", user.status());
    return HABANERO_UNAVAILABLE;
  }
  if (!user->has_value()) return HABANERO_NOT_FOUND;
  return writeOut(mem, u32(a[3]), u32(a[4]), u32(a[5]), (*user)->subject);
}

Result userCreate(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto text = mem.view(u32(a[0]), u32(a[1]));
  if (!text || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) {
    return HABANERO_INVALID_MEMORY;
  }
  if (st.services->users == nullptr) return HABANERO_UNAVAILABLE;
  Json j = parseJson(*text);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  auth::NewUser u;
  u.email = jsonString(j, "email").value_or("");
  u.phone_number = jsonString(j, "phone_number").value_or("");
  u.name = jsonString(j, "name").value_or("");
  if (u.email.empty() == u.phone_number.empty()) return HABANERO_INVALID_ARGUMENT;  // exactly one
  // The authenticator proved control of the identifier it signs up with.
  u.email_verified = !u.email.empty();
  u.phone_number_verified = !u.phone_number.empty();
  auto added = st.services->users->add(u);
  if (!added.ok()) {
    switch (added.status().code()) {
      case absl::StatusCode::kAlreadyExists: return HABANERO_DUPLICATE;
      case absl::StatusCode::kInvalidArgument: return HABANERO_INVALID_ARGUMENT;
      default:
        logUnavailable(st, "user_create", added.status());
        return HABANERO_UNAVAILABLE;
    }
  }
  spdlog::info("[{}] signed up user {}", st.extension, added->subject);
  return writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), added->subject);
}

Result eventPublish(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto topic = mem.view(u32(a[0]), u32(a[1]));
  auto payload = mem.view(u32(a[2]), u32(a[3]));
  if (!topic || !payload) return HABANERO_INVALID_MEMORY;
  if (st.services->outbox == nullptr || st.config == nullptr) return HABANERO_UNAVAILABLE;
  const std::vector<std::string>& granted = st.config->publish;
  if (std::find(granted.begin(), granted.end(), *topic) == granted.end()) {
    spdlog::warn("[{}] event_publish to '{}' refused: not in its publish grants", st.extension,
                 logSafe(*topic));
    return HABANERO_DENIED;
  }
  if (payload->size() > events::Outbox::kMaxPayloadBytes) return HABANERO_LIMIT_EXCEEDED;
  absl::Status s = st.services->outbox->publish(st.extension, *topic, *payload);
  if (!s.ok()) {
    logUnavailable(st, "event_publish", s);
    return HABANERO_UNAVAILABLE;
  }
  return HABANERO_OK;
}

Result eventGet(HostState& st, const GuestMemory& mem, const Raw* a) {
  if (!outBufferValid(mem, u32(a[1]), u32(a[2]), u32(a[3]))) return HABANERO_INVALID_MEMORY;
  if (st.event == nullptr) return HABANERO_NOT_FOUND;
  std::string value;
  switch (a[0].i32) {
    case HABANERO_EVENT_TOPIC: value = st.event->topic; break;
    case HABANERO_EVENT_PAYLOAD: value = st.event->payload; break;
    case HABANERO_EVENT_ID: value = st.event->id; break;
    case HABANERO_EVENT_ATTEMPT: value = std::to_string(st.event->attempts); break;
    case HABANERO_EVENT_PUBLISHER: value = st.event->publisher; break;
    default: return HABANERO_INVALID_ARGUMENT;
  }
  return writeOut(mem, u32(a[1]), u32(a[2]), u32(a[3]), value);
}

// Maps a sender's Status to the ABI's result (mail.h, sms.h).
Result sendResult(HostState& st, std::string_view call, const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return HABANERO_OK;
    case absl::StatusCode::kInvalidArgument:
      spdlog::warn("[{}] {}: {}", st.extension, call, sv(s.message()));
      return HABANERO_INVALID_ARGUMENT;
    case absl::StatusCode::kFailedPrecondition:
      spdlog::error("[{}] {}: refused for good: {}", st.extension, call, sv(s.message()));
      return HABANERO_REJECTED;
    default:
      spdlog::warn("[{}] {}: {}", st.extension, call, sv(s.message()));
      return HABANERO_UNAVAILABLE;
  }
}

Result mailSend(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto text = mem.view(u32(a[0]), u32(a[1]));
  if (!text) return HABANERO_INVALID_MEMORY;
  if (st.services->mailer == nullptr) return HABANERO_UNAVAILABLE;
  Json j = parseJson(*text);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  auto to = jsonString(j, "to");
  auto subject = jsonString(j, "subject");
  auto body = jsonString(j, "text");
  if (!to || !subject || !body) return HABANERO_INVALID_ARGUMENT;
  outbound::MailMessage m{*to, *subject, *body, jsonString(j, "html").value_or("")};
  NetworkWait wait(st);
  return sendResult(st, "mail_send", st.services->mailer->send(m));
}

Result smsSend(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto text = mem.view(u32(a[0]), u32(a[1]));
  if (!text) return HABANERO_INVALID_MEMORY;
  if (st.services->sms == nullptr) return HABANERO_UNAVAILABLE;
  Json j = parseJson(*text);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  auto to = jsonString(j, "to");
  auto body = jsonString(j, "text");
  if (!to || !body || !outbound::isE164(*to) || body->empty()) return HABANERO_INVALID_ARGUMENT;
  NetworkWait wait(st);
  return sendResult(st, "sms_send", st.services->sms->send({*to, *body}));
}

// Performs the fetch a request JSON describes; the response JSON or a result.
std::variant<std::string, Result> doFetch(HostState& st, std::string_view request_json) {
  Json j = parseJson(request_json);
  if (!j.is_object()) return HABANERO_INVALID_ARGUMENT;
  auto url = jsonString(j, "url");
  if (!url) return HABANERO_INVALID_ARGUMENT;
  std::string parse = jsonString(j, "parse").value_or("");
  if (!parse.empty() && parse != "turtle") return HABANERO_INVALID_ARGUMENT;

  outbound::FetchPolicy policy;
  policy.allow_loopback = st.services->fetch_allow_loopback;
  policy.timeout_ms = st.services->fetch_timeout_ms;
  policy.max_bytes = st.services->fetch_max_bytes;
  if (st.config != nullptr) policy.allowed_hosts = st.config->fetch_hosts;
  NetworkWait wait(st);
  auto response =
      st.services->fetcher->fetch({*url, jsonString(j, "accept").value_or("")}, policy);
  if (!response.ok()) {
    spdlog::info("[{}] http_fetch {}: {}", st.extension, logSafe(*url),
                 sv(response.status().message()));
    switch (response.status().code()) {
      case absl::StatusCode::kInvalidArgument: return HABANERO_INVALID_ARGUMENT;
      case absl::StatusCode::kPermissionDenied: return HABANERO_DENIED;
      case absl::StatusCode::kResourceExhausted: return HABANERO_LIMIT_EXCEEDED;
      default: return HABANERO_UNAVAILABLE;
    }
  }
  Json out = {{"status", response->status},
              {"url", response->url},
              {"content_type", response->content_type},
              {"links", response->links}};
  if (parse == "turtle") {
    auto triples = outbound::parseTurtle(response->body, response->url);
    if (!triples.ok()) {
      spdlog::info("[{}] http_fetch {}: {}", st.extension, logSafe(*url),
                   sv(triples.status().message()));
      return HABANERO_INVALID_ARGUMENT;
    }
    Json list = Json::array();
    for (const outbound::Triple& t : *triples) list.push_back({t.subject, t.predicate, t.object});
    out["triples"] = std::move(list);
  } else {
    out["body"] = response->body;
  }
  return dumpJson(out);
}

Result httpFetch(HostState& st, const GuestMemory& mem, const Raw* a) {
  auto request = mem.view(u32(a[0]), u32(a[1]));
  if (!request || !outBufferValid(mem, u32(a[2]), u32(a[3]), u32(a[4]))) {
    return HABANERO_INVALID_MEMORY;
  }
  if (st.services->fetcher == nullptr) return HABANERO_UNAVAILABLE;
  std::string key(*request);
  std::string answer;
  if (auto held = st.held_fetches.find(key); held != st.held_fetches.end()) {
    answer = std::move(held->second);
    st.held_fetches.erase(held);
  } else {
    auto fetched = doFetch(st, *request);
    if (auto* r = std::get_if<Result>(&fetched)) return *r;
    answer = std::move(std::get<std::string>(fetched));
  }
  Result r = writeOut(mem, u32(a[2]), u32(a[3]), u32(a[4]), answer);
  if (r == HABANERO_BUFFER_TOO_SMALL) {
    st.held_fetches.clear();  // at most one held answer per request
    st.held_fetches.emplace(std::move(key), std::move(answer));
  }
  return r;
}

// ---- the table ---------------------------------------------------------

using Impl = Result (*)(HostState&, const GuestMemory&, const Raw*);

struct HostCall {
  std::string_view name;
  std::string_view params;  // 'i' = i32, 'I' = i64; every call returns one i32
  Impl impl;
};

constexpr std::array<HostCall, 40> kHostCalls = {{
    {"request_get", "iiii", requestGet},
    {"request_header", "iiiii", requestHeader},
    {"request_param", "iiiiii", requestParam},
    {"response_set_status", "i", responseSetStatus},
    {"response_add_header", "iiii", responseAddHeader},
    {"response_write", "ii", responseWrite},
    {"response_redirect", "iii", responseRedirect},
    {"kv_get", "iiiii", kvGet},
    {"kv_put", "iiiiI", kvPut},
    {"kv_delete", "ii", kvDelete},
    {"kv_take", "iiiii", kvTake},
    {"kv_compare_and_set", "iiiiiiiI", kvCompareAndSet},
    {"crypto_random", "ii", cryptoRandom},
    {"crypto_sha256", "iii", cryptoSha256},
    {"crypto_hmac_sha256", "iiiii", cryptoHmacSha256},
    {"crypto_equal", "iiii", cryptoEqual},
    {"crypto_jws_verify_jwk", "iiiiiii", cryptoJwsVerifyJwk},
    {"crypto_jwk_thumbprint", "iiiii", cryptoJwkThumbprint},
    {"jws_sign", "iiiiiii", jwsSign},
    {"jws_verify", "iiiii", jwsVerify},
    {"jwks_get", "iii", jwksGet},
    {"clock_now_ms", "i", clockNowMs},
    {"log", "iii", log},
    {"setting_get", "iiiii", settingGet},
    {"session_get", "iii", sessionGet},
    {"session_require_login", "iiii", sessionRequireLogin},
    {"session_end", "", sessionEnd},
    {"login_attempt_get", "iiiii", loginAttemptGet},
    {"login_complete", "iiiiii", loginComplete},
    {"user_get", "iiiii", userGet},
    {"user_verify_password", "iiiiiii", userVerifyPassword},
    {"client_get", "iiiii", clientGet},
    {"client_authenticate", "iiii", clientAuthenticate},
    {"user_find", "iiiiii", userFind},
    {"user_create", "iiiii", userCreate},
    {"event_publish", "iiii", eventPublish},
    {"event_get", "iiii", eventGet},
    {"mail_send", "ii", mailSend},
    {"sms_send", "ii", smsSend},
    {"http_fetch", "iiiii", httpFetch},
}};

// Each host call checks, before anything else, that its capability is
// granted to the calling extension: the load-time import check covers
// required capabilities; this covers optional ones (and is a second line).
struct Bound {
  Impl impl;
  uint32_t capability_bit;
};

wasm_trap_t* trampoline(void* env, wasmtime_caller_t* caller, Raw* args, size_t) {
  const auto* bound = static_cast<const Bound*>(env);
  HostState& st = stateOf(caller);
  if ((st.granted & bound->capability_bit) == 0) {
    args[0].i32 = HABANERO_DENIED;
    return nullptr;
  }
  GuestMemory mem = memoryOf(caller, st);
  Result r = bound->impl(st, mem, args);
  args[0].i32 = r;
  return nullptr;
}

wasm_functype_t* functype(std::string_view params) {
  wasm_valtype_vec_t p, r;
  wasm_valtype_vec_new_uninitialized(&p, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    p.data[i] = wasm_valtype_new(params[i] == 'I' ? WASM_I64 : WASM_I32);
  }
  wasm_valtype_vec_new_uninitialized(&r, 1);
  r.data[0] = wasm_valtype_new(WASM_I32);
  return wasm_functype_new(&p, &r);
}

}  // namespace

ptrdiff_t GuestOutput::write(void* self, const unsigned char* buf, size_t len) {
  auto* out = static_cast<GuestOutput*>(self);
  std::lock_guard<std::mutex> lock(out->mu_);
  out->append({reinterpret_cast<const char*>(buf), len});
  return static_cast<ptrdiff_t>(len);
}

void GuestOutput::finalize(void* self) {
  auto* out = static_cast<GuestOutput*>(self);
  {
    std::lock_guard<std::mutex> lock(out->mu_);
    if (!out->partial_.empty()) out->logLine(out->partial_);
  }
  delete out;
}

void GuestOutput::logLine(std::string_view line) const {
  if (stream_ == 0) spdlog::info("[{}] stdout: {}", extension_, logSafe(line));
  else spdlog::warn("[{}] stderr: {}", extension_, logSafe(line));
}

void GuestOutput::append(std::string_view bytes) {
  partial_.append(bytes);
  size_t start = 0, nl;
  while ((nl = partial_.find('\n', start)) != std::string::npos) {
    logLine(std::string_view(partial_.data() + start, nl - start));
    start = nl + 1;
  }
  partial_.erase(0, start);
  while (partial_.size() > limits::kMaxLogLineBytes) {  // an endless line: log it in pieces
    logLine(std::string_view(partial_.data(), limits::kMaxLogLineBytes));
    partial_.erase(0, limits::kMaxLogLineBytes);
  }
}

absl::Status defineHostCalls(wasmtime_linker_t* linker) {
  for (const HostCall& call : kHostCalls) {
    if (!capabilityOf(call.name)) {
      return absl::InternalError(strCat("host call ", call.name, " is in no capability"));
    }
    // One Bound per call, made once (thread-safe static init), living forever.
    static const std::array<Bound, kHostCalls.size()> kBound = [] {
      std::array<Bound, kHostCalls.size()> b{};
      for (size_t i = 0; i < kHostCalls.size(); ++i) {
        std::optional<std::string_view> cap = capabilityOf(kHostCalls[i].name);
        b[i] = {kHostCalls[i].impl, cap ? capabilityBit(*cap) : 0};
      }
      return b;
    }();
    const Bound& b = kBound[static_cast<size_t>(&call - kHostCalls.data())];
    wasm_functype_t* ty = functype(call.params);
    ErrorPtr err(wasmtime_linker_define_func_unchecked(
        linker, kHostModule.data(), kHostModule.size(), call.name.data(), call.name.size(), ty,
        trampoline, const_cast<Bound*>(&b), nullptr));
    wasm_functype_delete(ty);
    if (err) {
      return absl::InternalError(
          strCat("defining host call ", call.name, ": ", errorMessage(err.get())));
    }
  }
  for (const Capability& cap : allCapabilities()) {
    for (std::string_view fn : cap.functions) {
      bool defined = std::any_of(kHostCalls.begin(), kHostCalls.end(),
                                 [&](const HostCall& c) { return c.name == fn; });
      if (!defined) return absl::InternalError(strCat("capability function ", fn, " undefined"));
    }
  }
  return absl::OkStatus();
}

}  // namespace habanero::runtime
