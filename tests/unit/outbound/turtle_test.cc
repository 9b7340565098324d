// parseTurtle against serd: a WebID profile, base/prefix expansion, blank
// nodes, literals, errors with line:column, the triple limit.
#include "outbound/turtle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace habanero::outbound {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kFoaf[] = "http://xmlns.com/foaf/0.1/";
constexpr char kRdfType[] = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

const Triple* find(const std::vector<Triple>& ts, const std::string& s, const std::string& p) {
  auto it = std::find_if(ts.begin(), ts.end(),
                         [&](const Triple& t) { return t.subject == s && t.predicate == p; });
  return it == ts.end() ? nullptr : &*it;
}

constexpr char kProfile[] = R"(@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix solid: <http://www.w3.org/ns/solid/terms#> .
@prefix cert: <http://www.w3.org/ns/auth/cert#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<> a foaf:PersonalProfileDocument ;
   foaf:maker <#me> ;
   foaf:primaryTopic <#me> .

<#me> a foaf:Person ;
   foaf:name "Ana Ruiz"@es ;
   foaf:nick "ana \"the\" admin", """two
lines""" ;
   solid:oidcIssuer <https://idp.example/> ;
   foaf:knows [ foaf:name "Bob"@en ] ;
   cert:key _:k1 ;
   foaf:img <../img/ana.png> ;
   foaf:age "34"^^xsd:integer .

_:k1 cert:modulus "C0FFEE"^^xsd:hexBinary .
)";

TEST(TurtleTest, WebIdProfileGivesExpandedTriples) {
  const std::string base = "https://ana.example/profile/card";
  const std::string me = base + "#me";
  auto triples = parseTurtle(kProfile, base);
  ASSERT_TRUE(triples.ok()) << triples.status();
  EXPECT_EQ(triples->size(), 14u);

  const Triple* doc = find(*triples, base, kRdfType);
  ASSERT_NE(doc, nullptr);
  EXPECT_EQ(doc->object, std::string(kFoaf) + "PersonalProfileDocument");
  EXPECT_FALSE(doc->object_is_literal);

  const Triple* topic = find(*triples, base, std::string(kFoaf) + "primaryTopic");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->object, me);

  const Triple* name = find(*triples, me, std::string(kFoaf) + "name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->object, "Ana Ruiz");  // lexical form, no language tag
  EXPECT_TRUE(name->object_is_literal);

  std::vector<std::string> nicks;
  for (const Triple& t : *triples) {
    if (t.subject == me && t.predicate == std::string(kFoaf) + "nick") nicks.push_back(t.object);
  }
  EXPECT_THAT(nicks, ::testing::UnorderedElementsAre("ana \"the\" admin", "two\nlines"));

  const Triple* issuer = find(*triples, me, "http://www.w3.org/ns/solid/terms#oidcIssuer");
  ASSERT_NE(issuer, nullptr);
  EXPECT_EQ(issuer->object, "https://idp.example/");
  EXPECT_FALSE(issuer->object_is_literal);

  const Triple* img = find(*triples, me, std::string(kFoaf) + "img");
  ASSERT_NE(img, nullptr);
  EXPECT_EQ(img->object, "https://ana.example/img/ana.png");  // relative IRI resolved

  const Triple* age = find(*triples, me, std::string(kFoaf) + "age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->object, "34");
  EXPECT_TRUE(age->object_is_literal);

  // The anonymous node: the object of foaf:knows is the subject of "Bob".
  const Triple* knows = find(*triples, me, std::string(kFoaf) + "knows");
  ASSERT_NE(knows, nullptr);
  EXPECT_THAT(knows->object, StartsWith("_:"));
  EXPECT_FALSE(knows->object_is_literal);
  const Triple* bob = find(*triples, knows->object, std::string(kFoaf) + "name");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->object, "Bob");

  // The labelled blank node links two statements.
  const Triple* key = find(*triples, me, "http://www.w3.org/ns/auth/cert#key");
  ASSERT_NE(key, nullptr);
  EXPECT_THAT(key->object, StartsWith("_:"));
  const Triple* modulus = find(*triples, key->object, "http://www.w3.org/ns/auth/cert#modulus");
  ASSERT_NE(modulus, nullptr);
  EXPECT_EQ(modulus->object, "C0FFEE");
  EXPECT_NE(key->object, knows->object);
}

TEST(TurtleTest, BaseDirectiveOverridesTheDocumentUrl) {
  auto triples = parseTurtle("@base <https://other.example/dir/> .\n<x> <../p> <#z> .\n",
                             "https://ana.example/card");
  ASSERT_TRUE(triples.ok()) << triples.status();
  ASSERT_EQ(triples->size(), 1u);
  EXPECT_EQ((*triples)[0].subject, "https://other.example/dir/x");
  EXPECT_EQ((*triples)[0].predicate, "https://other.example/p");
  EXPECT_EQ((*triples)[0].object, "https://other.example/dir/#z");
}

TEST(TurtleTest, EmptyDocumentHasNoTriples) {
  auto triples = parseTurtle("# nothing here\n", "https://ana.example/card");
  ASSERT_TRUE(triples.ok()) << triples.status();
  EXPECT_TRUE(triples->empty());
}

TEST(TurtleTest, SyntaxErrorNamesLineAndColumn) {
  auto triples = parseTurtle(
      "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
      "<#me> foaf:name \"Ana\" ;\n"
      "   foaf:knows <#bob> <#carl> .\n",
      "https://ana.example/card");
  ASSERT_FALSE(triples.ok());
  EXPECT_EQ(triples.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(triples.status().message()), StartsWith("turtle:3:"));
}

TEST(TurtleTest, UnterminatedStringIsAnError) {
  auto triples = parseTurtle("<a> <b> \"never closed .\n", "https://ana.example/card");
  ASSERT_FALSE(triples.ok());
  EXPECT_EQ(triples.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(triples.status().message()), StartsWith("turtle:"));
}

TEST(TurtleTest, UndefinedPrefixIsAnError) {
  auto triples = parseTurtle("<#me> nope:name \"x\" .\n", "https://ana.example/card");
  ASSERT_FALSE(triples.ok());
  EXPECT_EQ(triples.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TurtleTest, NulByteIsRefusedWithItsPosition) {
  std::string doc = "<a> <b> <c> .\n<d> <e> ";
  doc.push_back('\0');
  auto triples = parseTurtle(doc, "https://ana.example/card");
  ASSERT_FALSE(triples.ok());
  EXPECT_EQ(triples.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(triples.status().message()), StartsWith("turtle:2:9:"));
}

TEST(TurtleTest, TripleLimitIsEnforced) {
  std::string doc;
  for (int i = 0; i < 20; ++i) doc += "<s> <p> \"" + std::to_string(i) + "\" .\n";
  auto ok = parseTurtle(doc, "https://ana.example/card", 20);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), 20u);
  auto over = parseTurtle(doc, "https://ana.example/card", 19);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace habanero::outbound
