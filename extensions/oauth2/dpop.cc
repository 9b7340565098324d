#include "dpop.h"


#include <algorithm>
#include <array>

#include "guest.h"
#include "core/dpop.h"
#include "store.h"

namespace sdk = habanero::sdk;

namespace habanero::oauth2 {
namespace {

constexpr int64_t kNonceWindowSeconds = 300;
constexpr std::string_view kNonceKeyName = "dpop/nonce-key";
constexpr std::array<std::string_view, 8> kPrivateJwkMembers = {"d",  "p",  "q",   "dp",
                                                                "dq", "qi", "oth", "k"};

DpopCheck invalid(std::string description) {
  DpopCheck c;
  c.outcome = DpopOutcome::Invalid;
  c.description = std::move(description);
  return c;
}

DpopCheck outcome(DpopOutcome o, std::string description = "") {
  DpopCheck c;
  c.outcome = o;
  c.description = std::move(description);
  return c;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// The extension's nonce key, created on first use; nullopt if the store failed.
std::optional<std::string> nonceKey() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string key;
    switch (sdk::kvGet(kNonceKeyName, key)) {
      case sdk::Result::Ok:
        if (!key.empty()) return key;
        break;
      case sdk::Result::NotFound:
        break;
      default:
        return std::nullopt;
    }
    auto fresh = randomToken();
    if (!fresh) return std::nullopt;
    switch (sdk::kvCompareAndSet(kNonceKeyName, std::nullopt, *fresh, 0)) {
      case sdk::Result::Ok:
        return fresh;
      case sdk::Result::Conflict:
        continue;  // another request created it: read that one
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string nonceFor(const std::string& key, int64_t window) {
  std::string w = std::to_string(window);
  auto mac = sdk::hmacSha256(key, "dpop-nonce:" + w);
  if (!mac) return std::string();
  std::string_view truncated(reinterpret_cast<const char*>(mac->data()), 16);
  return w + "." + base64urlEncode(truncated);
}

enum class NonceCheck { Valid, Invalid, Unavailable };

NonceCheck checkNonce(std::string_view nonce) {
  auto key = nonceKey();
  if (!key) return NonceCheck::Unavailable;
  size_t dot = nonce.find('.');
  if (dot == std::string_view::npos || nonce.size() > 64) return NonceCheck::Invalid;
  auto window = parseNonNegative(nonce.substr(0, dot), 15);
  if (!window) return NonceCheck::Invalid;
  int64_t current = nowSeconds() / kNonceWindowSeconds;
  if (*window != current && *window != current - 1) return NonceCheck::Invalid;
  return sdk::constantTimeEqual(nonceFor(*key, *window), nonce) ? NonceCheck::Valid
                                                                 : NonceCheck::Invalid;
}

std::string quoted(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(c == '"' || c == '\\' ? '\'' : c);
  return out;
}

}  // namespace

const std::vector<std::string>& dpopAlgs() {
  static const std::vector<std::string> kAlgs = {"ES256", "EdDSA", "RS256", "PS256"};
  return kAlgs;
}

std::string currentDpopNonce() {
  auto key = nonceKey();
  if (!key) return std::string();
  return nonceFor(*key, nowSeconds() / kNonceWindowSeconds);
}

DpopCheck checkDpopProof(const Config& config, std::string_view route,
                         std::string_view access_token) {
  std::optional<std::string> header = sdk::header("dpop");
  if (!header) return outcome(DpopOutcome::Absent);
  // The host joins repeated headers with ", "; a compact JWS has no comma.
  if (header->find(',') != std::string::npos) return invalid("more than one DPoP header");
  std::string proof = trim(*header);
  if (proof.size() > kMaxDpopProofBytes || !looksLikeJws(proof)) {
    return invalid("the DPoP proof is not a compact JWS");
  }
  auto header_text = jwsHeader(proof);
  std::optional<Json> jose = header_text ? parseJsonObject(*header_text) : std::nullopt;
  if (!jose) return invalid("the DPoP proof header is not a JSON object");
  // Media types compare case-insensitively (RFC 7515 §4.1.9), "application/" optional.
  std::string typ = jsonString(*jose, "typ").value_or("");
  for (char& ch : typ) ch = asciiLower(ch);
  if (typ != "dpop+jwt" && typ != "application/dpop+jwt") {
    return invalid("the DPoP proof's typ must be dpop+jwt");
  }
  std::string alg = jsonString(*jose, "alg").value_or("");
  if (std::find(dpopAlgs().begin(), dpopAlgs().end(), alg) == dpopAlgs().end()) {
    return invalid("the DPoP proof's alg is not supported");
  }
  auto jwk_it = jose->find("jwk");
  if (jwk_it == jose->end() || !jwk_it->is_object()) {
    return invalid("the DPoP proof has no jwk header");
  }
  for (std::string_view member : kPrivateJwkMembers) {
    if (jwk_it->contains(member)) return invalid("the DPoP proof's jwk holds a private key");
  }
  std::string jwk = dumpJson(*jwk_it);
  std::string payload;
  switch (sdk::jwsVerifyWithJwk(proof, jwk, payload)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::Mismatch:
      return invalid("the DPoP proof's signature does not verify with its jwk");
    case sdk::Result::InvalidArgument:
      return invalid("the DPoP proof or its jwk is malformed or not supported");
    default:
      return outcome(DpopOutcome::Unavailable);
  }
  auto claims = parseJsonObject(payload);
  if (!claims) return invalid("the DPoP proof's claims are not a JSON object");
  std::string jti = jsonString(*claims, "jti").value_or("");
  if (jti.empty() || jti.size() > kMaxDpopJtiBytes) return invalid("the DPoP proof has no jti");
  if (jsonString(*claims, "htm").value_or("") != sdk::method()) {
    return invalid("the DPoP proof's htm does not match the request method");
  }
  auto htu = normalizeHttpUri(jsonString(*claims, "htu").value_or(""));
  auto expected = normalizeHttpUri(config.endpoint(route));
  if (!htu || !expected || *htu != *expected) {
    return invalid("the DPoP proof's htu does not match the request URL");
  }
  auto iat = jsonInt(*claims, "iat");
  if (!iat) return invalid("the DPoP proof has no iat");
  int64_t now = nowSeconds();
  if (*iat < now - config.dpop_max_age) return invalid("the DPoP proof is too old");
  if (*iat > now + config.dpop_clock_skew) return invalid("the DPoP proof is issued in the future");
  if (!access_token.empty()) {
    auto digest = sdk::sha256(access_token);
    if (!digest) return outcome(DpopOutcome::Unavailable);
    std::string ath = base64urlEncode(
        std::string_view(reinterpret_cast<const char*>(digest->data()), digest->size()));
    std::string given = jsonString(*claims, "ath").value_or("");
    if (given.empty() || !sdk::constantTimeEqual(ath, given)) {
      return invalid("the DPoP proof's ath does not match the access token");
    }
  }
  DpopCheck ok;
  if (sdk::jwkThumbprint(jwk, ok.jkt) != sdk::Result::Ok || ok.jkt.empty()) {
    return invalid("the DPoP proof's jwk has no thumbprint");
  }
  if (config.dpop_nonce_required) {
    auto nonce = jsonString(*claims, "nonce");
    if (!nonce) return outcome(DpopOutcome::UseNonce, "a DPoP nonce is required");
    switch (checkNonce(*nonce)) {
      case NonceCheck::Valid:
        break;
      case NonceCheck::Invalid:
        return outcome(DpopOutcome::UseNonce, "the DPoP nonce is stale or unknown");
      case NonceCheck::Unavailable:
        return outcome(DpopOutcome::Unavailable);
    }
  }
  // Replay: one use per (key, jti) while the proof could still be accepted.
  int64_t ttl_ms = (config.dpop_max_age + config.dpop_clock_skew + 1) * 1000;
  switch (sdk::kvCompareAndSet("dj/" + tokenHash(ok.jkt + "\n" + jti), std::nullopt, "1", ttl_ms)) {
    case sdk::Result::Ok:
      break;
    case sdk::Result::Conflict:
      return invalid("the DPoP proof was already used (jti replay)");
    default:
      return outcome(DpopOutcome::Unavailable);
  }
  ok.outcome = DpopOutcome::Valid;
  return ok;
}

void respondDpopTokenError(const DpopCheck& check) {
  switch (check.outcome) {
    case DpopOutcome::UseNonce: {
      std::string nonce = currentDpopNonce();
      if (nonce.empty()) return respondUnavailable();
      sdk::addHeader("dpop-nonce", nonce);
      return respondOAuthError(400, "use_dpop_nonce", check.description);
    }
    case DpopOutcome::Unavailable:
      return respondUnavailable();
    default:
      return respondOAuthError(400, "invalid_dpop_proof", check.description);
  }
}

std::string dpopChallenge(std::string_view error, std::string_view description) {
  std::string algs;
  for (const auto& a : dpopAlgs()) algs += (algs.empty() ? "" : " ") + a;
  std::string c = "DPoP algs=\"" + algs + "\"";
  if (!error.empty()) {
    c += ", error=\"" + quoted(error) + "\"";
    if (!description.empty()) c += ", error_description=\"" + quoted(description) + "\"";
  }
  return c;
}

void respondDpopResourceError(const DpopCheck& check, std::string_view error) {
  if (check.outcome == DpopOutcome::Unavailable) return respondUnavailable();
  std::string code(error);
  if (code.empty()) {
    code = check.outcome == DpopOutcome::UseNonce ? "use_dpop_nonce" : "invalid_dpop_proof";
  }
  if (check.outcome == DpopOutcome::UseNonce) {
    std::string nonce = currentDpopNonce();
    if (nonce.empty()) return respondUnavailable();
    sdk::addHeader("dpop-nonce", nonce);
  }
  sdk::addHeader("www-authenticate", dpopChallenge(code, check.description));
  respondOAuthError(401, code, check.description);
}

}  // namespace habanero::oauth2
