// The SDK test kit's fake host (sdk/testing/fake_host.h) against the ABI it stands in for:
// every call of sdk/c/habanero.h exists in the kit, and the result codes docs/abi.md
// documents (BUFFER_TOO_SMALL with the size needed, kv_take/http_fetch holding their value,
// NOT_FOUND, DUPLICATE, INVALID_ARGUMENT, CONFLICT, DENIED, UNAVAILABLE) come out as there.
#include <gtest/gtest.h>
#include <habanero.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "fake_host.h"

namespace ht = habanero::testing;

namespace {

const uint8_t* b(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }
uint32_t n(std::string_view s) { return static_cast<uint32_t>(s.size()); }

// Calls `f(out, cap, &len)` with a buffer of `cap` bytes; returns result and value.
template <class F>
std::pair<int32_t, std::string> read(F f, uint32_t cap = 4096) {
  std::string buf(cap, '#');
  uint32_t len = 0xffffffff;
  int32_t r = f(reinterpret_cast<uint8_t*>(buf.data()), cap, &len);
  if (r == HABANERO_OK) return {r, buf.substr(0, len)};
  if (r == HABANERO_BUFFER_TOO_SMALL) return {r, std::to_string(len)};
  return {r, buf == std::string(cap, '#') ? "" : "(written)"};
}

int32_t none() { return 0; }

TEST(FakeHost, ImplementsEveryCallOfTheHeader) {
  std::ifstream in(std::string(HABANERO_SOURCE_DIR) + "/sdk/c/habanero.h");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::string header = text.str();
  std::set<std::string> declared;
  std::regex import("HABANERO_IMPORT\\(\"([a-z0-9_]+)\"\\)");
  for (std::sregex_iterator it(header.begin(), header.end(), import), end; it != end; ++it) {
    declared.insert((*it)[1]);
  }
  std::vector<std::string> kit = ht::fakeHostCalls();
  EXPECT_EQ(declared, std::set<std::string>(kit.begin(), kit.end()));
  EXPECT_GE(declared.size(), 40u);
}

TEST(FakeHost, BufferTooSmallWritesTheSizeNeededAndLeavesTheBuffer) {
  ht::FakeHost host(none);
  host.kvPut("k", "0123456789");
  auto [r, v] = read([](uint8_t* o, uint32_t c, uint32_t* l) {
    return habanero_kv_get(b("k"), 1, o, c, l);
  }, 4);
  EXPECT_EQ(r, HABANERO_BUFFER_TOO_SMALL);
  EXPECT_EQ(v, "10");
  auto [r2, v2] = read([](uint8_t* o, uint32_t c, uint32_t* l) {
    return habanero_kv_get(b("k"), 1, o, c, l);
  }, 10);
  EXPECT_EQ(r2, HABANERO_OK);
  EXPECT_EQ(v2, "0123456789");
  // out_cap 0 is a size query; an absent key leaves everything untouched.
  uint32_t len = 7;
  EXPECT_EQ(habanero_kv_get(b("k"), 1, nullptr, 0, &len), HABANERO_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, 10u);
  len = 7;
  EXPECT_EQ(habanero_kv_get(b("nope"), 4, nullptr, 0, &len), HABANERO_NOT_FOUND);
  EXPECT_EQ(len, 7u);
}

TEST(FakeHost, KvTakeHoldsItsValueForTheRetry) {
  ht::FakeHost host([&]() -> int32_t {
    std::string small(3, '\0'), big(64, '\0');
    uint32_t len = 0;
    EXPECT_EQ(habanero_kv_take(b("code"), 4, reinterpret_cast<uint8_t*>(small.data()), 3, &len),
              HABANERO_BUFFER_TOO_SMALL);
    EXPECT_EQ(len, 6u);
    EXPECT_EQ(habanero_kv_take(b("code"), 4, reinterpret_cast<uint8_t*>(big.data()), 64, &len),
              HABANERO_OK);
    EXPECT_EQ(big.substr(0, len), "secret");
    EXPECT_EQ(habanero_kv_take(b("code"), 4, reinterpret_cast<uint8_t*>(big.data()), 64, &len),
              HABANERO_NOT_FOUND);
    return 0;
  });
  host.kvPut("code", "secret");
  host.get("/");
  EXPECT_FALSE(host.kvGet("code"));
}

TEST(FakeHost, KvTtlCompareAndSetAndLimits) {
  ht::FakeHost host(none);
  ASSERT_EQ(habanero_kv_put(b("t"), 1, b("v"), 1, 1000), HABANERO_OK);
  host.advance(999);
  EXPECT_EQ(host.kvGet("t"), "v");
  host.advance(1);
  EXPECT_FALSE(host.kvGet("t"));
  uint32_t len = 0;
  uint8_t out[8];
  EXPECT_EQ(habanero_kv_get(b("t"), 1, out, 8, &len), HABANERO_NOT_FOUND);
  // An expired key counts as absent for compare-and-set.
  EXPECT_EQ(habanero_kv_compare_and_set(b("t"), 1, 0, nullptr, 0, b("1"), 1, 0), HABANERO_OK);
  EXPECT_EQ(habanero_kv_compare_and_set(b("t"), 1, 0, nullptr, 0, b("2"), 1, 0), HABANERO_CONFLICT);
  EXPECT_EQ(habanero_kv_compare_and_set(b("t"), 1, 1, b("9"), 1, b("2"), 1, 0), HABANERO_CONFLICT);
  EXPECT_EQ(habanero_kv_compare_and_set(b("t"), 1, 1, b("1"), 1, b("2"), 1, 0), HABANERO_OK);
  EXPECT_EQ(host.kvGet("t"), "2");
  std::string long_key(513, 'k');
  EXPECT_EQ(habanero_kv_put(b(long_key), n(long_key), b("v"), 1, 0), HABANERO_LIMIT_EXCEEDED);
  EXPECT_EQ(habanero_kv_get(b(long_key), n(long_key), out, 8, &len), HABANERO_LIMIT_EXCEEDED);
  EXPECT_EQ(habanero_kv_delete(b(long_key), n(long_key)), HABANERO_OK);
  std::string big(256 * 1024 + 1, 'v');
  EXPECT_EQ(habanero_kv_put(b("k"), 1, b(big), n(big), 0), HABANERO_LIMIT_EXCEEDED);
  EXPECT_EQ(host.kvKeys(), std::vector<std::string>{"t"});
}

TEST(FakeHost, RequestParamsAreParsedStrictly) {
  std::map<std::string, int32_t> seen;
  std::string value;
  ht::FakeHost host([&]() -> int32_t {
    for (std::string name : {"a", "dup", "missing"}) {
      seen["q:" + name] = read([&](uint8_t* o, uint32_t c, uint32_t* l) {
                            return habanero_request_param(HABANERO_PARAMS_QUERY, b(name), n(name),
                                                          o, c, l);
                          }).first;
      auto [r, v] = read([&](uint8_t* o, uint32_t c, uint32_t* l) {
        return habanero_request_param(HABANERO_PARAMS_FORM, b(name), n(name), o, c, l);
      });
      seen["f:" + name] = r;
      if (name == "a" && r == HABANERO_OK) value = v;
    }
    seen["bad source"] = read([&](uint8_t* o, uint32_t c, uint32_t* l) {
                           return habanero_request_param(7, b("a"), 1, o, c, l);
                         }).first;
    return 0;
  });
  host.post("/x?a=1&dup=1&dup=2", {{"a", "x y&z"}});
  EXPECT_EQ(seen["q:a"], HABANERO_OK);
  EXPECT_EQ(seen["q:dup"], HABANERO_DUPLICATE);
  EXPECT_EQ(seen["q:missing"], HABANERO_NOT_FOUND);
  EXPECT_EQ(seen["f:a"], HABANERO_OK);
  EXPECT_EQ(value, "x y&z");
  EXPECT_EQ(seen["bad source"], HABANERO_INVALID_ARGUMENT);
  // A malformed source fails every lookup in it; a body without the form type is no form.
  host.get("/x?a=%zz");
  EXPECT_EQ(seen["q:a"], HABANERO_INVALID_ARGUMENT);
  host.handle({.method = "POST", .target = "/x", .headers = {{"Content-Type", "text/plain"}},
               .body = "a=1"});
  EXPECT_EQ(seen["f:a"], HABANERO_NOT_FOUND);
}

TEST(FakeHost, ResponseChecksAndAFailingModule) {
  int32_t rc = 0;
  std::map<std::string, int32_t> seen;
  ht::FakeHost host([&]() -> int32_t {
    seen["status 199"] = habanero_response_set_status(199);
    seen["header bad name"] = habanero_response_add_header(b("a b"), 3, b("v"), 1);
    seen["header CR"] = habanero_response_add_header(b("x"), 1, b("a\rb"), 3);
    seen["redirect 200"] = habanero_response_redirect(200, b("/x"), 2);
    seen["redirect"] = habanero_response_redirect(303, b("/there"), 6);
    habanero_response_write(b("partial"), 7);
    return rc;
  });
  ht::Response r = host.get("/");
  EXPECT_EQ(seen["status 199"], HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(seen["header bad name"], HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(seen["header CR"], HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(seen["redirect 200"], HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.location(), "/there");
  EXPECT_EQ(r.body, "partial");
  rc = 3;
  r = host.get("/");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.location(), "");
  EXPECT_TRUE(host.logged("returned 3"));
}

TEST(FakeHost, UngrantedCapabilitiesAreDeniedAndFailuresUnavailable) {
  ht::FakeHost host(none);
  host.grantOnly({"http", "log"});
  uint8_t out[64];
  uint32_t len = 0;
  EXPECT_EQ(habanero_kv_get(b("k"), 1, out, 64, &len), HABANERO_DENIED);
  EXPECT_EQ(habanero_user_create(b(R"({"email":"a@b.example"})"), 23, out, 64, &len),
            HABANERO_DENIED);
  EXPECT_EQ(habanero_log(HABANERO_LOG_INFO, b("x"), 1), HABANERO_OK);
  EXPECT_EQ(habanero_log(9, b("x"), 1), HABANERO_INVALID_ARGUMENT);
  host.grantOnly({"kv", "users", "signup"});
  host.unavailable = {"kv"};
  EXPECT_EQ(habanero_kv_get(b("k"), 1, out, 64, &len), HABANERO_UNAVAILABLE);
  std::string user = R"({"email":" Ana@Example.com "})";
  ASSERT_EQ(habanero_user_create(b(user), n(user), out, 64, &len), HABANERO_OK);
  std::string sub(reinterpret_cast<char*>(out), len);
  EXPECT_EQ(host.findUser(sub)->email, "ana@example.com");
  EXPECT_EQ(habanero_user_create(b(user), n(user), out, 64, &len), HABANERO_DUPLICATE);
  EXPECT_EQ(habanero_user_find(HABANERO_USER_BY_EMAIL, b("ANA@example.com"), 15, out, 64, &len),
            HABANERO_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), len), sub);
  EXPECT_EQ(habanero_user_find(HABANERO_USER_BY_PHONE, b("12345"), 5, out, 64, &len),
            HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(habanero_user_find(5, b("x"), 1, out, 64, &len), HABANERO_INVALID_ARGUMENT);
}

TEST(FakeHost, LoginAttemptsAreBoundToTheirBrowser) {
  std::string rt, subject = "u1", amr = R"(["pwd"])";
  int32_t got = -1, completed = -1;
  ht::FakeHost host([&]() -> int32_t {
    got = read([&](uint8_t* o, uint32_t c, uint32_t* l) {
            return habanero_login_attempt_get(b(rt), n(rt), o, c, l);
          }).first;
    completed = habanero_login_complete(b(rt), n(rt), b(subject), n(subject), b(amr), n(amr));
    return 0;
  });
  host.addUser({.sub = "u1", .email = "ana@example.com"});
  ht::Browser ana(host), other(host);
  rt = ana.startLogin("/back?x=1", "ana@example.com");
  // Another browser sees no attempt and cannot complete it.
  other.get("/");
  EXPECT_EQ(got, HABANERO_NOT_FOUND);
  EXPECT_EQ(completed, HABANERO_NOT_FOUND);
  // Bad amr and an unknown subject leave the attempt usable.
  amr = R"(["pwd", 3])";
  ana.get("/");
  EXPECT_EQ(completed, HABANERO_INVALID_ARGUMENT);
  amr = R"(["pwd"])";
  subject = "nobody";
  ana.get("/");
  EXPECT_EQ(got, HABANERO_OK);
  EXPECT_EQ(completed, HABANERO_NOT_FOUND);
  EXPECT_TRUE(host.attemptOpen(rt));
  subject = "u1";
  ht::Response r = ana.post("/", {});
  EXPECT_EQ(completed, HABANERO_OK);
  EXPECT_EQ(r.status, 303);  // after a POST
  EXPECT_EQ(r.location(), "/back?x=1");
  ASSERT_NE(ana.session(), nullptr);
  EXPECT_EQ(ana.session()->sub, "u1");
  ASSERT_EQ(host.logins.size(), 1u);
  EXPECT_EQ(host.logins[0].amr, std::vector<std::string>{"pwd"});
  ana.get("/");
  EXPECT_EQ(completed, HABANERO_NOT_FOUND);  // once only
  // Attempts expire.
  rt = ana.startLogin();
  host.advance(10 * 60 * 1000);
  ana.get("/");
  EXPECT_EQ(got, HABANERO_NOT_FOUND);
  // Sessions end with their user.
  host.removeUser("u1");
  EXPECT_EQ(ana.session(), nullptr);
}

TEST(FakeHost, RequireLoginAndSessionEnd) {
  std::string return_to = "/auth/resume?p=1";
  int32_t r1 = -1;
  bool end = false;
  ht::FakeHost host([&]() -> int32_t {
    if (end) return habanero_session_end();
    r1 = habanero_session_require_login(b(return_to), n(return_to), b("hint"), 4);
    return 0;
  });
  host.addUser({.sub = "u1"});
  ht::Browser browser(host);
  ht::Response r = browser.get("/auth");
  EXPECT_EQ(r1, HABANERO_OK);
  EXPECT_EQ(r.status, 302);
  ASSERT_EQ(host.login_requests.size(), 1u);
  EXPECT_EQ(r.location(), "/login?rt=" + host.login_requests[0].rt);
  EXPECT_EQ(host.login_requests[0].login_hint, "hint");
  EXPECT_TRUE(browser.cookies.count("habanero_login"));
  for (std::string bad : {"//evil.example/", "https://evil.example/", "", "/\\x"}) {
    return_to = bad;
    browser.get("/auth");
    EXPECT_EQ(r1, HABANERO_INVALID_ARGUMENT) << bad;
  }
  browser.signIn("u1");
  ASSERT_NE(browser.session(), nullptr);
  end = true;
  browser.get("/logout");
  EXPECT_EQ(browser.session(), nullptr);
  EXPECT_EQ(host.sessions_ended, 1);
}

TEST(FakeHost, EventsAreDeliveredWithTheirFields) {
  std::string seen;
  int32_t verdict = HABANERO_EVENT_RETRY;
  ht::FakeHost host(none, [&]() -> int32_t {
    for (int32_t f : {HABANERO_EVENT_TOPIC, HABANERO_EVENT_PAYLOAD, HABANERO_EVENT_ID,
                      HABANERO_EVENT_ATTEMPT, HABANERO_EVENT_PUBLISHER}) {
      seen += read([&](uint8_t* o, uint32_t c, uint32_t* l) { return habanero_event_get(f, o, c, l); })
                  .second +
              "|";
    }
    return verdict;
  });
  host.name = "pub";
  EXPECT_EQ(habanero_event_publish(b("t.x"), 3, b("{}"), 2), HABANERO_DENIED);
  host.publish = {"t.x"};
  std::string big(64 * 1024 + 1, 'x');
  EXPECT_EQ(habanero_event_publish(b("t.x"), 3, b(big), n(big)), HABANERO_LIMIT_EXCEEDED);
  ASSERT_EQ(habanero_event_publish(b("t.x"), 3, b("{\"a\":1}"), 7), HABANERO_OK);
  uint8_t out[8];
  uint32_t len = 0;
  EXPECT_EQ(habanero_event_get(HABANERO_EVENT_TOPIC, out, 8, &len), HABANERO_NOT_FOUND);
  ASSERT_EQ(host.outbox.size(), 1u);
  EXPECT_EQ(host.deliverAll(), std::vector<int32_t>{HABANERO_EVENT_RETRY});
  EXPECT_EQ(seen, "t.x|{\"a\":1}|evt-1|1|pub|");
  verdict = HABANERO_EVENT_FAILED;
  seen.clear();
  host.deliverAll();
  EXPECT_EQ(seen, "t.x|{\"a\":1}|evt-1|2|pub|");  // same id, next attempt
  EXPECT_TRUE(host.outbox.empty());
  ASSERT_EQ(host.failed.size(), 1u);
}

TEST(FakeHost, MailSmsAndFetch) {
  ht::FakeHost host(none);
  auto mail = [](std::string j) { return habanero_mail_send(b(j), n(j)); };
  EXPECT_EQ(mail("not json"), HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(mail(R"({"to":"nobody","subject":"s","text":"t"})"), HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(mail(R"({"to":"a@b.example","subject":"s\nBcc: x","text":"t"})"),
            HABANERO_INVALID_ARGUMENT);
  host.mail_results = {HABANERO_UNAVAILABLE};
  EXPECT_EQ(mail(R"({"to":"a@b.example","subject":"s","text":"t"})"), HABANERO_UNAVAILABLE);
  EXPECT_EQ(mail(R"({"to":"a@b.example","subject":"s","text":"t"})"), HABANERO_OK);
  ASSERT_EQ(host.mails.size(), 1u);
  EXPECT_EQ(host.mails[0].to, "a@b.example");
  auto sms = [](std::string j) { return habanero_sms_send(b(j), n(j)); };
  EXPECT_EQ(sms(R"({"to":"0044","text":"t"})"), HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(sms(R"({"to":"+447700900123","text":""})"), HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(sms(R"({"to":"+447700900123","text":"123456"})"), HABANERO_OK);
  ASSERT_EQ(host.texts.size(), 1u);

  auto fetch = [](std::string j, uint32_t cap) {
    return read([&](uint8_t* o, uint32_t c, uint32_t* l) { return habanero_http_fetch(b(j), n(j), o, c, l); },
                cap);
  };
  EXPECT_EQ(fetch(R"({"url":"ftp://x"})", 4096).first, HABANERO_INVALID_ARGUMENT);
  EXPECT_EQ(fetch(R"({"url":"https://unknown.example/"})", 4096).first, HABANERO_UNAVAILABLE);
  host.fetch_answers["https://denied.example/"] = {.result = HABANERO_DENIED};
  EXPECT_EQ(fetch(R"({"url":"https://denied.example/"})", 4096).first, HABANERO_DENIED);
  host.fetch_answers["https://app.example/"] = {.body = "<p>hi</p>", .links = {"<x>; rel=a"}};
  std::string req = R"({"url":"https://app.example/","accept":"text/html"})";
  size_t before = host.fetches.size();
  // The buffer protocol: the answer is held for the retry, which fetches nothing.
  auto [r, v] = read([&](uint8_t* o, uint32_t c, uint32_t* l) {
    int32_t first = habanero_http_fetch(b(req), n(req), o, 8, l);
    EXPECT_EQ(first, HABANERO_BUFFER_TOO_SMALL);
    return habanero_http_fetch(b(req), n(req), o, c, l);
  });
  ASSERT_EQ(r, HABANERO_OK);
  EXPECT_EQ(host.fetches.size(), before + 1);
  EXPECT_EQ(host.fetches.back().accept, "text/html");
  EXPECT_NE(v.find("\"body\":\"<p>hi</p>\""), std::string::npos) << v;
  EXPECT_NE(v.find("\"status\":200"), std::string::npos);
  // Turtle is parsed by the host's parser, relative IRIs against the final URL.
  host.fetch_answers["https://pod.example/card"] = {
      .content_type = "text/turtle",
      .body = "<#me> <http://xmlns.com/foaf/0.1/name> \"Ana\" .",
  };
  auto [rt, vt] = fetch(R"({"url":"https://pod.example/card","parse":"turtle"})", 4096);
  ASSERT_EQ(rt, HABANERO_OK);
  EXPECT_NE(vt.find("https://pod.example/card#me"), std::string::npos) << vt;
  host.fetch_answers["https://pod.example/bad"] = {.body = "<a> <b"};
  EXPECT_EQ(fetch(R"({"url":"https://pod.example/bad","parse":"turtle"})", 4096).first,
            HABANERO_INVALID_ARGUMENT);
}

TEST(FakeHost, JwsSignVerifyAndJwkCalls) {
  ht::FakeHost host(none);
  auto sign = [](std::string header, std::string payload) {
    return read([&](uint8_t* o, uint32_t c, uint32_t* l) {
      return habanero_jws_sign(b(header), n(header), b(payload), n(payload), o, c, l);
    });
  };
  auto verify = [](std::string jws) {
    return read([&](uint8_t* o, uint32_t c, uint32_t* l) {
      return habanero_jws_verify(b(jws), n(jws), o, c, l);
    });
  };
  EXPECT_EQ(sign("[]", "x").first, HABANERO_INVALID_ARGUMENT);
  auto [r, jws] = sign(R"({"typ":"at+jwt"})", R"({"sub":"u1"})");
  ASSERT_EQ(r, HABANERO_OK);
  EXPECT_EQ(verify(jws), std::make_pair(int32_t{HABANERO_OK}, std::string(R"({"sub":"u1"})")));
  std::string tampered = jws;
  tampered[tampered.find('.') + 2] ^= 1;
  EXPECT_EQ(verify(tampered).first, HABANERO_MISMATCH);
  EXPECT_EQ(verify("a.b").first, HABANERO_MISMATCH);
  std::string none_alg = ht::base64url(R"({"alg":"none","kid":"fake-k1"})") + "." +
                         ht::base64url("{}") + ".";
  EXPECT_EQ(verify(none_alg).first, HABANERO_MISMATCH);

  // The thumbprint is RFC 7638's: SHA-256 of the required members in lexicographic order.
  std::string x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
  std::string y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
  std::string jwk = R"({"kty":"EC","y":")" + y + R"(","crv":"P-256","x":")" + x + R"(","use":"sig"})";
  auto [rt, thumb] = read([&](uint8_t* o, uint32_t c, uint32_t* l) {
    return habanero_crypto_jwk_thumbprint(b(jwk), n(jwk), o, c, l);
  });
  ASSERT_EQ(rt, HABANERO_OK);
  EXPECT_EQ(thumb, ht::base64url(ht::sha256(R"({"crv":"P-256","kty":"EC","x":")" + x +
                                            R"(","y":")" + y + R"("})")));
  std::string bad = R"({"kty":"oct","k":"c2VjcmV0"})";
  EXPECT_EQ(read([&](uint8_t* o, uint32_t c, uint32_t* l) {
              return habanero_crypto_jwk_thumbprint(b(bad), n(bad), o, c, l);
            }).first,
            HABANERO_INVALID_ARGUMENT);
  // A JWS that is not one, and a signature that does not verify with the key.
  auto verifyJwk = [&](std::string j) {
    return read([&](uint8_t* o, uint32_t c, uint32_t* l) {
      return habanero_crypto_jws_verify_jwk(b(j), n(j), b(jwk), n(jwk), o, c, l);
    });
  };
  EXPECT_EQ(verifyJwk("nonsense").first, HABANERO_INVALID_ARGUMENT);
  std::string forged = ht::base64url(R"({"alg":"ES256"})") + "." + ht::base64url("{}") + "." +
                       ht::base64url(std::string(64, '\x01'));
  EXPECT_EQ(verifyJwk(forged).first, HABANERO_MISMATCH);
}

}  // namespace
