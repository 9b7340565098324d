#include "crypto/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace habanero::crypto {
namespace {

// RFC 7638 §3.1.
constexpr std::string_view kRfc7638Jwk =
    R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})";
constexpr std::string_view kRfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

// RFC 7515 Appendix A.3 (ES256).
constexpr std::string_view kEs256Jwk =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
constexpr std::string_view kEs256PrivateJwk =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLnT8EgfH3cTzP9kGkoFtM"})";
constexpr std::string_view kEs256Header = "eyJhbGciOiJFUzI1NiJ9";
constexpr std::string_view kEs256Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kEs256Signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// RFC 8037 Appendix A.1, A.3 and A.4 (Ed25519).
constexpr std::string_view kEdJwk =
    R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kEdPrivateJwk =
    R"({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kEdThumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
constexpr std::string_view kEdJws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

std::string es256Jws() {
  return std::string(kEs256Header) + "." + std::string(kEs256Payload) + "." +
         std::string(kEs256Signature);
}

std::string b64(std::string_view s) { return base64UrlEncode(s); }

TEST(JwkTest, Rfc7638Thumbprint) {
  absl::StatusOr<std::string> t = jwkThumbprint(kRfc7638Jwk);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, kRfc7638Thumbprint);
}

TEST(JwkTest, Rfc8037Thumbprint) {
  absl::StatusOr<std::string> t = jwkThumbprint(kEdJwk);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, kEdThumbprint);
}

TEST(JwkTest, ThumbprintIgnoresOptionalMembersAndOrder) {
  auto a = jwkThumbprint(kEs256Jwk);
  auto b = jwkThumbprint(
      R"({"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","crv":"P-256","kty":"EC"})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 43u);
  // The canonical EC form hashed by hand.
  EXPECT_EQ(*a, base64UrlEncode(sha256(
                    R"({"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})")));
}

TEST(JwkTest, Rfc7515Es256Verifies) {
  absl::StatusOr<std::string> payload = verifyJwsWithJwk(es256Jws(), kEs256Jwk);
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(*payload, *base64UrlDecode(kEs256Payload));
}

TEST(JwkTest, Rfc8037EdDsaVerifies) {
  absl::StatusOr<std::string> payload = verifyJwsWithJwk(kEdJws, kEdJwk);
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(*payload, "Example of Ed25519 signing");
}

TEST(JwkTest, TamperedIsPermissionDenied) {
  // Another payload under the same signature.
  std::string other = std::string(kEs256Header) + "." + b64(R"({"iss":"mallory"})") + "." +
                      std::string(kEs256Signature);
  EXPECT_EQ(verifyJwsWithJwk(other, kEs256Jwk).status().code(),
            absl::StatusCode::kPermissionDenied);
  // One bit of the signature flipped.
  std::string sig = *base64UrlDecode(kEs256Signature);
  sig[10] ^= 1;
  std::string flipped =
      std::string(kEs256Header) + "." + std::string(kEs256Payload) + "." + b64(sig);
  EXPECT_EQ(verifyJwsWithJwk(flipped, kEs256Jwk).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A valid signature checked against another key.
  EXPECT_EQ(verifyJwsWithJwk(kEdJws, R"({"kty":"OKP","crv":"Ed25519","x":")" +
                                         b64(std::string(32, '\x01')) + R"("})")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // EdDSA signature bytes truncated.
  std::string ed(kEdJws);
  EXPECT_FALSE(verifyJwsWithJwk(ed.substr(0, ed.size() - 4), kEdJwk).ok());
}

TEST(JwkTest, AlgorithmConfusionIsRefused) {
  // HS256 keyed with the public key's bytes (the classic confusion attack).
  std::string input = b64(R"({"alg":"HS256"})") + "." + std::string(kEs256Payload);
  const std::string x = *base64UrlDecode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
  for (const std::string& key : {std::string(kEs256Jwk), x}) {
    std::string jws = input + "." + b64(hmacSha256(key, input));
    EXPECT_EQ(verifyJwsWithJwk(jws, kEs256Jwk).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  // alg none, with and without a signature part.
  std::string none = b64(R"({"alg":"none"})") + "." + std::string(kEs256Payload) + ".";
  EXPECT_FALSE(verifyJwsWithJwk(none, kEs256Jwk).ok());
  EXPECT_FALSE(verifyJwsWithJwk(none + "AA", kEs256Jwk).ok());
  // ES256 signature presented as EdDSA / RS256, ES384 against a P-256 key.
  for (std::string alg : {"EdDSA", "RS256", "PS256", "ES384", "ES512", "es256"}) {
    std::string jws = b64(R"({"alg":")" + alg + R"("})") + "." + std::string(kEs256Payload) +
                      "." + std::string(kEs256Signature);
    EXPECT_EQ(verifyJwsWithJwk(jws, kEs256Jwk).status().code(),
              absl::StatusCode::kPermissionDenied)
        << alg;
  }
  // The JWK's own alg must agree.
  std::string with_alg(kEs256Jwk);
  with_alg.insert(1, R"("alg":"ES384",)");
  EXPECT_FALSE(verifyJwsWithJwk(es256Jws(), with_alg).ok());
  // Critical extensions are not understood.
  EXPECT_FALSE(verifyJwsWithJwk(b64(R"({"alg":"ES256","crit":["b64"],"b64":false})") + "." +
                                    std::string(kEs256Payload) + "." +
                                    std::string(kEs256Signature),
                                kEs256Jwk)
                   .ok());
}

TEST(JwkTest, PrivateOrSymmetricJwkIsRefused) {
  EXPECT_EQ(verifyJwsWithJwk(es256Jws(), kEs256PrivateJwk).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwkThumbprint(kEs256PrivateJwk).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(verifyJwsWithJwk(kEdJws, kEdPrivateJwk).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwkThumbprint(R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JwkTest, MalformedInputsAreInvalidArgument) {
  const std::string bad_jwks[] = {
      "",
      "[]",
      "{",
      R"({"kty":"EC"})",
      R"({"kty":"EC","crv":"P-521","x":"AA","y":"AA"})",
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"})",  // not on the curve
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",  // short x
      R"({"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      R"({"kty":"RSA","n":"AQAB","e":"AQAB"})",  // far too short
      R"({"kty":5})",
      R"({"kty":"EC","crv":"P-256","use":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
      std::string(100, '[') + std::string(100, ']'),
  };
  for (const std::string& jwk : bad_jwks) {
    EXPECT_EQ(jwkThumbprint(jwk).status().code(), absl::StatusCode::kInvalidArgument) << jwk;
    EXPECT_EQ(verifyJwsWithJwk(es256Jws(), jwk).status().code(),
              absl::StatusCode::kInvalidArgument)
        << jwk;
  }
  const std::string bad_jws[] = {"", "a.b", "a.b.c.d", "!!.AA.AA", es256Jws() + "=",
                                 b64("not json") + "." + std::string(kEs256Payload) + ".AA",
                                 b64(R"({"typ":"JWT"})") + "." + std::string(kEs256Payload) +
                                     ".AA"};
  for (const std::string& jws : bad_jws) {
    EXPECT_EQ(verifyJwsWithJwk(jws, kEs256Jwk).status().code(),
              absl::StatusCode::kInvalidArgument)
        << jws;
  }
}

// ---- keys generated here: RS256, PS256, ES384 and a short RSA key ----------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string bn(EVP_PKEY* key, const char* name, size_t pad = 0) {
  BIGNUM* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &raw), 1);
  size_t size = pad ? pad : static_cast<size_t>(BN_num_bytes(raw));
  std::string out(size, '\0');
  BN_bn2binpad(raw, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size));
  BN_free(raw);
  return out;
}

std::string rsaJwk(EVP_PKEY* key) {
  return nlohmann::json{{"kty", "RSA"},
                        {"n", b64(bn(key, OSSL_PKEY_PARAM_RSA_N))},
                        {"e", b64(bn(key, OSSL_PKEY_PARAM_RSA_E))}}
      .dump();
}

// Signs header.payload with `key`; PSS when `pss`. ECDSA signatures stay DER (callers convert).
std::string sign(EVP_PKEY* key, const EVP_MD* md, bool pss, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx, &pctx, md, nullptr, key), 1);
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(ctx, nullptr, &size, data, input.size());
  std::string sig(size, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size, data,
                           input.size()),
            1);
  sig.resize(size);
  EVP_MD_CTX_free(ctx);
  return sig;
}

TEST(JwkTest, GeneratedRsaKeysVerifyRs256AndPs256) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  ASSERT_TRUE(key);
  std::string jwk = rsaJwk(key.get());
  std::string payload = R"({"htm":"POST"})";
  for (bool pss : {false, true}) {
    std::string input =
        b64(pss ? R"({"alg":"PS256"})" : R"({"alg":"RS256"})") + "." + b64(payload);
    std::string jws = input + "." + b64(sign(key.get(), EVP_sha256(), pss, input));
    absl::StatusOr<std::string> out = verifyJwsWithJwk(jws, jwk);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, payload);
    // The other padding under the same alg fails.
    std::string swapped =
        b64(pss ? R"({"alg":"RS256"})" : R"({"alg":"PS256"})") + "." + b64(payload);
    std::string wrong = swapped + "." + b64(sign(key.get(), EVP_sha256(), pss, swapped));
    EXPECT_EQ(verifyJwsWithJwk(wrong, jwk).status().code(), absl::StatusCode::kPermissionDenied);
  }
  EXPECT_TRUE(jwkThumbprint(jwk).ok());
}

TEST(JwkTest, ShortRsaKeyIsRefused) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  ASSERT_TRUE(key);
  std::string jwk = rsaJwk(key.get());
  std::string input = b64(R"({"alg":"RS256"})") + "." + b64("x");
  std::string jws = input + "." + b64(sign(key.get(), EVP_sha256(), false, input));
  EXPECT_EQ(verifyJwsWithJwk(jws, jwk).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwkThumbprint(jwk).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JwkTest, GeneratedP384KeyVerifiesEs384) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_TRUE(key);
  std::string jwk = nlohmann::json{{"kty", "EC"},
                                   {"crv", "P-384"},
                                   {"x", b64(bn(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 48))},
                                   {"y", b64(bn(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 48))}}
                        .dump();
  std::string input = b64(R"({"alg":"ES384"})") + "." + b64("hello");
  std::string der = sign(key.get(), EVP_sha384(), false, input);
  // DER -> R||S.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  ASSERT_NE(sig, nullptr);
  std::string rs(96, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(rs.data()), 48);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(rs.data()) + 48, 48);
  ECDSA_SIG_free(sig);
  absl::StatusOr<std::string> out = verifyJwsWithJwk(input + "." + b64(rs), jwk);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello");
  // A DER signature is not the JOSE form.
  EXPECT_EQ(verifyJwsWithJwk(input + "." + b64(der), jwk).status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace habanero::crypto
