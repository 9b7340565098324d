#include "auth/clients.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include <spdlog/spdlog.h>

#include "auth/records.h"
#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "habanero/strings.h"

namespace habanero::auth {

enum class SecretKind { kNone, kSha256, kArgon2id };

struct Clients::Entry {
  RegisteredClient registered;
  SecretKind kind = SecretKind::kNone;
  std::string secret_hash;  // kSha256: the raw digest; kArgon2id: the PHC string
  // kArgon2id: HMAC-SHA-256 under a per-process key of the last secret that
  // verified, so a correct chosen secret costs Argon2id once per process and
  // registration (a changed or removed client is a new Entry: the cache goes
  // with the old snapshot). Never stored, never logged.
  mutable std::mutex verified_mu;
  mutable std::string verified_mac ABSL_GUARDED_BY(verified_mu);
};

namespace {

using internal::Json;

constexpr size_t kMaxClientIdBytes = 255;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxUriBytes = 2048;
constexpr size_t kGeneratedSecretBytes = 32;  // 256 bits
// The key of the verified-secret cache: random per process.
const std::string& verifiedSecretKey() {
  static const std::string key = [] {
    absl::StatusOr<std::string> k = crypto::randomBytes(32);
    if (!k.ok()) std::abort();  // the CSPRNG failed: nothing is safe
    return *k;
  }();
  return key;
}

// Compared against when the client is unknown or public, so that path costs
// what a real comparison costs.
const std::string kDummyDigest(crypto::kSha256Bytes, '\x5a');

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

bool isScopeToken(std::string_view s) {
  // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e && u != '"' && u != '\\';
  });
}

bool isLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

// Keeps the first occurrence of each value, in order.
std::vector<std::string> unique(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

const char* kindName(SecretKind kind) {
  switch (kind) {
    case SecretKind::kSha256: return "sha256";
    case SecretKind::kArgon2id: return "argon2id";
    case SecretKind::kNone: break;
  }
  return "none";
}

}  // namespace

std::string registrationJson(const Client& c) {
  Json j = {{"client_id", c.client_id},
            {"name", c.name},
            {"public", c.is_public},
            {"redirect_uris", c.redirect_uris},
            {"post_logout_redirect_uris", c.post_logout_redirect_uris},
            {"grant_types", c.grant_types},
            {"scopes", c.scopes},
            {"first_party", c.first_party},
            {"token_format", c.token_format}};
  return internal::dump(j);
}

namespace {

// The stored record: the registration plus the secret's hash (base64url for
// SHA-256, the PHC string for Argon2id).
std::string encode(const Client& c, SecretKind kind, std::string_view stored_hash) {
  Json j = {{"v", 1},
            {"client_id", c.client_id},
            {"name", c.name},
            {"public", c.is_public},
            {"redirect_uris", c.redirect_uris},
            {"post_logout_redirect_uris", c.post_logout_redirect_uris},
            {"grant_types", c.grant_types},
            {"scopes", c.scopes},
            {"first_party", c.first_party},
            {"token_format", c.token_format},
            {"created_ms", c.created_ms},
            {"secret_kind", kindName(kind)},
            {"secret_hash", std::string(stored_hash)}};
  return internal::dump(j);
}

absl::StatusOr<std::shared_ptr<const Clients::Entry>> decode(std::string_view key,
                                                             std::string_view text) {
  Json j = internal::parse(text);
  auto entry = std::make_shared<Clients::Entry>();
  Client& c = entry->registered.client;
  std::string kind, hash;
  bool ok = internal::readString(j, "client_id", c.client_id) && c.client_id == key &&
            internal::readString(j, "name", c.name) &&
            internal::readBool(j, "public", c.is_public) &&
            internal::readStrings(j, "redirect_uris", c.redirect_uris) &&
            internal::readStrings(j, "post_logout_redirect_uris", c.post_logout_redirect_uris) &&
            internal::readStrings(j, "grant_types", c.grant_types) &&
            internal::readStrings(j, "scopes", c.scopes) &&
            internal::readBool(j, "first_party", c.first_party) &&
            internal::readString(j, "token_format", c.token_format) &&
            internal::readInt(j, "created_ms", c.created_ms) &&
            internal::readString(j, "secret_kind", kind) &&
            internal::readString(j, "secret_hash", hash);
  if (ok) {
    if (kind == "none" && c.is_public) {
      entry->kind = SecretKind::kNone;
    } else if (kind == "sha256" && !c.is_public) {
      absl::StatusOr<std::string> digest = crypto::base64UrlDecode(hash);
      ok = digest.ok() && digest->size() == crypto::kSha256Bytes;
      if (ok) {
        entry->kind = SecretKind::kSha256;
        entry->secret_hash = std::move(*digest);
      }
    } else if (kind == "argon2id" && !c.is_public) {
      entry->kind = SecretKind::kArgon2id;
      entry->secret_hash = std::move(hash);
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return absl::DataLossError(
        strCat(Clients::kNamespace, ": the record of client '", key, "' is unreadable"));
  }
  entry->registered.json = registrationJson(c);
  return std::shared_ptr<const Clients::Entry>(std::move(entry));
}

absl::Status checkUri(std::string_view uri, std::string_view label);

absl::Status checkClient(const NewClient& in) {
  auto bad = [](std::string_view field, std::string_view why) {
    return absl::InvalidArgumentError(strCat(field, ": ", why));
  };
  if (in.client_id.empty() || in.client_id.size() > kMaxClientIdBytes ||
      !std::all_of(in.client_id.begin(), in.client_id.end(),
                   [](char c) { return c >= 0x21 && c <= 0x7e; })) {
    return bad("client id", "must be 1..255 printable ASCII characters without spaces");
  }
  if (!internal::isPlainText(in.name, kMaxNameBytes)) {
    return bad("name", "must be printable UTF-8 text of at most 256 bytes");
  }
  if (in.is_public && in.secret) return bad("secret", "a public client has no secret");
  if (in.secret) {
    if (in.secret->empty()) return bad("secret", "empty");
    if (in.secret->size() > limits::kMaxClientSecretBytes) {
      return bad("secret", strCat("longer than ", limits::kMaxClientSecretBytes, " bytes"));
    }
  }
  for (const std::string& uri : in.redirect_uris) RETURN_IF_ERROR(checkRedirectUri(uri));
  for (const std::string& uri : in.post_logout_redirect_uris) {
    RETURN_IF_ERROR(checkUri(uri, "post-logout redirect URI"));
  }
  if (in.grant_types.empty()) return bad("grant types", "none given");
  for (const std::string& g : in.grant_types) {
    if (std::find(std::begin(Clients::kGrantTypes), std::end(Clients::kGrantTypes), g) ==
        std::end(Clients::kGrantTypes)) {
      return bad("grant types",
                 strCat("unknown grant type '", g,
                        "' (known: authorization_code, refresh_token, client_credentials)"));
    }
  }
  auto has = [&](std::string_view g) {
    return std::find(in.grant_types.begin(), in.grant_types.end(), g) != in.grant_types.end();
  };
  if (has("authorization_code") && in.redirect_uris.empty()) {
    return bad("redirect URI", "authorization_code needs at least one --redirect-uri");
  }
  if (in.is_public && has("client_credentials")) {
    return bad("grant types", "a public client cannot use client_credentials");
  }
  for (const std::string& s : in.scopes) {
    if (!isScopeToken(s)) return bad("scopes", strCat("'", s, "' is not a valid scope"));
  }
  if (in.token_format != "jwt" && in.token_format != "opaque") {
    return bad("token format", strCat("expected jwt or opaque, got '", in.token_format, "'"));
  }
  return absl::OkStatus();
}

absl::Status checkUri(std::string_view uri, std::string_view label) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(strCat(label, " '", uri, "': ", why));
  };
  if (uri.empty()) return bad("empty");
  if (uri.size() > kMaxUriBytes) return bad("longer than 2048 bytes");
  for (char c : uri) {
    auto u = static_cast<unsigned char>(c);
    bool excluded = std::string_view("\"<>\\^`{|}").find(c) != std::string_view::npos;
    if (u <= 0x20 || u >= 0x7f || excluded) {
      return bad("contains a space, a control character or a character URIs do not allow");
    }
  }
  if (uri.find('#') != std::string_view::npos) return bad("must not contain a fragment ('#')");
  size_t colon = uri.find(':');
  bool scheme_ok = colon != std::string_view::npos && colon > 0 &&
                   std::isalpha(static_cast<unsigned char>(uri[0]));
  for (size_t i = 1; scheme_ok && i < colon; ++i) {
    char c = uri[i];
    scheme_ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok) return bad("must be an absolute URI (https://…, or an app's own scheme)");
  std::string scheme = lower(uri.substr(0, colon));
  if (scheme == "javascript" || scheme == "data" || scheme == "file" || scheme == "vbscript") {
    return bad(strCat("the ", scheme, ": scheme is not allowed"));
  }
  if (scheme != "http" && scheme != "https") {
    if (colon + 1 == uri.size()) return bad("has nothing after the scheme");
    return absl::OkStatus();  // a native app's private-use scheme (RFC 8252 §7.1)
  }
  std::string_view rest = uri.substr(colon + 1);
  if (!rest.starts_with("//")) return bad("must be an absolute URI with a host (https://host/…)");
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) return bad("must not contain user info ('@')");
  std::string_view host = authority;
  if (host.starts_with("[")) {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("has a malformed IPv6 host");
    std::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty() && after[0] != ':') return bad("has a malformed host");
    authority = after;  // the port part, checked below
  } else {
    size_t port_at = host.find(':');
    authority = port_at == std::string_view::npos ? std::string_view() : host.substr(port_at);
    host = host.substr(0, port_at);
  }
  if (host.empty()) return bad("has no host");
  if (!authority.empty()) {
    std::string_view port = authority.substr(1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("has a malformed port");
    }
  }
  if (scheme == "http" && !isLoopbackHost(lower(host))) {
    return bad("plain http is only allowed for localhost, 127.0.0.1 and [::1]; use https");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status checkRedirectUri(std::string_view uri) { return checkUri(uri, "redirect URI"); }

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find_first_of(", \t\r\n", i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) out.emplace_back(text.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

Clients::Clients(Storage& storage, const Clock& clock)
    : storage_(storage), clock_(clock), snapshot_(std::make_shared<const Snapshot>()) {}

absl::StatusOr<std::unique_ptr<Clients>> Clients::open(Storage& storage, const Clock& clock) {
  std::unique_ptr<Clients> clients(new Clients(storage, clock));
  RETURN_IF_ERROR(clients->reload());
  return clients;
}

absl::StatusOr<AddedClient> Clients::add(const NewClient& client) {
  return store(client, /*replace=*/false);
}

absl::StatusOr<AddedClient> Clients::upsert(const NewClient& client) {
  return store(client, /*replace=*/true);
}

absl::StatusOr<AddedClient> Clients::store(const NewClient& in_raw, bool replace) {
  NewClient in = in_raw;
  in.redirect_uris = unique(in.redirect_uris);
  in.post_logout_redirect_uris = unique(in.post_logout_redirect_uris);
  in.grant_types = unique(in.grant_types);
  in.scopes = unique(in.scopes);
  RETURN_IF_ERROR(checkClient(in));

  AddedClient added;
  Client& c = added.client;
  c.client_id = in.client_id;
  c.name = in.name;
  c.is_public = in.is_public;
  c.redirect_uris = in.redirect_uris;
  c.post_logout_redirect_uris = in.post_logout_redirect_uris;
  c.grant_types = in.grant_types;
  c.scopes = in.scopes;
  c.first_party = in.first_party;
  c.token_format = in.token_format;
  c.created_ms = clock_.nowMs();

  SecretKind kind = SecretKind::kNone;
  std::string stored_hash;
  if (in.secret) {
    kind = SecretKind::kArgon2id;
    ASSIGN_OR_RETURN(stored_hash, crypto::argon2idHash(*in.secret));
  } else if (!in.is_public) {
    kind = SecretKind::kSha256;
    ASSIGN_OR_RETURN(added.generated_secret, internal::randomToken(kGeneratedSecretBytes));
    stored_hash = crypto::base64UrlEncode(crypto::sha256(added.generated_secret));
  }
  if (replace) {
    RETURN_IF_ERROR(storage_.put(kNamespace, c.client_id, encode(c, kind, stored_hash), 0));
    refreshAfterChange();
    return added;
  }
  ASSIGN_OR_RETURN(bool created, storage_.compareAndSet(kNamespace, c.client_id, std::nullopt,
                                                        encode(c, kind, stored_hash), 0));
  if (!created) {
    return absl::AlreadyExistsError(strCat("client '", c.client_id, "' already exists"));
  }
  // Stored: the caller must get the generated secret even if the refresh fails.
  refreshAfterChange();
  return added;
}

absl::Status Clients::remove(std::string_view client_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> existing, storage_.get(kNamespace, client_id));
  if (!existing) return absl::NotFoundError(strCat("no client '", client_id, "'"));
  RETURN_IF_ERROR(storage_.remove(kNamespace, client_id));
  refreshAfterChange();
  return absl::OkStatus();
}

void Clients::refreshAfterChange() {
  absl::Status s = reload();
  if (!s.ok()) {
    spdlog::error("clients: stored, but the snapshot was not refreshed: {}", sv(s.message()));
  }
}

absl::StatusOr<std::vector<Client>> Clients::list(size_t limit) const {
  ASSIGN_OR_RETURN(std::vector<KeyValue> records, storage_.list(kNamespace, limit));
  std::vector<Client> out;
  for (const KeyValue& kv : records) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Entry> entry, decode(kv.key, kv.value));
    out.push_back(entry->registered.client);
  }
  return out;
}

absl::Status Clients::reload() {
  std::lock_guard<std::mutex> serial(reload_mu_);
  ASSIGN_OR_RETURN(std::vector<KeyValue> records,
                   storage_.list(kNamespace, limits::kMaxListRecords));
  auto next = std::make_shared<Snapshot>();
  for (const KeyValue& kv : records) {
    absl::StatusOr<std::shared_ptr<const Entry>> entry = decode(kv.key, kv.value);
    if (!entry.ok()) {
      spdlog::error("clients: skipping a registration: {}", sv(entry.status().message()));
      continue;
    }
    next->emplace(kv.key, std::move(*entry));
  }
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = std::move(next);
  return absl::OkStatus();
}

std::shared_ptr<const Clients::Snapshot> Clients::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

std::shared_ptr<const RegisteredClient> Clients::find(std::string_view client_id) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  auto it = snap->find(client_id);
  if (it == snap->end()) return nullptr;
  // Shares ownership of the entry; exposes only the registration.
  return std::shared_ptr<const RegisteredClient>(it->second, &it->second->registered);
}

bool Clients::authenticate(std::string_view client_id, std::string_view secret) const {
  absl::StatusOr<bool> ok = check(client_id, secret);
  return ok.ok() && *ok;
}

absl::StatusOr<bool> Clients::check(std::string_view client_id, std::string_view secret) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  auto it = snap->find(client_id);
  const Entry* entry = it == snap->end() ? nullptr : it->second.get();
  if (secret.size() > limits::kMaxClientSecretBytes) secret = secret.substr(0, 0);
  if (entry == nullptr || entry->kind == SecretKind::kNone || secret.empty()) {
    crypto::constantTimeEqual(kDummyDigest, crypto::sha256(secret));
    return false;
  }
  bool matches = false;
  if (entry->kind == SecretKind::kSha256) {
    matches = crypto::constantTimeEqual(entry->secret_hash, crypto::sha256(secret));
  } else {
    const std::string mac = crypto::hmacSha256(verifiedSecretKey(), secret);
    {
      std::lock_guard lock(entry->verified_mu);
      matches = !entry->verified_mac.empty() && crypto::constantTimeEqual(entry->verified_mac, mac);
    }
    if (!matches) {
      spdlog::debug("auth: argon2id verification of client '{}'", client_id);
      absl::StatusOr<bool> ok = crypto::argon2idVerify(entry->secret_hash, secret);
      matches = ok.ok() && *ok;
      if (matches) {
        std::lock_guard lock(entry->verified_mu);
        entry->verified_mac = mac;
      }
    }
  }
  if (!matches || !confirm_with_storage_.load()) return matches;
  absl::StatusOr<std::optional<std::string>> stored = storage_.get(kNamespace, client_id);
  if (!stored.ok()) {
    return absl::UnavailableError(
        strCat("clients: cannot confirm '", client_id, "' with the store: ",
               sv(stored.status().message())));
  }
  if (!stored->has_value()) return false;
  absl::StatusOr<std::shared_ptr<const Entry>> current = decode(client_id, **stored);
  return current.ok() && (*current)->kind == entry->kind &&
         (*current)->secret_hash == entry->secret_hash;
}

bool Clients::matchesCheaply(std::string_view client_id, std::string_view secret) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  auto it = snap->find(client_id);
  const Entry* entry = it == snap->end() ? nullptr : it->second.get();
  if (entry == nullptr || entry->kind == SecretKind::kNone || secret.empty() ||
      secret.size() > limits::kMaxClientSecretBytes) {
    return false;
  }
  if (entry->kind == SecretKind::kSha256) {
    return crypto::constantTimeEqual(entry->secret_hash, crypto::sha256(secret));
  }
  const std::string mac = crypto::hmacSha256(verifiedSecretKey(), secret);
  std::lock_guard lock(entry->verified_mu);
  return !entry->verified_mac.empty() && crypto::constantTimeEqual(entry->verified_mac, mac);
}

size_t Clients::size() const { return snapshot()->size(); }

bool Clients::any(const std::function<bool(const RegisteredClient&)>& pred) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  for (const auto& [id, entry] : *snap) {
    if (pred(entry->registered)) return true;
  }
  return false;
}

}  // namespace habanero::auth
