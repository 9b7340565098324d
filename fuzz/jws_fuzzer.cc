// libFuzzer target for the JWS/JOSE parsers: KeyStore::verify, strict
// base64url decoding, and the caller-header parsing of KeyStore::sign.
//
// The KeyStore holds one fixed ES256 key with kid "fuzz" (below), so corpus
// entries signed with it reach the signature check and the success path.
//
//   build-fuzz/fuzz/jws_fuzzer fuzz/corpus/jws_fuzzer -max_total_time=60
//
// Properties checked beyond "no crash":
//   - base64url: an accepted text re-encodes to exactly itself (canonical).
//   - sign(input as header): whatever it signs, verify() accepts.

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/base64url.h"
#include "crypto/key_store.h"
#include "habanero/clock.h"
#include "store/sqlite/sqlite_storage.h"

namespace {

using habanero::crypto::KeyStore;

constexpr std::string_view kKeySetRecord =
    R"({"version":1,"keys":[{"kid":"fuzz","alg":"ES256",)"
    R"("created_ms":0,"retired_ms":null,"private_key_pem":"-----BEGIN PRIVATE KEY-----\n)"
    R"(MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7JwpcOFP7wo4RNx1\n)"
    R"(nYIFqh2qcOyxyImENFE3xqOdCT+hRANCAAR6TwANwSoPATwGUHni27d9E19wIMfa\n)"
    R"(u4uUh7SLFkz0kuV0sjcJiZGrJQdnH2XTiFc5S0fDUrr0UGOuaprbnfqp\n)"
    R"(-----END PRIVATE KEY-----\n"}]})";

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "jws_fuzzer: %s\n", what);
  std::abort();
}

std::string& tempDir() {
  static std::string dir;
  return dir;
}

// Lives for the whole run; the database is removed at exit.
KeyStore& keyStore() {
  static KeyStore* keys = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "jws-fuzzer-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp");
    tempDir() = tmpl;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(tempDir(), ignored);
    });
    auto storage =
        habanero::store::SqliteStorage::open(tmpl + "/fuzz.db", habanero::SystemClock::instance(),
                                             habanero::store::Synchronous::kNormal);
    if (!storage.ok()) fail("open storage");
    if (!(*storage)->put(KeyStore::kNamespace, KeyStore::kRecordKey, kKeySetRecord, 0).ok()) {
      fail("write key set");
    }
    auto opened = KeyStore::open(**storage, habanero::SystemClock::instance());
    if (!opened.ok()) fail("open key store");
    storage->release();  // intentionally kept for the process lifetime
    return opened->release();
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  KeyStore& keys = keyStore();

  auto decoded = habanero::crypto::base64UrlDecode(input);
  if (decoded.ok() && habanero::crypto::base64UrlEncode(*decoded) != input) {
    fail("base64url accepted a non-canonical encoding");
  }

  (void)keys.verify(input);

  auto signed_jws = keys.sign(input, "payload");
  if (signed_jws.ok()) {
    auto payload = keys.verify(*signed_jws);
    if (!payload.ok() || *payload != "payload") fail("verify refused what sign produced");
  }
  return 0;
}
