#include "crypto/key_store.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64url.h"
#include "gtest/gtest.h"
#include "habanero/clock.h"
#include "nlohmann/json.hpp"
#include <sys/stat.h>

#include "crypto/kek.h"
#include "postgres_test_server.h"

namespace habanero::crypto {
namespace {

using namespace std::string_literals;
using Json = nlohmann::json;

class ManualClock final : public Clock {
 public:
  int64_t nowMs() const override { return now_ms_.load(); }
  void advance(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
};

constexpr int64_t kRetentionMs = 3'600'000;

std::vector<std::string> splitJws(const std::string& jws) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = jws.find('.', start);
    parts.push_back(jws.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

std::string joinJws(const std::vector<std::string>& parts) {
  return parts[0] + "." + parts[1] + "." + parts[2];
}

std::string decode(const std::string& part) {
  absl::StatusOr<std::string> bytes = base64UrlDecode(part);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.value_or("");
}

Json headerOf(const std::string& jws) { return Json::parse(decode(splitJws(jws)[0])); }

// A JWS with the given header and payload and an arbitrary signature.
std::string forge(const Json& header, const std::string& payload, const std::string& sig) {
  return base64UrlEncode(header.dump()) + "." + base64UrlEncode(payload) + "." +
         base64UrlEncode(sig);
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-keys-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    openStorage();
  }
  void TearDown() override {
    storage_.reset();
    habanero::testing::cleanupTestStore(dir_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void openStorage() {
    absl::StatusOr<StoragePtr> storage = habanero::testing::openTestStore(dir_, clock_);
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
  }

  std::unique_ptr<KeyStore> openKeys(const std::string& alg = "ES256") {
    absl::StatusOr<std::unique_ptr<KeyStore>> keys =
        KeyStore::open(*storage_, clock_, {.alg = alg, .retention_ms = kRetentionMs});
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? std::move(*keys) : nullptr;
  }

  std::string sign(const KeyStore& keys, std::string_view payload, std::string_view header = "") {
    absl::StatusOr<std::string> jws = keys.sign(header, payload);
    EXPECT_TRUE(jws.ok()) << jws.status();
    return jws.value_or("");
  }

  ManualClock clock_;
  std::filesystem::path dir_;
  StoragePtr storage_;
};

// ---- Per algorithm -------------------------------------------------------

class KeyStoreAlgTest : public KeyStoreTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(KeyStoreAlgTest, SignsAndVerifies) {
  std::unique_ptr<KeyStore> keys = openKeys(GetParam());
  ASSERT_NE(keys, nullptr);
  const std::string payload = R"({"sub":"alice"})";
  std::string jws = sign(*keys, payload, R"({"typ":"at+jwt","alg":"none","kid":"evil"})");
  ASSERT_EQ(splitJws(jws).size(), 3u);

  Json header = headerOf(jws);
  EXPECT_EQ(header["alg"], GetParam()) << "the signer's alg overrides the caller's";
  EXPECT_EQ(header["kid"], keys->listKeys().at(0).kid);
  EXPECT_EQ(header["typ"], "at+jwt") << "other caller members are kept";

  absl::StatusOr<std::string> verified = keys->verify(jws);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, payload);

  // Payloads are bytes, not necessarily JSON.
  const std::string binary = "\0\xff\x01 not json"s;
  EXPECT_EQ(keys->verify(sign(*keys, binary)).value_or("?"), binary);
  EXPECT_EQ(keys->verify(sign(*keys, "")).value_or("?"), "");
}

TEST_P(KeyStoreAlgTest, RefusesTampering) {
  std::unique_ptr<KeyStore> keys = openKeys(GetParam());
  ASSERT_NE(keys, nullptr);
  const std::vector<std::string> parts =
      splitJws(sign(*keys, R"({"sub":"alice"})", R"({"typ":"JWT"})"));

  std::vector<std::string> payload = parts;
  payload[1] = base64UrlEncode(R"({"sub":"mallory"})");
  EXPECT_EQ(keys->verify(joinJws(payload)).status().code(), absl::StatusCode::kPermissionDenied);

  std::vector<std::string> header = parts;
  Json changed = Json::parse(decode(parts[0]));
  changed["typ"] = "at+jwt";
  header[0] = base64UrlEncode(changed.dump());
  EXPECT_EQ(keys->verify(joinJws(header)).status().code(), absl::StatusCode::kPermissionDenied);

  std::string raw_sig = decode(parts[2]);
  for (size_t i : {size_t{0}, raw_sig.size() / 2, raw_sig.size() - 1}) {
    std::vector<std::string> sig = parts;
    std::string flipped = raw_sig;
    flipped[i] ^= 0x01;
    sig[2] = base64UrlEncode(flipped);
    EXPECT_EQ(keys->verify(joinJws(sig)).status().code(), absl::StatusCode::kPermissionDenied)
        << "bit flipped in signature byte " << i;
  }
  std::vector<std::string> truncated = parts;
  truncated[2] = base64UrlEncode(raw_sig.substr(0, raw_sig.size() - 1));
  EXPECT_EQ(keys->verify(joinJws(truncated)).status().code(), absl::StatusCode::kPermissionDenied);
  std::vector<std::string> empty = parts;
  empty[2] = "";
  EXPECT_EQ(keys->verify(joinJws(empty)).status().code(), absl::StatusCode::kPermissionDenied);
}

// The public key rebuilt from the JWKS alone, with OpenSSL directly (no
// KeyStore code), verifies the KeyStore's JWS.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr publicKeyFromJwk(const Json& jwk) {
  EVP_PKEY* pkey = nullptr;
  if (jwk["kty"] == "OKP") {
    std::string x = decode(jwk["x"]);
    return PkeyPtr(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::vector<BIGNUM*> bignums;
  std::string point;
  const char* type = nullptr;
  if (jwk["kty"] == "EC") {
    type = "EC";
    point = "\x04" + decode(jwk["x"]) + decode(jwk["y"]);  // uncompressed SEC1 point
    EXPECT_EQ(point.size(), 65u);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  } else {
    type = "RSA";
    for (const char* member : {"n", "e"}) {
      std::string bytes = decode(jwk[member]);
      bignums.push_back(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()), nullptr));
    }
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bignums[0]);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bignums[1]);
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ADD_FAILURE() << "cannot rebuild " << type << " key from JWK";
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  for (BIGNUM* bn : bignums) BN_free(bn);
  return PkeyPtr(pkey);
}

// Converts a JOSE R||S signature to DER, independently of the KeyStore.
std::string es256ToDer(const std::string& jose) {
  EXPECT_EQ(jose.size(), 64u);
  const auto* bytes = reinterpret_cast<const unsigned char*>(jose.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int size = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

bool independentlyVerify(const Json& jwk, const std::string& jws) {
  PkeyPtr pkey = publicKeyFromJwk(jwk);
  if (!pkey) return false;
  std::vector<std::string> parts = splitJws(jws);
  std::string input = parts[0] + "." + parts[1];
  std::string sig = decode(parts[2]);
  if (jwk["kty"] == "EC") sig = es256ToDer(sig);
  const EVP_MD* md = jwk["kty"] == "OKP" ? nullptr : EVP_sha256();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey.get()) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

TEST_P(KeyStoreAlgTest, JwksPublishesAKeyThatVerifiesIndependently) {
  std::unique_ptr<KeyStore> keys = openKeys(GetParam());
  ASSERT_NE(keys, nullptr);
  std::string jws = sign(*keys, R"({"sub":"alice"})");
  Json jwks = Json::parse(keys->jwks());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const Json& jwk = jwks["keys"][0];
  EXPECT_EQ(jwk["kid"], headerOf(jws)["kid"]);
  EXPECT_EQ(jwk["alg"], GetParam());
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_FALSE(jwk.contains("d")) << "no private material";
  EXPECT_FALSE(jwk.contains("p"));
  if (GetParam() == "ES256") {
    EXPECT_EQ(jwk["kty"], "EC");
    EXPECT_EQ(jwk["crv"], "P-256");
    EXPECT_EQ(decode(jwk["x"]).size(), 32u);
    EXPECT_EQ(decode(jwk["y"]).size(), 32u);
  } else if (GetParam() == "RS256") {
    EXPECT_EQ(jwk["kty"], "RSA");
    EXPECT_EQ(decode(jwk["n"]).size(), 256u);
    EXPECT_EQ(decode(jwk["e"]), "\x01\x00\x01"s);
  } else {
    EXPECT_EQ(jwk["kty"], "OKP");
    EXPECT_EQ(jwk["crv"], "Ed25519");
    EXPECT_EQ(decode(jwk["x"]).size(), 32u);
  }
  EXPECT_TRUE(independentlyVerify(jwk, jws));

  std::vector<std::string> tampered = splitJws(jws);
  tampered[1] = base64UrlEncode("{}");
  EXPECT_FALSE(independentlyVerify(jwk, joinJws(tampered)));
}

TEST_P(KeyStoreAlgTest, KidIsTheRfc7638Thumbprint) {
  std::unique_ptr<KeyStore> keys = openKeys(GetParam());
  ASSERT_NE(keys, nullptr);
  Json jwk = Json::parse(keys->jwks())["keys"][0];
  Json members;
  for (const char* name : {"crv", "e", "kty", "n", "x", "y"}) {
    if (jwk.contains(name)) members[name] = jwk[name];
  }
  // Independent SHA-256 over the canonical members.
  std::string canonical = members.dump();
  unsigned char digest[32];
  unsigned int size = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest, &size, EVP_sha256(), nullptr);
  EXPECT_EQ(jwk["kid"], base64UrlEncode(std::string(reinterpret_cast<char*>(digest), size)));
}

INSTANTIATE_TEST_SUITE_P(Algs, KeyStoreAlgTest, ::testing::Values("ES256", "RS256", "EdDSA"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ---- Strict verification -------------------------------------------------

TEST_F(KeyStoreTest, RefusesAlgNone) {
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  const std::string kid = keys->listKeys().at(0).kid;
  for (const char* sig : {"", "AAAA"}) {
    std::string jws = forge({{"alg", "none"}, {"kid", kid}}, "{}", sig);
    EXPECT_EQ(keys->verify(jws).status().code(), absl::StatusCode::kPermissionDenied) << jws;
  }
  std::string no_kid = base64UrlEncode(R"({"alg":"none"})") + "." + base64UrlEncode("{}") + ".";
  EXPECT_EQ(keys->verify(no_kid).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(KeyStoreTest, RefusesUnknownOrMissingKidAndOtherAlgs) {
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  std::vector<std::string> parts = splitJws(sign(*keys, "{}"));
  Json header = headerOf(joinJws(parts));
  const std::string sig = decode(parts[2]);

  Json unknown = header;
  unknown["kid"] = "not-a-key";
  EXPECT_EQ(keys->verify(forge(unknown, "{}", sig)).status().code(),
            absl::StatusCode::kPermissionDenied);
  Json missing = header;
  missing.erase("kid");
  EXPECT_EQ(keys->verify(forge(missing, "{}", sig)).status().code(),
            absl::StatusCode::kPermissionDenied);
  Json numeric = header;
  numeric["kid"] = 7;
  EXPECT_EQ(keys->verify(forge(numeric, "{}", sig)).status().code(),
            absl::StatusCode::kPermissionDenied);
  for (const char* alg : {"RS256", "HS256", "ES384", "EdDSA", "es256"}) {
    Json other = header;
    other["alg"] = alg;
    EXPECT_EQ(keys->verify(forge(other, "{}", sig)).status().code(),
              absl::StatusCode::kPermissionDenied)
        << alg;
  }
  Json crit = header;
  crit["crit"] = Json::array({"exp"});
  crit["exp"] = 1;
  EXPECT_EQ(keys->verify(forge(crit, "{}", sig)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(KeyStoreTest, RefusesMalformedJws) {
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  const std::string good = sign(*keys, "{}");
  const std::vector<std::string> parts = splitJws(good);
  const std::string b64_header = parts[0];
  std::vector<std::string> bad = {
      "",
      ".",
      "..",
      "...",
      parts[0] + "." + parts[1],
      good + ".",
      good + "." + parts[2],
      parts[0] + "=." + parts[1] + "." + parts[2],  // padding
      parts[0] + "." + parts[1] + "." + parts[2] + "=",
      parts[0] + "." + parts[1] + "+." + parts[2],  // standard-alphabet char
      " " + good,
      good + "\n",
      "." + parts[1] + "." + parts[2],  // empty header
      base64UrlEncode("[1,2]") + "." + parts[1] + "." + parts[2],
      base64UrlEncode("\"ES256\"") + "." + parts[1] + "." + parts[2],
      base64UrlEncode("{\"alg\":\"ES256\"") + "." + parts[1] + "." + parts[2],
      base64UrlEncode("{\"alg\":256}") + "." + parts[1] + "." + parts[2],
      base64UrlEncode(std::string(100, '[') + std::string(100, ']')) + "." + parts[1] + "." +
          parts[2],
  };
  for (const std::string& jws : bad) {
    absl::Status status = keys->verify(jws).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << jws << " -> " << status;
  }
  EXPECT_TRUE(keys->verify(good).ok());
}

TEST_F(KeyStoreTest, SignRejectsNonObjectHeaders) {
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  for (const char* header :
       {"[]", "\"typ\"", "1", "null", "{", "{\"typ\":}", "not json", "{\"a\":1} {}"}) {
    EXPECT_EQ(keys->sign(header, "{}").status().code(), absl::StatusCode::kInvalidArgument)
        << header;
  }
  EXPECT_EQ(keys->sign(R"({"crit":["exp"],"exp":1})", "{}").status().code(),
            absl::StatusCode::kInvalidArgument)
      << "verify() would refuse it";
  std::string deep = "{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_EQ(keys->sign(deep, "{}").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(keys->sign("{}", "{}").ok());
  EXPECT_TRUE(keys->sign(" { \"typ\" : \"JWT\" } ", "{}").ok());
}

// ---- Lifecycle -----------------------------------------------------------

TEST_F(KeyStoreTest, RejectsBadOptions) {
  EXPECT_EQ(KeyStore::open(*storage_, clock_, {.alg = "HS256"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyStore::open(*storage_, clock_, {.alg = "none"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyStore::open(*storage_, clock_, {.retention_ms = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyStoreTest, RotationKeepsRetiredKeysForTheRetention) {
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  const std::string old_kid = keys->listKeys().at(0).kid;
  const std::string old_jws = sign(*keys, "old");

  clock_.advance(1000);
  const int64_t rotated_at = clock_.nowMs();
  ASSERT_EQ(keys->rotate(), absl::OkStatus());
  const std::string new_jws = sign(*keys, "new");
  const std::string new_kid = headerOf(new_jws)["kid"];
  EXPECT_NE(new_kid, old_kid);

  std::vector<KeyInfo> infos = keys->listKeys();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].kid, new_kid);
  EXPECT_EQ(infos[0].retired_ms, 0);
  EXPECT_EQ(infos[0].expires_ms, 0);
  EXPECT_EQ(infos[1].kid, old_kid);
  EXPECT_EQ(infos[1].retired_ms, rotated_at);
  EXPECT_EQ(infos[1].expires_ms, rotated_at + kRetentionMs);

  Json jwks = Json::parse(keys->jwks());
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0]["kid"], new_kid) << "active first";
  EXPECT_EQ(jwks["keys"][1]["kid"], old_kid);
  EXPECT_EQ(keys->verify(old_jws).value_or("?"), "old");
  EXPECT_EQ(keys->verify(new_jws).value_or("?"), "new");

  clock_.advance(kRetentionMs - 1);
  EXPECT_TRUE(keys->verify(old_jws).ok()) << "still inside the retention";
  clock_.advance(1);
  EXPECT_EQ(keys->verify(old_jws).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Json::parse(keys->jwks())["keys"].size(), 1u);
  EXPECT_EQ(keys->listKeys().size(), 1u);
  EXPECT_TRUE(keys->verify(new_jws).ok());

  // The next rotation drops the expired key from storage.
  ASSERT_EQ(keys->rotate(), absl::OkStatus());
  absl::StatusOr<std::optional<std::string>> record =
      storage_->get(KeyStore::kNamespace, KeyStore::kRecordKey);
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ(Json::parse(**record)["keys"].size(), 2u);
  EXPECT_EQ((*record)->find(old_kid), std::string::npos);
}

TEST_F(KeyStoreTest, PersistsAcrossRestart) {
  std::string kid;
  std::string jws;
  {
    std::unique_ptr<KeyStore> keys = openKeys();
    ASSERT_NE(keys, nullptr);
    kid = keys->listKeys().at(0).kid;
    jws = sign(*keys, "payload");
  }
  storage_.reset();
  openStorage();
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  ASSERT_EQ(keys->listKeys().size(), 1u) << "no new key on restart";
  EXPECT_EQ(keys->listKeys()[0].kid, kid);
  EXPECT_EQ(keys->verify(jws).value_or("?"), "payload");
  EXPECT_EQ(headerOf(sign(*keys, "x"))["kid"], kid);
}

TEST_F(KeyStoreTest, ExistingKeysKeepTheirAlgUntilRotation) {
  std::unique_ptr<KeyStore> es = openKeys("ES256");
  ASSERT_NE(es, nullptr);
  std::unique_ptr<KeyStore> ed = openKeys("EdDSA");
  ASSERT_NE(ed, nullptr);
  EXPECT_EQ(headerOf(sign(*ed, "x"))["alg"], "ES256");
  ASSERT_EQ(ed->rotate(), absl::OkStatus());
  EXPECT_EQ(headerOf(sign(*ed, "x"))["alg"], "EdDSA");
  EXPECT_EQ(ed->listKeys().at(1).alg, "ES256");
}

TEST_F(KeyStoreTest, ReloadPicksUpAnotherProcessesRotation) {
  std::unique_ptr<KeyStore> server = openKeys();
  std::unique_ptr<KeyStore> cli = openKeys();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(cli, nullptr);
  const std::string old_kid = server->listKeys().at(0).kid;
  EXPECT_EQ(cli->listKeys().at(0).kid, old_kid) << "the second opener loads, not generates";

  ASSERT_EQ(cli->rotate(), absl::OkStatus());
  const std::string new_kid = cli->listKeys().at(0).kid;
  const std::string from_cli = sign(*cli, "cli");
  EXPECT_EQ(headerOf(sign(*server, "x"))["kid"], old_kid) << "snapshot until reload";
  EXPECT_EQ(server->verify(from_cli).status().code(), absl::StatusCode::kPermissionDenied);

  ASSERT_EQ(server->reload(), absl::OkStatus());
  EXPECT_EQ(headerOf(sign(*server, "x"))["kid"], new_kid);
  EXPECT_EQ(server->verify(from_cli).value_or("?"), "cli");
  EXPECT_EQ(server->listKeys().size(), 2u);
  EXPECT_EQ(server->reload(), absl::OkStatus()) << "no change is fine";

  // A rotation by a store with a stale snapshot still builds on the latest record.
  ASSERT_EQ(server->rotate(), absl::OkStatus());
  ASSERT_EQ(cli->rotate(), absl::OkStatus());
  ASSERT_EQ(server->reload(), absl::OkStatus());
  EXPECT_EQ(server->listKeys().size(), 4u);
  EXPECT_EQ(server->listKeys().at(0).kid, cli->listKeys().at(0).kid);
}

TEST_F(KeyStoreTest, CorruptRecordIsDataLoss) {
  for (const char* record :
       {"not json", "{}", R"({"version":2,"keys":[]})",
        R"({"version":1,"keys":[{"kid":"k","alg":"ES256","created_ms":1,"retired_ms":null,
            "private_key_pem":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}]})",
        R"({"version":1,"keys":[{"kid":"k","alg":"ES256"}]})"}) {
    ASSERT_EQ(storage_->put(KeyStore::kNamespace, KeyStore::kRecordKey, record, 0),
              absl::OkStatus());
    EXPECT_EQ(KeyStore::open(*storage_, clock_).status().code(), absl::StatusCode::kDataLoss)
        << record;
  }
}

TEST_F(KeyStoreTest, RefusesAKeyOfTheWrongTypeForItsAlg) {
  std::unique_ptr<KeyStore> keys = openKeys("EdDSA");
  ASSERT_NE(keys, nullptr);
  absl::StatusOr<std::optional<std::string>> record =
      storage_->get(KeyStore::kNamespace, KeyStore::kRecordKey);
  ASSERT_TRUE(record.ok() && record->has_value());
  Json json = Json::parse(**record);
  json["keys"][0]["alg"] = "ES256";  // an Ed25519 key labelled ES256
  ASSERT_EQ(storage_->put(KeyStore::kNamespace, KeyStore::kRecordKey, json.dump(), 0),
            absl::OkStatus());
  EXPECT_EQ(KeyStore::open(*storage_, clock_).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(keys->reload().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(keys->verify(sign(*keys, "x")).ok()) << "a failed reload keeps the old keys";
}

TEST_F(KeyStoreTest, SignAndVerifyConcurrentlyWithRotation) {
  std::unique_ptr<KeyStore> keys = openKeys();
  ASSERT_NE(keys, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        absl::StatusOr<std::string> jws = keys->sign("", "concurrent");
        if (!jws.ok() || keys->verify(*jws).value_or("") != "concurrent") ++failures;
      }
    });
  }
  for (int i = 0; i < 10; ++i) ASSERT_EQ(keys->rotate(), absl::OkStatus());
  stop = true;
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(keys->listKeys().size(), 11u);
}

// ---- Private keys at rest (crypto/kek.h) ---------------------------------

class KeyStoreKekTest : public KeyStoreTest {
 protected:
  std::string kek(char fill) { return std::string(kKekBytes, fill); }
  absl::StatusOr<std::unique_ptr<KeyStore>> openWith(const std::string& kek) {
    return KeyStore::open(*storage_, clock_, {.retention_ms = kRetentionMs, .kek = kek});
  }
  std::string stored() {
    absl::StatusOr<std::optional<std::string>> r =
        storage_->get(KeyStore::kNamespace, KeyStore::kRecordKey);
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? **r : "";
  }
};

TEST_F(KeyStoreKekTest, PrivateKeysAreSealedAtRest) {
  auto keys = openWith(kek('a'));
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_TRUE((*keys)->rotate().ok());
  const std::string record = stored();
  EXPECT_EQ(record.find("PRIVATE KEY"), std::string::npos) << record;
  EXPECT_EQ(record.find("private_key_pem"), std::string::npos);
  EXPECT_NE(record.find("private_key_sealed"), std::string::npos);
  EXPECT_EQ(Json::parse(record)["kek_id"], kekId(kek('a')));
  const std::string jws = sign(**keys, "payload");

  auto reopened = openWith(kek('a'));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->listKeys().size(), 2u);
  EXPECT_EQ((*reopened)->verify(jws).value_or(""), "payload");
  EXPECT_EQ((*reopened)->listKeys()[0].kid, (*keys)->listKeys()[0].kid);
}

TEST_F(KeyStoreKekTest, AWrongOrMissingKekIsAClearErrorNeverNewKeys) {
  ASSERT_TRUE(openWith(kek('a')).ok());
  const std::string before = stored();
  for (const std::string& wrong : {kek('b'), std::string()}) {
    auto keys = openWith(wrong);
    ASSERT_FALSE(keys.ok());
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kFailedPrecondition) << keys.status();
    EXPECT_NE(std::string(keys.status().message()).find("key-encryption key"), std::string::npos)
        << keys.status();
    EXPECT_EQ(stored(), before) << "the keys were left alone";
  }
  // A sealed box altered in storage (same kek_id) does not open either.
  Json record = Json::parse(before);
  std::string box = record["keys"][0]["private_key_sealed"];
  box[box.size() / 2] = box[box.size() / 2] == 'A' ? 'B' : 'A';
  record["keys"][0]["private_key_sealed"] = box;
  ASSERT_TRUE(storage_->put(KeyStore::kNamespace, KeyStore::kRecordKey, record.dump(), 0).ok());
  EXPECT_EQ(openWith(kek('a')).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(KeyStoreKekTest, PlainPemKeysAreSealedOnTheFirstOpenWithAKek) {
  std::string kid, jws;
  {
    auto plain = openWith("");  // as data directories from before keys were sealed
    ASSERT_TRUE(plain.ok()) << plain.status();
    kid = (*plain)->listKeys()[0].kid;
    jws = sign(**plain, "old token");
  }
  ASSERT_NE(stored().find("PRIVATE KEY"), std::string::npos);
  auto sealed = openWith(kek('a'));
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ((*sealed)->listKeys()[0].kid, kid) << "the same key, now sealed";
  EXPECT_EQ((*sealed)->verify(jws).value_or(""), "old token");
  EXPECT_EQ(stored().find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(openWith("").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(KeyStoreKekTest, RewrapMovesTheKeysToANewKek) {
  std::string kid;
  {
    auto keys = openWith(kek('a'));
    ASSERT_TRUE(keys.ok());
    kid = (*keys)->listKeys()[0].kid;
  }
  EXPECT_EQ(KeyStore::rewrap(*storage_, kek('b'), kek('c')).code(),
            absl::StatusCode::kFailedPrecondition)
      << "the old KEK must open the keys";
  ASSERT_EQ(KeyStore::rewrap(*storage_, kek('a'), kek('c')), absl::OkStatus());
  EXPECT_EQ(openWith(kek('a')).status().code(), absl::StatusCode::kFailedPrecondition);
  auto keys = openWith(kek('c'));
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)->listKeys()[0].kid, kid);
  auto exported = (*keys)->privateKeys();
  ASSERT_EQ(exported.size(), 1u);
  EXPECT_NE(exported[0].second.find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(KekTest, ParsesWhatOpensslRandPrints) {
  const std::string text = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n";
  absl::StatusOr<std::string> kek = parseKek(text, "test");
  ASSERT_TRUE(kek.ok()) << kek.status();
  EXPECT_EQ(kek->size(), kKekBytes);
  for (std::string bad : {"", "c2hvcnQ=", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v",
                          "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ!80=",
                          "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=q83v"}) {
    absl::StatusOr<std::string> parsed = parseKek(bad, "HABANERO_KEYS_KEK");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(std::string(parsed.status().message()).find("HABANERO_KEYS_KEK"), std::string::npos);
  }
}

TEST(KekTest, GeneratedFileIsOwnerOnlyWhateverTheUmask) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "habanero-kek-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/kek";
  mode_t old = umask(0);
  absl::StatusOr<std::string> kek = createKekFile(path);
  umask(old);
  ASSERT_TRUE(kek.ok()) << kek.status();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(readKekFile(path).value_or(""), *kek);
  EXPECT_EQ(createKekFile(path).status().code(), absl::StatusCode::kAlreadyExists)
      << "never overwritten";
  ASSERT_EQ(writeKekFile(path, std::string(kKekBytes, 'z')), absl::OkStatus());
  EXPECT_EQ(readKekFile(path).value_or(""), std::string(kKekBytes, 'z'));
  absl::StatusOr<std::string> missing = readKekFile(tmpl + "/none");
  EXPECT_NE(std::string(missing.status().message()).find(tmpl + "/none"), std::string::npos);
  std::filesystem::remove_all(tmpl);
}

TEST(KekTest, SealedBoxesOpenOnlyWithTheirKeyAndAad) {
  const std::string kek(kKekBytes, 'k');
  absl::StatusOr<std::string> box = seal(kek, "secret pem", "kid-1");
  ASSERT_TRUE(box.ok());
  EXPECT_EQ(unseal(kek, *box, "kid-1").value_or(""), "secret pem");
  EXPECT_EQ(unseal(kek, *box, "kid-2").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(unseal(std::string(kKekBytes, 'x'), *box, "kid-1").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_NE(*box, seal(kek, "secret pem", "kid-1").value_or("")) << "a fresh nonce each time";
  EXPECT_NE(kekId(kek), kekId(std::string(kKekBytes, 'x')));
}

}  // namespace
}  // namespace habanero::crypto
