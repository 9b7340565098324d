#include "crypto/random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>

namespace habanero::crypto {

absl::Status randomBytes(std::span<uint8_t> out) {
  while (!out.empty()) {
    size_t chunk = std::min<size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
      ERR_clear_error();
      return absl::InternalError("RAND_bytes failed");
    }
    out = out.subspan(chunk);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> randomBytes(size_t n) {
  std::string bytes(n, '\0');
  RETURN_IF_ERROR(randomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(bytes.data()), n)));
  return bytes;
}

}  // namespace habanero::crypto
