// libFuzzer target for JWK parsing, JWK thumbprints and JWS verification with a
// JWK (src/crypto/jwk.h): the code that reads DPoP proofs and their keys, which
// arrive from anyone.
//
// Input: a JWK (JSON), a NUL byte, then a compact JWS. Without a NUL the whole
// input is tried both as the JWK (with a fixed valid JWS) and as the JWS (with
// the fixed RFC 7515 A.3 key).
//
//   build-fuzz/fuzz/jwk_fuzzer fuzz/corpus/jwk_fuzzer -max_total_time=60
//
// Properties checked beyond "no crash":
//   - a thumbprint is 43 base64url characters;
//   - whatever verifies has a key that has a thumbprint (both parse the JWK alike);
//   - verification is deterministic.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "crypto/jwk.h"

namespace {

constexpr std::string_view kJwk =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
constexpr std::string_view kJws =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "jwk_fuzzer: %s\n", what);
  std::abort();
}

void check(std::string_view jws, std::string_view jwk) {
  auto thumb = habanero::crypto::jwkThumbprint(jwk);
  if (thumb.ok()) {
    if (thumb->size() != 43) fail("thumbprint is not 43 characters");
    for (char c : *thumb) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';
      if (!ok) fail("thumbprint is not base64url");
    }
  }
  auto first = habanero::crypto::verifyJwsWithJwk(jws, jwk);
  if (first.ok() && !thumb.ok()) fail("verified with a key that has no thumbprint");
  auto second = habanero::crypto::verifyJwsWithJwk(jws, jwk);
  if (first.ok() != second.ok() || (first.ok() && *first != *second)) {
    fail("verification is not deterministic");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  if (nul != std::string_view::npos) {
    check(input.substr(nul + 1), input.substr(0, nul));
  } else {
    check(kJws, input);
    check(input, kJwk);
  }
  return 0;
}
