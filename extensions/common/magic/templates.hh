// templates.hh — the operator's message templates: per-locale lookup in the extension's
// settings and the choice of a locale from ui_locales / Accept-Language. Rendering is the
// guest library's renderTemplate (<habanero/template.hh>).
//
//   TemplateVars vars = {{"link", link}, {"code", code}};
//   std::string text = renderTemplate(templateFor("template_text", locale, kDefaultText), vars);
//   std::string html = renderTemplate(templateFor("template_html", locale, kDefaultHtml), vars,
//                                     /*escapeValues=*/true);
//
// Placeholders are `{{name}}` (spaces inside the braces allowed). A name not in `vars` is
// left as written, so a typo shows up in the first test message. In HTML templates every
// value is HTML-escaped; the template text itself is the operator's and is not.
#ifndef HABANERO_EXTENSIONS_COMMON_MAGIC_TEMPLATES_HH_
#define HABANERO_EXTENSIONS_COMMON_MAGIC_TEMPLATES_HH_

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <habanero.hh>
#include <habanero/template.hh>
#include <habanero/text.hh>

namespace habanero::magic {

// The magic-link code is written on the guest library (sdk/cpp/habanero/): its names are
// used unqualified here.
namespace sdk = habanero::sdk;
using namespace habanero::sdk;

// A locale tag as used in setting names: lower-case letters, digits and '-', 1..35 bytes.
inline bool plausibleLocale(std::string_view tag) {
  if (tag.empty() || tag.size() > 35) return false;
  for (char c : tag) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// The setting `base` + "." + locale (e.g. "template_text.fr"), else `base`, else the
// compiled-in default.
inline std::string templateFor(std::string_view base, std::string_view locale,
                               std::string_view fallback) {
  if (!locale.empty()) {
    if (std::optional<std::string> t =
            sdk::setting(std::string(base) + "." + std::string(locale))) {
      return *t;
    }
  }
  if (std::optional<std::string> t = sdk::setting(base)) return *t;
  return std::string(fallback);
}

// The languages a request asks for, best first: `uiLocales` (OIDC ui_locales: space
// separated, in order) then Accept-Language by q-value (ties in order). Tags lower-cased;
// "*" and malformed tags dropped; at most 10.
inline std::vector<std::string> wantedLocales(std::string_view uiLocales,
                                              std::string_view acceptLanguage) {
  std::vector<std::string> out;
  auto add = [&](std::string tag) {
    if (plausibleLocale(tag) && out.size() < 10 &&
        std::find(out.begin(), out.end(), tag) == out.end()) {
      out.push_back(std::move(tag));
    }
  };
  size_t pos = 0;
  while (pos < uiLocales.size()) {
    size_t end = uiLocales.find(' ', pos);
    if (end == std::string_view::npos) end = uiLocales.size();
    add(asciiLower(trim(uiLocales.substr(pos, end - pos))));
    pos = end + 1;
  }
  struct Weighted {
    std::string tag;
    int q;  // thousandths
    size_t order;
  };
  std::vector<Weighted> weighted;
  pos = 0;
  while (pos < acceptLanguage.size() && weighted.size() < 20) {
    size_t end = acceptLanguage.find(',', pos);
    if (end == std::string_view::npos) end = acceptLanguage.size();
    std::string_view item = trim(acceptLanguage.substr(pos, end - pos));
    pos = end + 1;
    int q = 1000;
    size_t semi = item.find(';');
    std::string_view tag = trim(item.substr(0, semi));
    if (semi != std::string_view::npos) {
      std::string_view param = trim(item.substr(semi + 1));
      if (param.starts_with("q=") || param.starts_with("Q=")) {
        std::string_view v = param.substr(2);
        // "0", "0.5", "1", "1.000": thousandths.
        q = 0;
        if (!v.empty() && v[0] == '1') {
          q = 1000;
        } else if (v.size() >= 3 && v[0] == '0' && v[1] == '.') {
          int scale = 100;
          for (size_t i = 2; i < v.size() && i < 5 && v[i] >= '0' && v[i] <= '9'; ++i) {
            q += (v[i] - '0') * scale;
            scale /= 10;
          }
        }
      }
    }
    if (q > 0 && tag != "*") weighted.push_back({asciiLower(tag), q, weighted.size()});
  }
  std::stable_sort(weighted.begin(), weighted.end(),
                   [](const Weighted& a, const Weighted& b) { return a.q > b.q; });
  for (Weighted& w : weighted) add(std::move(w.tag));
  return out;
}

// The first wanted locale (or its primary subtag: "fr-ca" -> "fr") for which the setting
// `probe` + "." + tag exists; "" if none does (the untranslated templates are used).
inline std::string chooseLocale(const std::vector<std::string>& wanted, std::string_view probe) {
  for (const std::string& tag : wanted) {
    std::string candidates[2] = {tag, tag.substr(0, tag.find('-'))};
    for (const std::string& c : candidates) {
      if (c.empty()) continue;
      if (sdk::setting(std::string(probe) + "." + c)) return c;
    }
  }
  return std::string();
}

}  // namespace habanero::magic

#endif  // HABANERO_EXTENSIONS_COMMON_MAGIC_TEMPLATES_HH_
