#include "http/form.h"

#include <gtest/gtest.h>

namespace habanero::http {
namespace {

using Entry = Params::Entry;

TEST(ParseFormTest, DecodesPairsInOrder) {
  auto params =
      parseForm("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fa.example%2Fcb");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->entries(), (std::vector<Entry>{{"grant_type", "authorization_code"},
                                                   {"code", "abc"},
                                                   {"redirect_uri", "https://a.example/cb"}}));
}

TEST(ParseFormTest, PlusIsSpaceAndEncodedPlusIsPlus) {
  auto params = parseForm("q=a+b%2Bc&na+me=x");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->find("q").value, "a b+c");
  EXPECT_EQ(params->find("na me").value, "x");
}

TEST(ParseFormTest, EmptyInputsAndPairs) {
  auto empty = parseForm("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  auto params = parseForm("&a=1&&b&=v&c=&");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->entries(), (std::vector<Entry>{{"a", "1"}, {"b", ""}, {"", "v"}, {"c", ""}}));
}

TEST(ParseFormTest, ValueMayContainEquals) {
  auto params = parseForm("state=a=b=c");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->find("state").value, "a=b=c");
}

TEST(ParseFormTest, DuplicatesAreKeptAndReported) {
  auto params = parseForm("scope=a&client_id=x&scope=b&id=1&id=1");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->find("scope").kind, Params::Lookup::kDuplicate);
  EXPECT_TRUE(params->find("scope").value.empty());
  EXPECT_EQ(params->find("id").kind, Params::Lookup::kDuplicate);  // equal values still duplicate
  EXPECT_EQ(params->find("client_id").kind, Params::Lookup::kValue);
  EXPECT_TRUE(params->find("client_id").ok());
  EXPECT_EQ(params->find("missing").kind, Params::Lookup::kNotFound);
  EXPECT_EQ(params->count("scope"), 2u);
  EXPECT_EQ(params->findAll("scope"), (std::vector<std::string_view>{"a", "b"}));
  ASSERT_TRUE(params->firstDuplicate().has_value());
  EXPECT_EQ(*params->firstDuplicate(), "scope");
}

TEST(ParseFormTest, NamesAreCaseSensitive) {
  auto params = parseForm("Code=1&code=2");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->find("code").value, "2");
  EXPECT_FALSE(params->firstDuplicate().has_value());
}

TEST(ParseFormTest, RejectsBadEscapes) {
  for (const char* bad : {"a=%", "a=%4", "a=%G1", "a=%1G", "%zz=1", "a=%%41", "a=100%"}) {
    auto params = parseForm(bad);
    ASSERT_FALSE(params.ok()) << bad;
    EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(parseForm("a=%41%6a%6A").ok());
  EXPECT_EQ(parseForm("a=%41%6a%6A")->find("a").value, "Ajj");
}

TEST(ParseFormTest, RejectsInvalidUtf8) {
  for (const char* bad : {
           "a=%FF",           // never valid
           "a=%C3",           // truncated sequence
           "a=%C0%AF",        // overlong '/'
           "a=%ED%A0%80",     // UTF-16 surrogate
           "a=%F4%90%80%80",  // above U+10FFFF
           "%80=x",           // stray continuation byte in a name
           "a=\xFF",          // raw invalid byte
       }) {
    auto params = parseForm(bad);
    ASSERT_FALSE(params.ok()) << bad;
    EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto ok = parseForm("a=%C3%A9&b=%E2%82%AC&c=%F0%9F%8C%B6&d=\xC3\xA9");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->find("a").value, "\xC3\xA9");
  EXPECT_EQ(ok->find("c").value, "\xF0\x9F\x8C\xB6");
  EXPECT_EQ(ok->find("d").value, "\xC3\xA9");
}

TEST(ParseFormTest, LimitsNumberOfParams) {
  std::string input;
  for (int i = 0; i < 10; ++i) input += "p" + std::to_string(i) + "=v&";
  EXPECT_TRUE(parseForm(input, 10).ok());
  auto too_many = parseForm(input + "x=1", 10);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  // Empty pairs do not count.
  EXPECT_TRUE(parseForm(input + "&&&&", 10).ok());
}

TEST(PercentTest, EncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percentEncode("a b+c/d?e=f&g#%"), "a%20b%2Bc%2Fd%3Fe%3Df%26g%23%25");
  EXPECT_EQ(percentEncode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(percentEncode(std::string_view("\0", 1)), "%00");
}

TEST(PercentTest, DecodePlusModes) {
  EXPECT_EQ(*percentDecode("a+b%20c", true), "a b c");
  EXPECT_EQ(*percentDecode("a+b%20c", false), "a+b c");
  EXPECT_FALSE(percentDecode("%ZZ", false).ok());
}

TEST(PercentTest, EncodeFormRoundTrips) {
  Params params;
  params.add("redirect_uri", "https://client.example/cb?x=1&y=2");
  params.add("state", "a b+c");
  params.add("", "");
  params.add("name", "\xE2\x82\xAC");
  std::string encoded = encodeForm(params);
  auto decoded = parseForm(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, params);
}

TEST(Utf8Test, Validates) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8(std::string_view("\0", 1)));
  EXPECT_TRUE(isValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(isValidUtf8("\xEE\x80\x80"));      // U+E000
  EXPECT_FALSE(isValidUtf8("\xE0\x80\x80"));     // overlong
  EXPECT_FALSE(isValidUtf8("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xC2"));
  EXPECT_FALSE(isValidUtf8("\xC2\x41"));
}

}  // namespace
}  // namespace habanero::http
