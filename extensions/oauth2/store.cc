#include "store.h"

#include <algorithm>

#include "guest.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

constexpr int kCasAttempts = 8;

std::string key(std::string_view prefix, std::string_view id) {
  std::string k(prefix);
  k += id;
  return k;
}

}  // namespace

// ---- codes ----------------------------------------------------------------------------

Store putCode(const std::string& hash, const CodeRecord& c, int64_t ttl_s) {
  Json j = {{"client_id", c.client_id}, {"redirect_uri", c.redirect_uri},
            {"code_challenge", c.code_challenge}, {"nonce", c.nonce},
            {"scopes", jsonArray(c.scopes)}, {"sub", c.sub}, {"auth_time", c.auth_time},
            {"amr", jsonArray(c.amr)}, {"sid", c.sid}, {"exp", c.exp},
            {"dpop_jkt", c.dpop_jkt}};
  return putRecord("c/" + hash, j, ttl_s);
}

Store takeCode(const std::string& hash, CodeRecord& out) {
  Json j;
  Store s = takeRecord("c/" + hash, j);
  if (s != Store::Ok) return s;
  CodeRecord c;
  c.client_id = jsonString(j, "client_id").value_or("");
  c.redirect_uri = jsonString(j, "redirect_uri").value_or("");
  c.code_challenge = jsonString(j, "code_challenge").value_or("");
  c.nonce = jsonString(j, "nonce").value_or("");
  c.scopes = jsonStringList(j, "scopes");
  c.sub = jsonString(j, "sub").value_or("");
  c.auth_time = jsonInt(j, "auth_time").value_or(0);
  c.amr = jsonStringList(j, "amr");
  c.sid = jsonString(j, "sid").value_or("");
  c.exp = jsonInt(j, "exp").value_or(0);
  c.dpop_jkt = jsonString(j, "dpop_jkt").value_or("");
  if (c.client_id.empty() || c.sub.empty()) return Store::NotFound;
  out = std::move(c);
  return Store::Ok;
}

Store putCodeUse(const std::string& hash, const CodeUse& u, int64_t ttl_s) {
  Json j = {{"jti", u.jti}, {"jti_exp", u.jti_exp}, {"family", u.family}};
  return putRecord("cu/" + hash, j, ttl_s);
}

Store getCodeUse(const std::string& hash, CodeUse& out) {
  Json j;
  Store s = getRecord("cu/" + hash, j);
  if (s != Store::Ok) return s;
  out.jti = jsonString(j, "jti").value_or("");
  out.jti_exp = jsonInt(j, "jti_exp").value_or(0);
  out.family = jsonString(j, "family").value_or("");
  return Store::Ok;
}

// ---- refresh tokens and families ---------------------------------------------------------

Store putRefresh(const std::string& hash, const RefreshRecord& r, int64_t ttl_s) {
  Json j = {{"family", r.family}, {"client_id", r.client_id}, {"sub", r.sub},
            {"scopes", jsonArray(r.scopes)}, {"auth_time", r.auth_time},
            {"amr", jsonArray(r.amr)}, {"sid", r.sid}, {"iat", r.iat}, {"exp", r.exp},
            {"jkt", r.jkt}};
  return putRecord("rt/" + hash, j, ttl_s);
}

Store getRefresh(const std::string& hash, RefreshRecord& out) {
  Json j;
  Store s = getRecord("rt/" + hash, j);
  if (s != Store::Ok) return s;
  RefreshRecord r;
  r.family = jsonString(j, "family").value_or("");
  r.client_id = jsonString(j, "client_id").value_or("");
  r.sub = jsonString(j, "sub").value_or("");
  r.scopes = jsonStringList(j, "scopes");
  r.auth_time = jsonInt(j, "auth_time").value_or(0);
  r.amr = jsonStringList(j, "amr");
  r.sid = jsonString(j, "sid").value_or("");
  r.iat = jsonInt(j, "iat").value_or(0);
  r.exp = jsonInt(j, "exp").value_or(0);
  r.jkt = jsonString(j, "jkt").value_or("");
  if (r.family.empty() || r.client_id.empty()) return Store::NotFound;
  out = std::move(r);
  return Store::Ok;
}

namespace {

Json familyJson(const Family& f) {
  Json ats = Json::array();
  for (const auto& [jti, exp] : f.access_tokens) ats.push_back(Json::array({jti, exp}));
  return Json{{"current", f.current}, {"client_id", f.client_id}, {"revoked", f.revoked},
              {"access_tokens", ats}, {"exp", f.exp}};
}

Family familyFrom(const Json& j) {
  Family f;
  f.current = jsonString(j, "current").value_or("");
  f.client_id = jsonString(j, "client_id").value_or("");
  f.revoked = jsonBool(j, "revoked", false);
  f.exp = jsonInt(j, "exp").value_or(0);
  auto it = j.find("access_tokens");
  if (it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number_integer()) {
        f.access_tokens.emplace_back(e[0].get<std::string>(), e[1].get<int64_t>());
      }
    }
  }
  return f;
}

}  // namespace

Store getFamily(const std::string& id, Family& out, std::string& raw) {
  raw.clear();
  Store s = storeResult(sdk::kvGet(key("f/", id), raw));
  if (s != Store::Ok) return s;
  auto j = parseJsonObject(raw);
  if (!j) {
    // Unreadable: treat as revoked so that no token of it is honoured.
    Family f;
    f.revoked = true;
    out = f;
    return Store::Ok;
  }
  out = familyFrom(*j);
  return Store::Ok;
}

Store casFamily(const std::string& id, const std::optional<std::string>& expected_raw,
                const Family& family, int64_t ttl_s) {
  std::optional<std::string_view> expected;
  if (expected_raw) expected = *expected_raw;
  return storeResult(
      sdk::kvCompareAndSet(key("f/", id), expected, dumpJson(familyJson(family)),
                           recordTtlMs(ttl_s)));
}

Store revokeFamily(const std::string& id, int64_t now) {
  for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
    Family f;
    std::string raw;
    Store s = getFamily(id, f, raw);
    if (s == Store::NotFound) return Store::Ok;
    if (s != Store::Ok) return s;
    if (f.revoked && f.access_tokens.empty()) return Store::Ok;
    for (const auto& [jti, exp] : f.access_tokens) {
      if (exp > now) {
        Store r = revokeAccessToken(jti, exp, now);
        if (r != Store::Ok) return r;
      }
    }
    Family revoked = f;
    revoked.revoked = true;
    revoked.access_tokens.clear();
    int64_t ttl = std::max<int64_t>(revoked.exp - now, 60);
    s = casFamily(id, raw, revoked, ttl);
    if (s == Store::Ok) {
      if (!f.current.empty()) deleteRecord("rt/" + f.current);
      return Store::Ok;
    }
    if (s != Store::Conflict) return s;
  }
  return Store::Unavailable;
}

// ---- access tokens ----------------------------------------------------------------------

Store putOpaqueAccess(const std::string& hash, const Json& claims, int64_t ttl_s) {
  return putRecord("at/" + hash, claims, ttl_s);
}

Store getOpaqueAccess(const std::string& hash, Json& claims) {
  return getRecord("at/" + hash, claims);
}

Store deleteOpaqueAccess(const std::string& hash) { return deleteRecord("at/" + hash); }

Store revokeAccessToken(std::string_view jti, int64_t exp, int64_t now) {
  if (jti.empty()) return Store::Ok;
  int64_t ttl = std::max<int64_t>(exp - now, 0) + 60;
  return storeResult(sdk::kvPut(key("rv/", jti), "1", ttl * 1000));
}

Store isAccessTokenRevoked(std::string_view jti) {
  std::string v;
  return storeResult(sdk::kvGet(key("rv/", jti), v));
}

// ---- consent ----------------------------------------------------------------------------

namespace {
std::string consentId(std::string_view sub, std::string_view client_id) {
  std::string material(sub);
  material.push_back('\0');
  material += client_id;
  return tokenHash(material);
}
}  // namespace

Store getConsent(std::string_view sub, std::string_view client_id,
                 std::vector<std::string>& out) {
  Json j;
  Store s = getRecord("cs/" + consentId(sub, client_id), j);
  if (s != Store::Ok) return s;
  out = jsonStringList(j, "scopes");
  return Store::Ok;
}

Store putConsent(std::string_view sub, std::string_view client_id,
                 const std::vector<std::string>& scopes) {
  Json j = {{"scopes", jsonArray(scopes)}};
  return storeResult(sdk::kvPut(key("cs/", consentId(sub, client_id)), dumpJson(j), 0));
}

}  // namespace habanero::oauth2
