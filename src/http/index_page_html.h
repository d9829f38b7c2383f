// The index page's text: the HTML template with {{NAME}} placeholders, and the inline style and
// script that the template's {{STYLE}} and {{SCRIPT}} stand for. Only index_page.cc uses them.
//
// Thread-safety: constants.
#pragma once

#include <string_view>

namespace rendezvous::http {

extern const std::string_view kIndexPageTemplate;
extern const std::string_view kIndexPageStyle;
extern const std::string_view kIndexPageScript;

}  // namespace rendezvous::http
