// UTF-8 as Postfix's valid_utf8_string() reads it: shared by the query expander (a key that is
// not UTF-8 is never looked up) and the log and STATUS= text (systemd drops a STATUS= that is
// not UTF-8 clean).
#pragma once

#include <cstddef>
#include <string_view>

namespace lhc {

// The length of the well-formed UTF-8 sequence that starts at s[i], or 0 when there is none.
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80             ? 1
                      : (c & 0xE0) == 0xC0 ? 2
                      : (c & 0xF0) == 0xE0 ? 3
                      : (c & 0xF8) == 0xF0 ? 4
                                           : 0;
    if (len == 0 || (len == 2 && c < 0xC2) || i + len > s.size())
        return 0;
    for (std::size_t k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
            return 0;
    return len;
}

} // namespace lhc
