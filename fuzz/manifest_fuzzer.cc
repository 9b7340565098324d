// Fuzzes the extension manifest parser: any bytes give a Manifest or an error
// naming the origin, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = habanero::runtime::parseManifest(text, "fuzz.manifest.toml");
  if (m.ok()) {
    (void)m->matchesRoute("/");
    (void)m->matchesRoute("/a/b");
  }
  return 0;
}
