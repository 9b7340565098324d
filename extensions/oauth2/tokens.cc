#include "tokens.h"


#include <algorithm>

#include "guest.h"
#include "store.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

std::string digestBytes(std::string_view data, size_t n) {
  auto d = sdk::sha256(data);
  if (!d) return std::string();
  return std::string(reinterpret_cast<const char*>(d->data()), n);
}

bool audienceContains(const Json& claims, std::string_view audience) {
  auto it = claims.find("aud");
  if (it == claims.end()) return false;
  if (it->is_string()) return it->get<std::string>() == audience;
  if (it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_string() && a.get<std::string>() == audience) return true;
    }
  }
  return false;
}

}  // namespace

std::string atHash(std::string_view access_token) {
  return base64urlEncode(digestBytes(access_token, 16));
}

Json claimsForScopes(const Json& user, const std::vector<std::string>& scopes) {
  static const std::vector<std::string> kProfile = {
      "name",    "family_name", "given_name", "middle_name", "nickname",
      "preferred_username",     "profile",    "picture",     "website",
      "gender",  "birthdate",   "zoneinfo",   "locale",      "updated_at"};
  static const std::vector<std::string> kEmail = {"email", "email_verified"};
  static const std::vector<std::string> kPhone = {"phone_number", "phone_number_verified"};
  static const std::vector<std::string> kAddress = {"address"};
  Json out = Json::object();
  if (!user.is_object()) return out;
  auto copy = [&](const std::vector<std::string>& names) {
    for (const auto& n : names) {
      auto it = user.find(n);
      if (it != user.end() && !it->is_null()) out[n] = *it;
    }
  };
  if (hasScope(scopes, "profile")) copy(kProfile);
  if (hasScope(scopes, "email")) copy(kEmail);
  if (hasScope(scopes, "phone")) copy(kPhone);
  if (hasScope(scopes, "address")) copy(kAddress);
  return out;
}

Mint mintAccessToken(const Config& config, const Client& client, const Grant& grant,
                     std::string_view jti, int64_t now, IssuedAccessToken& out) {
  int64_t exp = now + config.access_token_ttl;
  Json claims = {{"iss", config.issuer}, {"sub", grant.sub}, {"aud", config.audience},
                 {"exp", exp}, {"iat", now}, {"jti", jti}, {"client_id", grant.client_id},
                 {"scope", joinScope(grant.scopes)}};
  if (grant.has_user) {
    claims["auth_time"] = grant.auth_time;
    if (!grant.amr.empty()) claims["amr"] = jsonArray(grant.amr);
  }
  if (!grant.jkt.empty()) claims["cnf"] = Json{{"jkt", grant.jkt}};
  if (!grant.webid.empty()) {
    claims["webid"] = grant.webid;
    Json aud = Json::array({config.audience});
    for (const std::string& a : {config.solid_audience, grant.client_id}) {
      if (!a.empty() && std::find(aud.begin(), aud.end(), Json(a)) == aud.end()) aud.push_back(a);
    }
    claims["aud"] = aud;
  }
  out.jti = std::string(jti);
  out.exp = exp;
  if (client.opaque_tokens) {
    auto token = randomToken();
    if (!token) return Mint::Unavailable;
    if (putOpaqueAccess(tokenHash(*token), claims, config.access_token_ttl) != Store::Ok) {
      return Mint::Unavailable;
    }
    out.token = std::move(*token);
    return Mint::Ok;
  }
  if (sdk::jwsSign(R"({"typ":"at+jwt"})", dumpJson(claims), out.token) != sdk::Result::Ok) {
    sdk::logError("jws_sign failed for an access token");
    return Mint::Unavailable;
  }
  return Mint::Ok;
}

Mint mintIdToken(const Config& config, const Grant& grant, std::string_view access_token,
                 const Json& user, int64_t now, std::string& out) {
  Json claims = claimsForScopes(user, grant.scopes);
  claims["iss"] = config.issuer;
  claims["sub"] = grant.sub;
  claims["aud"] = grant.client_id;
  claims["azp"] = grant.client_id;
  claims["exp"] = now + config.id_token_ttl;
  claims["iat"] = now;
  claims["auth_time"] = grant.auth_time;
  if (!grant.nonce.empty()) claims["nonce"] = grant.nonce;
  if (!grant.amr.empty()) claims["amr"] = jsonArray(grant.amr);
  if (!grant.sid.empty()) claims["sid"] = grant.sid;
  if (!access_token.empty()) claims["at_hash"] = atHash(access_token);
  if (!grant.webid.empty()) claims["webid"] = grant.webid;
  if (sdk::jwsSign(R"({"typ":"JWT"})", dumpJson(claims), out) != sdk::Result::Ok) {
    sdk::logError("jws_sign failed for an ID token");
    return Mint::Unavailable;
  }
  return Mint::Ok;
}

std::optional<Json> verifyOwnJwt(const Config& config, std::string_view jws, bool typ_at_jwt,
                                 TokenCheck& check) {
  check = TokenCheck::Invalid;
  if (!looksLikeJws(jws)) return std::nullopt;
  std::string payload;
  switch (sdk::jwsVerify(jws, payload)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::Mismatch:
      return std::nullopt;
    default:
      check = TokenCheck::Unavailable;
      return std::nullopt;
  }
  auto header_text = jwsHeader(jws);
  if (!header_text) return std::nullopt;
  auto header = parseJsonObject(*header_text);
  if (!header) return std::nullopt;
  bool is_at = isAccessTokenTyp(jsonString(*header, "typ").value_or(""));
  if (is_at != typ_at_jwt) return std::nullopt;
  auto claims = parseJsonObject(payload);
  if (!claims) return std::nullopt;
  if (jsonString(*claims, "iss").value_or("") != config.issuer) return std::nullopt;
  check = TokenCheck::Valid;
  return claims;
}

TokenCheck verifyAccessToken(const Config& config, std::string_view token, int64_t now,
                             AccessTokenInfo& out) {
  AccessTokenInfo info;
  if (looksLikeJws(token)) {
    TokenCheck check;
    auto claims = verifyOwnJwt(config, token, true, check);
    if (!claims) return check;
    if (!audienceContains(*claims, config.audience)) return TokenCheck::Invalid;
    info.claims = std::move(*claims);
  } else if (looksLikeOpaqueToken(token)) {
    info.opaque = true;
    info.opaque_hash = tokenHash(token);
    switch (getOpaqueAccess(info.opaque_hash, info.claims)) {
      case Store::Ok:
        break;
      case Store::Unavailable:
        return TokenCheck::Unavailable;
      default:
        return TokenCheck::Invalid;
    }
  } else {
    return TokenCheck::Invalid;
  }
  info.exp = jsonInt(info.claims, "exp").value_or(0);
  info.jti = jsonString(info.claims, "jti").value_or("");
  info.client_id = jsonString(info.claims, "client_id").value_or("");
  info.sub = jsonString(info.claims, "sub").value_or("");
  info.has_user = jsonInt(info.claims, "auth_time").has_value();
  if (auto cnf = info.claims.find("cnf"); cnf != info.claims.end() && cnf->is_object()) {
    info.jkt = jsonString(*cnf, "jkt").value_or("");
  }
  auto scopes = parseScope(jsonString(info.claims, "scope").value_or(""));
  info.scopes = scopes.value_or(std::vector<std::string>{});
  if (info.exp <= now || info.jti.empty() || info.client_id.empty() || info.sub.empty()) {
    return TokenCheck::Invalid;
  }
  switch (isAccessTokenRevoked(info.jti)) {
    case Store::NotFound:
      break;
    case Store::Ok:
      return TokenCheck::Invalid;
    default:
      return TokenCheck::Unavailable;
  }
  out = std::move(info);
  return TokenCheck::Valid;
}

}  // namespace habanero::oauth2
