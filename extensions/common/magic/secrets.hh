// secrets.hh — the one-time secrets of a magic-link login: the link token and the short
// code a person types, how they are generated (the host's CSPRNG), shown, normalised and
// hashed for storage. Only hashes are ever stored.
//
//   std::optional<std::string> t = newToken(32);               // 256 bits, base64url
//   std::string key = "link/" + tokenHash(*t);                 // SHA-256 hex
//   std::optional<std::string> c = newCode(CodeStyle::Digits6);  // "042917"
//   std::optional<std::string> salt = sdk::randomBytes(16);
//   std::string stored = codeHash(*salt, rt, *c);                // HMAC-SHA-256 hex
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_SECRETS_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_SECRETS_HH_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <habanero.hh>
#include <habanero/codec.hh>
#include <habanero/random.hh>
#include <habanero/text.hh>

namespace habanero::magic {

// The magic-link code is written on the guest library (sdk/cpp/habanero/): its names are
// used unqualified here.
namespace sdk = habanero::sdk;
using namespace habanero::sdk;

// Whether `t` can be a token we minted: base64url characters only, of a sane length.
inline bool plausibleToken(std::string_view t) {
  if (t.size() < 16 || t.size() > 128) return false;
  for (char c : t) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A link token of `bytes` random bytes (>= 16: 128 bits), base64url; nullopt if the host's
// CSPRNG failed.
inline std::optional<std::string> newToken(size_t bytes) {
  if (bytes < 16) bytes = 16;
  return randomBase64url(bytes);
}

// The stored key of a token is made of tokenHash(token) (<habanero/random.hh>).

enum class CodeStyle {
  Digits6,   // "042917": SMS (what phones autofill); ~20 bits, so few tries are allowed
  Base32x8,  // "7KQ2-M9XD" shown, "7KQ2M9XD" stored: Crockford base32, 40 bits; email
};

// Crockford's base32 alphabet: no I, L, O or U, so nothing reads as another character.
inline constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// A new code in its canonical form (what codeHash takes); nullopt if the CSPRNG failed.
inline std::optional<std::string> newCode(CodeStyle style) {
  if (style == CodeStyle::Base32x8) {
    std::optional<std::string> raw = sdk::randomBytes(5);  // 40 bits = 8 symbols
    if (!raw) return std::nullopt;
    uint64_t v = 0;
    for (unsigned char c : *raw) v = (v << 8) | c;
    std::string out(8, '0');
    for (int i = 7; i >= 0; --i) {
      out[static_cast<size_t>(i)] = kCrockford[v & 31];
      v >>= 5;
    }
    return out;
  }
  // Six decimal digits without modulo bias: reject the top of the 32-bit range.
  constexpr uint32_t kLimit = 4'294'000'000u;  // a multiple of 1'000'000
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::optional<std::string> raw = sdk::randomBytes(4);
    if (!raw) return std::nullopt;
    uint32_t v = 0;
    for (unsigned char c : *raw) v = (v << 8) | c;
    if (v >= kLimit) continue;
    std::string out = std::to_string(v % 1'000'000u);
    return std::string(6 - out.size(), '0') + out;
  }
  return std::nullopt;
}

// The code as a person reads it: "7KQ2-M9XD" for base32, the digits as they are.
inline std::string displayCode(CodeStyle style, std::string_view canonical) {
  if (style == CodeStyle::Base32x8 && canonical.size() == 8) {
    return std::string(canonical.substr(0, 4)) + "-" + std::string(canonical.substr(4));
  }
  return std::string(canonical);
}

// What a person typed, in canonical form: spaces, hyphens and dots dropped; for base32,
// upper-cased with O read as 0 and I, L as 1. Empty if it cannot be a code of this style
// (wrong length or characters); the caller treats that as a wrong code.
inline std::string normaliseCode(CodeStyle style, std::string_view typed) {
  std::string out;
  for (char c : typed) {
    if (c == ' ' || c == '-' || c == '.' || c == '\t') continue;
    if (out.size() >= 16) return std::string();
    if (style == CodeStyle::Digits6) {
      if (c < '0' || c > '9') return std::string();
      out.push_back(c);
      continue;
    }
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    if (kCrockford.find(c) == std::string_view::npos) return std::string();
    out.push_back(c);
  }
  size_t want = style == CodeStyle::Digits6 ? 6 : 8;
  return out.size() == want ? out : std::string();
}

// The stored form of a code: hex HMAC-SHA-256 keyed with a random per-code salt over the
// attempt and the code, so a stored hash is bound to its attempt and a table of the 10^6
// six-digit hashes is useless. Empty only if the host failed.
inline std::string codeHash(std::string_view salt, std::string_view rt, std::string_view code) {
  std::string msg;
  msg.reserve(rt.size() + 1 + code.size());
  msg.append(rt);
  msg.push_back('\n');
  msg.append(code);
  std::optional<sdk::Digest> d = sdk::hmacSha256(salt, msg);
  return d ? sdk::hex(*d) : std::string();
}

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_SECRETS_HH_
