#include "crypto/hash.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <charconv>
#include <cstdlib>

#include "crypto/cpu_pool.h"
#include "absl/strings/str_cat.h"
#include "crypto/random.h"

namespace habanero::crypto {
namespace {

const unsigned char* bytesOf(std::string_view s) {
  static const unsigned char kEmpty = 0;  // OpenSSL wants a valid pointer even for 0 bytes
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Reads "<name>=<decimal>" at `text`, advancing past it.
bool readCost(std::string_view& text, std::string_view name, uint32_t& value) {
  if (text.substr(0, name.size()) != name || text.size() <= name.size() ||
      text[name.size()] != '=') {
    return false;
  }
  const char* begin = text.data() + name.size() + 1;
  const char* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || next == begin) return false;
  text.remove_prefix(static_cast<size_t>(next - text.data()));
  return true;
}

// Checks the "$argon2id$[v=N$]m=M,t=T,p=P$..." prefix against the ceilings.
absl::Status checkEncodedCosts(std::string_view encoded) {
  constexpr std::string_view kPrefix = "$argon2id$";
  if (encoded.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError("argon2id: not an argon2id encoding");
  }
  std::string_view rest = encoded.substr(kPrefix.size());
  auto expect = [&rest](char c) {
    if (rest.empty() || rest[0] != c) return false;
    rest.remove_prefix(1);
    return true;
  };
  uint32_t version = 0, memory = 0, time = 0, lanes = 0;
  if (readCost(rest, "v", version) && !expect('$')) {
    return absl::InvalidArgumentError("argon2id: bad version");
  }
  if (!(readCost(rest, "m", memory) && expect(',') && readCost(rest, "t", time) && expect(',') &&
        readCost(rest, "p", lanes) && expect('$'))) {
    return absl::InvalidArgumentError("argon2id: bad parameters");
  }
  if (memory > kArgon2MaxMemoryKib || time > kArgon2MaxTimeCost || lanes > kArgon2MaxParallelism) {
    return absl::InvalidArgumentError("argon2id: costs exceed the accepted ceilings");
  }
  return absl::OkStatus();
}

// SHA-256 fetched from the provider once per process: the one-shot SHA256()
// looks the algorithm up by name on every call (1.8 % of /token CPU, see
// docs/performance.md).
const EVP_MD* fetchedSha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

std::string sha256(std::string_view data) {
  std::string digest(kSha256Bytes, '\0');
  const EVP_MD* md = fetchedSha256Md();
  // Cannot fail for SHA-256 except on allocation failure, which is fatal.
  if (md == nullptr || EVP_Digest(bytesOf(data), data.size(),
                                  reinterpret_cast<unsigned char*>(digest.data()), nullptr, md,
                                  nullptr) != 1) {
    std::abort();
  }
  return digest;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  std::string mac(EVP_MAX_MD_SIZE, '\0');
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), bytesOf(key), static_cast<int>(key.size()), bytesOf(data), data.size(),
           reinterpret_cast<unsigned char*>(mac.data()), &size) == nullptr) {
    std::abort();  // allocation failure
  }
  mac.resize(size);
  return mac;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  // Always compare a.size() bytes; when the sizes differ, compare `a` with
  // itself so the time is the same and the answer still false.
  const bool same_size = a.size() == b.size();
  const char* other = same_size ? b.data() : a.data();
  int diff = CRYPTO_memcmp(a.data(), other, a.size());
  return (diff == 0) & same_size;
}

namespace {

absl::StatusOr<std::string> argon2idHashHere(std::string_view password,
                                             const Argon2Params& params) {
  ASSIGN_OR_RETURN(std::string salt, randomBytes(params.salt_bytes));
  size_t encoded_size = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                          params.salt_bytes, params.hash_bytes, Argon2_id);
  std::string encoded(encoded_size, '\0');
  int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                 bytesOf(password), password.size(), salt.data(), salt.size(),
                                 params.hash_bytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    std::string message = absl::StrCat("argon2id: ", argon2_error_message(rc));
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) return absl::ResourceExhaustedError(message);
    return absl::InvalidArgumentError(message);
  }
  size_t end = encoded.find('\0');  // encodedlen counts the terminator
  if (end != std::string::npos) encoded.resize(end);
  return encoded;
}

absl::StatusOr<bool> argon2idVerifyHere(std::string_view encoded, std::string_view password) {
  RETURN_IF_ERROR(checkEncodedCosts(encoded));
  if (encoded.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("argon2id: NUL in encoding");
  }
  const std::string terminated(encoded);
  int rc = argon2id_verify(terminated.c_str(), bytesOf(password), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  std::string message = absl::StrCat("argon2id: ", argon2_error_message(rc));
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) return absl::ResourceExhaustedError(message);
  return absl::InvalidArgumentError(message);
}

}  // namespace

absl::StatusOr<std::string> argon2idHash(std::string_view password, const Argon2Params& params) {
  return CpuPool::passwordHashing().run([&] { return argon2idHashHere(password, params); });
}

absl::StatusOr<bool> argon2idVerify(std::string_view encoded, std::string_view password) {
  return CpuPool::passwordHashing().run([&] { return argon2idVerifyHere(encoded, password); });
}

}  // namespace habanero::crypto
