// Turtle (RDF 1.1) to triples, with serd (Debian libserd-dev), for WebID
// profiles and Solid documents fetched by extensions (design 0002).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "habanero/status.h"

namespace habanero::outbound {

struct Triple {
  std::string subject;    // absolute IRI or "_:id"
  std::string predicate;  // absolute IRI
  std::string object;     // absolute IRI, "_:id", or a literal's lexical form
  bool object_is_literal = false;
};

// Parses `text` with `base_uri` resolving relative IRIs. InvalidArgument naming
// the line and column for a syntax error; ResourceExhausted beyond max_triples.
absl::StatusOr<std::vector<Triple>> parseTurtle(std::string_view text, std::string_view base_uri,
                                                size_t max_triples = 10'000);

}  // namespace habanero::outbound
