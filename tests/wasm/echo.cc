// echo: reflects the request and exercises every capability, for the runtime tests.
// Routes are sub-paths under the mount; every JSON answer is 200 application/json and
// "result" is the raw habanero_result_t of the call under test.
//
//   (any other path)  {"method","path","query","mount","scheme","remote_addr",
//                      "x_test": header x-test or null,
//                      "a": form param a, "q": query param q — each a string, null when
//                           absent, "DUPLICATE" (given twice) or "INVALID" (bad encoding),
//                      "body_length": N}
//   /body             the raw request body, as application/octet-stream
//   /kv?op=put&key=&value=[&ttl=]           {"op","result"}
//   /kv?op=get|take&key=                    {"op","result","value": string or null}
//   /kv?op=cas&key=&value=[&expected=][&ttl=]  expected absent: only if the key is absent
//   /kv?op=delete&key=                      {"op","result"}
//   /crypto?op=random[&n=16]                {"op","result","hex"}
//   /crypto?op=sha256&data=                 {"op","result","hex"}
//   /crypto?op=hmac&key=&data=              {"op","result","hex"}
//   /crypto?op=equal&a=&b=                  {"op","result"}  (0 equal, 7 mismatch)
//   /jws?op=sign&payload=[&header=]         {"op","result","jws"}
//   /jws?op=verify&jws=                     {"op","result","payload"}
//   /clock                                  {"result","now_ms"}
//   /setting?name=                          {"result","value": string or null}
//   /log?level=&msg=                        {"result"}
//   /stdout           printf "echo: hello from stdout\n" and fprintf(stderr)
//                     "echo: hello from stderr\n", then {"result":0}
//   /status?code=     response_set_status(code); {"result"} (status stays 200 on failure)
//   /header?name=&value=   response_add_header; {"result"}
//   /late_header      writes the body's first bytes, then adds header x-late: body is
//                     {"first":true,"result":N}; N is 10 (BAD_STATE) for a host that
//                     streams, 0 for one that buffers the response (habanero.h allows both)
//   /redirect?status=&url=  response_redirect; no body on success, else {"result"}
//   /big?n=           writes n bytes of 'x' in 64 KiB chunks, stopping at the first
//                     failure, then logs "big: wrote <bytes> result <code>"
// A missing or malformed parameter gives 400 {"error": "..."}; unknown ops give 404.
#include <habanero.hh>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace sdk = habanero::sdk;

namespace {

// ---- a tiny JSON object writer ------------------------------------------------------------

class Json {
 public:
  Json& str(std::string_view key, std::string_view value) {
    keyOf(key);
    quote(value);
    return *this;
  }
  Json& optStr(std::string_view key, const std::optional<std::string>& value) {
    if (!value) return null(key);
    return str(key, *value);
  }
  Json& num(std::string_view key, int64_t value) {
    keyOf(key);
    out_ += std::to_string(value);
    return *this;
  }
  Json& boolean(std::string_view key, bool value) {
    keyOf(key);
    out_ += value ? "true" : "false";
    return *this;
  }
  Json& null(std::string_view key) {
    keyOf(key);
    out_ += "null";
    return *this;
  }
  Json& result(sdk::Result r) { return num("result", static_cast<int32_t>(r)); }
  Json& result(habanero_result_t r) { return num("result", r); }
  std::string done() { return out_.empty() ? "{}" : out_ + "}"; }

 private:
  void keyOf(std::string_view key) {
    out_ += out_.empty() ? "{" : ",";
    quote(key);
    out_ += ':';
  }
  void quote(std::string_view s) {
    constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7f) {
        out_ += "\\u00";
        out_ += kHex[c >> 4];
        out_ += kHex[c & 15];
      } else {
        out_ += static_cast<char>(c);
      }
    }
    out_ += '"';
  }
  std::string out_;
};

void sendJson(int32_t status, Json& j) { sdk::respond(status, "application/json", j.done()); }

void badRequest(std::string_view why) {
  Json j;
  j.str("error", why);
  sendJson(400, j);
}

// A query parameter; nullopt if absent, duplicated or invalid.
std::optional<std::string> q(std::string_view name) {
  std::string v;
  if (sdk::queryParam(name, v) != sdk::Result::Ok) return std::nullopt;
  return v;
}

std::optional<int64_t> qInt(std::string_view name) {
  std::optional<std::string> v = q(name);
  if (!v) return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
  return n;
}

// A parameter described for the reflection: value, null, "DUPLICATE" or "INVALID".
void describeParam(Json& j, std::string_view key, sdk::Source source, std::string_view name) {
  std::string v;
  switch (sdk::param(source, name, v)) {
    case sdk::Result::Ok:
      j.str(key, v);
      break;
    case sdk::Result::NotFound:
      j.null(key);
      break;
    case sdk::Result::Duplicate:
      j.str(key, "DUPLICATE");
      break;
    case sdk::Result::InvalidArgument:
      j.str(key, "INVALID");
      break;
    default:
      j.str(key, "ERROR");
      break;
  }
}

void handleReflect() {
  Json j;
  j.str("method", sdk::method())
      .str("path", sdk::path())
      .str("query", sdk::query())
      .str("mount", sdk::request(sdk::Field::Mount))
      .str("scheme", sdk::request(sdk::Field::Scheme))
      .str("remote_addr", sdk::request(sdk::Field::RemoteAddr))
      .optStr("x_test", sdk::header("x-test"));
  describeParam(j, "a", sdk::Source::Form, "a");
  describeParam(j, "q", sdk::Source::Query, "q");
  j.num("body_length", static_cast<int64_t>(sdk::body().size()));
  sendJson(200, j);
}

void handleKv() {
  std::optional<std::string> op = q("op"), key = q("key");
  if (!op || !key) return badRequest("op and key are required");
  int64_t ttl = qInt("ttl").value_or(0);
  Json j;
  j.str("op", *op);
  if (*op == "put" || *op == "cas") {
    std::optional<std::string> value = q("value");
    if (!value) return badRequest("value is required");
    if (*op == "put") {
      j.result(sdk::kvPut(*key, *value, ttl));
    } else {
      std::optional<std::string> expected = q("expected");
      std::optional<std::string_view> e;
      if (expected) e = *expected;
      j.result(sdk::kvCompareAndSet(*key, e, *value, ttl));
    }
  } else if (*op == "get" || *op == "take") {
    std::string value;
    sdk::Result r = *op == "get" ? sdk::kvGet(*key, value) : sdk::kvTake(*key, value);
    j.result(r);
    if (r == sdk::Result::Ok) {
      j.str("value", value);
    } else {
      j.null("value");
    }
  } else if (*op == "delete") {
    j.result(sdk::kvRemove(*key));
  } else {
    sdk::respond(404, "text/plain", "unknown op\n");
    return;
  }
  sendJson(200, j);
}

std::string_view asText(const sdk::Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

void handleCrypto() {
  std::optional<std::string> op = q("op");
  if (!op) return badRequest("op is required");
  Json j;
  j.str("op", *op);
  sdk::Digest d{};
  if (*op == "random") {
    int64_t n = qInt("n").value_or(16);
    if (n < 0 || n > (1 << 20)) return badRequest("n out of range");
    std::string out(static_cast<size_t>(n), '\0');
    habanero_result_t r =
        habanero_crypto_random(reinterpret_cast<uint8_t*>(out.data()), static_cast<uint32_t>(n));
    j.result(r).str("hex", r == HABANERO_OK ? sdk::hex(out) : "");
  } else if (*op == "sha256") {
    std::string data = q("data").value_or("");
    habanero_result_t r = habanero_crypto_sha256(reinterpret_cast<const uint8_t*>(data.data()),
                                                 static_cast<uint32_t>(data.size()), d.data());
    j.result(r).str("hex", sdk::hex(asText(d)));
  } else if (*op == "hmac") {
    std::string key = q("key").value_or(""), data = q("data").value_or("");
    habanero_result_t r = habanero_crypto_hmac_sha256(reinterpret_cast<const uint8_t*>(key.data()),
                                                      static_cast<uint32_t>(key.size()),
                                                      reinterpret_cast<const uint8_t*>(data.data()),
                                                      static_cast<uint32_t>(data.size()), d.data());
    j.result(r).str("hex", sdk::hex(asText(d)));
  } else if (*op == "equal") {
    std::string a = q("a").value_or(""), b = q("b").value_or("");
    j.result(habanero_crypto_equal(
        reinterpret_cast<const uint8_t*>(a.data()), static_cast<uint32_t>(a.size()),
        reinterpret_cast<const uint8_t*>(b.data()), static_cast<uint32_t>(b.size())));
  } else {
    sdk::respond(404, "text/plain", "unknown op\n");
    return;
  }
  sendJson(200, j);
}

void handleJws() {
  std::optional<std::string> op = q("op");
  if (!op) return badRequest("op is required");
  Json j;
  j.str("op", *op);
  std::string out;
  if (*op == "sign") {
    std::optional<std::string> payload = q("payload");
    if (!payload) return badRequest("payload is required");
    j.result(sdk::jwsSign(q("header").value_or(""), *payload, out)).str("jws", out);
  } else if (*op == "verify") {
    std::optional<std::string> token = q("jws");
    if (!token) return badRequest("jws is required");
    j.result(sdk::jwsVerify(*token, out)).str("payload", out);
  } else {
    sdk::respond(404, "text/plain", "unknown op\n");
    return;
  }
  sendJson(200, j);
}

void handleClock() {
  int64_t now = 0;
  Json j;
  j.result(habanero_clock_now_ms(&now)).num("now_ms", now);
  sendJson(200, j);
}

void handleSetting() {
  std::optional<std::string> name = q("name");
  if (!name) return badRequest("name is required");
  std::string value;
  sdk::Result r = sdk::setting(*name, value);
  Json j;
  j.result(r);
  if (r == sdk::Result::Ok) {
    j.str("value", value);
  } else {
    j.null("value");
  }
  sendJson(200, j);
}

void handleLog() {
  std::optional<int64_t> level = qInt("level");
  std::optional<std::string> msg = q("msg");
  if (!level || !msg) return badRequest("level and msg are required");
  Json j;
  j.result(habanero_log(static_cast<int32_t>(*level), reinterpret_cast<const uint8_t*>(msg->data()),
                        static_cast<uint32_t>(msg->size())));
  sendJson(200, j);
}

void handleStdout() {
  std::printf("echo: hello from stdout\n");
  std::fprintf(stderr, "echo: hello from stderr\n");
  std::fflush(stdout);
  std::fflush(stderr);
  Json j;
  j.num("result", 0);
  sendJson(200, j);
}

void handleStatus() {
  std::optional<int64_t> code = qInt("code");
  if (!code) return badRequest("code is required");
  habanero_result_t r = habanero_response_set_status(static_cast<int32_t>(*code));
  Json j;
  j.result(r);
  sdk::addHeader("content-type", "application/json");
  sdk::write(j.done());
}

void handleHeader() {
  std::optional<std::string> name = q("name"), value = q("value");
  if (!name || !value) return badRequest("name and value are required");
  Json j;
  j.result(sdk::addHeader(*name, *value));
  sendJson(200, j);
}

void handleLateHeader() {
  sdk::setStatus(200);
  sdk::write("{\"first\":true,");
  sdk::Result r = sdk::addHeader("x-late", "1");
  sdk::write("\"result\":" + std::to_string(static_cast<int32_t>(r)) + "}");
}

void handleRedirect() {
  std::optional<int64_t> code = qInt("status");
  std::optional<std::string> url = q("url");
  if (!code || !url) return badRequest("status and url are required");
  sdk::Result r = sdk::redirect(static_cast<int32_t>(*code), *url);
  if (r == sdk::Result::Ok) return;
  Json j;
  j.result(r);
  sendJson(200, j);
}

void handleBig() {
  std::optional<int64_t> n = qInt("n");
  if (!n || *n < 0) return badRequest("n is required");
  const std::string chunk(64 * 1024, 'x');
  int64_t written = 0;
  sdk::Result r = sdk::Result::Ok;
  while (written < *n) {
    size_t len = static_cast<size_t>(std::min<int64_t>(*n - written, chunk.size()));
    r = sdk::write(std::string_view(chunk).substr(0, len));
    if (r != sdk::Result::Ok) break;
    written += static_cast<int64_t>(len);
  }
  sdk::logInfo("big: wrote " + std::to_string(written) + " result " +
               std::to_string(static_cast<int32_t>(r)));
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t onRequest() {
  std::string sub = sdk::subPath();
  if (sub == "/body") {
    sdk::respond(200, "application/octet-stream", sdk::body());
  } else if (sub == "/kv") {
    handleKv();
  } else if (sub == "/crypto") {
    handleCrypto();
  } else if (sub == "/jws") {
    handleJws();
  } else if (sub == "/clock") {
    handleClock();
  } else if (sub == "/setting") {
    handleSetting();
  } else if (sub == "/log") {
    handleLog();
  } else if (sub == "/stdout") {
    handleStdout();
  } else if (sub == "/status") {
    handleStatus();
  } else if (sub == "/header") {
    handleHeader();
  } else if (sub == "/late_header") {
    handleLateHeader();
  } else if (sub == "/redirect") {
    handleRedirect();
  } else if (sub == "/big") {
    handleBig();
  } else {
    handleReflect();
  }
  return 0;
}
