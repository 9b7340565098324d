// The files of web/, compiled into the binary by cmake/EmbedFile.cmake, so a
// server needs no source tree at run time. Valid for the life of the process.
#pragma once

#include <string_view>

namespace habanero::server::web {

// web/login.html: the host's /login page; placeholders {{title}} and {{body}}.
extern const std::string_view kLoginHtml;
// web/style.css: served at /static/style.css.
extern const std::string_view kStyleCss;

}  // namespace habanero::server::web
