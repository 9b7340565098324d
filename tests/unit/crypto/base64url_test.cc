#include "crypto/base64url.h"

#include <string>

#include "gtest/gtest.h"

namespace habanero::crypto {
namespace {

using namespace std::string_literals;

struct Vector {
  std::string bytes;
  std::string text;
};

// RFC 4648 §10, without padding (base64url as JOSE uses it).
const Vector kRfc4648[] = {
    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64UrlTest, Rfc4648Vectors) {
  for (const Vector& v : kRfc4648) {
    EXPECT_EQ(base64UrlEncode(v.bytes), v.text);
    absl::StatusOr<std::string> decoded = base64UrlDecode(v.text);
    ASSERT_TRUE(decoded.ok()) << v.text << ": " << decoded.status();
    EXPECT_EQ(*decoded, v.bytes);
  }
}

TEST(Base64UrlTest, UsesTheUrlSafeAlphabet) {
  // 0xfb 0xff 0xbf encodes to "+/+/" in standard base64.
  EXPECT_EQ(base64UrlEncode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(*base64UrlDecode("-_-_"), "\xfb\xff\xbf");
}

TEST(Base64UrlTest, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (size_t n = 0; n <= all.size(); ++n) {
    std::string bytes = all.substr(all.size() - n);
    absl::StatusOr<std::string> decoded = base64UrlDecode(base64UrlEncode(bytes));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, bytes);
  }
  EXPECT_EQ(*base64UrlDecode("AAA"), "\0\0"s);
}

TEST(Base64UrlTest, RejectsPaddingAndForeignCharacters) {
  for (const char* bad : {"Zg==", "Zm8=", "Zm9v=", "=", "Zm9v\n", " Zm9v", "Zm9v ", "Zm+v", "Zm/v",
                          "Zm9v.", "\xc3\xa9\xc3\xa9"}) {
    EXPECT_EQ(base64UrlDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(base64UrlDecode("Zm\0v"s).ok()) << "embedded NUL";
}

TEST(Base64UrlTest, RejectsImpossibleLengths) {
  for (const char* bad : {"Z", "Zm9vY", "Zm9vYmFyZ"}) {
    EXPECT_EQ(base64UrlDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Base64UrlTest, RejectsNonCanonicalTrailingBits) {
  // "Zg" is the only encoding of "f"; "Zh".."Zv" carry non-zero unused bits.
  EXPECT_TRUE(base64UrlDecode("Zg").ok());
  for (const char* bad : {"Zh", "Zi", "Zv", "Zm9", "Zm-", "Zm_"}) {
    EXPECT_EQ(base64UrlDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(base64UrlDecode("Zm8").ok());
}

}  // namespace
}  // namespace habanero::crypto
