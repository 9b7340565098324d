// libFuzzer target: parseTurtle (serd) on arbitrary documents. Checks that it
// never crashes, respects the triple limit, and that every triple it returns
// has a non-empty subject and predicate.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "outbound/turtle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 200;
  auto triples = habanero::outbound::parseTurtle(text, "https://fuzz.example/profile/card", kMax);
  if (triples.ok()) {
    if (triples->size() > kMax) std::abort();
    for (const auto& t : *triples) {
      if (t.subject.empty() || t.predicate.empty()) std::abort();
    }
  }
  return 0;
}
