#include "crypto/hash.h"

#include <string>

#include "gtest/gtest.h"

namespace habanero::crypto {
namespace {

using namespace std::string_literals;

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// FIPS 180-2 examples.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256("a\0b"s).size(), kSha256Bytes);
  EXPECT_NE(sha256("a\0b"s), sha256("a"));
}

struct HmacVector {
  const char* name;
  std::string key;
  std::string data;
  const char* mac;  // hex; may be a truncated prefix (test case 5)
};

// RFC 4231 §4.
TEST(HmacSha256Test, Rfc4231Vectors) {
  const HmacVector vectors[] = {
      {"1", std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"3", std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"4", unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"5", std::string(20, '\x0c'), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
      {"6", std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"7", std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const HmacVector& v : vectors) {
    std::string mac = hex(hmacSha256(v.key, v.data));
    EXPECT_EQ(mac.size(), 64u);
    EXPECT_EQ(mac.substr(0, std::string_view(v.mac).size()), v.mac) << "test case " << v.name;
  }
}

TEST(HmacSha256Test, EmptyKeyAndData) {
  // HMAC-SHA256("", "") (a widely published value).
  EXPECT_EQ(hex(hmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(ConstantTimeEqualTest, ComparesContentsAndLength) {
  EXPECT_TRUE(constantTimeEqual("", ""));
  EXPECT_TRUE(constantTimeEqual("secret", "secret"));
  EXPECT_TRUE(constantTimeEqual("a\0b"s, "a\0b"s));
  EXPECT_FALSE(constantTimeEqual("secret", "secreT"));
  EXPECT_FALSE(constantTimeEqual("secret", "Secret"));
  EXPECT_FALSE(constantTimeEqual("secret", "secre"));
  EXPECT_FALSE(constantTimeEqual("secre", "secret"));
  EXPECT_FALSE(constantTimeEqual("secret", ""));
  EXPECT_FALSE(constantTimeEqual("", "x"));
  EXPECT_FALSE(constantTimeEqual("a\0b"s, "a\0c"s));
  EXPECT_FALSE(constantTimeEqual("a"s, "a\0"s)) << "a prefix is not equal";
}

// Cheap costs keep the suite fast; one test uses the defaults.
constexpr Argon2Params kFast{.time_cost = 1, .memory_kib = 64, .parallelism = 1};

TEST(Argon2idTest, RoundTrip) {
  absl::StatusOr<std::string> encoded = argon2idHash("correct horse", kFast);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << *encoded;
  EXPECT_EQ(argon2idVerify(*encoded, "correct horse").value_or(false), true);
  absl::StatusOr<bool> wrong = argon2idVerify(*encoded, "correct horsf");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_FALSE(*wrong);
  EXPECT_FALSE(*argon2idVerify(*encoded, ""));
}

TEST(Argon2idTest, SaltsAreFresh) {
  absl::StatusOr<std::string> a = argon2idHash("pw", kFast);
  absl::StatusOr<std::string> b = argon2idHash("pw", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(*argon2idVerify(*b, "pw"));
}

TEST(Argon2idTest, BinaryAndEmptyPasswords) {
  absl::StatusOr<std::string> encoded = argon2idHash("p\0w"s, kFast);
  ASSERT_TRUE(encoded.ok());
  EXPECT_TRUE(*argon2idVerify(*encoded, "p\0w"s));
  EXPECT_FALSE(*argon2idVerify(*encoded, "p"));
  absl::StatusOr<std::string> empty = argon2idHash("", kFast);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(*argon2idVerify(*empty, ""));
}

TEST(Argon2idTest, DefaultCosts) {
  absl::StatusOr<std::string> encoded = argon2idHash("pw");
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *encoded;
  EXPECT_TRUE(*argon2idVerify(*encoded, "pw"));
}

TEST(Argon2idTest, RejectsMalformedOrOverpricedEncodings) {
  absl::StatusOr<std::string> good = argon2idHash("pw", kFast);
  ASSERT_TRUE(good.ok());
  std::string tail =
      good->substr(good->find("$", std::string("$argon2id$v=19$m=64,t=1,p=1").size()));
  for (const std::string& bad : {
           ""s,
           "plaintext"s,
           "$argon2i$v=19$m=64,t=1,p=1"s + tail,        // not argon2id
           "$argon2id$v=19$m=64,t=1"s + tail,           // missing p
           "$argon2id$v=19$m=,t=1,p=1"s + tail,         // empty cost
           "$argon2id$v=19$m=2097152,t=1,p=1"s + tail,  // 2 GiB
           "$argon2id$v=19$m=64,t=1000,p=1"s + tail,
           "$argon2id$v=19$m=64,t=1,p=1$$"s,
           *good + "\0"s,
       }) {
    EXPECT_EQ(argon2idVerify(bad, "pw").status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace habanero::crypto
