#include "runtime/capabilities.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace habanero::runtime {
namespace {

// The SDK header is the contract: every function it imports from "habanero"
// must be in exactly one capability, and every capability function must be in
// the header.
TEST(Capabilities, MatchTheSdkHeader) {
  std::ifstream in(std::string(HABANERO_SOURCE_DIR) + "/sdk/c/habanero.h");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::set<std::string> in_header;
  const std::string marker = "HABANERO_IMPORT(\"";
  for (size_t pos = text.find(marker); pos != std::string::npos;
       pos = text.find(marker, pos + 1)) {
    size_t start = pos + marker.size();
    std::string name = text.substr(start, text.find('"', start) - start);
    if (name != "name") in_header.insert(name);  // skip the macro's own definition
  }
  std::set<std::string> in_table;
  for (const Capability& c : allCapabilities()) {
    for (std::string_view fn : c.functions) {
      EXPECT_TRUE(in_table.insert(std::string(fn)).second) << fn << " is in two capabilities";
    }
  }
  EXPECT_EQ(in_header, in_table);
}

TEST(Capabilities, Lookup) {
  EXPECT_EQ(capabilityOf("kv_take"), "kv");
  EXPECT_EQ(capabilityOf("jws_sign"), "keys");
  EXPECT_EQ(capabilityOf("request_get"), "http");
  EXPECT_EQ(capabilityOf("jwks_get"), "keys");
  EXPECT_EQ(capabilityOf("session_require_login"), "sessions");
  EXPECT_EQ(capabilityOf("login_complete"), "login");
  EXPECT_EQ(capabilityOf("user_verify_password"), "users");
  EXPECT_EQ(capabilityOf("client_authenticate"), "clients");
  for (const char* cap : {"sessions", "login", "users", "clients"}) {
    EXPECT_TRUE(isKnownCapability(cap)) << cap;
  }
  EXPECT_FALSE(capabilityOf("open_file").has_value());
  EXPECT_TRUE(isKnownCapability("crypto"));
  EXPECT_FALSE(isKnownCapability("fs"));
  EXPECT_TRUE(isAllowedWasiImport("fd_write"));
  EXPECT_FALSE(isAllowedWasiImport("path_open"));
  EXPECT_FALSE(isAllowedWasiImport("sock_accept"));
}

}  // namespace
}  // namespace habanero::runtime
