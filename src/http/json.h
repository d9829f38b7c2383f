// The small pieces of JSON writing the listing answer needs (RFC 8259), written by hand: UTF-8
// validation, string escaping and base64 (RFC 4648, standard alphabet, padded).
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace rendezvous::http {

// Whether `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), so that it may go into a JSON string as it is.
[[nodiscard]] bool IsValidUtf8(std::string_view bytes);

// Appends `text` (valid UTF-8) as a JSON string, quotes included: '"' and '\' escaped, control
// characters (U+0000 to U+001F) as \n, \r, \t, \b, \f or \u00XX, and U+007F as \u007f; every
// other character, non-ASCII included, passes through as its UTF-8 bytes.
void AppendJsonString(std::string_view text, std::string& out);

// Appends the base64 of `bytes` (standard alphabet, '=' padding).
void AppendBase64(std::string_view bytes, std::string& out);

}  // namespace rendezvous::http
