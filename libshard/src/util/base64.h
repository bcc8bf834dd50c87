// Standard base64 (RFC 4648 section 4, with '=' padding), used to carry
// Document bytes through JSON as {"$bytes":"..."}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace libshard::util {

// Encodes arbitrary bytes; the output length is 4 * ceil(n / 3).
std::string Base64Encode(std::string_view bytes);

// Decodes canonical padded base64. Returns nullopt for anything else
// (bad characters, whitespace, wrong length or padding, non-zero pad bits),
// so that Decode(s) succeeding implies Encode(*Decode(s)) == s.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace libshard::util
