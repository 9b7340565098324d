#include "oauth2_fake_host.h"

#include <habanero.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <iostream>

#include "core/codec.h"

FakeHost g;
int32_t onRequest();

std::string FakeResponse::header(const std::string& name) const {
  for (auto& [k, v] : headers) {
    std::string lk = k;
    for (auto& c : lk) c = tolower(c);
    if (lk == name) return v;
  }
  return "";
}

FakeResponse call(const std::string& method, const std::string& target,
                  std::map<std::string, std::string> headers, const std::string& body) {
  g.method = method;
  auto q = target.find('?');
  g.path = target.substr(0, q);
  g.query = q == std::string::npos ? "" : target.substr(q + 1);
  g.headers = headers;
  g.body = body;
  g.resp = FakeResponse{};
  int32_t rc = onRequest();
  if (rc != 0) {
    g.resp = FakeResponse{};
    g.resp.status = 500;
  }
  return g.resp;
}

namespace {
habanero_result_t out(const std::string& v, uint8_t* o, uint32_t cap, uint32_t* len) {
  *len = v.size();
  if (v.size() > cap) return HABANERO_BUFFER_TOO_SMALL;
  if (!v.empty()) memcpy(o, v.data(), v.size());
  return HABANERO_OK;
}
std::string s(const uint8_t* p, uint32_t n) { return std::string((const char*)p, n); }

int parseParams(const std::string& src, std::map<std::string, std::vector<std::string>>& m) {
  size_t i = 0;
  int pairs = 0;
  while (i <= src.size()) {
    size_t amp = src.find('&', i);
    if (amp == std::string::npos) amp = src.size();
    std::string pair = src.substr(i, amp - i);
    i = amp + 1;
    if (pair.empty()) { if (amp == src.size()) break; continue; }
    if (++pairs > 1000) return -1;
    size_t eq = pair.find('=');
    auto n = habanero::oauth2::formUrlDecode(pair.substr(0, eq));
    auto v = habanero::oauth2::formUrlDecode(eq == std::string::npos ? "" : pair.substr(eq + 1));
    if (!n || !v || !habanero::oauth2::isValidUtf8(*n) || !habanero::oauth2::isValidUtf8(*v)) return -1;
    m[*n].push_back(*v);
    if (amp == src.size()) break;
  }
  return 0;
}
std::string hmacSign(const std::string& data) {
  unsigned char mac[32]; unsigned int ml = 32;
  HMAC(EVP_sha256(), "fake-key", 8, (const unsigned char*)data.data(), data.size(), mac, &ml);
  return std::string((char*)mac, 32);
}
bool expired(const std::pair<std::string, int64_t>& e) { return e.second && e.second <= g.now_ms; }
}  // namespace

extern "C" {
habanero_result_t habanero_request_get(int32_t f, uint8_t* o, uint32_t cap, uint32_t* len) {
  switch (f) {
    case 0: return out(g.method, o, cap, len);
    case 1: return out(g.path, o, cap, len);
    case 2: return out(g.query, o, cap, len);
    case 3: return out(g.body, o, cap, len);
    case 4: return out("127.0.0.1", o, cap, len);
    case 5: return out(g.mount, o, cap, len);
    case 6: return out(g.scheme, o, cap, len);
  }
  return HABANERO_INVALID_ARGUMENT;
}
habanero_result_t habanero_request_header(const uint8_t* n, uint32_t nl, uint8_t* o, uint32_t cap, uint32_t* len) {
  std::string name = s(n, nl);
  for (auto& c : name) c = tolower(c);
  auto it = g.headers.find(name);
  if (it == g.headers.end()) return HABANERO_NOT_FOUND;
  return out(it->second, o, cap, len);
}
habanero_result_t habanero_request_param(int32_t src, const uint8_t* n, uint32_t nl, uint8_t* o, uint32_t cap, uint32_t* len) {
  std::string text;
  if (src == 0) text = g.query;
  else if (src == 1) {
    auto it = g.headers.find("content-type");
    if (it != g.headers.end() && it->second.rfind("application/x-www-form-urlencoded", 0) == 0) text = g.body;
  } else return HABANERO_INVALID_ARGUMENT;
  std::map<std::string, std::vector<std::string>> m;
  if (parseParams(text, m) != 0) return HABANERO_INVALID_ARGUMENT;
  auto it = m.find(s(n, nl));
  if (it == m.end()) return HABANERO_NOT_FOUND;
  if (it->second.size() > 1) return HABANERO_DUPLICATE;
  return out(it->second[0], o, cap, len);
}
habanero_result_t habanero_response_set_status(int32_t st) {
  if (st < 200 || st > 599) return HABANERO_INVALID_ARGUMENT;
  g.resp.status = st; return HABANERO_OK;
}
habanero_result_t habanero_response_add_header(const uint8_t* n, uint32_t nl, const uint8_t* v, uint32_t vl) {
  std::string val = s(v, vl);
  for (unsigned char c : val) if ((c < 0x20 && c != 9) || c == 0x7f) return HABANERO_INVALID_ARGUMENT;
  g.resp.headers.emplace_back(s(n, nl), val); return HABANERO_OK;
}
habanero_result_t habanero_response_write(const uint8_t* d, uint32_t l) { g.resp.body += s(d, l); return HABANERO_OK; }
habanero_result_t habanero_response_redirect(int32_t st, const uint8_t* u, uint32_t l) {
  std::string url = s(u, l);
  if (url.empty() || url.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) return HABANERO_INVALID_ARGUMENT;
  g.resp.status = st;
  std::erase_if(g.resp.headers, [](auto& h) { return h.first == "location"; });
  g.resp.headers.emplace_back("location", url);
  return HABANERO_OK;
}
habanero_result_t habanero_kv_get(const uint8_t* k, uint32_t kl, uint8_t* o, uint32_t cap, uint32_t* len) {
  if (kl > 512) return HABANERO_LIMIT_EXCEEDED;
  auto it = g.kv.find(s(k, kl));
  if (it == g.kv.end() || expired(it->second)) return HABANERO_NOT_FOUND;
  return out(it->second.first, o, cap, len);
}
habanero_result_t habanero_kv_put(const uint8_t* k, uint32_t kl, const uint8_t* v, uint32_t vl, int64_t ttl) {
  if (kl > 512 || vl > 262144) return HABANERO_LIMIT_EXCEEDED;
  g.kv[s(k, kl)] = {s(v, vl), ttl > 0 ? g.now_ms + ttl : 0}; return HABANERO_OK;
}
habanero_result_t habanero_kv_delete(const uint8_t* k, uint32_t kl) { g.kv.erase(s(k, kl)); return HABANERO_OK; }
static std::map<std::string, std::string> held;
habanero_result_t habanero_kv_take(const uint8_t* k, uint32_t kl, uint8_t* o, uint32_t cap, uint32_t* len) {
  std::string key = s(k, kl);
  auto h = held.find(key);
  if (h != held.end()) { auto r = out(h->second, o, cap, len); if (r == HABANERO_OK) held.erase(h); return r; }
  auto it = g.kv.find(key);
  if (it == g.kv.end() || expired(it->second)) return HABANERO_NOT_FOUND;
  std::string v = it->second.first; g.kv.erase(it);
  auto r = out(v, o, cap, len);
  if (r == HABANERO_BUFFER_TOO_SMALL) held[key] = v;
  return r;
}
habanero_result_t habanero_kv_compare_and_set(const uint8_t* k, uint32_t kl, int32_t he, const uint8_t* e, uint32_t el, const uint8_t* v, uint32_t vl, int64_t ttl) {
  std::string key = s(k, kl);
  auto it = g.kv.find(key);
  bool present = it != g.kv.end() && !expired(it->second);
  if (he ? (!present || it->second.first != s(e, el)) : present) return HABANERO_CONFLICT;
  g.kv[key] = {s(v, vl), ttl > 0 ? g.now_ms + ttl : 0}; return HABANERO_OK;
}
habanero_result_t habanero_crypto_random(uint8_t* o, uint32_t l) { RAND_bytes(o, l); return HABANERO_OK; }
habanero_result_t habanero_crypto_sha256(const uint8_t* d, uint32_t l, uint8_t* o) { SHA256(d, l, o); return HABANERO_OK; }
habanero_result_t habanero_crypto_hmac_sha256(const uint8_t* k, uint32_t kl, const uint8_t* d, uint32_t dl, uint8_t* o) {
  unsigned int ml = 32; HMAC(EVP_sha256(), k, kl, d, dl, o, &ml); return HABANERO_OK;
}
habanero_result_t habanero_crypto_equal(const uint8_t* a, uint32_t al, const uint8_t* b, uint32_t bl) {
  return al == bl && memcmp(a, b, al) == 0 ? HABANERO_OK : HABANERO_MISMATCH;
}
habanero_result_t habanero_jws_sign(const uint8_t* h, uint32_t hl, const uint8_t* p, uint32_t pl, uint8_t* o, uint32_t cap, uint32_t* len) {
  std::string extra = s(h, hl);
  std::string header = "{\"alg\":\"HS256\",\"kid\":\"k1\"";
  if (extra.size() > 2) header += "," + extra.substr(1, extra.size() - 2);
  header += "}";
  using habanero::oauth2::base64urlEncode;
  std::string input = base64urlEncode(header) + "." + base64urlEncode(s(p, pl));
  return out(input + "." + base64urlEncode(hmacSign(input)), o, cap, len);
}
// Design 0002 calls the oauth2 extension imports; this test's flows use no
// DPoP proofs, WebIDs or client documents (tests/interop/dpop_test.py does).
habanero_result_t habanero_crypto_jws_verify_jwk(const uint8_t*, uint32_t, const uint8_t*, uint32_t,
                                                 uint8_t*, uint32_t, uint32_t*) {
  return HABANERO_MISMATCH;
}
habanero_result_t habanero_crypto_jwk_thumbprint(const uint8_t*, uint32_t, uint8_t*, uint32_t,
                                                 uint32_t*) {
  return HABANERO_INVALID_ARGUMENT;
}
habanero_result_t habanero_http_fetch(const uint8_t*, uint32_t, uint8_t*, uint32_t, uint32_t*) {
  return HABANERO_DENIED;
}

habanero_result_t habanero_jws_verify(const uint8_t* j, uint32_t jl, uint8_t* o, uint32_t cap, uint32_t* len) {
  std::string jws = s(j, jl);
  size_t a = jws.find('.'), b = jws.rfind('.');
  if (a == std::string::npos || a == b) return HABANERO_MISMATCH;
  auto header = habanero::oauth2::base64urlDecode(jws.substr(0, a));
  auto payload = habanero::oauth2::base64urlDecode(jws.substr(a + 1, b - a - 1));
  auto sig = habanero::oauth2::base64urlDecode(jws.substr(b + 1));
  if (!header || !payload || !sig) return HABANERO_MISMATCH;
  if (header->find("\"alg\":\"HS256\"") == std::string::npos) return HABANERO_MISMATCH;
  if (*sig != hmacSign(jws.substr(0, b))) return HABANERO_MISMATCH;
  return out(*payload, o, cap, len);
}
habanero_result_t habanero_jwks_get(uint8_t* o, uint32_t cap, uint32_t* len) {
  return out(R"({"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","kid":"k1","use":"sig","x":"x","y":"y"}]})", o, cap, len);
}
habanero_result_t habanero_clock_now_ms(int64_t* o) { *o = g.now_ms; return HABANERO_OK; }
habanero_result_t habanero_log(int32_t lvl, const uint8_t* m, uint32_t l) {
  g.logs.push_back(s(m, l));
  if (getenv("FH_LOG")) std::cerr << "[oauth2] " << s(m, l) << "\n";
  return HABANERO_OK;
}
habanero_result_t habanero_setting_get(const uint8_t* n, uint32_t nl, uint8_t* o, uint32_t cap, uint32_t* len) {
  auto it = g.settings.find(s(n, nl));
  if (it == g.settings.end()) return HABANERO_NOT_FOUND;
  return out(it->second, o, cap, len);
}
habanero_result_t habanero_session_get(uint8_t* o, uint32_t cap, uint32_t* len) {
  if (!g.session) return HABANERO_NOT_FOUND;
  return out(*g.session, o, cap, len);
}
habanero_result_t habanero_session_require_login(const uint8_t* r, uint32_t rl, const uint8_t* h, uint32_t hl) {
  std::string rt = s(r, rl);
  if (rt.empty() || rt[0] != '/') return HABANERO_INVALID_ARGUMENT;
  g.login_return_to = rt; g.login_hint = s(h, hl);
  return habanero_response_redirect(302, (const uint8_t*)"/login?rt=fake", 14);
}
habanero_result_t habanero_session_end(void) { g.session.reset(); return HABANERO_OK; }
habanero_result_t habanero_user_get(const uint8_t* sb, uint32_t sl, uint8_t* o, uint32_t cap, uint32_t* len) {
  auto it = g.users.find(s(sb, sl));
  if (it == g.users.end()) return HABANERO_NOT_FOUND;
  return out(it->second, o, cap, len);
}
habanero_result_t habanero_client_get(const uint8_t* c, uint32_t cl, uint8_t* o, uint32_t cap, uint32_t* len) {
  auto it = g.clients.find(s(c, cl));
  if (it == g.clients.end()) return HABANERO_NOT_FOUND;
  return out(it->second, o, cap, len);
}
habanero_result_t habanero_client_authenticate(const uint8_t* c, uint32_t cl, const uint8_t* sc, uint32_t sl) {
  auto it = g.secrets.find(s(c, cl));
  if (it == g.secrets.end() || it->second != s(sc, sl)) return HABANERO_MISMATCH;
  return HABANERO_OK;
}
}
