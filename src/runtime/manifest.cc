#include "runtime/manifest.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "habanero/strings.h"
#include "runtime/capabilities.h"

namespace habanero::runtime {
namespace {

constexpr size_t kMaxDisplayNameBytes = 100;

std::string where(std::string_view origin, const toml::source_region& src) {
  return strCat(origin, ":", src.begin.line, ":", src.begin.column);
}

absl::Status fail(std::string_view origin, const toml::node& node, std::string_view key,
                  std::string_view problem) {
  return absl::InvalidArgumentError(
      strCat(where(origin, node.source()), ": ", key, ": ", problem));
}

absl::Status readString(std::string_view origin, const toml::node& node, std::string_view key,
                        std::string& out) {
  const auto* s = node.as_string();
  if (!s) return fail(origin, node, key, "expected a string");
  out = s->get();
  return absl::OkStatus();
}

absl::Status readStrings(std::string_view origin, const toml::node& node, std::string_view key,
                         std::vector<std::string>& out) {
  const auto* arr = node.as_array();
  if (!arr) return fail(origin, node, key, "expected an array of strings");
  for (const toml::node& item : *arr) {
    const auto* s = item.as_string();
    if (!s) return fail(origin, item, key, "expected an array of strings");
    out.push_back(s->get());
  }
  return absl::OkStatus();
}

}  // namespace

bool Manifest::matchesRoute(std::string_view sub_path) const {
  for (const std::string& r : routes) {
    if (r.size() >= 2 && r.ends_with("/*")) {
      std::string_view prefix(r.data(), r.size() - 1);  // keeps the '/'
      if (sub_path.starts_with(prefix) || sub_path == prefix.substr(0, prefix.size() - 1)) {
        return true;
      }
    } else if (sub_path == r) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<Manifest> parseManifest(std::string_view text, std::string_view origin) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        strCat(where(origin, e.source()), ": ", e.description()));
  }
  Manifest m;
  bool have_name = false, have_abi = false, have_caps = false;
  for (const auto& [k, node] : table) {
    std::string_view key = k.str();
    if (key == "name") {
      RETURN_IF_ERROR(readString(origin, node, key, m.name));
      have_name = true;
    } else if (key == "abi") {
      const auto* v = node.as_integer();
      if (!v) return fail(origin, node, key, "expected an integer");
      m.abi = static_cast<int>(v->get());
      have_abi = true;
    } else if (key == "description") {
      RETURN_IF_ERROR(readString(origin, node, key, m.description));
    } else if (key == "status") {
      RETURN_IF_ERROR(readString(origin, node, key, m.status));
      if (m.status != "stable" && m.status != "alpha") {
        return fail(origin, node, key, "expected \"stable\" or \"alpha\"");
      }
    } else if (key == "routes") {
      RETURN_IF_ERROR(readStrings(origin, node, key, m.routes));
      for (const std::string& r : m.routes) {
        if (r.empty() || r[0] != '/') return fail(origin, node, key, "routes must start with '/'");
      }
    } else if (key == "capabilities") {
      RETURN_IF_ERROR(readStrings(origin, node, key, m.capabilities));
      for (const std::string& c : m.capabilities) {
        if (!isKnownCapability(c)) {
          return fail(origin, node, key, strCat("unknown capability '", c, "'"));
        }
      }
      have_caps = true;
    } else if (key == "robust_to") {
      RETURN_IF_ERROR(readStrings(origin, node, key, m.robust_to));
    } else if (key == "kind") {
      RETURN_IF_ERROR(readString(origin, node, key, m.kind));
      if (m.kind != "authenticator" && m.kind != "protocol" && !m.kind.empty()) {
        return fail(origin, node, key, "expected \"authenticator\", \"protocol\" or \"\"");
      }
    } else if (key == "optional_capabilities") {
      RETURN_IF_ERROR(readStrings(origin, node, key, m.optional_capabilities));
      for (const std::string& c : m.optional_capabilities) {
        if (!isKnownCapability(c)) {
          return fail(origin, node, key, strCat("unknown capability '", c, "'"));
        }
      }
    } else if (key == "subscribes") {
      RETURN_IF_ERROR(readStrings(origin, node, key, m.subscribes));
      for (const std::string& t : m.subscribes) {
        if (!isValidTopic(t)) {
          return fail(origin, node, key,
                      strCat("'", t, "' is not a topic name ([a-z0-9_.-]+, at most 128)"));
        }
      }
    } else if (key == "display_name") {
      RETURN_IF_ERROR(readString(origin, node, key, m.display_name));
      bool printable = std::none_of(m.display_name.begin(), m.display_name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
      });
      if (!printable || m.display_name.size() > kMaxDisplayNameBytes) {
        return fail(origin, node, key, "expected printable text of at most 100 bytes");
      }
    } else {
      return fail(origin, node, key, "unknown key");
    }
  }
  if (!have_name) return absl::InvalidArgumentError(strCat(origin, ": name: missing"));
  if (!have_abi) return absl::InvalidArgumentError(strCat(origin, ": abi: missing"));
  if (!have_caps) {
    return absl::InvalidArgumentError(strCat(origin, ": capabilities: missing"));
  }
  if (!m.subscribes.empty() &&
      std::find(m.capabilities.begin(), m.capabilities.end(), "events") == m.capabilities.end()) {
    return absl::InvalidArgumentError(
        strCat(origin, ": subscribes: needs the \"events\" capability in capabilities"));
  }
  if (m.routes.empty()) m.routes.push_back("/*");
  return m;
}

absl::StatusOr<Manifest> loadManifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(strCat(path, ": cannot read manifest"));
  std::stringstream ss;
  ss << in.rdbuf();
  return parseManifest(ss.str(), path);
}

}  // namespace habanero::runtime
