// Internal to src/outbound: URL splitting shared by fetch, mail and sms
// (libcurl's URL API underneath). Exposed for the tests and the fuzzer.
#pragma once

#include <string>
#include <string_view>

#include "habanero/status.h"

namespace habanero::outbound::internal {

struct UrlParts {
  std::string scheme;  // lower case
  bool has_userinfo = false;
  std::string user;      // percent-decoded
  std::string password;  // percent-decoded; never put into a message
  std::string host;      // lower case; an IPv6 literal without brackets
  bool host_is_ipv6 = false;
  int port = 0;       // 0 when the URL has none
  std::string path;   // "/" at least for http(s); as given otherwise ("" allowed)
  std::string query;  // without '?', still encoded
  std::string url;    // normalised full URL without the fragment
};

// Splits an absolute URL of any scheme. InvalidArgument for anything curl's
// parser refuses, a zone id, an empty host or a text over 8 KiB. The message
// never quotes the URL (it may hold a password).
absl::StatusOr<UrlParts> splitUrl(std::string_view text);

// An absolute http(s) URL without userinfo, as fetch() accepts it.
absl::StatusOr<UrlParts> parseFetchUrl(std::string_view text);

// Resolves `location` (absolute or relative) against `base` (a full URL).
absl::StatusOr<std::string> resolveReference(const std::string& base, std::string_view location);

// Whether `host` (as in UrlParts::host) is a loopback name or address:
// "localhost", "*.localhost", 127.0.0.0/8, ::1, ::ffff:127.x.y.z.
bool isLoopbackHost(std::string_view host);

}  // namespace habanero::outbound::internal
