// Fuzzes form/query parsing and percent-decoding. Checks that accepted input
// decodes to valid UTF-8 and that encodeForm() round-trips through parseForm().
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace habanero::http;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  for (bool plus : {false, true}) {
    absl::StatusOr<std::string> decoded = percentDecode(input, plus);
    if (decoded.ok()) {
      if (!isValidUtf8(*decoded)) std::abort();
      absl::StatusOr<std::string> again = percentDecode(percentEncode(*decoded), plus);
      if (!again.ok() || *again != *decoded) std::abort();
    }
  }

  absl::StatusOr<Params> params = parseForm(input, /*max_params=*/64);
  if (!params.ok()) return 0;
  if (params->size() > 64) std::abort();
  for (const auto& [name, value] : params->entries()) {
    if (!isValidUtf8(name) || !isValidUtf8(value)) std::abort();
    Params::Lookup found = params->find(name);
    size_t n = params->count(name);
    if ((n == 1) != (found.kind == Params::Lookup::kValue)) std::abort();
    if (n > 1 && found.kind != Params::Lookup::kDuplicate) std::abort();
  }
  absl::StatusOr<Params> reparsed = parseForm(encodeForm(*params), /*max_params=*/64);
  if (!reparsed.ok() || !(*reparsed == *params)) std::abort();
  return 0;
}
