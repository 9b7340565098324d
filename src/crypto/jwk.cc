#include "crypto/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>
#include <optional>
#include <utility>

#include "crypto/json_depth.h"
#include "absl/strings/str_cat.h"
#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "nlohmann/json.hpp"

namespace habanero::crypto {
namespace {

using internal::jsonDepthAtMost;
using Json = nlohmann::json;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// Inputs larger than these are refused before any parsing.
constexpr size_t kMaxJwkBytes = 16 * 1024;
constexpr size_t kMaxJwsBytes = 256 * 1024;
constexpr int kMaxJsonDepth = 16;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;  // bounds the cost of one verification
constexpr size_t kMaxRsaExponentBytes = 8;

// Members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4;
// RFC 8037 §2).
constexpr std::array<std::string_view, 8> kPrivateMembers = {"d",  "p",  "q",   "dp",
                                                             "dq", "qi", "oth", "k"};

enum class Kind { kEc, kOkp, kRsa };

// One supported public key, parsed and checked.
struct PublicJwk {
  Kind kind;
  std::string crv;        // EC: "P-256"/"P-384"; OKP: "Ed25519"
  std::string alg;        // the JWK's own "alg", "" if absent
  Json required_members;  // the RFC 7638 members, as given
  PkeyPtr pkey;
};

absl::Status invalid(std::string_view why) {
  ERR_clear_error();
  return absl::InvalidArgumentError(absl::StrCat("jwk: ", std::string(why)));
}

absl::Status denied(std::string_view why) {
  ERR_clear_error();
  return absl::PermissionDeniedError(absl::StrCat("jws: ", std::string(why)));
}

std::optional<Json> parseObject(std::string_view text) {
  if (!jsonDepthAtMost(text, kMaxJsonDepth)) return std::nullopt;
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  return json;
}

// The string member `name`; nullopt if absent, an error status if not a string.
absl::StatusOr<std::optional<std::string>> optionalString(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::optional<std::string>();
  if (!it->is_string()) return invalid(absl::StrCat("\"", name, "\" is not a string"));
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<std::string> requiredString(const Json& j, const char* name) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, optionalString(j, name));
  if (!v || v->empty()) return invalid(absl::StrCat("\"", name, "\" is missing"));
  return std::move(*v);
}

// A required base64url member, decoded; `size` > 0 demands that many bytes.
absl::StatusOr<std::string> requiredBytes(const Json& j, const char* name, size_t size,
                                          std::string& text) {
  ASSIGN_OR_RETURN(text, requiredString(j, name));
  absl::StatusOr<std::string> bytes = base64UrlDecode(text);
  if (!bytes.ok()) return invalid(absl::StrCat("\"", name, "\" is not base64url"));
  if (size > 0 && bytes->size() != size) {
    return invalid(absl::StrCat("\"", name, "\" has the wrong length"));
  }
  return std::move(*bytes);
}

const unsigned char* uchars(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A public key from OSSL_PARAMs; nullptr on failure.
PkeyPtr keyFromParams(const char* type, OSSL_PARAM* params) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return nullptr;
  }
  return PkeyPtr(key);
}

// Whether the public key passes OpenSSL's public-key check (an EC point on the curve,
// an RSA modulus that is odd and not too small, ...).
bool publicKeyValid(EVP_PKEY* key) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

absl::Status buildEc(const Json& j, PublicJwk& out) {
  size_t field = 0;
  const char* group = nullptr;
  if (out.crv == "P-256") {
    field = 32;
    group = "prime256v1";
  } else if (out.crv == "P-384") {
    field = 48;
    group = "secp384r1";
  } else {
    return invalid("unsupported EC curve");
  }
  std::string x_text, y_text;
  ASSIGN_OR_RETURN(std::string x, requiredBytes(j, "x", field, x_text));
  ASSIGN_OR_RETURN(std::string y, requiredBytes(j, "y", field, y_text));
  std::string point = "\x04" + x + y;  // SEC 1 uncompressed point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return invalid("cannot build EC key");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return invalid("cannot build EC key");
  out.pkey = keyFromParams("EC", params.get());
  if (!out.pkey || !publicKeyValid(out.pkey.get())) return invalid("not a point on the curve");
  out.required_members = Json{{"crv", out.crv}, {"kty", "EC"}, {"x", x_text}, {"y", y_text}};
  return absl::OkStatus();
}

absl::Status buildOkp(const Json& j, PublicJwk& out) {
  if (out.crv != "Ed25519") return invalid("unsupported OKP curve");
  std::string x_text;
  ASSIGN_OR_RETURN(std::string x, requiredBytes(j, "x", 32, x_text));
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, uchars(x), x.size());
  if (key == nullptr) return invalid("not an Ed25519 public key");
  out.pkey.reset(key);
  out.required_members = Json{{"crv", out.crv}, {"kty", "OKP"}, {"x", x_text}};
  return absl::OkStatus();
}

absl::Status buildRsa(const Json& j, PublicJwk& out) {
  std::string n_text, e_text;
  ASSIGN_OR_RETURN(std::string n, requiredBytes(j, "n", 0, n_text));
  ASSIGN_OR_RETURN(std::string e, requiredBytes(j, "e", 0, e_text));
  if (n.empty() || n[0] == '\0') return invalid("\"n\" has a leading zero octet");
  if (e.empty() || e[0] == '\0' || e.size() > kMaxRsaExponentBytes) {
    return invalid("\"e\" is not a plausible exponent");
  }
  BignumPtr bn_n(BN_bin2bn(uchars(n), static_cast<int>(n.size()), nullptr));
  BignumPtr bn_e(BN_bin2bn(uchars(e), static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) return invalid("cannot read RSA numbers");
  int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits) return invalid("RSA modulus shorter than 2048 bits");
  if (bits > kMaxRsaBits) return invalid("RSA modulus longer than 8192 bits");
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) return invalid("bad RSA exponent");
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return invalid("cannot build RSA key");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return invalid("cannot build RSA key");
  out.pkey = keyFromParams("RSA", params.get());
  if (!out.pkey || !publicKeyValid(out.pkey.get())) return invalid("not a usable RSA key");
  out.required_members = Json{{"e", e_text}, {"kty", "RSA"}, {"n", n_text}};
  return absl::OkStatus();
}

absl::StatusOr<PublicJwk> parseJwk(std::string_view jwk_json) {
  if (jwk_json.size() > kMaxJwkBytes) return invalid("too large");
  std::optional<Json> j = parseObject(jwk_json);
  if (!j) return invalid("not a JSON object");
  for (std::string_view member : kPrivateMembers) {
    if (j->contains(member)) return invalid("private or symmetric key material is not accepted");
  }
  ASSIGN_OR_RETURN(std::string kty, requiredString(*j, "kty"));
  PublicJwk out{};
  ASSIGN_OR_RETURN(std::optional<std::string> alg, optionalString(*j, "alg"));
  out.alg = alg.value_or("");
  ASSIGN_OR_RETURN(std::optional<std::string> use, optionalString(*j, "use"));
  if (use && *use != "sig") return invalid("\"use\" is not \"sig\"");
  if (auto ops = j->find("key_ops"); ops != j->end()) {
    bool verify = false;
    if (!ops->is_array()) return invalid("\"key_ops\" is not an array");
    for (const Json& op : *ops) verify = verify || (op.is_string() && op == "verify");
    if (!verify) return invalid("\"key_ops\" does not allow \"verify\"");
  }
  if (kty == "EC") {
    out.kind = Kind::kEc;
    ASSIGN_OR_RETURN(out.crv, requiredString(*j, "crv"));
    RETURN_IF_ERROR(buildEc(*j, out));
  } else if (kty == "OKP") {
    out.kind = Kind::kOkp;
    ASSIGN_OR_RETURN(out.crv, requiredString(*j, "crv"));
    RETURN_IF_ERROR(buildOkp(*j, out));
  } else if (kty == "RSA") {
    out.kind = Kind::kRsa;
    RETURN_IF_ERROR(buildRsa(*j, out));
  } else {
    return invalid("unsupported \"kty\"");
  }
  return out;
}

// How one JWS "alg" verifies: the key it needs, the digest, the padding.
struct AlgSpec {
  Kind kind;
  const char* crv;      // EC/OKP curve the key must have; nullptr for RSA
  const EVP_MD* (*md)();  // nullptr for EdDSA
  bool pss = false;
  size_t ec_field = 0;  // ECDSA: bytes of r and of s
};

std::optional<AlgSpec> algSpec(std::string_view alg) {
  if (alg == "ES256") return AlgSpec{Kind::kEc, "P-256", EVP_sha256, false, 32};
  if (alg == "ES384") return AlgSpec{Kind::kEc, "P-384", EVP_sha384, false, 48};
  if (alg == "EdDSA") return AlgSpec{Kind::kOkp, "Ed25519", nullptr, false, 0};
  if (alg == "RS256") return AlgSpec{Kind::kRsa, nullptr, EVP_sha256, false, 0};
  if (alg == "PS256") return AlgSpec{Kind::kRsa, nullptr, EVP_sha256, true, 0};
  return std::nullopt;
}

// JOSE R||S -> DER ECDSA-Sig-Value; nullopt if `jose` is not 2 * field bytes.
std::optional<std::string> joseToDer(std::string_view jose, size_t field) {
  if (jose.size() != 2 * field) return std::nullopt;
  BignumPtr r(BN_bin2bn(uchars(jose), static_cast<int>(field), nullptr));
  BignumPtr s(BN_bin2bn(uchars(jose) + field, static_cast<int>(field), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(size), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != size) return std::nullopt;
  return der;
}

bool verifySignature(EVP_PKEY* key, const AlgSpec& spec, std::string_view input,
                     std::string_view signature) {
  std::string der;
  if (spec.kind == Kind::kEc) {
    std::optional<std::string> converted = joseToDer(signature, spec.ec_field);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  } else if (spec.kind == Kind::kOkp) {
    if (signature.size() != 64) return false;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) {
    return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  const char* md_name = spec.md ? EVP_MD_get0_name(spec.md()) : nullptr;
  if (!ctx ||
      EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md_name, nullptr, nullptr, key, nullptr) != 1) {
    return false;
  }
  if (spec.pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                   EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, spec.md()) != 1)) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), uchars(signature), signature.size(), uchars(input),
                          input.size()) == 1;
}

}  // namespace

absl::StatusOr<std::string> verifyJwsWithJwk(std::string_view jws, std::string_view jwk_json) {
  ASSIGN_OR_RETURN(PublicJwk key, parseJwk(jwk_json));
  if (jws.size() > kMaxJwsBytes) return absl::InvalidArgumentError("jws: too large");
  size_t first = jws.find('.');
  size_t second = first == std::string_view::npos ? first : jws.find('.', first + 1);
  if (second == std::string_view::npos || jws.find('.', second + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("jws: not a compact serialisation");
  }
  std::string_view header_b64 = jws.substr(0, first);
  std::string_view payload_b64 = jws.substr(first + 1, second - first - 1);
  std::string_view signature_b64 = jws.substr(second + 1);
  absl::StatusOr<std::string> header_text = base64UrlDecode(header_b64);
  absl::StatusOr<std::string> payload = base64UrlDecode(payload_b64);
  absl::StatusOr<std::string> signature = base64UrlDecode(signature_b64);
  if (!header_text.ok() || !payload.ok() || !signature.ok()) {
    return absl::InvalidArgumentError("jws: a part is not base64url");
  }
  std::optional<Json> header = parseObject(*header_text);
  if (!header) return absl::InvalidArgumentError("jws: header is not a JSON object");
  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) {
    return absl::InvalidArgumentError("jws: header has no \"alg\"");
  }
  // No critical extensions are understood (RFC 7515 §4.1.11), so "crit" (and with it
  // "b64": false) is refused.
  if (header->contains("crit")) return denied("critical header extensions are not supported");
  const std::string alg = alg_it->get<std::string>();
  std::optional<AlgSpec> spec = algSpec(alg);
  if (!spec) return denied(absl::StrCat("algorithm \"", alg, "\" is not accepted"));
  if (spec->kind != key.kind || (spec->crv != nullptr && key.crv != spec->crv)) {
    return denied(absl::StrCat("algorithm \"", alg, "\" does not fit the key"));
  }
  if (!key.alg.empty() && key.alg != alg) return denied("algorithm differs from the key's \"alg\"");
  std::string_view input = jws.substr(0, second);
  bool valid = verifySignature(key.pkey.get(), *spec, input, *signature);
  ERR_clear_error();
  if (!valid) return denied("bad signature");
  return std::move(*payload);
}

absl::StatusOr<std::string> jwkThumbprint(std::string_view jwk_json) {
  ASSIGN_OR_RETURN(PublicJwk key, parseJwk(jwk_json));
  // nlohmann::json keeps object members sorted, so this is RFC 7638's canonical form:
  // required members only, lexicographic order, no whitespace.
  std::string canonical = key.required_members.dump(-1, ' ', false, Json::error_handler_t::replace);
  return base64UrlEncode(sha256(canonical));
}

}  // namespace habanero::crypto
