// The files of web/, compiled into the binary by cmake/EmbedFile.cmake, so a
// server needs no source tree at run time. Valid for the life of the process.
#pragma once

#include <string_view>

namespace habanero::server::web {

// web/page.html: the built-in shell of every page (the host's and every extension's);
// placeholders {{title}} and {{body}} (sdk/cpp/habanero/page_shell.hh).
extern const std::string_view kPageHtml;
// web/style.css: served at /static/style.css.
extern const std::string_view kStyleCss;

}  // namespace habanero::server::web
