// auth_probe: calls the host calls of design 0001 for the runtime tests. Every JSON
// answer is 200 application/json; "result" is the raw habanero_result_t of the call under
// test; host JSON values are passed through as strings (null when the call failed).
//
//   /                          {"page":"probe","rt": query rt or null}  (as an authenticator)
//   /session                   session_get            {"result","session"}
//   /require_login?return_to=[&login_hint=]   session_require_login; on OK the host's
//                              redirect is the response, else {"result"}
//   /end                       session_end            {"result"} (+ the host's Set-Cookie)
//   /attempt?rt=               login_attempt_get      {"result","attempt"}
//   /complete?rt=&sub=[&amr=]  login_complete (amr default ["pwd"]); on OK the host's
//                              redirect is the response, else {"result"}
//   /user?sub=                 user_get               {"result","user"}
//   /verify?email=&password=   user_verify_password   {"result","sub"}
//   /client?id=                client_get             {"result","client"}
//   /client_auth?id=&secret=   client_authenticate    {"result"}
//   /jwks                      jwks_get               {"result","jwks"}
//   /small                     each value-returning call with out_cap 0: {"<call>":result,
//                              "<call>_len": needed size}
//   /bad_pointers              each call with out-of-bounds pairs: {"<call>.<arg>":result}
//                              (all must be 2, INVALID_MEMORY) and nothing may happen
#include <habanero.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

class Json {
 public:
  Json& str(std::string_view key, std::string_view value) {
    keyOf(key);
    quote(value);
    return *this;
  }
  Json& optStr(std::string_view key, const std::optional<std::string>& value) {
    keyOf(key);
    if (value) quote(*value);
    else out_ += "null";
    return *this;
  }
  Json& num(std::string_view key, int64_t value) {
    keyOf(key);
    out_ += std::to_string(value);
    return *this;
  }
  std::string done() const { return out_.empty() ? "{}" : out_ + "}"; }

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

const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }
uint32_t len(std::string_view s) { return static_cast<uint32_t>(s.size()); }

void send(const Json& j) {
  static const char kType[] = "application/json";
  std::string body = j.done();
  habanero_response_set_status(200);
  habanero_response_add_header(bytes("content-type"), 12, bytes(kType), sizeof kType - 1);
  habanero_response_write(bytes(body), len(body));
}

// Copies a value through the out-buffer protocol, growing once on BUFFER_TOO_SMALL.
template <class Call>
habanero_result_t grow(std::string& out, Call&& call) {
  out.resize(64);
  uint32_t n = 0;
  habanero_result_t r = call(reinterpret_cast<uint8_t*>(out.data()), len(out), &n);
  if (r == HABANERO_BUFFER_TOO_SMALL) {
    out.resize(n);
    r = call(reinterpret_cast<uint8_t*>(out.data()), len(out), &n);
  }
  out.resize(r == HABANERO_OK ? n : 0);
  return r;
}

std::optional<std::string> q(std::string_view name) {
  std::string v;
  habanero_result_t r = grow(v, [&](uint8_t* p, uint32_t cap, uint32_t* n) {
    return habanero_request_param(HABANERO_PARAMS_QUERY, bytes(name), len(name), p, cap, n);
  });
  if (r != HABANERO_OK) return std::nullopt;
  return v;
}

std::string qOr(std::string_view name, std::string_view fallback = "") {
  std::optional<std::string> v = q(name);
  return v ? *v : std::string(fallback);
}

// Reports a value-returning call: {"result": r, key: value or null}.
template <class Call>
void report(std::string_view key, Call&& call) {
  std::string value;
  habanero_result_t r = grow(value, call);
  Json j;
  j.num("result", r);
  j.optStr(key, r == HABANERO_OK ? std::optional<std::string>(value) : std::nullopt);
  send(j);
}

void reportResult(habanero_result_t r) {
  Json j;
  j.num("result", r);
  send(j);
}

std::string subPath() {
  std::string path, mount;
  grow(path, [](uint8_t* p, uint32_t cap, uint32_t* n) {
    return habanero_request_get(HABANERO_REQUEST_PATH, p, cap, n);
  });
  grow(mount, [](uint8_t* p, uint32_t cap, uint32_t* n) {
    return habanero_request_get(HABANERO_REQUEST_MOUNT, p, cap, n);
  });
  std::string sub = mount == "/" ? path : path.substr(std::min(path.size(), mount.size()));
  return sub.empty() ? "/" : sub;
}

void small() {
  Json j;
  uint8_t none[1];
  uint32_t n = 0;
  auto record = [&](std::string_view name, habanero_result_t r) {
    j.num(name, r);
    j.num(std::string(name) + "_len", r == HABANERO_BUFFER_TOO_SMALL ? n : -1);
    n = 0;
  };
  std::string sub = qOr("sub"), id = qOr("id"), email = qOr("email"), pw = qOr("password");
  std::string rt = qOr("rt");
  record("jwks_get", habanero_jwks_get(none, 0, &n));
  record("session_get", habanero_session_get(none, 0, &n));
  record("user_get", habanero_user_get(bytes(sub), len(sub), none, 0, &n));
  record("client_get", habanero_client_get(bytes(id), len(id), none, 0, &n));
  record("login_attempt_get", habanero_login_attempt_get(bytes(rt), len(rt), none, 0, &n));
  record("user_verify_password",
         habanero_user_verify_password(bytes(email), len(email), bytes(pw), len(pw), none, 0, &n));
  send(j);
}

void badPointers() {
  const uint32_t end = static_cast<uint32_t>(__builtin_wasm_memory_size(0) * 65536u);
  struct Span {
    const char* name;
    uint32_t ptr, size;
  };
  const Span spans[] = {{"oob", 0xFFFFFFF0u, 0x100u},
                        {"overflow", 0xFFFFFF00u, 0xFFFFFFFFu},
                        {"wrap", 0x10u, 0xFFFFFFF8u},
                        {"straddle", end - 8u, 16u}};
  static uint8_t good[256];
  uint32_t good_len = 0;
  auto* const out_len_oob = reinterpret_cast<uint32_t*>(static_cast<uintptr_t>(end - 2));
  const std::string_view kRt = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  const std::string_view kAmr = "[\"pwd\"]";
  const std::string_view kPath = "/x";
  Json j;
  for (const Span& s : spans) {
    auto* p = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(s.ptr));
    const std::string suffix = std::string("_") + s.name;
    auto rec = [&](std::string_view call, std::string_view arg, habanero_result_t r) {
      j.num(std::string(call) + "." + std::string(arg) + suffix, r);
    };
    rec("jwks_get", "out", habanero_jwks_get(p, s.size, &good_len));
    rec("session_get", "out", habanero_session_get(p, s.size, &good_len));
    rec("session_require_login", "return_to",
        habanero_session_require_login(p, s.size, bytes(""), 0));
    rec("session_require_login", "login_hint",
        habanero_session_require_login(bytes(kPath), len(kPath), p, s.size));
    rec("login_attempt_get", "rt", habanero_login_attempt_get(p, s.size, good, sizeof good,
                                                              &good_len));
    rec("login_attempt_get", "out",
        habanero_login_attempt_get(bytes(kRt), len(kRt), p, s.size, &good_len));
    rec("login_complete", "rt",
        habanero_login_complete(p, s.size, bytes("s"), 1, bytes(kAmr), len(kAmr)));
    rec("login_complete", "subject",
        habanero_login_complete(bytes(kRt), len(kRt), p, s.size, bytes(kAmr), len(kAmr)));
    rec("login_complete", "amr",
        habanero_login_complete(bytes(kRt), len(kRt), bytes("s"), 1, p, s.size));
    rec("user_get", "subject", habanero_user_get(p, s.size, good, sizeof good, &good_len));
    rec("user_get", "out", habanero_user_get(bytes("s"), 1, p, s.size, &good_len));
    rec("user_verify_password", "email",
        habanero_user_verify_password(p, s.size, bytes("pw"), 2, good, sizeof good, &good_len));
    rec("user_verify_password", "password",
        habanero_user_verify_password(bytes("a@b"), 3, p, s.size, good, sizeof good, &good_len));
    rec("user_verify_password", "out",
        habanero_user_verify_password(bytes("a@b"), 3, bytes("pw"), 2, p, s.size, &good_len));
    rec("client_get", "client_id", habanero_client_get(p, s.size, good, sizeof good, &good_len));
    rec("client_get", "out", habanero_client_get(bytes("web"), 3, p, s.size, &good_len));
    rec("client_authenticate", "client_id",
        habanero_client_authenticate(p, s.size, bytes("x"), 1));
    rec("client_authenticate", "secret",
        habanero_client_authenticate(bytes("web"), 3, p, s.size));
  }
  j.num("jwks_get.out_len", habanero_jwks_get(good, sizeof good, out_len_oob));
  j.num("session_get.out_len", habanero_session_get(good, sizeof good, out_len_oob));
  j.num("login_attempt_get.out_len",
        habanero_login_attempt_get(bytes(kRt), len(kRt), good, sizeof good, out_len_oob));
  j.num("user_get.out_len", habanero_user_get(bytes("s"), 1, good, sizeof good, out_len_oob));
  j.num("user_verify_password.out_len",
        habanero_user_verify_password(bytes("a@b"), 3, bytes("pw"), 2, good, sizeof good,
                                      out_len_oob));
  j.num("client_get.out_len",
        habanero_client_get(bytes("web"), 3, good, sizeof good, out_len_oob));
  send(j);
}

}  // namespace

HABANERO_EXPORT("habanero_on_request") int32_t on_request(void) {
  const std::string sub = subPath();
  if (sub == "/") {
    Json j;
    j.str("page", "probe");
    j.optStr("rt", q("rt"));
    send(j);
  } else if (sub == "/session") {
    report("session", [](uint8_t* p, uint32_t cap, uint32_t* n) {
      return habanero_session_get(p, cap, n);
    });
  } else if (sub == "/require_login") {
    std::string to = qOr("return_to"), hint = qOr("login_hint");
    habanero_result_t r =
        habanero_session_require_login(bytes(to), len(to), bytes(hint), len(hint));
    if (r != HABANERO_OK) reportResult(r);
  } else if (sub == "/end") {
    reportResult(habanero_session_end());
  } else if (sub == "/attempt") {
    std::string rt = qOr("rt");
    report("attempt", [&](uint8_t* p, uint32_t cap, uint32_t* n) {
      return habanero_login_attempt_get(bytes(rt), len(rt), p, cap, n);
    });
  } else if (sub == "/complete") {
    std::string rt = qOr("rt"), subject = qOr("sub"), amr = qOr("amr", "[\"pwd\"]");
    habanero_result_t r = habanero_login_complete(bytes(rt), len(rt), bytes(subject),
                                                  len(subject), bytes(amr), len(amr));
    if (r != HABANERO_OK) reportResult(r);
  } else if (sub == "/user") {
    std::string subject = qOr("sub");
    report("user", [&](uint8_t* p, uint32_t cap, uint32_t* n) {
      return habanero_user_get(bytes(subject), len(subject), p, cap, n);
    });
  } else if (sub == "/verify") {
    std::string email = qOr("email"), pw = qOr("password");
    report("sub", [&](uint8_t* p, uint32_t cap, uint32_t* n) {
      return habanero_user_verify_password(bytes(email), len(email), bytes(pw), len(pw), p, cap,
                                           n);
    });
  } else if (sub == "/client") {
    std::string id = qOr("id");
    report("client", [&](uint8_t* p, uint32_t cap, uint32_t* n) {
      return habanero_client_get(bytes(id), len(id), p, cap, n);
    });
  } else if (sub == "/client_auth") {
    std::string id = qOr("id"), secret = qOr("secret");
    reportResult(habanero_client_authenticate(bytes(id), len(id), bytes(secret), len(secret)));
  } else if (sub == "/jwks") {
    report("jwks", [](uint8_t* p, uint32_t cap, uint32_t* n) {
      return habanero_jwks_get(p, cap, n);
    });
  } else if (sub == "/small") {
    small();
  } else if (sub == "/bad_pointers") {
    badPointers();
  } else {
    static const char kNotFound[] = "not found\n";
    habanero_response_set_status(404);
    habanero_response_write(bytes(kNotFound), sizeof kNotFound - 1);
  }
  return 0;
}
