// JSON helpers shared by the host's JOSE code (key_store.cc, jwk.cc). Internal to src/crypto/.
#pragma once

#include <string_view>

namespace habanero::crypto::internal {

// True if arrays/objects in `text` nest at most `max_depth` deep. Bounds the
// recursion of later JSON processing on hostile input. Does not validate JSON.
inline bool jsonDepthAtMost(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace habanero::crypto::internal
