// Host-side tests of the OAuth parsing code the oauth2 extension uses, now in the guest library
// (sdk/cpp/habanero/: codec, OAuth params, redirect URIs, PKCE, text, JSON): the same headers
// the guest compiles, free of host calls.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <habanero/codec.hh>
#include <habanero/json.hh>
#include <habanero/oauth_params.hh>
#include <habanero/pkce.hh>
#include <habanero/redirect_uri.hh>
#include <habanero/text.hh>

namespace habanero::sdk {
namespace {

TEST(Base64url, RoundTripsAllLengths) {
  std::string data;
  for (int n = 0; n < 70; ++n) {
    auto decoded = base64urlDecode(base64urlEncode(data));
    ASSERT_TRUE(decoded.has_value()) << n;
    EXPECT_EQ(*decoded, data);
    data.push_back(static_cast<char>(n * 37 + 5));
  }
}

TEST(Base64url, KnownAnswers) {
  EXPECT_EQ(base64urlEncode(""), "");
  EXPECT_EQ(base64urlEncode("f"), "Zg");
  EXPECT_EQ(base64urlEncode("fo"), "Zm8");
  EXPECT_EQ(base64urlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64urlEncode("\xfb\xff"), "-_8");
}

TEST(Base64url, RejectsMalformed) {
  EXPECT_FALSE(base64urlDecode("Zg==").has_value());  // padding
  EXPECT_FALSE(base64urlDecode("+/8").has_value());   // standard alphabet
  EXPECT_FALSE(base64urlDecode("Z").has_value());     // impossible length
  EXPECT_FALSE(base64urlDecode("Zh").has_value());    // non-zero trailing bits
  EXPECT_FALSE(base64urlDecode("Zm 9v").has_value());
}

TEST(Base64, Standard) {
  EXPECT_EQ(base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_FALSE(base64Decode("Zm9vYg").has_value());
  EXPECT_FALSE(base64Decode("Zm9vYg=").has_value());
  EXPECT_FALSE(base64Decode("Zm9v-_==").has_value());
  EXPECT_EQ(base64Encode("\xfb\xff"), "+/8=");
}

TEST(PercentEncode, OnlyUnreservedSurvive) {
  EXPECT_EQ(percentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percentEncode("a b&c=d/e?f#g+h%"), "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25");
  EXPECT_EQ(percentEncode("\xc3\xa9"), "%C3%A9");
}

TEST(FormUrlDecode, PlusAndPercent) {
  EXPECT_EQ(formUrlDecode("a+b%3Ac"), "a b:c");
  EXPECT_EQ(formUrlDecode("%7e"), "~");
  EXPECT_FALSE(formUrlDecode("%").has_value());
  EXPECT_FALSE(formUrlDecode("%4").has_value());
  EXPECT_FALSE(formUrlDecode("%zz").has_value());
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xe2\x82"));
}

TEST(Html, Escape) {
  EXPECT_EQ(htmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(Json, DepthGuard) {
  EXPECT_TRUE(jsonDepthWithin(R"({"a":[1,{"b":2}]})", 3));
  EXPECT_FALSE(jsonDepthWithin(R"({"a":[1,{"b":2}]})", 2));
  EXPECT_TRUE(jsonDepthWithin(R"({"a":"[[[[[[\"[["})", 1));
  EXPECT_FALSE(jsonDepthWithin(std::string(10000, '['), 32));
}

TEST(RedirectUri, ExactMatch) {
  std::vector<std::string> reg = {"https://app.example/cb", "com.example.app:/oauth"};
  EXPECT_TRUE(redirectUriAllowed(reg, "https://app.example/cb"));
  EXPECT_TRUE(redirectUriAllowed(reg, "com.example.app:/oauth"));
  EXPECT_FALSE(redirectUriAllowed(reg, "https://app.example/cb/"));
  EXPECT_FALSE(redirectUriAllowed(reg, "https://app.example/cb?x=1"));
  EXPECT_FALSE(redirectUriAllowed(reg, "https://APP.example/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "https://app.example/cb#f"));
  EXPECT_FALSE(redirectUriAllowed(reg, "https://app.example:443/cb"));
}

TEST(RedirectUri, LoopbackPortMayVary) {
  std::vector<std::string> reg = {"http://127.0.0.1/cb", "http://[::1]:8000/native"};
  EXPECT_TRUE(redirectUriAllowed(reg, "http://127.0.0.1:53121/cb"));
  EXPECT_TRUE(redirectUriAllowed(reg, "http://127.0.0.1/cb"));
  EXPECT_TRUE(redirectUriAllowed(reg, "http://[::1]:1/native"));
  EXPECT_TRUE(redirectUriAllowed(reg, "http://[::1]/native"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://127.0.0.1:53121/cb2"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://127.0.0.1:0/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://127.0.0.1:65536/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://127.0.0.1:80a/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://127.0.0.1.evil.com/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://127.0.0.1@evil.com/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "https://127.0.0.1:5000/cb"));
  EXPECT_FALSE(redirectUriAllowed(reg, "http://[::1]:80/cb"));
  // localhost gets no port leniency.
  EXPECT_FALSE(redirectUriAllowed(std::vector<std::string>{"http://localhost/cb"},
                                  "http://localhost:5000/cb"));
}

TEST(RedirectUri, Syntax) {
  EXPECT_TRUE(isValidRedirectUri("https://a/b"));
  EXPECT_FALSE(isValidRedirectUri(""));
  EXPECT_FALSE(isValidRedirectUri("/relative"));
  EXPECT_FALSE(isValidRedirectUri("https://a/b c"));
  EXPECT_FALSE(isValidRedirectUri("https://a/\r\nb"));
  EXPECT_FALSE(isValidRedirectUri("1http://a"));
  EXPECT_FALSE(isValidRedirectUri(std::string("https://a/") + std::string(3000, 'x')));
}

TEST(AppendQuery, Separators) {
  EXPECT_EQ(appendQuery("https://a/cb", {{"code", "x y"}, {"state", "s&t"}}),
            "https://a/cb?code=x%20y&state=s%26t");
  EXPECT_EQ(appendQuery("https://a/cb?k=v", {{"code", "c"}}), "https://a/cb?k=v&code=c");
  EXPECT_EQ(appendQuery("https://a/cb?", {{"code", "c"}}), "https://a/cb?code=c");
  EXPECT_EQ(appendQuery("https://a/cb", {}), "https://a/cb");
}

TEST(Scope, Parse) {
  auto s = parseScope("openid  email openid");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, (std::vector<std::string>{"openid", "email"}));
  EXPECT_EQ(parseScope("")->size(), 0u);
  EXPECT_FALSE(parseScope("a\"b").has_value());
  EXPECT_FALSE(parseScope("a\\b").has_value());
  EXPECT_FALSE(parseScope("caf\xc3\xa9").has_value());
  EXPECT_FALSE(parseScope("a\tb").has_value());
  std::string many;
  for (int i = 0; i < 65; ++i) many += "s" + std::to_string(i) + " ";
  EXPECT_FALSE(parseScope(many).has_value());
  EXPECT_EQ(joinScope({"a", "b"}), "a b");
  EXPECT_TRUE(isSubset({"a"}, {"b", "a"}));
  EXPECT_FALSE(isSubset({"a", "c"}, {"b", "a"}));
}

TEST(Prompt, Parse) {
  auto p = parsePrompt("login consent");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->login);
  EXPECT_TRUE(p->consent);
  EXPECT_FALSE(p->none);
  EXPECT_TRUE(parsePrompt("none")->none);
  EXPECT_FALSE(parsePrompt("none login").has_value());
  EXPECT_FALSE(parsePrompt("bogus").has_value());
  EXPECT_TRUE(parsePrompt("select_account")->select_account);
}

TEST(Numbers, NonNegative) {
  EXPECT_EQ(parseNonNegative("0"), 0);
  EXPECT_EQ(parseNonNegative("3600"), 3600);
  EXPECT_FALSE(parseNonNegative("").has_value());
  EXPECT_FALSE(parseNonNegative("-1").has_value());
  EXPECT_FALSE(parseNonNegative("+1").has_value());
  EXPECT_FALSE(parseNonNegative("1 ").has_value());
  EXPECT_FALSE(parseNonNegative("99999999999999999999").has_value());
}

TEST(Pkce, Syntax) {
  // RFC 7636 Appendix B.
  EXPECT_TRUE(isPkceVerifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
  EXPECT_TRUE(isS256Challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  EXPECT_FALSE(isPkceVerifier("short"));
  EXPECT_FALSE(isPkceVerifier(std::string(129, 'a')));
  EXPECT_FALSE(isPkceVerifier(std::string(43, '+')));
  EXPECT_FALSE(isS256Challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
  EXPECT_FALSE(isS256Challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
}

TEST(BasicAuth, PercentDecodesBothParts) {
  // "a%3Ab:s%2B+x" -> id "a:b", secret "s+ x" (RFC 6749 §2.3.1).
  auto c = parseBasicAuth("Basic " + base64Encode("a%3Ab:s%2B+x"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->client_id, "a:b");
  EXPECT_EQ(c->secret, "s+ x");
  auto lower = parseBasicAuth("basic   " + base64Encode("id:pw") + "  ");
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ(lower->client_id, "id");
  EXPECT_EQ(lower->secret, "pw");
  auto empty_secret = parseBasicAuth("Basic " + base64Encode("id:"));
  ASSERT_TRUE(empty_secret.has_value());
  EXPECT_EQ(empty_secret->secret, "");
}

TEST(BasicAuth, RejectsMalformed) {
  EXPECT_FALSE(parseBasicAuth("Basic").has_value());
  EXPECT_FALSE(parseBasicAuth("Basic !!!!").has_value());
  EXPECT_FALSE(parseBasicAuth("Basic " + base64Encode("nocolon")).has_value());
  EXPECT_FALSE(parseBasicAuth("Basic " + base64Encode(":secret")).has_value());
  EXPECT_FALSE(parseBasicAuth("Basic " + base64Encode("id%zz:pw")).has_value());
  EXPECT_FALSE(parseBasicAuth("Basic " + base64Encode("id:\xff")).has_value());
  EXPECT_FALSE(parseBasicAuth("Basic " + base64Encode("id:a%0Ab")).has_value());
  EXPECT_FALSE(parseBasicAuth("Bearer " + base64Encode("id:pw")).has_value());
  EXPECT_TRUE(isBasicAuth("BASIC xyz"));
  EXPECT_FALSE(isBasicAuth("Basicxyz"));
}

TEST(Bearer, Parse) {
  EXPECT_EQ(parseBearer("Bearer abc.def-_~+/=="), "abc.def-_~+/==");
  EXPECT_EQ(parseBearer("bearer  tok "), "tok");
  EXPECT_FALSE(parseBearer("Bearer").has_value());
  EXPECT_FALSE(parseBearer("Bearer a b").has_value());
  EXPECT_FALSE(parseBearer("Bearer ==").has_value());
  EXPECT_FALSE(parseBearer("Bearer a=b").has_value());
  EXPECT_FALSE(parseBearer("Basic abc").has_value());
}

TEST(MediaType, FormDetection) {
  EXPECT_TRUE(mediaTypeIs("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"));
  EXPECT_TRUE(mediaTypeIs("Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                          "application/x-www-form-urlencoded"));
  EXPECT_FALSE(mediaTypeIs("application/json", "application/x-www-form-urlencoded"));
  EXPECT_FALSE(mediaTypeIs("application/x-www-form-urlencodedx", "application/x-www-form-urlencoded"));
}

TEST(TokenShapes, JwsAndOpaque) {
  EXPECT_TRUE(looksLikeJws("eyJh.eyJi.c2ln"));
  EXPECT_FALSE(looksLikeJws("eyJh.eyJi."));  // no signature: alg none
  EXPECT_FALSE(looksLikeJws(".eyJi.c2ln"));
  EXPECT_FALSE(looksLikeJws("a.b.c.d"));
  EXPECT_FALSE(looksLikeJws("a.b+c.d"));
  EXPECT_TRUE(looksLikeOpaqueToken(std::string(43, 'A')));
  EXPECT_FALSE(looksLikeOpaqueToken(std::string(42, 'A')));
  EXPECT_FALSE(looksLikeOpaqueToken(std::string(42, 'A') + "="));
  EXPECT_EQ(jwsHeader(base64urlEncode("{\"typ\":\"at+jwt\"}") + ".x.y"), "{\"typ\":\"at+jwt\"}");
  EXPECT_TRUE(isAccessTokenTyp("at+jwt"));
  EXPECT_TRUE(isAccessTokenTyp("application/AT+JWT"));
  EXPECT_FALSE(isAccessTokenTyp("JWT"));
  EXPECT_FALSE(isAccessTokenTyp(""));
}

TEST(ClientId, Syntax) {
  EXPECT_TRUE(isValidClientId("my-app"));
  EXPECT_TRUE(isValidClientId("a b"));
  EXPECT_FALSE(isValidClientId(""));
  EXPECT_FALSE(isValidClientId("caf\xc3\xa9"));
  EXPECT_FALSE(isValidClientId(std::string(257, 'a')));
}

}  // namespace
}  // namespace habanero::sdk
