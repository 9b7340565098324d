// codec.hh — byte encodings: base64url (JOSE, tokens), standard base64 (HTTP Basic, CSP
// hashes) and application/x-www-form-urlencoded decoding.
//
// Pure functions (no host calls, standard library only). Decoders are strict and return
// nullopt on any malformed input; none allocates more than its input's size.
//
//   std::string t = sdk::base64urlEncode(bytes);            // RFC 4648 §5, no padding
//   std::optional<std::string> b = sdk::base64urlDecode(t);  // strict: rejects '=', '+', '/'
#ifndef HABANERO_SDK_CPP_HABANERO_CODEC_HH_
#define HABANERO_SDK_CPP_HABANERO_CODEC_HH_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace habanero::sdk {

namespace codec_detail {

// Value of a base64 digit in the given alphabet, or -1.
constexpr int base64Digit(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (url) {
    if (c == '-') return 62;
    if (c == '_') return 63;
  } else {
    if (c == '+') return 62;
    if (c == '/') return 63;
  }
  return -1;
}

// Decodes unpadded base64 of either alphabet. Rejects a length of 1 mod 4 and non-zero
// trailing bits (so every byte string has exactly one encoding).
inline std::optional<std::string> base64DecodeUnpadded(std::string_view in, bool url) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int d = base64Digit(c, url);
    if (d < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace codec_detail

// The value of a hex digit (either case), or -1.
constexpr int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// base64url without padding (RFC 4648 §5; RFC 7515 §2).
inline std::string base64urlEncode(std::string_view data) {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(data[k])); };
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

// Strict base64url without padding; nullopt for padding, other alphabets, bad lengths or
// non-canonical trailing bits.
inline std::optional<std::string> base64urlDecode(std::string_view in) {
  return codec_detail::base64DecodeUnpadded(in, true);
}

// Standard base64 (RFC 4648 §4) with correct padding, as in HTTP Basic credentials.
// nullopt for anything else (missing or extra '=', whitespace, url alphabet).
inline std::optional<std::string> base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  return codec_detail::base64DecodeUnpadded(in.substr(0, in.size() - pad), false);
}

// Standard base64 with padding.
inline std::string base64Encode(std::string_view data) {
  std::string s = base64urlEncode(data);
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4 != 0) s.push_back('=');
  return s;
}

// application/x-www-form-urlencoded decoding of one name or value: '+' is a space and '%'
// must be followed by two hex digits (nullopt otherwise). With `plusIsSpace` false it is
// RFC 3986 percent-decoding ('+' stays). The result is bytes; check isValidUtf8 where text
// is expected.
inline std::optional<std::string> formUrlDecode(std::string_view in, bool plusIsSpace = true) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else if (c == '%') {
      if (in.size() - i < 3) return std::nullopt;
      int hi = hexDigit(in[i + 1]);
      int lo = hexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_CODEC_HH_
