// Fuzzes the guest library's pure OAuth parsers (sdk/cpp/habanero/: oauth_params.hh,
// codec.hh, text.hh, redirect_uri.hh), compiled natively. Every input goes through every parser; two-argument checks
// (redirect URI matching, query building) split it at the first '\n'. Besides "no crash, no
// sanitizer report" it checks the properties the headers promise:
//   - base64url / base64 decoding is strict, so decode → encode gives the input back, and
//     encode → decode gives any bytes back;
//   - form decoding inverts percentEncode; isValidUtf8 agrees with a reference decoder;
//   - parseScope / parsePrompt / parseBasicAuth / parseBearer accept what they emit
//     (re-serialised) and give the same value back; their limits hold;
//   - redirectUriMatches is reflexive exactly on valid URIs and symmetric on valid ones;
//   - appendQuery keeps the URI as a prefix and its parameters decode back.
// A failed property calls abort(), which libFuzzer reports as a crash with the input.
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <habanero.hh>
#include <habanero/codec.hh>
#include <habanero/json.hh>
#include <habanero/oauth_params.hh>
#include <habanero/pkce.hh>
#include <habanero/redirect_uri.hh>
#include <habanero/text.hh>

namespace {

using namespace habanero::sdk;

void check(bool ok) {
  if (!ok) std::abort();
}

// RFC 3629 §4 byte-range grammar, written independently of isValidUtf8.
bool referenceUtf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
    size_t left = s.size() - i;
    if (p[0] <= 0x7f) {
      i += 1;
    } else if (in(p[0], 0xc2, 0xdf)) {
      if (left < 2 || !in(p[1], 0x80, 0xbf)) return false;
      i += 2;
    } else if (in(p[0], 0xe0, 0xef)) {
      if (left < 3) return false;
      unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80;
      unsigned hi = p[0] == 0xed ? 0x9f : 0xbf;
      if (!in(p[1], lo, hi) || !in(p[2], 0x80, 0xbf)) return false;
      i += 3;
    } else if (in(p[0], 0xf0, 0xf4)) {
      if (left < 4) return false;
      unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80;
      unsigned hi = p[0] == 0xf4 ? 0x8f : 0xbf;
      if (!in(p[1], lo, hi) || !in(p[2], 0x80, 0xbf) || !in(p[3], 0x80, 0xbf)) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

void fuzzCodec(std::string_view in) {
  if (auto d = base64urlDecode(in)) {
    check(d->size() <= in.size());
    check(base64urlEncode(*d) == in);
  }
  auto e = base64urlEncode(in);
  auto back = base64urlDecode(e);
  check(back && *back == in);

  if (auto d = base64Decode(in)) {
    check(d->size() <= in.size());
    check(base64Encode(*d) == in);
  }
  auto std_back = base64Decode(base64Encode(in));
  check(std_back && *std_back == in);

  if (auto d = formUrlDecode(in)) {
    check(d->size() <= in.size());
    auto again = formUrlDecode(percentEncode(*d));
    check(again && *again == *d);
  }
  auto pe = formUrlDecode(percentEncode(in));
  check(pe && *pe == in);

  check(isValidUtf8(in) == referenceUtf8(in));
  check(hex(in).size() == 2 * in.size());
  std::string html = htmlEscape(in);
  check(html.find_first_of("<>\"'") == std::string::npos);

  for (int depth : {0, 1, 8, 32}) {
    if (jsonDepthWithin(in, depth)) check(jsonDepthWithin(in, depth + 1));
  }
}

void fuzzParams(std::string_view in) {
  (void)isVsChars(in);
  if (isValidClientId(in)) check(!in.empty() && in.size() <= kMaxClientIdBytes);

  if (auto scopes = parseScope(in)) {
    check(scopes->size() <= kMaxScopeTokens);
    for (size_t i = 0; i < scopes->size(); ++i) {
      check(isScopeToken((*scopes)[i]));
      for (size_t j = 0; j < i; ++j) check((*scopes)[i] != (*scopes)[j]);
    }
    auto again = parseScope(joinScope(*scopes));
    check(again && *again == *scopes);
    check(isSubset(*scopes, *scopes));
  }

  if (auto p = parsePrompt(in)) {
    check(!(p->none && (p->login || p->consent || p->select_account)));
    std::vector<std::string> words;
    if (p->none) words.push_back("none");
    if (p->login) words.push_back("login");
    if (p->consent) words.push_back("consent");
    if (p->select_account) words.push_back("select_account");
    auto again = parsePrompt(joinScope(words));
    check(again && again->none == p->none && again->login == p->login &&
          again->consent == p->consent && again->select_account == p->select_account);
  }

  if (auto n = parseNonNegative(in)) {
    check(*n >= 0);
    int64_t ref = -1;
    auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), ref);
    check(ec == std::errc() && end == in.data() + in.size() && ref == *n);
    check(parseNonNegative(std::to_string(*n)) == n);
  }

  if (isPkceVerifier(in)) check(in.size() >= 43 && in.size() <= 128);
  if (isS256Challenge(in)) {
    auto d = base64urlDecode(in);
    check(d && d->size() == 32 && base64urlEncode(*d) == in);
  }

  // Basic: the raw header, a Basic header around the raw bytes, and one around their
  // base64 (so the credential decoding is reached without the fuzzer finding base64).
  std::string around = "Basic " + std::string(in);
  std::string encoded = "Basic " + base64Encode(in);
  for (std::string_view header : {in, std::string_view(around), std::string_view(encoded)}) {
    auto c = parseBasicAuth(header);
    if (!c) continue;
    check(isBasicAuth(header));
    check(isValidClientId(c->client_id) && c->secret.size() <= kMaxSecretBytes);
    check(isValidUtf8(c->client_id) && isValidUtf8(c->secret) && !hasControl(c->secret));
    std::string re =
        "Basic " + base64Encode(percentEncode(c->client_id) + ":" + percentEncode(c->secret));
    auto again = parseBasicAuth(re);
    check(again && again->client_id == c->client_id && again->secret == c->secret);
  }

  std::string bearer = "Bearer " + std::string(in);
  for (std::string_view header : {in, std::string_view(bearer)}) {
    auto t = parseBearer(header);
    if (!t) continue;
    check(isBearerAuth(header) && !t->empty() && t->size() <= kMaxTokenBytes);
    check(t->data() >= header.data() && t->data() + t->size() <= header.data() + header.size());
    std::string re = "bearer " + std::string(*t);
    auto again = parseBearer(re);
    check(again && *again == *t);
  }

  (void)mediaTypeIs(in, "application/x-www-form-urlencoded");
  (void)mediaTypeIs(in, "application/json");
  (void)isAccessTokenTyp(in);

  if (looksLikeJws(in)) {
    check(in.size() <= kMaxTokenBytes);
    if (auto header = jwsHeader(in)) (void)jsonDepthWithin(*header, 16);
  } else {
    (void)jwsHeader(in);
  }
  // Only the shape: 43 base64url characters need not be canonical base64url (the last
  // character may carry non-zero trailing bits), so strict decoding may refuse them.
  if (looksLikeOpaqueToken(in)) {
    auto d = base64urlDecode(in);
    check(in.size() == 43 && (!d || d->size() == 32));
  }
}

void fuzzUri(std::string_view in) {
  size_t nl = in.find('\n');
  std::string_view a = in.substr(0, nl);
  std::string_view b = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  for (std::string_view u : {a, b, in}) {
    bool valid = isValidRedirectUri(u);
    check(redirectUriMatches(u, u) == valid);
  }
  bool ab = redirectUriMatches(a, b);
  if (ab) check(isValidRedirectUri(b));
  if (isValidRedirectUri(a) && isValidRedirectUri(b)) check(ab == redirectUriMatches(b, a));
  std::vector<std::string_view> registered{a};
  check(redirectUriAllowed(registered, b) == ab);

  // appendQuery on a URI without '?': the query after the URI decodes back to the
  // parameters. The second part gives one name and value, split at its first '='.
  if (a.find('?') == std::string_view::npos) {
    size_t eq = b.find('=');
    std::string name(b.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : b.substr(eq + 1));
    std::vector<std::pair<std::string, std::string>> params{{name, value}, {"state", "s"}};
    std::string out = appendQuery(a, params);
    check(out.size() > a.size() && out.compare(0, a.size(), a) == 0 && out[a.size()] == '?');
    std::string_view query = std::string_view(out).substr(a.size() + 1);
    size_t amp = query.find('&');
    check(amp != std::string_view::npos && query.substr(amp + 1) == "state=s");
    std::string_view first = query.substr(0, amp);
    size_t feq = first.find('=');
    check(feq != std::string_view::npos);
    auto n = formUrlDecode(first.substr(0, feq));
    auto v = formUrlDecode(first.substr(feq + 1));
    check(n && v && *n == name && *v == value);
  }
  check(appendQuery(a, {}) == a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;  // parsers are linear; larger inputs only slow the search
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzzCodec(input);
  fuzzParams(input);
  fuzzUri(input);
  return 0;
}
