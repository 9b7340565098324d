// links.h — finding link relations in HTTP Link headers (RFC 8288) and HTML documents, and
// a simple h-app reader, free of host calls.
//
// Header-only (standard library only) for the guest and host-side tests. These readers are
// deliberately small: they find what IndieAuth discovery needs (§4.1: the first Link header
// with the rel wins, then the first <link> element in document order; §4.2.2: every
// rel="redirect_uri"; §4.2.1 note: h-app name, logo and url) and ignore the rest of the
// markup. They never fail: malformed input yields fewer results. Every href they return is
// as written (entities decoded); resolve it with resolveReference() (urls.h).
//
//   auto href = firstLinkHeaderRel({"<https://a.example/meta>; rel=\"indieauth-metadata\""},
//                                  "indieauth-metadata");        // "https://a.example/meta"
//   auto hrefs = htmlLinkRels(page, "redirect_uri");             // every <link rel=…> href
#ifndef HABANERO_EXTENSIONS_INDIEAUTH_RULES_LINKS_H_
#define HABANERO_EXTENSIONS_INDIEAUTH_RULES_LINKS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <habanero/text.hh>

namespace habanero::indieauth {

namespace sdk = habanero::sdk;

// Bound on the work the readers do (bytes of HTML examined; links returned).
inline constexpr size_t kMaxHtmlBytes = 512 * 1024;
inline constexpr size_t kMaxLinks = 64;

namespace link_detail {

using sdk::asciiLower;

inline bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Whether the space-separated list `rels` contains `rel` (ASCII case-insensitive).
inline bool relListHas(std::string_view rels, std::string_view rel) {
  size_t i = 0;
  while (i < rels.size()) {
    while (i < rels.size() && isSpace(rels[i])) ++i;
    size_t end = i;
    while (end < rels.size() && !isSpace(rels[end])) ++end;
    std::string_view token = rels.substr(i, end - i);
    if (!token.empty() && asciiLower(token) == asciiLower(rel)) return true;
    i = end;
  }
  return false;
}

// Appends the UTF-8 encoding of a code point (invalid ones become U+FFFD).
inline void appendUtf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace link_detail

// Decodes the character references HTML attribute values and text commonly use: &amp;
// &lt; &gt; &quot; &apos; &#39; &nbsp; and numeric &#NN; / &#xHH;. Others stay as written.
inline std::string decodeEntities(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '&') {
      out.push_back(in[i]);
      continue;
    }
    size_t semi = in.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view name = in.substr(i + 1, semi - i - 1);
    if (name == "amp") {
      out.push_back('&');
    } else if (name == "lt") {
      out.push_back('<');
    } else if (name == "gt") {
      out.push_back('>');
    } else if (name == "quot") {
      out.push_back('"');
    } else if (name == "apos") {
      out.push_back('\'');
    } else if (name == "nbsp") {
      out += "\xc2\xa0";
    } else if (name.size() >= 2 && name[0] == '#') {
      uint32_t cp = 0;
      bool hex = name[1] == 'x' || name[1] == 'X';
      std::string_view digits = name.substr(hex ? 2 : 1);
      bool ok = !digits.empty() && digits.size() <= 7;
      for (char c : digits) {
        int d = -1;
        if (c >= '0' && c <= '9')
          d = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
          d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
          d = c - 'A' + 10;
        if (d < 0) {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      }
      if (!ok) {
        out.push_back('&');
        continue;
      }
      link_detail::appendUtf8(out, cp);
    } else {
      out.push_back('&');
      continue;
    }
    i = semi;
  }
  return out;
}

// One link of a Link header: its target and its rel value (as written).
struct HeaderLink {
  std::string href;
  std::string rel;
};

// Parses Link header values ("<a>; rel=x, <b>; rel=\"y z\"") into links, in order. A value
// may hold several comma-separated links; each header value of `values` is one field line.
inline std::vector<HeaderLink> parseLinkHeaders(const std::vector<std::string>& values) {
  std::vector<HeaderLink> out;
  for (const std::string& value : values) {
    std::string_view s = value;
    size_t i = 0;
    while (i < s.size() && out.size() < kMaxLinks) {
      while (i < s.size() && (link_detail::isSpace(s[i]) || s[i] == ',')) ++i;
      if (i >= s.size() || s[i] != '<') {
        // Not a link: skip to the next comma outside quotes.
        bool quoted = false;
        while (i < s.size() && (quoted || s[i] != ',')) {
          if (s[i] == '"') quoted = !quoted;
          ++i;
        }
        continue;
      }
      size_t close = s.find('>', i);
      if (close == std::string_view::npos) break;
      HeaderLink link;
      link.href = std::string(link_detail::trim(s.substr(i + 1, close - i - 1)));
      i = close + 1;
      // Parameters until the next comma outside quotes.
      while (i < s.size() && s[i] != ',') {
        while (i < s.size() && (link_detail::isSpace(s[i]) || s[i] == ';')) ++i;
        size_t name_start = i;
        while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != ',' &&
               !link_detail::isSpace(s[i])) {
          ++i;
        }
        std::string name = link_detail::asciiLower(s.substr(name_start, i - name_start));
        while (i < s.size() && link_detail::isSpace(s[i])) ++i;
        std::string param_value;
        if (i < s.size() && s[i] == '=') {
          ++i;
          while (i < s.size() && link_detail::isSpace(s[i])) ++i;
          if (i < s.size() && s[i] == '"') {
            ++i;
            while (i < s.size() && s[i] != '"') {
              if (s[i] == '\\' && i + 1 < s.size()) ++i;
              param_value.push_back(s[i]);
              ++i;
            }
            if (i < s.size()) ++i;  // closing quote
          } else {
            size_t v = i;
            while (i < s.size() && s[i] != ';' && s[i] != ',') ++i;
            param_value = std::string(link_detail::trim(s.substr(v, i - v)));
          }
        }
        if (name == "rel" && link.rel.empty()) link.rel = param_value;
        if (name.empty() && i < s.size() && s[i] != ';' && s[i] != ',') ++i;  // stray byte
      }
      out.push_back(std::move(link));
    }
  }
  return out;
}

// The href of the first Link header link whose rel contains `rel`; nullopt if none.
inline std::optional<std::string> firstLinkHeaderRel(const std::vector<std::string>& values,
                                                     std::string_view rel) {
  for (const HeaderLink& l : parseLinkHeaders(values)) {
    if (link_detail::relListHas(l.rel, rel)) return l.href;
  }
  return std::nullopt;
}

// Every Link header href whose rel contains `rel`, in order.
inline std::vector<std::string> allLinkHeaderRels(const std::vector<std::string>& values,
                                                  std::string_view rel) {
  std::vector<std::string> out;
  for (const HeaderLink& l : parseLinkHeaders(values)) {
    if (link_detail::relListHas(l.rel, rel)) out.push_back(l.href);
  }
  return out;
}

// One start tag of an HTML document: lower-case name, attributes (lower-case names,
// entity-decoded values), and where it ends in the text.
struct HtmlTag {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  size_t end = 0;  // offset just past '>'
  bool closing = false;

  std::optional<std::string> attr(std::string_view n) const {
    for (const auto& [k, v] : attrs) {
      if (k == n) return v;
    }
    return std::nullopt;
  }
  bool hasClass(std::string_view cls) const {
    auto c = attr("class");
    return c && link_detail::relListHas(*c, cls);
  }
};

// Reads the tag starting at html[pos] == '<'. Comments, doctypes and processing
// instructions come back with an empty name. nullopt at the end of the input.
inline std::optional<HtmlTag> readTag(std::string_view html, size_t pos) {
  using link_detail::isSpace;
  if (pos >= html.size() || html[pos] != '<') return std::nullopt;
  HtmlTag tag;
  if (html.substr(pos).starts_with("<!--")) {
    size_t end = html.find("-->", pos + 4);
    tag.end = end == std::string_view::npos ? html.size() : end + 3;
    return tag;
  }
  if (pos + 1 < html.size() && (html[pos + 1] == '!' || html[pos + 1] == '?')) {
    size_t end = html.find('>', pos);
    tag.end = end == std::string_view::npos ? html.size() : end + 1;
    return tag;
  }
  size_t i = pos + 1;
  if (i < html.size() && html[i] == '/') {
    tag.closing = true;
    ++i;
  }
  size_t name_start = i;
  while (i < html.size() && !isSpace(html[i]) && html[i] != '>' && html[i] != '/') ++i;
  tag.name = link_detail::asciiLower(html.substr(name_start, i - name_start));
  while (i < html.size() && html[i] != '>') {
    while (i < html.size() && (isSpace(html[i]) || html[i] == '/')) ++i;
    if (i >= html.size() || html[i] == '>') break;
    size_t an = i;
    while (i < html.size() && !isSpace(html[i]) && html[i] != '=' && html[i] != '>' &&
           html[i] != '/') {
      ++i;
    }
    std::string name = link_detail::asciiLower(html.substr(an, i - an));
    while (i < html.size() && isSpace(html[i])) ++i;
    std::string value;
    if (i < html.size() && html[i] == '=') {
      ++i;
      while (i < html.size() && isSpace(html[i])) ++i;
      if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
        char q = html[i++];
        size_t vs = i;
        while (i < html.size() && html[i] != q) ++i;
        value = decodeEntities(html.substr(vs, i - vs));
        if (i < html.size()) ++i;
      } else {
        size_t vs = i;
        while (i < html.size() && !isSpace(html[i]) && html[i] != '>') ++i;
        value = decodeEntities(html.substr(vs, i - vs));
      }
    }
    if (!name.empty() && tag.attrs.size() < 64)
      tag.attrs.emplace_back(std::move(name), std::move(value));
  }
  tag.end = i < html.size() ? i + 1 : html.size();
  return tag;
}

// Calls `visit(tag, html)` for every start or end tag of `html` (up to kMaxHtmlBytes), in
// document order, skipping comments and the contents of <script> and <style>. Stops when
// visit returns false.
template <class Visit>
void forEachTag(std::string_view html, Visit&& visit) {
  if (html.size() > kMaxHtmlBytes) html = html.substr(0, kMaxHtmlBytes);
  size_t pos = 0;
  while (true) {
    size_t lt = html.find('<', pos);
    if (lt == std::string_view::npos) return;
    auto tag = readTag(html, lt);
    if (!tag) return;
    pos = tag->end > lt ? tag->end : lt + 1;
    if (tag->name.empty()) continue;
    if (!tag->closing && (tag->name == "script" || tag->name == "style")) {
      std::string close = "</" + tag->name;
      size_t end = pos;
      while (true) {
        end = html.find("</", end);
        if (end == std::string_view::npos) return;
        if (link_detail::asciiLower(html.substr(end, close.size())) == close) break;
        end += 2;
      }
      pos = end;
      continue;
    }
    if (!visit(*tag, html)) return;
  }
}

// The hrefs of <link> elements whose rel contains `rel`, in document order (at most
// kMaxLinks).
inline std::vector<std::string> htmlLinkRels(std::string_view html, std::string_view rel) {
  std::vector<std::string> out;
  forEachTag(html, [&](const HtmlTag& tag, std::string_view) {
    if (tag.closing || tag.name != "link") return true;
    auto r = tag.attr("rel");
    auto href = tag.attr("href");
    if (r && href && link_detail::relListHas(*r, rel)) out.push_back(*href);
    return out.size() < kMaxLinks;
  });
  return out;
}

// The first <link rel=…> href, or nullopt.
inline std::optional<std::string> firstHtmlLinkRel(std::string_view html, std::string_view rel) {
  auto all = htmlLinkRels(html, rel);
  if (all.empty()) return std::nullopt;
  return all.front();
}

// What an h-app (or h-x-app) element says about a client (microformats2, simply parsed:
// the first element with class p-name / u-logo / u-url inside the first h-app).
struct HApp {
  std::string name;
  std::string logo;  // as written; resolve against the page URL
  std::string url;   // as written
};

inline std::optional<HApp> parseHApp(std::string_view html) {
  if (html.size() > kMaxHtmlBytes) html = html.substr(0, kMaxHtmlBytes);
  std::optional<HApp> app;
  std::string root_name;
  int depth = 0;         // open elements named root_name inside the h-app
  bool in_name = false;  // collecting p-name text
  std::string name_tag;
  size_t text_from = 0;
  bool done = false;
  forEachTag(html, [&](const HtmlTag& tag, std::string_view doc) {
    if (done) return false;
    if (!app) {
      if (!tag.closing && (tag.hasClass("h-app") || tag.hasClass("h-x-app"))) {
        app = HApp{};
        root_name = tag.name;
        depth = 1;
        if (tag.hasClass("p-name")) {
          in_name = true;
          name_tag = tag.name;
          text_from = tag.end;
        }
      }
      return true;
    }
    if (in_name && tag.closing && tag.name == name_tag) {
      // The name is the text between the p-name tags, tags inside it dropped.
      std::string_view inner = doc.substr(text_from, 0);
      size_t lt = doc.rfind('<', tag.end - 1);
      if (lt != std::string_view::npos && lt >= text_from)
        inner = doc.substr(text_from, lt - text_from);
      std::string text;
      bool in_tag = false;
      for (char c : inner) {
        if (c == '<')
          in_tag = true;
        else if (c == '>')
          in_tag = false;
        else if (!in_tag)
          text.push_back(c);
      }
      app->name = std::string(link_detail::trim(decodeEntities(text)));
      if (app->name.size() > 200) app->name.resize(200);
      in_name = false;
    }
    if (tag.name == root_name) {
      depth += tag.closing ? -1 : 1;
      if (depth == 0) {
        done = true;
        return false;
      }
    }
    if (tag.closing) return true;
    if (!in_name && app->name.empty() && tag.hasClass("p-name")) {
      if (auto alt = tag.attr("alt"); alt && tag.name == "img") {
        app->name = *alt;
      } else {
        in_name = true;
        name_tag = tag.name;
        text_from = tag.end;
      }
    }
    if (app->logo.empty() && tag.hasClass("u-logo")) {
      app->logo = tag.attr("src").value_or(tag.attr("href").value_or(""));
    }
    if (app->url.empty() && tag.hasClass("u-url")) {
      app->url = tag.attr("href").value_or("");
    }
    return true;
  });
  return app;
}

}  // namespace habanero::indieauth

#endif  // HABANERO_EXTENSIONS_INDIEAUTH_RULES_LINKS_H_
