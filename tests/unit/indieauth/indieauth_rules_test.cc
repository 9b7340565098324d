// Host-side tests of the indieauth extension's rules (extensions/indieauth/rules/): the URL
// rules of the IndieAuth standard (§3.2 profile URL, §3.3 client identifier, §3.4
// canonicalisation), reference resolution, and the Link header / HTML / h-app readers used by
// discovery. The same headers are compiled into the guest.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "rules/links.h"
#include "rules/urls.h"

namespace habanero::indieauth {
namespace {

std::string canonicalProfile(std::string_view s, bool dev = false) {
  UrlCheck c = parseProfileUrl(s, dev);
  return c ? c.url->str() : "ERROR: " + c.error;
}

std::string canonicalClient(std::string_view s) {
  UrlCheck c = parseClientId(s);
  return c ? c.url->str() : "ERROR: " + c.error;
}

// ---- §3.2 profile URLs -----------------------------------------------------------------------

TEST(ProfileUrl, AcceptsTheStandardsExamples) {
  EXPECT_EQ(canonicalProfile("https://example.com/"), "https://example.com/");
  EXPECT_EQ(canonicalProfile("https://example.com/username"), "https://example.com/username");
  EXPECT_EQ(canonicalProfile("https://example.com/users?id=100"),
            "https://example.com/users?id=100");
}

TEST(ProfileUrl, RefusesTheStandardsCounterExamples) {
  EXPECT_FALSE(parseProfileUrl("example.com"));              // missing scheme
  EXPECT_FALSE(parseProfileUrl("mailto:user@example.com"));  // invalid scheme
  EXPECT_FALSE(parseProfileUrl("https://example.com/foo/../bar"));
  EXPECT_FALSE(parseProfileUrl("https://example.com/#me"));
  EXPECT_FALSE(parseProfileUrl("https://user:pass@example.com/"));
  EXPECT_FALSE(parseProfileUrl("https://example.com:8443/"));
  EXPECT_FALSE(parseProfileUrl("https://172.28.92.51/"));
}

TEST(ProfileUrl, SaysWhy) {
  EXPECT_EQ(parseProfileUrl("https://example.com:8443/").error, "must not contain a port");
  EXPECT_EQ(parseProfileUrl("https://example.com/#me").error, "must not contain a fragment");
  EXPECT_EQ(parseProfileUrl("https://u@example.com/").error,
            "must not contain a username or password");
  EXPECT_EQ(parseProfileUrl("ftp://example.com/").error, "must use the http or https scheme");
  EXPECT_EQ(parseProfileUrl("https://10.0.0.1/").error,
            "must use a domain name, not an IP address");
  EXPECT_EQ(parseProfileUrl("https://example.com/./a").error,
            "must not contain single-dot or double-dot path segments");
}

TEST(ProfileUrl, Canonicalises) {
  EXPECT_EQ(canonicalProfile("https://example.com"), "https://example.com/");  // §3.4 path
  EXPECT_EQ(canonicalProfile("HTTPS://Example.COM/Ana"), "https://example.com/Ana");
  EXPECT_EQ(canonicalProfile("http://example.com:80/"), "http://example.com/");  // default port
  EXPECT_EQ(canonicalProfile("https://example.com:443/x"), "https://example.com/x");
  EXPECT_EQ(canonicalProfile("http://example.com?x=1"), "http://example.com/?x=1");
}

TEST(ProfileUrl, RefusesEveryAddressForm) {
  for (const char* url : {"https://127.0.0.1/", "https://[::1]/", "https://[2001:db8::1]/",
                          "https://127.1/", "https://0x7f.0.0.1/", "https://2130706433/",
                          "https://1.2.3.4.5/", "https://example.0x10/"}) {
    EXPECT_FALSE(parseProfileUrl(url)) << url;
  }
}

TEST(ProfileUrl, RefusesEncodedDotSegments) {
  EXPECT_FALSE(parseProfileUrl("https://example.com/%2e%2e/x"));
  EXPECT_FALSE(parseProfileUrl("https://example.com/a/.%2E"));
  EXPECT_FALSE(parseProfileUrl("https://example.com/%2E/"));
  EXPECT_FALSE(parseProfileUrl("https://example.com/a/."));
  EXPECT_TRUE(parseProfileUrl("https://example.com/a.b/..c/.d"));  // dots inside names are fine
}

TEST(ProfileUrl, RefusesMalformedInput) {
  for (const char* url :
       {"", "https://", "https:///x", "https://exa mple.com/", "https://example.com/\x01",
        "https://ex_ample.com/", "https://-example.com/", "https://example-.com/",
        "https://example..com/", "https://example.com./", "https://example.com/%zz",
        "https://[::1/", "https://example.com:0/", "https://example.com:65536/",
        "https://example.com:/", "https://caf\xc3\xa9.example/", "https://example.com/<script>",
        "//example.com/", "https:example.com/"}) {
    EXPECT_FALSE(parseProfileUrl(url)) << url;
  }
  EXPECT_FALSE(parseProfileUrl("https://example.com/" + std::string(kMaxUrlBytes, 'a')));
}

TEST(ProfileUrl, DevelopmentLoopbackAllowsPortsOnLoopbackOnly) {
  EXPECT_EQ(canonicalProfile("http://127.0.0.1:8080/indieauth/u/x", true),
            "http://127.0.0.1:8080/indieauth/u/x");
  EXPECT_EQ(canonicalProfile("http://LOCALHOST:9000", true), "http://localhost:9000/");
  EXPECT_EQ(canonicalProfile("http://[::1]:9000/", true), "http://[::1]:9000/");
  EXPECT_FALSE(parseProfileUrl("http://127.0.0.1:8080/", false));
  EXPECT_FALSE(parseProfileUrl("https://example.com:8443/", true));
  EXPECT_FALSE(parseProfileUrl("https://10.0.0.1/", true));
  EXPECT_FALSE(parseProfileUrl("http://127.0.0.1:8080/#x", true));  // the other rules stay
  EXPECT_FALSE(parseProfileUrl("http://127.0.0.1:8080/../x", true));
}

// ---- §3.3 client identifiers -----------------------------------------------------------------

TEST(ClientId, AllowsPortsAndLoopbackAddresses) {
  EXPECT_EQ(canonicalClient("https://app.example.com/"), "https://app.example.com/");
  EXPECT_EQ(canonicalClient("https://app.example.com:8443/x?y=1"),
            "https://app.example.com:8443/x?y=1");
  EXPECT_EQ(canonicalClient("http://127.0.0.1:3000/"), "http://127.0.0.1:3000/");
  EXPECT_EQ(canonicalClient("http://[::1]:3000/app"), "http://[::1]:3000/app");
  EXPECT_EQ(canonicalClient("http://localhost:3000"), "http://localhost:3000/");
  EXPECT_EQ(canonicalClient("https://App.Example.com"), "https://app.example.com/");
}

TEST(ClientId, RefusesWhatTheStandardForbids) {
  EXPECT_FALSE(parseClientId("https://10.1.2.3/"));
  EXPECT_FALSE(parseClientId("https://[2001:db8::1]/"));
  EXPECT_FALSE(parseClientId("https://127.0.0.2/"));  // only 127.0.0.1 is named
  EXPECT_FALSE(parseClientId("https://app.example.com/#x"));
  EXPECT_FALSE(parseClientId("https://user:pw@app.example.com/"));
  EXPECT_FALSE(parseClientId("https://app.example.com/a/../b"));
  EXPECT_FALSE(parseClientId("https://app.example.com/./"));
  EXPECT_FALSE(parseClientId("app.example.com"));
  EXPECT_FALSE(parseClientId("urn:ietf:wg:oauth:2.0:oob"));
  EXPECT_FALSE(parseClientId("javascript:alert(1)"));
  EXPECT_EQ(parseClientId("https://10.1.2.3/").error,
            "must use a domain name; the only addresses allowed are 127.0.0.1 and [::1]");
}

// ---- redirect URIs and origins ----------------------------------------------------------------

TEST(RedirectUri, SyntaxAndOrigins) {
  EXPECT_TRUE(isValidRedirectUri("https://app.example.com/cb"));
  EXPECT_TRUE(isValidRedirectUri("com.example.app:/cb"));  // native app scheme
  EXPECT_FALSE(isValidRedirectUri("https://app.example.com/cb#x"));
  EXPECT_FALSE(isValidRedirectUri("/cb"));
  EXPECT_FALSE(isValidRedirectUri("https://app.example.com/c b"));
  EXPECT_FALSE(isValidRedirectUri("https://"));
  EXPECT_TRUE(sameOrigin("https://app.example.com/cb", "https://APP.example.com:443/"));
  EXPECT_FALSE(sameOrigin("https://app.example.com/cb", "http://app.example.com/"));
  EXPECT_FALSE(sameOrigin("https://app.example.com:8443/cb", "https://app.example.com/"));
  EXPECT_FALSE(sameOrigin("https://evil.example/cb", "https://app.example.com/"));
  EXPECT_FALSE(sameOrigin("com.example.app:/cb", "https://app.example.com/"));
  EXPECT_FALSE(sameOrigin("https://app.example.com.evil.example/", "https://app.example.com/"));
}

TEST(ResolveReference, Rfc3986Examples) {
  const std::string base = "http://a.example/b/c/d;p?q";
  auto r = [&](std::string_view ref) { return resolveReference(base, ref).value_or("ERROR"); };
  EXPECT_EQ(r("g"), "http://a.example/b/c/g");
  EXPECT_EQ(r("./g"), "http://a.example/b/c/g");
  EXPECT_EQ(r("g/"), "http://a.example/b/c/g/");
  EXPECT_EQ(r("/g"), "http://a.example/g");
  EXPECT_EQ(r("//g.example"), "http://g.example/");
  EXPECT_EQ(r("?y"), "http://a.example/b/c/d;p?y");
  EXPECT_EQ(r("g?y"), "http://a.example/b/c/g?y");
  EXPECT_EQ(r(""), "http://a.example/b/c/d;p?q");
  EXPECT_EQ(r(".."), "http://a.example/b/");
  EXPECT_EQ(r("../g"), "http://a.example/b/g");
  EXPECT_EQ(r("../../../g"), "http://a.example/g");
  EXPECT_EQ(r("/./g"), "http://a.example/g");
  EXPECT_EQ(r("https://Other.example:443/x/../y"), "https://other.example/y");
  EXPECT_EQ(r("  /meta  "), "http://a.example/meta");
  EXPECT_FALSE(resolveReference(base, "javascript:alert(1)"));
  EXPECT_FALSE(resolveReference("not a url", "/x"));
}

// ---- Link headers and HTML ----------------------------------------------------------------------

TEST(LinkHeader, FindsRelsInOrder) {
  std::vector<std::string> values = {
      "<https://a.example/webmention>; rel=\"webmention\", </meta>; rel=\"indieauth-metadata\"",
      "<https://b.example/meta>; rel=indieauth-metadata",
      "<https://a.example/auth>; rel=\"authorization_endpoint token_endpoint\""};
  EXPECT_EQ(firstLinkHeaderRel(values, "indieauth-metadata").value_or(""), "/meta");
  EXPECT_EQ(firstLinkHeaderRel(values, "token_endpoint").value_or(""), "https://a.example/auth");
  EXPECT_EQ(firstLinkHeaderRel(values, "INDIEAUTH-METADATA").value_or(""), "/meta");
  EXPECT_FALSE(firstLinkHeaderRel(values, "micropub"));
  EXPECT_EQ(allLinkHeaderRels(values, "indieauth-metadata").size(), 2u);
}

TEST(LinkHeader, SurvivesMalformedValues) {
  std::vector<std::string> values = {"garbage, <unterminated", "<x>; rel",
                                     "<y>;;rel=\"a,b\", <z>; rel=redirect_uri", ";;;,,,<",
                                     "<w>; title=\"a\\\"b\"; rel=redirect_uri"};
  auto all = allLinkHeaderRels(values, "redirect_uri");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "z");
  EXPECT_EQ(all[1], "w");
}

TEST(Html, FindsLinkElementsNotCommentsOrScripts) {
  std::string page =
      "<!doctype html><html><head>"
      "<!-- <link rel=\"indieauth-metadata\" href=\"https://commented.example/\"> -->"
      "<script>var x = '<link rel=\"indieauth-metadata\" "
      "href=\"https://script.example/\">';</script>"
      "<LINK REL='me indieauth-metadata' HREF='/meta?a=1&amp;b=2'>"
      "<link rel=indieauth-metadata href=https://second.example/>"
      "<link rel=\"redirect_uri\" href=\"/cb\"><link rel=\"redirect_uri\" "
      "href=\"https://x.example/cb2\">"
      "</head></html>";
  EXPECT_EQ(firstHtmlLinkRel(page, "indieauth-metadata").value_or(""), "/meta?a=1&b=2");
  EXPECT_EQ(htmlLinkRels(page, "indieauth-metadata").size(), 2u);
  auto redirects = htmlLinkRels(page, "redirect_uri");
  ASSERT_EQ(redirects.size(), 2u);
  EXPECT_EQ(redirects[1], "https://x.example/cb2");
  EXPECT_FALSE(
      firstHtmlLinkRel("<a rel=\"indieauth-metadata\" href=\"/x\">", "indieauth-metadata"));
  EXPECT_FALSE(firstHtmlLinkRel("<link rel=\"indieauth-metadata\" href=\"/x\"", "x"));
}

TEST(Html, DecodesEntities) {
  EXPECT_EQ(decodeEntities("a&amp;b&lt;&gt;&quot;&#39;&#x41;&#66;&bogus;&"), "a&b<>\"'AB&bogus;&");
  EXPECT_EQ(decodeEntities("&#0;"), "\xef\xbf\xbd");
  EXPECT_EQ(decodeEntities("&#xD800;"), "\xef\xbf\xbd");
}

TEST(HApp, ReadsNameLogoAndUrl) {
  std::string page =
      "<html><body><div class=\"h-card\"><span class=\"p-name\">Not the app</span></div>"
      "<div class=\"h-app\"><img class=\"u-logo\" src=\"/logo.png\" alt=\"\">"
      "<a class=\"u-url p-name\" href=\"/\">Quill <b>&amp;</b> Friends</a></div>"
      "<span class=\"p-name\">After</span></body></html>";
  auto app = parseHApp(page);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->name, "Quill & Friends");
  EXPECT_EQ(app->logo, "/logo.png");
  EXPECT_EQ(app->url, "/");
}

TEST(HApp, NestedElementsAndAbsence) {
  auto app =
      parseHApp("<div class=\"x h-x-app\"><div><div class=\"p-name\">Inner</div></div></div>");
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->name, "Inner");
  EXPECT_FALSE(parseHApp("<div class=\"h-card\"><p class=\"p-name\">x</p></div>").has_value());
  auto outside = parseHApp("<div class=\"h-app\"></div><p class=\"p-name\">Outside</p>");
  ASSERT_TRUE(outside.has_value());
  EXPECT_EQ(outside->name, "");
}

TEST(Html, BoundedOnHugeOrHostileInput) {
  std::string many(kMaxHtmlBytes + 1000, '<');
  EXPECT_TRUE(htmlLinkRels(many, "x").empty());
  std::string links;
  for (int i = 0; i < 200; ++i)
    links += "<link rel=redirect_uri href=/cb" + std::to_string(i) + ">";
  EXPECT_EQ(htmlLinkRels(links, "redirect_uri").size(), kMaxLinks);
  EXPECT_TRUE(htmlLinkRels("<script>never closed <link rel=x href=y>", "x").empty());
}

// Not a fuzzer (fuzz/ would hold one), but the same idea at unit-test cost: mutated URLs,
// headers and markup built from the characters that matter, fed to every reader. Under the
// ASan/UBSan build this catches out-of-range reads; everywhere it checks the invariants.
TEST(Robustness, SurvivesMutatedInput) {
  std::mt19937 rng(20240711);
  const std::string alphabet =
      "htps:/.%2eE@[]:?#&;=<>\"' \t\nabcxyzABC0179-_~!$()*+,l"
      "inkrelhfHAPpu\x01\x7f\xc3\xa9";
  const std::vector<std::string> seeds = {
      "https://example.com/a/b?c#d", "http://[::1]:8080/x", "https://u:p@127.0.0.1:0/%2e%2e/",
      "<https://a/>; rel=\"indieauth-metadata\", <b>; rel=x",
      "<html><link rel=\"redirect_uri\" href=\"/cb\"><div class=\"h-app\">"
      "<a class=\"p-name u-url\" href=\"/\">X</a></div><!-- x --><script>y</script>"};
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (pos < s.size()) s.erase(pos, 1 + rng() % 4);
          break;
        default:
          if (pos < s.size()) s[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    UrlCheck p = parseProfileUrl(s);
    if (p) {
      // A canonical profile URL is a fixed point and passes its own rules again.
      EXPECT_EQ(canonicalProfile(p.url->str()), p.url->str()) << s;
      EXPECT_TRUE(p.url->port.empty()) << s;
      EXPECT_FALSE(p.url->has_fragment) << s;
    }
    UrlCheck c = parseClientId(s);
    if (c) {
      EXPECT_EQ(canonicalClient(c.url->str()), c.url->str()) << s;
    }
    if (auto r = resolveReference("https://base.example/a/b", s)) {
      EXPECT_TRUE(parseHttpUrl(*r)) << s << " -> " << *r;
    }
    (void)isValidRedirectUri(s);
    (void)sameOrigin(s, "https://example.com/");
    (void)parseLinkHeaders({s, s});
    (void)htmlLinkRels(s, "redirect_uri");
    (void)parseHApp(s);
    (void)decodeEntities(s);
  }
}

}  // namespace
}  // namespace habanero::indieauth
