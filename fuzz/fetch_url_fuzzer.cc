// libFuzzer target: the fetch URL parser and the SSRF address classifier.
// Invariants: an accepted URL is http(s) without userinfo and has a host; an
// IPv4 address and its IPv4-mapped IPv6 form are classified alike; allowing
// loopback never forbids more.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "outbound/fetch.h"
#include "outbound/url.h"

using habanero::outbound::isForbiddenAddress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto url = habanero::outbound::internal::parseFetchUrl(text);
  if (url.ok()) {
    if ((url->scheme != "http" && url->scheme != "https") || url->has_userinfo ||
        url->host.empty()) {
      std::abort();
    }
    // The normalised URL parses again to the same host.
    auto again = habanero::outbound::internal::parseFetchUrl(url->url);
    if (!again.ok() || again->host != url->host) std::abort();
    isForbiddenAddress(url->host, false);
  }

  bool strict = isForbiddenAddress(text, false);
  bool loose = isForbiddenAddress(text, true);
  if (!strict && loose) std::abort();

  if (size >= 4) {
    char v4[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, data, v4, sizeof v4);
    std::string mapped = std::string("::ffff:") + v4;
    for (bool allow : {false, true}) {
      if (isForbiddenAddress(v4, allow) != isForbiddenAddress(mapped, allow)) std::abort();
    }
  }
  if (size >= 16) {
    char v6[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, data, v6, sizeof v6);
    if (isForbiddenAddress(v6, false) < isForbiddenAddress(v6, true)) std::abort();
  }
  return 0;
}
