#include "turtle.h"

#include <serd/serd.h>

#include <cstdarg>
#include <cstdio>
#include <memory>

#include "habanero/strings.h"

namespace habanero::outbound {
namespace {

struct EnvDeleter {
  void operator()(SerdEnv* e) const { serd_env_free(e); }
};
struct ReaderDeleter {
  void operator()(SerdReader* r) const { serd_reader_free(r); }
};

struct ParseState {
  SerdEnv* env = nullptr;
  std::vector<Triple>* out = nullptr;
  size_t max_triples = 0;
  bool overflow = false;
  std::string error;  // the first error, formatted
};

std::string nodeText(const SerdNode* n) {
  return std::string(reinterpret_cast<const char*>(n->buf), n->n_bytes);
}

// The absolute form of an IRI or CURIE node, or "_:id" for a blank node.
// False when a CURIE's prefix is not declared.
bool resolveNode(ParseState& st, const SerdNode* node, std::string& out) {
  switch (node->type) {
    case SERD_BLANK:
      out = strCat("_:", nodeText(node));
      return true;
    case SERD_URI:
    case SERD_CURIE: {
      SerdNode expanded = serd_env_expand_node(st.env, node);
      if (expanded.buf == nullptr) {
        if (node->type == SERD_URI) {  // no base to resolve against: keep as written
          out = nodeText(node);
          return true;
        }
        return false;
      }
      out = nodeText(&expanded);
      serd_node_free(&expanded);
      return true;
    }
    default:
      out = nodeText(node);
      return true;
  }
}

SerdStatus onBase(void* handle, const SerdNode* uri) {
  auto* st = static_cast<ParseState*>(handle);
  return serd_env_set_base_uri(st->env, uri);
}

SerdStatus onPrefix(void* handle, const SerdNode* name, const SerdNode* uri) {
  auto* st = static_cast<ParseState*>(handle);
  return serd_env_set_prefix(st->env, name, uri);
}

SerdStatus onStatement(void* handle, SerdStatementFlags, const SerdNode*, const SerdNode* subject,
                       const SerdNode* predicate, const SerdNode* object, const SerdNode*,
                       const SerdNode*) {
  auto* st = static_cast<ParseState*>(handle);
  if (st->out->size() >= st->max_triples) {
    st->overflow = true;
    return SERD_ERR_INTERNAL;
  }
  Triple t;
  if (!resolveNode(*st, subject, t.subject) || !resolveNode(*st, predicate, t.predicate)) {
    st->error = "turtle: undefined prefix in a subject or predicate";
    return SERD_ERR_BAD_CURIE;
  }
  if (object->type == SERD_LITERAL) {
    t.object = nodeText(object);
    t.object_is_literal = true;
  } else if (!resolveNode(*st, object, t.object)) {
    st->error = strCat("turtle: undefined prefix in '", nodeText(object), "'");
    return SERD_ERR_BAD_CURIE;
  }
  st->out->push_back(std::move(t));
  return SERD_SUCCESS;
}

SerdStatus onError(void* handle, const SerdError* e) {
  auto* st = static_cast<ParseState*>(handle);
  if (!st->error.empty()) return SERD_SUCCESS;
  char msg[512] = {};
  if (e->fmt != nullptr && e->args != nullptr) {
    va_list args;
    va_copy(args, *e->args);
    std::vsnprintf(msg, sizeof msg, e->fmt, args);
    va_end(args);
  }
  std::string text = msg;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  st->error = strCat("turtle:", e->line, ":", e->col, ": ", text.empty() ? "syntax error" : text);
  return SERD_SUCCESS;
}

}  // namespace

absl::StatusOr<std::vector<Triple>> parseTurtle(std::string_view text, std::string_view base_uri,
                                                size_t max_triples) {
  std::vector<Triple> triples;
  size_t nul = text.find('\0');
  if (nul != std::string_view::npos) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < nul; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return absl::InvalidArgumentError(strCat("turtle:", line, ":", col, ": NUL byte in document"));
  }
  std::string base(base_uri);
  SerdNode base_node =
      serd_node_from_string(SERD_URI, reinterpret_cast<const uint8_t*>(base.c_str()));
  std::unique_ptr<SerdEnv, EnvDeleter> env(serd_env_new(base.empty() ? nullptr : &base_node));
  if (!env) return absl::ResourceExhaustedError("turtle: out of memory");
  ParseState st;
  st.env = env.get();
  st.out = &triples;
  st.max_triples = max_triples;
  std::unique_ptr<SerdReader, ReaderDeleter> reader(
      serd_reader_new(SERD_TURTLE, &st, nullptr, onBase, onPrefix, onStatement, nullptr));
  if (!reader) return absl::ResourceExhaustedError("turtle: out of memory");
  serd_reader_set_strict(reader.get(), true);
  serd_reader_set_error_sink(reader.get(), onError, &st);
  std::string doc(text);
  SerdStatus rc =
      serd_reader_read_string(reader.get(), reinterpret_cast<const uint8_t*>(doc.c_str()));
  if (st.overflow) {
    return absl::ResourceExhaustedError(strCat("turtle: more than ", max_triples, " triples"));
  }
  if (!st.error.empty()) return absl::InvalidArgumentError(st.error);
  if (rc != SERD_SUCCESS && rc != SERD_FAILURE) {
    return absl::InvalidArgumentError(
        strCat("turtle: ", reinterpret_cast<const char*>(serd_strerror(rc))));
  }
  return triples;
}

}  // namespace habanero::outbound
