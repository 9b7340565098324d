// Holds the guest-facing contract to the host-call table
// (src/runtime/host_call_list.h): every host function's name, Wasm
// parameter types and capability must agree between the table (as the linker
// defines it), sdk/c/habanero.h, sdk/cpp/habanero.hh and docs/abi.md. Each
// mismatch fails naming the call, so a new row cannot be added, or a
// signature changed, without the headers and the document following.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/capabilities.h"
#include "runtime/host_calls.h"

namespace habanero::runtime {
namespace {

std::string readSource(const std::string& relative) {
  std::ifstream in(std::string(HABANERO_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in) << relative;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return "(" + out + ")";
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\n");
  size_t e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// What a document or header says about one host function.
struct Declared {
  std::string capability;
  std::vector<std::string> params;  // Wasm types
  int count = 0;                    // how often it is declared
};

// The Wasm type of one C parameter declaration ("const uint8_t *key"), or ""
// for a type the ABI does not use.
std::string wasmTypeOfC(const std::string& decl) {
  if (decl.find('*') != std::string::npos) return "i32";  // a guest pointer
  std::string type = decl.substr(0, decl.find_last_of(" \t"));
  type = trim(type);
  if (type == "int32_t" || type == "uint32_t") return "i32";
  if (type == "int64_t" || type == "uint64_t") return "i64";
  return "";
}

// sdk/c/habanero.h: HABANERO_IMPORT("name") followed by the prototype
// habanero_result_t habanero_<name>(...); the capability is the nearest
// preceding /* ---- capability "x" banner.
std::map<std::string, Declared> parseCHeader(const std::string& text) {
  std::map<std::string, Declared> out;
  static const std::regex kBanner(R"(/\* ---- capability "([a-z]+)\")");
  static const std::regex kImport(R"re(HABANERO_IMPORT\("([a-z0-9_]+)"\)\s*)re"
                                   R"re(habanero_result_t\s+habanero_([a-z0-9_]+)\(([^)]*)\);)re");
  std::vector<std::pair<size_t, std::string>> banners;
  for (std::sregex_iterator it(text.begin(), text.end(), kBanner), end; it != end; ++it) {
    banners.emplace_back(static_cast<size_t>(it->position()), (*it)[1]);
  }
  for (std::sregex_iterator it(text.begin(), text.end(), kImport), end; it != end; ++it) {
    std::string name = (*it)[1];
    Declared& d = out[name];
    d.count++;
    EXPECT_EQ((*it)[2], name) << "sdk/c/habanero.h: HABANERO_IMPORT(\"" << name
                              << "\") declares habanero_" << (*it)[2];
    for (const auto& [pos, cap] : banners) {
      if (pos < static_cast<size_t>(it->position())) d.capability = cap;
    }
    std::string params = trim((*it)[3]);
    if (params == "void" || params.empty()) continue;
    std::stringstream ss(params);
    for (std::string p; std::getline(ss, p, ',');) {
      std::string type = wasmTypeOfC(trim(p));
      EXPECT_FALSE(type.empty()) << "sdk/c/habanero.h: habanero_" << name
                                 << ": parameter type of '" << trim(p) << "' is not in the ABI";
      d.params.push_back(type);
    }
  }
  return out;
}

// docs/abi.md §6: "### Capability `x`" headings, and per call a bold
// signature **`name(i32 a, i64 b) -> i32`**. A signature under any other
// heading has no capability.
std::map<std::string, Declared> parseAbiCalls(const std::string& text) {
  std::map<std::string, Declared> out;
  size_t s6 = text.find("\n## 6.");
  size_t s7 = text.find("\n## 7.");
  EXPECT_NE(s6, std::string::npos) << "docs/abi.md has no section 6";
  EXPECT_NE(s7, std::string::npos) << "docs/abi.md has no section 7";
  if (s6 == std::string::npos || s7 == std::string::npos) return out;
  std::string section = text.substr(s6, s7 - s6);
  static const std::regex kHeading(R"(^### (.*)$)");
  static const std::regex kCapability(R"(^Capability `([a-z]+)`)");
  static const std::regex kSignature(R"(\*\*`([a-z0-9_]+)\(([^)]*)\) -> i32`\*\*)");
  std::string capability;
  std::stringstream lines(section);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kHeading)) {
      std::string heading = m[1];
      std::smatch c;
      capability = std::regex_search(heading, c, kCapability) ? std::string(c[1]) : "";
      continue;
    }
    for (std::sregex_iterator it(line.begin(), line.end(), kSignature), end; it != end; ++it) {
      std::string name = (*it)[1];
      Declared& d = out[name];
      d.count++;
      d.capability = capability;
      std::string params = trim((*it)[2]);
      std::stringstream ss(params);
      for (std::string p; std::getline(ss, p, ',');) {
        std::string type = trim(p).substr(0, 3);
        EXPECT_TRUE(type == "i32" || type == "i64")
            << "docs/abi.md: " << name << ": parameter '" << trim(p) << "' has no Wasm type";
        d.params.push_back(type);
      }
    }
  }
  return out;
}

struct TableRow {
  std::set<std::string> functions;
  std::string needs;
};

// docs/abi.md §4's table: | `capability` | `fn`, `fn` | needs |
std::map<std::string, TableRow> parseAbiCapabilityTable(const std::string& text) {
  std::map<std::string, TableRow> out;
  static const std::regex kRow(R"(^\| `([a-z]+)` \| ([^|]*) \| ([^|]*) \|)");
  static const std::regex kName(R"(`([a-z0-9_]+)`)");
  size_t s4 = text.find("\n## 4.");
  size_t s5 = text.find("\n## 5.");
  if (s4 == std::string::npos || s5 == std::string::npos) return out;
  std::stringstream lines(text.substr(s4, s5 - s4));
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, kRow)) continue;
    std::string fns = m[2];
    out[m[1]].needs = m[3];
    std::set<std::string>& names = out[m[1]].functions;
    for (std::sregex_iterator it(fns.begin(), fns.end(), kName), end; it != end; ++it) {
      names.insert((*it)[1]);
    }
  }
  return out;
}

TEST(AbiTable, TheLinkerDefinesExactlyTheCapabilityTable) {
  std::vector<HostCallSignature> signatures = hostCallSignatures();
  ASSERT_EQ(signatures.size(), allHostCalls().size());
  std::set<std::string> seen;
  for (const HostCallSignature& s : signatures) {
    EXPECT_TRUE(seen.insert(s.name).second) << s.name << " is in the table twice";
    EXPECT_EQ(capabilityOf(s.name), s.capability) << s.name;
    EXPECT_TRUE(isKnownCapability(s.capability)) << s.name;
  }
  for (const Capability& c : allCapabilities()) {
    EXPECT_FALSE(c.functions.empty()) << c.name;
    EXPECT_NE(capabilityBit(c.name), 0u) << c.name;
  }
  // A spot check of derived signatures (the rest are held to the header below).
  for (const HostCallSignature& s : signatures) {
    if (s.name == "kv_put") {
      EXPECT_EQ(join(s.params), "(i32, i32, i32, i32, i64)");
    }
    if (s.name == "session_end") {
      EXPECT_TRUE(s.params.empty());
    }
  }
}

TEST(AbiTable, TheCHeaderDeclaresEveryCallAsTheTableDefinesIt) {
  std::map<std::string, Declared> header = parseCHeader(readSource("sdk/c/habanero.h"));
  for (const HostCallSignature& s : hostCallSignatures()) {
    auto it = header.find(s.name);
    if (it == header.end()) {
      ADD_FAILURE() << "sdk/c/habanero.h does not declare host call " << s.name;
      continue;
    }
    const Declared& d = it->second;
    EXPECT_EQ(d.count, 1) << "sdk/c/habanero.h declares " << s.name << " " << d.count << " times";
    EXPECT_EQ(d.capability, s.capability)
        << "sdk/c/habanero.h declares " << s.name << " under capability '" << d.capability
        << "'; the table says '" << s.capability << "'";
    EXPECT_EQ(join(d.params), join(s.params))
        << "sdk/c/habanero.h: habanero_" << s.name << " has Wasm parameters " << join(d.params)
        << "; the host defines " << join(s.params);
  }
  for (const auto& [name, d] : header) {
    EXPECT_TRUE(capabilityOf(name).has_value())
        << "sdk/c/habanero.h declares " << name << ", which is not in the host-call table";
  }
}

// The C++ layer: sdk/cpp/habanero.hh and the guest library's headers beside it
// (sdk/cpp/habanero/*.hh). A host call counts as wrapped where it is called
// in a section whose banner ("// ---- capability \"x\"") — or, before any
// banner, the file's opening comment — names its capability.
void scanCppLayer(const std::string& relative, const std::string& text,
                  std::map<std::string, std::set<std::string>>& wrapped,
                  std::set<std::string>& files) {
  static const std::regex kBanner(R"(// ---- capabilit[a-z]* (.*)$)");
  static const std::regex kQuoted(R"re("([a-z]+)")re");
  static const std::regex kCall(R"(\bhabanero_([a-z0-9_]+)\()");
  auto capabilitiesIn = [](const std::string& s) {
    std::set<std::string> out;
    for (std::sregex_iterator it(s.begin(), s.end(), kQuoted), end; it != end; ++it) {
      if (isKnownCapability(std::string((*it)[1]))) out.insert((*it)[1]);
    }
    return out;
  };
  std::set<std::string> capabilities_here;
  bool opening_comment = true;
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kBanner)) {
      opening_comment = false;
      capabilities_here = capabilitiesIn(m[1]);
      continue;
    }
    if (opening_comment) {
      if (line.starts_with("//")) {
        std::set<std::string> more = capabilitiesIn(line);
        capabilities_here.insert(more.begin(), more.end());
        continue;
      }
      opening_comment = false;
    }
    for (std::sregex_iterator it(line.begin(), line.end(), kCall), end; it != end; ++it) {
      std::string name = (*it)[1];
      if (!capabilityOf(name)) continue;  // not a host call
      wrapped[name].insert(capabilities_here.begin(), capabilities_here.end());
      files.insert(relative);
    }
  }
}

TEST(AbiTable, TheCppLayerWrapsEveryCallInItsCapabilitySection) {
  std::map<std::string, std::set<std::string>> wrapped;  // call -> section capabilities
  std::set<std::string> files;
  scanCppLayer("sdk/cpp/habanero.hh", readSource("sdk/cpp/habanero.hh"), wrapped, files);
  std::filesystem::path library = std::filesystem::path(HABANERO_SOURCE_DIR) / "sdk/cpp/habanero";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(library, ec)) {
    if (entry.path().extension() != ".hh") continue;
    std::string relative = "sdk/cpp/habanero/" + entry.path().filename().string();
    scanCppLayer(relative, readSource(relative), wrapped, files);
  }
  for (const HostCallSignature& s : hostCallSignatures()) {
    auto it = wrapped.find(s.name);
    if (it == wrapped.end()) {
      ADD_FAILURE() << "the C++ layer (sdk/cpp/habanero.hh, sdk/cpp/habanero/*.hh) does not "
                       "wrap host call "
                    << s.name;
      continue;
    }
    EXPECT_TRUE(it->second.count(s.capability))
        << "the C++ layer wraps " << s.name << " only outside a section of capability '"
        << s.capability << "'";
  }
}

TEST(AbiTable, AbiMdDocumentsEveryCallAsTheTableDefinesIt) {
  std::string text = readSource("docs/abi.md");
  std::map<std::string, Declared> documented = parseAbiCalls(text);
  for (const HostCallSignature& s : hostCallSignatures()) {
    auto it = documented.find(s.name);
    if (it == documented.end()) {
      ADD_FAILURE() << "docs/abi.md §6 has no **`" << s.name << "(…) -> i32`** for host call "
                    << s.name;
      continue;
    }
    const Declared& d = it->second;
    EXPECT_EQ(d.count, 1) << "docs/abi.md §6 documents " << s.name << " " << d.count << " times";
    EXPECT_EQ(d.capability, s.capability)
        << "docs/abi.md §6 documents " << s.name << " under capability '" << d.capability
        << "'; the table says '" << s.capability << "'";
    EXPECT_EQ(join(d.params), join(s.params))
        << "docs/abi.md §6: " << s.name << " has parameters " << join(d.params)
        << "; the host defines " << join(s.params);
  }
  for (const auto& [name, d] : documented) {
    EXPECT_TRUE(capabilityOf(name).has_value())
        << "docs/abi.md §6 documents " << name << ", which is not in the host-call table";
  }

  std::map<std::string, TableRow> table = parseAbiCapabilityTable(text);
  for (const Capability& c : allCapabilities()) {
    std::set<std::string> want(c.functions.begin(), c.functions.end());
    auto it = table.find(std::string(c.name));
    if (it == table.end()) {
      ADD_FAILURE() << "docs/abi.md §4's table has no row for capability " << c.name;
      continue;
    }
    for (const std::string& fn : want) {
      EXPECT_TRUE(it->second.functions.count(fn))
          << "docs/abi.md §4's table: capability " << c.name << " lacks " << fn;
    }
    for (uint32_t i = 0; i < facility::kCount; ++i) {
      if ((c.facilities & (1u << i)) == 0) continue;
      std::string needed(facilityDescription(1u << i));
      EXPECT_NE(it->second.needs.find(needed), std::string::npos)
          << "docs/abi.md §4's table: capability " << c.name << " needs \"" << needed << "\"";
    }
    for (const std::string& fn : it->second.functions) {
      EXPECT_TRUE(want.count(fn))
          << "docs/abi.md §4's table: capability " << c.name << " lists " << fn
          << ", which the host-call table puts elsewhere";
    }
  }
  EXPECT_EQ(table.size(), allCapabilities().size()) << "docs/abi.md §4's table: capability rows";
}

}  // namespace
}  // namespace habanero::runtime
