// Capability "keys": JWS with host-held keys; the private keys never enter
// guest memory (docs/abi.md §6).
#include <nlohmann/json.hpp>

#include "auth/domain_events.h"
#include "crypto/base64url.h"
#include "runtime/host_calls/glue.h"

namespace habanero::runtime::host {
namespace {

using Json = nlohmann::json;

// The domain event of a token the host signed for an extension: what it is and
// for whom, from its JOSE header and claims (ids only; never the token).
void publishTokenIssued(Call& c, std::string_view header, std::string_view payload,
                        std::string_view jws) {
  Json h = Json::parse(header, nullptr, false);
  Json claims = Json::parse(payload, nullptr, false);
  if (!h.is_object() || !claims.is_object()) return;
  std::string typ = h.value("typ", std::string());
  Json fields = {{"extension", c.st.extension}};
  if (typ == "at+jwt" || typ == "application/at+jwt") {
    fields["kind"] = "access_token";
  } else if (claims.contains("azp") || claims.contains("nonce") || claims.contains("at_hash")) {
    fields["kind"] = "id_token";
  } else {
    fields["kind"] = "jwt";
  }
  // The signed header names the key.
  size_t dot = jws.find('.');
  if (dot != std::string_view::npos) {
    auto decoded = crypto::base64UrlDecode(jws.substr(0, dot));
    if (decoded.ok()) {
      Json signed_header = Json::parse(*decoded, nullptr, false);
      if (signed_header.is_object() && signed_header.contains("kid")) {
        fields["kid"] = signed_header["kid"];
      }
    }
  }
  auto copy = [&](const char* from, const char* to) {
    if (claims.contains(from) && !claims[from].is_null()) fields[to] = claims[from];
  };
  copy("sub", "subject");
  copy("client_id", "client_id");
  if (!fields.contains("client_id")) copy("azp", "client_id");
  if (!fields.contains("client_id") && claims.contains("aud") && claims["aud"].is_string()) {
    fields["client_id"] = claims["aud"];
  }
  copy("jti", "jti");
  copy("scope", "scope");
  copy("amr", "amr");
  copy("iat", "iat");
  copy("exp", "exp");
  fields["ip"] = c.request().remote_addr;
  c.services().domain_events->publish(auth::topics::kTokenIssued, std::move(fields));
}

}  // namespace

Result jwsSign(Call& c, uint32_t header_ptr, uint32_t header_len, uint32_t payload_ptr,
               uint32_t payload_len, uint32_t out, uint32_t cap, uint32_t out_len) {
  auto header = c.mem.view(header_ptr, header_len);
  auto payload = c.mem.view(payload_ptr, payload_len);
  if (!header || !payload || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto jws = c.services().signer->sign(*header, *payload);
  if (!jws.ok()) {
    if (jws.status().code() == absl::StatusCode::kInvalidArgument) return HABANERO_INVALID_ARGUMENT;
    return c.unavailable(jws.status());
  }
  if (c.services().domain_events != nullptr) publishTokenIssued(c, *header, *payload, *jws);
  return c.writeOut(out, cap, out_len, *jws);
}

Result jwsVerify(Call& c, uint32_t jws_ptr, uint32_t jws_len, uint32_t out, uint32_t cap,
                 uint32_t out_len) {
  auto jws = c.mem.view(jws_ptr, jws_len);
  if (!jws || !c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  auto payload = c.services().signer->verify(*jws);
  if (!payload.ok()) return HABANERO_MISMATCH;
  return c.writeOut(out, cap, out_len, *payload);
}

Result jwksGet(Call& c, uint32_t out, uint32_t cap, uint32_t out_len) {
  if (!c.outBufferValid(out, cap, out_len)) return HABANERO_INVALID_MEMORY;
  return c.writeOut(out, cap, out_len, c.services().signer->jwks());
}

}  // namespace habanero::runtime::host
