#include "runtime/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace habanero::runtime {
namespace {

using ::testing::HasSubstr;

TEST(Manifest, ParsesEveryKey) {
  auto m = parseManifest(R"(
name = "hello"
abi = 1
description = "d"
status = "alpha"
routes = ["/", "/count", "/api/*"]
capabilities = ["http", "kv"]
robust_to = ["x"]
kind = "authenticator"
display_name = "Email and password"
)", "hello.manifest.toml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->kind, "authenticator");
  EXPECT_EQ(m->display_name, "Email and password");
  EXPECT_EQ(m->name, "hello");
  EXPECT_EQ(m->abi, 1);
  EXPECT_EQ(m->status, "alpha");
  EXPECT_THAT(m->capabilities, ::testing::ElementsAre("http", "kv"));
  EXPECT_TRUE(m->matchesRoute("/"));
  EXPECT_TRUE(m->matchesRoute("/count"));
  EXPECT_FALSE(m->matchesRoute("/count/x"));
  EXPECT_TRUE(m->matchesRoute("/api"));
  EXPECT_TRUE(m->matchesRoute("/api/a/b"));
  EXPECT_FALSE(m->matchesRoute("/apix"));
  EXPECT_FALSE(m->matchesRoute("/other"));
}

TEST(Manifest, KindAndDisplayNameAreOptional) {
  auto none = parseManifest("name = \"a\"\nabi = 1\ncapabilities = []\n", "a");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->kind, "");
  EXPECT_EQ(none->display_name, "");
  for (const char* kind : {"authenticator", "protocol", ""}) {
    auto m = parseManifest(std::string("name = \"a\"\nabi = 1\ncapabilities = []\nkind = \"") +
                               kind + "\"\n",
                           "a");
    ASSERT_TRUE(m.ok()) << kind << ": " << m.status();
    EXPECT_EQ(m->kind, kind);
  }
}

TEST(Manifest, KindAndDisplayNameErrors) {
  auto bad_kind =
      parseManifest("name = \"a\"\nabi = 1\ncapabilities = []\nkind = \"login\"\n", "k.toml");
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_THAT(bad_kind.status().message(), HasSubstr("k.toml:4:"));
  EXPECT_THAT(bad_kind.status().message(), HasSubstr("kind: expected \"authenticator\""));

  auto kind_type = parseManifest("name = \"a\"\nabi = 1\ncapabilities = []\nkind = 1\n", "k.toml");
  ASSERT_FALSE(kind_type.ok());
  EXPECT_THAT(kind_type.status().message(), HasSubstr("kind: expected a string"));

  auto control = parseManifest(
      "name = \"a\"\nabi = 1\ncapabilities = []\ndisplay_name = \"a\\nb\"\n", "d.toml");
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.status().message(), HasSubstr("d.toml:4:"));
  EXPECT_THAT(control.status().message(), HasSubstr("display_name: expected printable text"));

  auto too_long = parseManifest("name = \"a\"\nabi = 1\ncapabilities = []\ndisplay_name = \"" +
                                    std::string(101, 'x') + "\"\n",
                                "d.toml");
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.status().message(), HasSubstr("display_name"));
}

TEST(Manifest, NoRoutesMeansEverything) {
  auto m = parseManifest("name = \"a\"\nabi = 1\ncapabilities = []\n", "a");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->matchesRoute("/"));
  EXPECT_TRUE(m->matchesRoute("/deep/path"));
}

TEST(Manifest, ErrorsNameFileLineAndKey) {
  auto m = parseManifest("name = \"a\"\nabi = 1\ncapabilities = [\"http\", \"files\"]\n",
                         "x.manifest.toml");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("x.manifest.toml:3:"));
  EXPECT_THAT(m.status().message(), HasSubstr("capabilities"));
  EXPECT_THAT(m.status().message(), HasSubstr("unknown capability 'files'"));

  auto bad_type = parseManifest("name = 3\n", "y.toml");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_THAT(bad_type.status().message(), HasSubstr("y.toml:1:"));
  EXPECT_THAT(bad_type.status().message(), HasSubstr("name: expected a string"));

  auto unknown = parseManifest("name = \"a\"\nabi = 1\ncapabilities = []\nfoo = 1\n", "z.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("z.toml:4:"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("foo: unknown key"));

  auto syntax = parseManifest("name = \n", "s.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(syntax.status().message(), HasSubstr("s.toml:1:"));

  auto missing = parseManifest("name = \"a\"\n", "m.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("abi: missing"));

  auto route = parseManifest("name=\"a\"\nabi=1\ncapabilities=[]\nroutes=[\"x\"]\n", "r.toml");
  ASSERT_FALSE(route.ok());
  EXPECT_THAT(route.status().message(), HasSubstr("routes must start with '/'"));
}

}  // namespace
}  // namespace habanero::runtime
