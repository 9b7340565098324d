// Fuzzes configuration loading: TOML parsing, typing, unknown-key checks, the
// environment overlay and validateConfig(). The input is the TOML text,
// optionally followed by a line "#---env---" and then one NAME=VALUE
// environment entry per line.
//
// loadConfig() takes a path, so the text goes to an in-memory file (memfd).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("habanero_config_fuzzer", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0) std::abort();

  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view toml = input;
  std::vector<std::string> env_entries;
  constexpr std::string_view kSeparator = "#---env---\n";
  if (size_t at = input.find(kSeparator); at != std::string_view::npos) {
    toml = input.substr(0, at);
    std::string_view rest = input.substr(at + kSeparator.size());
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      env_entries.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
  }
  std::vector<const char*> env;
  for (const auto& e : env_entries) env.push_back(e.c_str());
  env.push_back(nullptr);

  if (ftruncate(fd, 0) != 0) std::abort();
  if (pwrite(fd, toml.data(), toml.size(), 0) != static_cast<ssize_t>(toml.size())) std::abort();

  absl::StatusOr<habanero::server::Config> config = habanero::server::loadConfig(path, env.data());
  if (config.ok()) {
    (void)habanero::server::validateConfig(*config);
  } else if (config.status().code() != absl::StatusCode::kInvalidArgument) {
    std::abort();  // bad input must be InvalidArgument, nothing else
  }
  return 0;
}
