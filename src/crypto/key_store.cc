#include "crypto/key_store.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>

#include "crypto/json_depth.h"
#include "absl/strings/str_cat.h"
#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "crypto/kek.h"
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
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

enum class Alg { kES256, kRS256, kEdDSA };

constexpr int kRsaBits = 2048;     // generated RS256 keys
constexpr int kMinRsaBits = 2048;  // loaded RS256 keys
constexpr size_t kEs256FieldBytes = 32;
constexpr size_t kEdDsaSignatureBytes = 64;
constexpr int kMaxHeaderDepth = 16;  // JSON nesting accepted in JOSE headers
constexpr int kMaxUpdateAttempts = 8;
constexpr int kRecordVersion = 1;
constexpr size_t kMaxIdleEcdsaContexts = 16;  // per key; about one per concurrent signer

std::optional<Alg> parseAlg(std::string_view name) {
  if (name == "ES256") return Alg::kES256;
  if (name == "RS256") return Alg::kRS256;
  if (name == "EdDSA") return Alg::kEdDSA;
  return std::nullopt;
}

const char* algName(Alg alg) {
  switch (alg) {
    case Alg::kES256:
      return "ES256";
    case Alg::kRS256:
      return "RS256";
    case Alg::kEdDSA:
      return "EdDSA";
  }
  return "";
}

// An Internal status carrying (and clearing) OpenSSL's error queue.
absl::Status opensslError(std::string_view what) {
  std::string message = absl::StrCat("openssl: ", std::string(what));
  char buf[256];
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buf, sizeof buf);
    absl::StrAppend(&message, ": ", buf);
  }
  return absl::InternalError(message);
}

int64_t saturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  return a + b;
}

std::string_view bytesView(const unsigned char* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Parses `text` as a JSON object; InvalidArgument naming `what` otherwise.
absl::StatusOr<Json> parseJsonObject(std::string_view text, std::string_view what) {
  if (!jsonDepthAtMost(text, kMaxHeaderDepth)) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": nested too deeply"));
  }
  Json json = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": not a JSON object"));
  }
  return json;
}

std::string dumpJson(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// ---- Key material --------------------------------------------------------

absl::StatusOr<PkeyPtr> generateKey(Alg alg) {
  EVP_PKEY* key = nullptr;
  switch (alg) {
    case Alg::kES256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kRS256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kRsaBits));
      break;
    case Alg::kEdDSA:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (key == nullptr) return opensslError(absl::StrCat("generate ", algName(alg), " key"));
  return PkeyPtr(key);
}

absl::StatusOr<std::string> privateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return opensslError("write private key PEM");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<PkeyPtr> readPrivateKeyPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // A passphrase callback that refuses: never prompt on a terminal.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* key =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
  if (key == nullptr) {
    ERR_clear_error();
    return absl::DataLossError("key store: unreadable private key PEM");
  }
  return PkeyPtr(key);
}

// Checks that `key` is of the type `alg` requires.
absl::Status checkKeyType(EVP_PKEY* key, Alg alg) {
  switch (alg) {
    case Alg::kES256: {
      char group[64] = {};
      if (EVP_PKEY_is_a(key, "EC") &&
          EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         nullptr) == 1 &&
          std::string_view(group) == "prime256v1") {
        return absl::OkStatus();
      }
      break;
    }
    case Alg::kRS256:
      if (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= kMinRsaBits) {
        return absl::OkStatus();
      }
      break;
    case Alg::kEdDSA:
      if (EVP_PKEY_is_a(key, "ED25519")) return absl::OkStatus();
      break;
  }
  ERR_clear_error();
  return absl::DataLossError(absl::StrCat("key store: key does not fit ", algName(alg)));
}

absl::StatusOr<std::string> bignumParam(EVP_PKEY* key, const char* name, size_t pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return opensslError(name);
  BignumPtr bn(raw);
  size_t size = pad_to ? pad_to : static_cast<size_t>(BN_num_bytes(bn.get()));
  std::string out(size, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(bn.get(), bytes, static_cast<int>(size)) < 0) return opensslError(name);
  return out;
}

// The members of the public JWK that RFC 7638 hashes into the thumbprint.
absl::StatusOr<Json> publicJwkMembers(EVP_PKEY* key, Alg alg) {
  switch (alg) {
    case Alg::kES256: {
      ASSIGN_OR_RETURN(std::string x, bignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, kEs256FieldBytes));
      ASSIGN_OR_RETURN(std::string y, bignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, kEs256FieldBytes));
      return Json{
          {"kty", "EC"}, {"crv", "P-256"}, {"x", base64UrlEncode(x)}, {"y", base64UrlEncode(y)}};
    }
    case Alg::kRS256: {
      ASSIGN_OR_RETURN(std::string n, bignumParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
      ASSIGN_OR_RETURN(std::string e, bignumParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
      return Json{{"kty", "RSA"}, {"n", base64UrlEncode(n)}, {"e", base64UrlEncode(e)}};
    }
    case Alg::kEdDSA: {
      unsigned char raw[64];
      size_t size = sizeof raw;
      if (EVP_PKEY_get_raw_public_key(key, raw, &size) != 1) {
        return opensslError("Ed25519 public key");
      }
      return Json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64UrlEncode(bytesView(raw, size))}};
    }
  }
  return absl::InternalError("unreachable");
}

// RFC 7638: base64url(SHA-256(members in lexicographic order, no whitespace)).
// Json objects keep their members sorted, so dump() is the canonical form.
std::string thumbprint(const Json& members) { return base64UrlEncode(sha256(dumpJson(members))); }

// ---- Signatures ----------------------------------------------------------

// DER ECDSA-Sig-Value -> JOSE R||S (RFC 7518 §3.4).
absl::StatusOr<std::string> derToJose(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return opensslError("decode ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * kEs256FieldBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, bytes, kEs256FieldBytes) < 0 ||
      BN_bn2binpad(s, bytes + kEs256FieldBytes, kEs256FieldBytes) < 0) {
    return opensslError("encode ECDSA signature");
  }
  return out;
}

// JOSE R||S -> DER; std::nullopt if `jose` has the wrong size.
std::optional<std::string> joseToDer(std::string_view jose) {
  if (jose.size() != 2 * kEs256FieldBytes) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(jose.data());
  BignumPtr r(BN_bin2bn(bytes, kEs256FieldBytes, nullptr));
  BignumPtr s(BN_bin2bn(bytes + kEs256FieldBytes, kEs256FieldBytes, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  r.release();  // owned by sig now
  s.release();
  int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string der(static_cast<size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &out);
  return der;
}

const EVP_MD* digestFor(Alg alg) { return alg == Alg::kEdDSA ? nullptr : EVP_sha256(); }

// SHA-256, fetched from the default provider once per process (EVP_sha256() is looked up by
// name again on every use in OpenSSL 3). Never freed; nullptr only if the provider lacks it.
const EVP_MD* fetchedSha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// ES256 contexts for one key, initialised once (EVP_PKEY_sign_init / EVP_PKEY_verify_init)
// and reused for any number of signatures over a SHA-256 digest. Without them every
// signature paid EVP_DigestSignInit: a fetch of the ECDSA signature and SHA-256 algorithms
// by name (provider store look-ups under a lock) and a new digest context, about 15 % of the
// cost of one signature. A context is used by one thread at a time: take() hands
// it out, give() returns it. Thread-safe.
class EcdsaContexts {
 public:
  enum class Op { kSign, kVerify };

  // A context ready for `op` with `key`; nullptr (OpenSSL error queue cleared) on failure.
  PkeyCtxPtr take(EVP_PKEY* key, Op op) {
    std::vector<PkeyCtxPtr>& idle = op == Op::kSign ? idle_sign_ : idle_verify_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle.empty()) {
        PkeyCtxPtr ctx = std::move(idle.back());
        idle.pop_back();
        return ctx;
      }
    }
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || (op == Op::kSign ? EVP_PKEY_sign_init(ctx.get())
                                 : EVP_PKEY_verify_init(ctx.get())) != 1) {
      ERR_clear_error();
      return nullptr;
    }
    return ctx;
  }

  // Returns a context from take() after a completed operation; keeps at most
  // kMaxIdleEcdsaContexts per operation.
  void give(PkeyCtxPtr ctx, Op op) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<PkeyCtxPtr>& idle = op == Op::kSign ? idle_sign_ : idle_verify_;
    if (idle.size() < kMaxIdleEcdsaContexts) idle.push_back(std::move(ctx));
  }

 private:
  std::mutex mu_;
  std::vector<PkeyCtxPtr> idle_sign_ ABSL_GUARDED_BY(mu_);
  std::vector<PkeyCtxPtr> idle_verify_ ABSL_GUARDED_BY(mu_);
};

// SHA-256 of `input` into `digest` (32 bytes); false on an OpenSSL error.
bool sha256Digest(std::string_view input, unsigned char* digest) {
  const EVP_MD* md = fetchedSha256();
  unsigned int size = 0;
  return md != nullptr &&
         EVP_Digest(input.data(), input.size(), digest, &size, md, nullptr) == 1 &&
         size == kEs256FieldBytes;
}

// ES256 with a prepared context: the same signature as EVP_DigestSign with SHA-256, in
// JOSE form.
absl::StatusOr<std::string> signEs256(EVP_PKEY* key, EcdsaContexts& contexts,
                                      std::string_view input) {
  unsigned char digest[kEs256FieldBytes];
  if (!sha256Digest(input, digest)) return opensslError("sign: SHA-256");
  PkeyCtxPtr ctx = contexts.take(key, EcdsaContexts::Op::kSign);
  if (!ctx) return opensslError("sign");
  std::string der(static_cast<size_t>(std::max(EVP_PKEY_get_size(key), 0)), '\0');
  size_t size = der.size();
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size, digest,
                    sizeof digest) != 1) {
    return opensslError("sign");  // the context is dropped, not reused
  }
  contexts.give(std::move(ctx), EcdsaContexts::Op::kSign);
  der.resize(size);
  return derToJose(der);
}

// ES256 verification with a prepared context; `signature` in JOSE form.
bool verifyEs256(EVP_PKEY* key, EcdsaContexts& contexts, std::string_view input,
                 std::string_view signature) {
  std::optional<std::string> der = joseToDer(signature);
  unsigned char digest[kEs256FieldBytes];
  if (!der || !sha256Digest(input, digest)) {
    ERR_clear_error();
    return false;
  }
  PkeyCtxPtr ctx = contexts.take(key, EcdsaContexts::Op::kVerify);
  if (!ctx) return false;
  // 1: valid; 0: invalid; < 0: error. The context stays usable after any of them.
  const bool valid = EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(der->data()),
                                     der->size(), digest, sizeof digest) == 1;
  ERR_clear_error();
  contexts.give(std::move(ctx), EcdsaContexts::Op::kVerify);
  return valid;
}

// Signs `input`; for ES256 the result is in JOSE form.
absl::StatusOr<std::string> signBytes(EVP_PKEY* key, Alg alg, std::string_view input) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digestFor(alg), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, data, input.size()) != 1) {
    return opensslError("sign");
  }
  std::string sig(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &size, data,
                     input.size()) != 1) {
    return opensslError("sign");
  }
  sig.resize(size);
  if (alg == Alg::kES256) return derToJose(sig);
  return sig;
}

// True only for a valid signature of `input`; `signature` in JOSE form.
bool verifyBytes(EVP_PKEY* key, Alg alg, std::string_view input, std::string_view signature) {
  std::string der;
  switch (alg) {
    case Alg::kES256: {
      std::optional<std::string> converted = joseToDer(signature);
      if (!converted) return false;
      der = std::move(*converted);
      signature = der;
      break;
    }
    case Alg::kRS256:
      if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) return false;
      break;
    case Alg::kEdDSA:
      if (signature.size() != kEdDsaSignatureBytes) return false;
      break;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool valid =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, digestFor(alg), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  ERR_clear_error();
  return valid;
}

// ---- The persisted record ------------------------------------------------

// One key as stored: {"kid", "alg", "created_ms", "retired_ms" (null while
// active), "private_key_pem"} inside {"version": 1, "keys": [...]}.
struct KeyRecord {
  std::string kid;
  std::string alg;
  int64_t created_ms = 0;
  int64_t retired_ms = 0;  // 0: active
  std::string pem;         // plain PKCS#8 PEM (after unsealing)
  bool was_plain = false;  // stored as plain PEM (not sealed)
};

// The additional data a private key is sealed with: binds the box to its kid.
std::string sealAad(std::string_view kid) {
  return absl::StrCat("habanero signing key ", std::string(kid));
}

absl::Status wrongKek(std::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(
      "key store: cannot open the signing keys: ", std::string(why),
      " ([keys] kek_file or HABANERO_KEYS_KEK must be the key-encryption key they were sealed "
      "with; refusing to start rather than make new keys)"));
}

absl::StatusOr<std::vector<KeyRecord>> parseRecord(std::string_view text, std::string_view kek) {
  auto corrupt = [](std::string_view why) {
    return absl::DataLossError(absl::StrCat("key store: record ", std::string(KeyStore::kNamespace),
                                            "/", std::string(KeyStore::kRecordKey), ": ",
                                            std::string(why)));
  };
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return corrupt("not a JSON object");
  auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kRecordVersion) {
    return corrupt("unsupported version");
  }
  auto keys = json.find("keys");
  if (keys == json.end() || !keys->is_array()) return corrupt("no \"keys\" array");
  std::string sealed_with;
  if (auto id = json.find("kek_id"); id != json.end()) {
    if (!id->is_string()) return corrupt("kek_id is not a string");
    sealed_with = id->get<std::string>();
  }
  std::vector<KeyRecord> records;
  for (const Json& entry : *keys) {
    if (!entry.is_object()) return corrupt("key is not an object");
    auto kid = entry.find("kid");
    auto alg = entry.find("alg");
    auto created = entry.find("created_ms");
    auto retired = entry.find("retired_ms");
    auto pem = entry.find("private_key_pem");
    auto box = entry.find("private_key_sealed");
    const bool plain = pem != entry.end() && pem->is_string();
    const bool boxed = box != entry.end() && box->is_string();
    if (kid == entry.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty() ||
        alg == entry.end() || !alg->is_string() || created == entry.end() ||
        !created->is_number_integer() || retired == entry.end() ||
        !(retired->is_null() || retired->is_number_integer()) || plain == boxed) {
      return corrupt("key with missing or mistyped fields");
    }
    KeyRecord record{kid->get<std::string>(), alg->get<std::string>(), created->get<int64_t>(),
                     retired->is_null() ? 0 : retired->get<int64_t>(),
                     plain ? pem->get<std::string>() : std::string(), plain};
    if (boxed) {
      if (kek.empty()) {
        return wrongKek("they are sealed, and no key-encryption key is configured");
      }
      if (!sealed_with.empty() && sealed_with != kekId(kek)) {
        return wrongKek(absl::StrCat("they are sealed under key-encryption key ", sealed_with,
                                     ", the configured one is ", kekId(kek)));
      }
      absl::StatusOr<std::string> sealed = base64UrlDecode(box->get<std::string>());
      if (!sealed.ok()) return corrupt("sealed private key is not base64url");
      absl::StatusOr<std::string> opened = unseal(kek, *sealed, sealAad(record.kid));
      if (!opened.ok()) return wrongKek("the configured key-encryption key does not open them");
      record.pem = std::move(*opened);
    }
    if (record.retired_ms < 0) return corrupt("negative retired_ms");
    records.push_back(std::move(record));
  }
  return records;
}

// Plain PEM without a KEK; sealed (AES-256-GCM, bound to the kid) with one.
absl::StatusOr<std::string> serializeRecord(const std::vector<KeyRecord>& records,
                                            std::string_view kek) {
  Json keys = Json::array();
  for (const KeyRecord& record : records) {
    Json entry{{"kid", record.kid},
               {"alg", record.alg},
               {"created_ms", record.created_ms},
               {"retired_ms", record.retired_ms ? Json(record.retired_ms) : Json()}};
    if (kek.empty()) {
      entry["private_key_pem"] = record.pem;
    } else {
      ASSIGN_OR_RETURN(std::string sealed, seal(kek, record.pem, sealAad(record.kid)));
      entry["private_key_sealed"] = base64UrlEncode(sealed);
    }
    keys.push_back(std::move(entry));
  }
  Json out{{"version", kRecordVersion}, {"keys", std::move(keys)}};
  if (!kek.empty()) out["kek_id"] = kekId(kek);
  return dumpJson(out);
}

absl::StatusOr<KeyRecord> newKeyRecord(Alg alg, int64_t now) {
  ASSIGN_OR_RETURN(PkeyPtr key, generateKey(alg));
  ASSIGN_OR_RETURN(std::string pem, privateKeyPem(key.get()));
  ASSIGN_OR_RETURN(Json members, publicJwkMembers(key.get(), alg));
  return KeyRecord{thumbprint(members), algName(alg), now, 0, std::move(pem)};
}

}  // namespace

struct KeyStore::Key {
  std::string kid;
  Alg alg;
  int64_t created_ms = 0;
  int64_t retired_ms = 0;  // effective retirement; 0: active
  PkeyPtr pkey;
  Json jwk;  // public JWK with kid, alg, use
  // Prepared ES256 contexts for pkey (unused for other algorithms). Mutable: a cache that
  // does not change what the key signs.
  mutable EcdsaContexts ecdsa;

  absl::StatusOr<std::string> signBytes(std::string_view input) const {
    if (alg == Alg::kES256) return signEs256(pkey.get(), ecdsa, input);
    return crypto::signBytes(pkey.get(), alg, input);
  }
  bool verifyBytes(std::string_view input, std::string_view signature) const {
    if (alg == Alg::kES256) return verifyEs256(pkey.get(), ecdsa, input, signature);
    return crypto::verifyBytes(pkey.get(), alg, input, signature);
  }

  // Active keys never expire; retired ones at retired_ms + retention_ms.
  int64_t expiresMs(int64_t retention_ms) const {
    return retired_ms == 0 ? 0 : saturatingAdd(retired_ms, retention_ms);
  }
  bool usableAt(int64_t now, int64_t retention_ms) const {
    return retired_ms == 0 || now < expiresMs(retention_ms);
  }
};

struct KeyStore::KeySet {
  std::string stored;                            // the record this was built from
  std::vector<std::shared_ptr<const Key>> keys;  // active first, then retired newest first
};

namespace {

// Loads a key and proves the pair works (a sign/verify round trip).
absl::StatusOr<std::shared_ptr<const KeyStore::Key>> loadKey(const KeyRecord& record,
                                                             int64_t retired_ms) {
  std::optional<Alg> alg = parseAlg(record.alg);
  if (!alg) return absl::DataLossError(absl::StrCat("key store: unknown alg ", record.alg));
  auto key = std::make_shared<KeyStore::Key>();
  key->kid = record.kid;
  key->alg = *alg;
  key->created_ms = record.created_ms;
  key->retired_ms = retired_ms;
  ASSIGN_OR_RETURN(key->pkey, readPrivateKeyPem(record.pem));
  RETURN_IF_ERROR(checkKeyType(key->pkey.get(), *alg));
  ASSIGN_OR_RETURN(key->jwk, publicJwkMembers(key->pkey.get(), *alg));
  key->jwk["kid"] = record.kid;
  key->jwk["alg"] = algName(*alg);
  key->jwk["use"] = "sig";

  constexpr std::string_view kProbe = "habanero key self-test";
  // Both the prepared and the one-shot path must agree with the key.
  ASSIGN_OR_RETURN(std::string sig, key->signBytes(kProbe));
  ASSIGN_OR_RETURN(std::string plain_sig, signBytes(key->pkey.get(), *alg, kProbe));
  if (!key->verifyBytes(kProbe, sig) || !verifyBytes(key->pkey.get(), *alg, kProbe, sig) ||
      !key->verifyBytes(kProbe, plain_sig)) {
    return absl::DataLossError(absl::StrCat("key store: key ", record.kid, " fails self-test"));
  }
  return key;
}

// Builds the snapshot of the keys usable at `now`. The active key is the
// unretired one created last; any other unretired key (left by two processes
// rotating at once) counts as retired when the active one was created.
absl::StatusOr<std::shared_ptr<const KeyStore::KeySet>> buildKeySet(
    std::string stored, const std::vector<KeyRecord>& records, int64_t now, int64_t retention_ms) {
  const KeyRecord* active = nullptr;
  for (const KeyRecord& record : records) {
    if (record.retired_ms != 0) continue;
    if (!active ||
        std::tie(record.created_ms, record.kid) > std::tie(active->created_ms, active->kid)) {
      active = &record;
    }
  }
  if (!active) return absl::FailedPreconditionError("key store: no active key");

  auto set = std::make_shared<KeyStore::KeySet>();
  set->stored = std::move(stored);
  for (const KeyRecord& record : records) {
    int64_t retired = record.retired_ms;
    if (&record == active) {
      retired = 0;
    } else if (retired == 0) {
      retired = active->created_ms;
    }
    if (retired != 0 && now >= saturatingAdd(retired, retention_ms)) continue;  // expired
    ASSIGN_OR_RETURN(std::shared_ptr<const KeyStore::Key> key, loadKey(record, retired));
    set->keys.push_back(std::move(key));
  }
  std::sort(set->keys.begin(), set->keys.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a->retired_ms != 0, -a->created_ms) <
           std::make_tuple(b->retired_ms != 0, -b->created_ms);
  });
  return set;
}

}  // namespace

KeyStore::KeyStore(Storage& storage, const Clock& clock, KeyStoreOptions options)
    : storage_(storage), clock_(clock), options_(std::move(options)) {}

KeyStore::~KeyStore() = default;

absl::StatusOr<std::unique_ptr<KeyStore>> KeyStore::open(Storage& storage, const Clock& clock,
                                                         KeyStoreOptions options) {
  if (!parseAlg(options.alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key store: alg must be ES256, RS256 or EdDSA, not \"", options.alg, "\""));
  }
  if (options.retention_ms < 0) {
    return absl::InvalidArgumentError("key store: retention_ms must not be negative");
  }
  if (!options.kek.empty() && options.kek.size() != kKekBytes) {
    return absl::InvalidArgumentError("key store: the key-encryption key must be 32 bytes");
  }
  std::unique_ptr<KeyStore> store(new KeyStore(storage, clock, std::move(options)));
  RETURN_IF_ERROR(store->load(Mode::kOpen));
  return store;
}

absl::Status KeyStore::rotate() { return load(Mode::kRotate); }

absl::Status KeyStore::reload() { return load(Mode::kReload); }

absl::Status KeyStore::load(Mode mode) {
  std::lock_guard<std::mutex> update_lock(update_mu_);
  std::optional<KeyRecord> fresh;  // generated at most once, reused across retries
  for (int attempt = 0; attempt < kMaxUpdateAttempts; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<std::string> stored, storage_.get(kNamespace, kRecordKey));
    const int64_t now = clock_.nowMs();
    std::vector<KeyRecord> records;
    if (stored) {
      ASSIGN_OR_RETURN(records, parseRecord(*stored, options_.kek));
    }
    const bool has_active = std::any_of(records.begin(), records.end(),
                                        [](const KeyRecord& r) { return r.retired_ms == 0; });
    const bool has_plain = std::any_of(records.begin(), records.end(),
                                       [](const KeyRecord& r) { return r.was_plain; });

    if (mode == Mode::kOpen && has_active && has_plain && !options_.kek.empty()) {
      // Keys written before a KEK was configured: seal them now, same keys.
      ASSIGN_OR_RETURN(std::string sealed, serializeRecord(records, options_.kek));
      ASSIGN_OR_RETURN(bool written,
                       storage_.compareAndSet(kNamespace, kRecordKey, *stored, sealed, 0));
      if (!written) continue;  // changed meanwhile: read it again
      stored = std::move(sealed);
    }

    if (mode == Mode::kReload || (mode == Mode::kOpen && has_active)) {
      if (!stored) return absl::FailedPreconditionError("key store: no keys in storage");
      std::shared_ptr<const KeySet> current = snapshot();
      if (current && current->stored == *stored) return absl::OkStatus();
      ASSIGN_OR_RETURN(std::shared_ptr<const KeySet> set,
                       buildKeySet(std::move(*stored), records, now, options_.retention_ms));
      std::lock_guard<std::mutex> lock(mu_);
      keys_ = std::move(set);
      return absl::OkStatus();
    }

    // Write a new key set: retire the active key(s), drop expired ones, add a key.
    if (!fresh) {
      ASSIGN_OR_RETURN(fresh, newKeyRecord(*parseAlg(options_.alg), now));
    }
    fresh->created_ms = now;
    std::vector<KeyRecord> next{*fresh};
    for (KeyRecord& record : records) {
      if (record.retired_ms == 0) record.retired_ms = now;
      if (now >= saturatingAdd(record.retired_ms, options_.retention_ms)) continue;
      next.push_back(std::move(record));
    }
    ASSIGN_OR_RETURN(std::string value, serializeRecord(next, options_.kek));
    ASSIGN_OR_RETURN(std::shared_ptr<const KeySet> set,
                     buildKeySet(value, next, now, options_.retention_ms));
    std::optional<std::string_view> expected;
    if (stored) expected = *stored;
    ASSIGN_OR_RETURN(bool written,
                     storage_.compareAndSet(kNamespace, kRecordKey, expected, value, 0));
    if (written) {
      std::lock_guard<std::mutex> lock(mu_);
      keys_ = std::move(set);
      return absl::OkStatus();
    }
    // Another process changed the record in between: start over from its version.
  }
  return absl::AbortedError("key store: too many concurrent updates of the key set");
}

std::shared_ptr<const KeyStore::KeySet> KeyStore::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

absl::StatusOr<std::string> KeyStore::sign(std::string_view header_json,
                                           std::string_view payload) const {
  std::shared_ptr<const KeySet> set = snapshot();
  const Key& key = *set->keys.front();  // a KeySet always starts with its active key
  Json header = Json::object();
  if (!header_json.empty()) {
    ASSIGN_OR_RETURN(header, parseJsonObject(header_json, "JWS header"));
    if (header.contains("crit")) {
      return absl::InvalidArgumentError("JWS header: \"crit\" is not supported");
    }
  }
  header["alg"] = algName(key.alg);
  header["kid"] = key.kid;
  std::string jws = absl::StrCat(base64UrlEncode(dumpJson(header)), ".", base64UrlEncode(payload));
  ASSIGN_OR_RETURN(std::string signature, key.signBytes(jws));
  absl::StrAppend(&jws, ".", base64UrlEncode(signature));
  return jws;
}

absl::StatusOr<std::string> KeyStore::verify(std::string_view jws) const {
  // Structure: exactly three base64url parts.
  const size_t dot1 = jws.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : jws.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jws.find('.', dot2 + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("JWS: expected three dot-separated parts");
  }
  const std::string_view signing_input = jws.substr(0, dot2);
  absl::StatusOr<std::string> header_text = base64UrlDecode(jws.substr(0, dot1));
  absl::StatusOr<std::string> payload = base64UrlDecode(jws.substr(dot1 + 1, dot2 - dot1 - 1));
  absl::StatusOr<std::string> signature = base64UrlDecode(jws.substr(dot2 + 1));
  if (!header_text.ok() || !payload.ok() || !signature.ok()) {
    return absl::InvalidArgumentError("JWS: part is not strict base64url");
  }
  ASSIGN_OR_RETURN(Json header, parseJsonObject(*header_text, "JWS header"));
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    return absl::InvalidArgumentError("JWS: header has no \"alg\" string");
  }
  const std::string& alg_name = alg->get_ref<const std::string&>();
  if (alg_name == "none") return absl::PermissionDeniedError("JWS: alg \"none\" refused");
  if (header.contains("crit")) {
    return absl::PermissionDeniedError("JWS: critical header extensions are not supported");
  }
  auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) {
    return absl::PermissionDeniedError("JWS: no \"kid\"");
  }

  // Key: known, still usable, and of the algorithm the header names.
  std::shared_ptr<const KeySet> set = snapshot();
  const int64_t now = clock_.nowMs();
  const Key* key = nullptr;
  for (const auto& candidate : set->keys) {
    if (candidate->kid == kid->get_ref<const std::string&>() &&
        candidate->usableAt(now, options_.retention_ms)) {
      key = candidate.get();
      break;
    }
  }
  if (key == nullptr) return absl::PermissionDeniedError("JWS: unknown kid");
  if (alg_name != algName(key->alg)) {
    return absl::PermissionDeniedError("JWS: alg does not match the key's");
  }
  if (!key->verifyBytes(signing_input, *signature)) {
    return absl::PermissionDeniedError("JWS: bad signature");
  }
  return std::move(*payload);
}

std::string KeyStore::jwks() const {
  std::shared_ptr<const KeySet> set = snapshot();
  const int64_t now = clock_.nowMs();
  Json keys = Json::array();
  for (const auto& key : set->keys) {
    if (key->usableAt(now, options_.retention_ms)) keys.push_back(key->jwk);
  }
  return dumpJson(Json{{"keys", std::move(keys)}});
}

absl::Status KeyStore::rewrap(Storage& storage, std::string_view old_kek,
                              std::string_view new_kek) {
  if (new_kek.size() != kKekBytes) {
    return absl::InvalidArgumentError("key store: the new key-encryption key must be 32 bytes");
  }
  for (int attempt = 0; attempt < kMaxUpdateAttempts; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<std::string> stored, storage.get(kNamespace, kRecordKey));
    if (!stored) return absl::FailedPreconditionError("key store: no keys in storage");
    ASSIGN_OR_RETURN(std::vector<KeyRecord> records, parseRecord(*stored, old_kek));
    ASSIGN_OR_RETURN(std::string value, serializeRecord(records, new_kek));
    ASSIGN_OR_RETURN(bool written, storage.compareAndSet(kNamespace, kRecordKey, *stored, value, 0));
    if (written) return absl::OkStatus();
  }
  return absl::AbortedError("key store: too many concurrent updates of the key set");
}

std::vector<std::pair<KeyInfo, std::string>> KeyStore::privateKeys() const {
  std::shared_ptr<const KeySet> set = snapshot();
  const int64_t now = clock_.nowMs();
  std::vector<std::pair<KeyInfo, std::string>> out;
  for (const auto& key : set->keys) {
    if (!key->usableAt(now, options_.retention_ms)) continue;
    absl::StatusOr<std::string> pem = privateKeyPem(key->pkey.get());
    if (!pem.ok()) continue;
    out.emplace_back(KeyInfo{key->kid, algName(key->alg), key->created_ms, key->retired_ms,
                             key->expiresMs(options_.retention_ms)},
                     std::move(*pem));
  }
  return out;
}

std::vector<KeyInfo> KeyStore::listKeys() const {
  std::shared_ptr<const KeySet> set = snapshot();
  const int64_t now = clock_.nowMs();
  std::vector<KeyInfo> infos;
  for (const auto& key : set->keys) {
    if (!key->usableAt(now, options_.retention_ms)) continue;
    infos.push_back(KeyInfo{key->kid, algName(key->alg), key->created_ms, key->retired_ms,
                            key->expiresMs(options_.retention_ms)});
  }
  return infos;
}

}  // namespace habanero::crypto
