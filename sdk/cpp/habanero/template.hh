// template.hh — {{placeholder}} templates: the page shell, the operator's message templates.
//
// Pure (no host calls). One pass over the template: a value is inserted as given (or
// HTML-escaped, with `escapeValues`) and never expanded again, so a value cannot inject a
// placeholder. A name not in `vars` is left as written, so an operator's typo shows up in the
// first page or message instead of vanishing.
//
//   sdk::TemplateVars vars = {{"link", link}, {"code", code}};
//   std::string text = sdk::renderTemplate("Your code: {{code}}", vars);
//   std::string html = sdk::renderTemplate("<a href=\"{{ link }}\">…", vars, true);  // escaped
#ifndef HABANERO_SDK_CPP_HABANERO_TEMPLATE_HH_
#define HABANERO_SDK_CPP_HABANERO_TEMPLATE_HH_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <habanero/text.hh>

namespace habanero::sdk {

// Name (as written between the braces, spaces trimmed) and value.
using TemplateVars = std::vector<std::pair<std::string_view, std::string>>;

// Fills the `{{name}}` placeholders of `tmpl` (spaces inside the braces allowed).
inline std::string renderTemplate(std::string_view tmpl, const TemplateVars& vars,
                                  bool escapeValues = false) {
  std::string out;
  out.reserve(tmpl.size() + 256);
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(tmpl.substr(pos, open - pos));
    std::string_view name = trim(tmpl.substr(open + 2, close - open - 2));
    const std::string* value = nullptr;
    for (const auto& [k, v] : vars) {
      if (k == name) value = &v;
    }
    if (value == nullptr) {
      out.append(tmpl.substr(open, close + 2 - open));
    } else {
      out += escapeValues ? htmlEscape(*value) : *value;
    }
    pos = close + 2;
  }
  if (pos < tmpl.size()) out.append(tmpl.substr(pos));
  return out;
}

// Whether `tmpl` has the placeholder `{{name}}` (spaces inside the braces allowed).
inline bool hasPlaceholder(std::string_view tmpl, std::string_view name) {
  size_t pos = 0;
  while ((pos = tmpl.find("{{", pos)) != std::string_view::npos) {
    size_t close = tmpl.find("}}", pos + 2);
    if (close == std::string_view::npos) return false;
    if (trim(tmpl.substr(pos + 2, close - pos - 2)) == name) return true;
    pos = close + 2;
  }
  return false;
}

}  // namespace habanero::sdk

#endif  // HABANERO_SDK_CPP_HABANERO_TEMPLATE_HH_
