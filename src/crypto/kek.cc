#include "crypto/kek.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "habanero/strings.h"

namespace habanero::crypto {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::Status writeFile0600(const std::string& path, std::string_view text, bool exclusive) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(strCat(path, ": exists"));
    return absl::FailedPreconditionError(strCat(path, ": cannot create: ", std::strerror(errno)));
  }
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    return absl::FailedPreconditionError(strCat(path, ": cannot write: ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> parseKek(std::string_view text, std::string_view what) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  auto bad = [&] {
    return absl::InvalidArgumentError(strCat(
        what, ": expected 32 random bytes in base64 (as `openssl rand -base64 32` prints them)"));
  };
  // 32 bytes: 44 characters ending in one '='.
  if (text.size() != 44 || text[43] != '=' || text[42] == '=') return bad();
  std::string out(33, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n != 33) return bad();
  out.resize(kKekBytes);  // EVP_DecodeBlock counts the padding as a zero byte
  return out;
}

absl::StatusOr<std::string> readKekFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        strCat("key-encryption key file ", path, ": cannot be read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseKek(text.str(), strCat("key-encryption key file ", path));
}

absl::StatusOr<std::string> createKekFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string kek, randomBytes(kKekBytes));
  RETURN_IF_ERROR(writeFile0600(path, base64(kek) + "\n", /*exclusive=*/true));
  return kek;
}

absl::Status writeKekFile(const std::string& path, std::string_view kek) {
  if (kek.size() != kKekBytes) return absl::InvalidArgumentError("KEK must be 32 bytes");
  const std::string tmp = path + ".new";
  ::unlink(tmp.c_str());
  RETURN_IF_ERROR(writeFile0600(tmp, base64(kek) + "\n", /*exclusive=*/true));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::FailedPreconditionError(strCat(path, ": cannot replace: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string kekId(std::string_view kek) {
  return base64UrlEncode(sha256(strCat("habanero kek id\n", kek))).substr(0, 11);
}

absl::StatusOr<std::string> seal(std::string_view kek, std::string_view plaintext,
                                 std::string_view aad) {
  if (kek.size() != kKekBytes) return absl::InvalidArgumentError("KEK must be 32 bytes");
  ASSIGN_OR_RETURN(std::string nonce, randomBytes(kNonceBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* key = reinterpret_cast<const unsigned char*>(kek.data());
  auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  auto* body = reinterpret_cast<unsigned char*>(out.data() + kNonceBytes);
  int len = 0, final_len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, iv) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), body, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), body + len, &final_len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                body + plaintext.size()) == 1;
  if (!ok) {
    ERR_clear_error();
    return absl::InternalError("AES-256-GCM seal failed");
  }
  return out;
}

absl::StatusOr<std::string> unseal(std::string_view kek, std::string_view sealed,
                                   std::string_view aad) {
  if (kek.size() != kKekBytes) return absl::InvalidArgumentError("KEK must be 32 bytes");
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::PermissionDeniedError("sealed data too short");
  }
  const size_t body_size = sealed.size() - kNonceBytes - kTagBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(body_size, '\0');
  std::string tag(sealed.substr(kNonceBytes + body_size));
  auto* key = reinterpret_cast<const unsigned char*>(kek.data());
  auto* iv = reinterpret_cast<const unsigned char*>(sealed.data());
  int len = 0, final_len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, iv) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                              reinterpret_cast<const unsigned char*>(sealed.data() + kNonceBytes),
                              static_cast<int>(body_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                                &final_len) == 1;
  ERR_clear_error();
  if (!ok) return absl::PermissionDeniedError("sealed data: wrong key or altered");
  return out;
}

}  // namespace habanero::crypto
