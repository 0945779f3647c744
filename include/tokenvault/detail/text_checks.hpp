// tokenvault/detail/text_checks.hpp: byte-level checks every stored text field passes (UTF-8, control bytes),
// and the nesting scan run before handing text to a document parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tokenvault::detail {

/// Index of the first byte at or after `i` that is not printable ASCII (0x20..0x7e), or, when
/// `StopAtJsonSpecials`, that is '"' or '\\'; s.size() when there is none. Eight bytes per step.
template <bool StopAtJsonSpecials = false>
[[nodiscard]] inline std::size_t printable_ascii_end(std::string_view s, std::size_t i) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const auto has_zero_byte = [](std::uint64_t w) { return (w - ones) & ~w & highs; };
    while (i + 8 <= s.size()) {
        std::uint64_t w = 0;
        std::memcpy(&w, s.data() + i, 8);
        std::uint64_t stop = (w & highs)                         // >= 0x80
                             | ((w - ones * 0x20) & ~w & highs)  // < 0x20
                             | has_zero_byte(w ^ (ones * 0x7f));
        if constexpr (StopAtJsonSpecials)
            stop |= has_zero_byte(w ^ (ones * '"')) | has_zero_byte(w ^ (ones * '\\'));
        if (stop != 0) break;
        i += 8;
    }
    for (; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c >= 0x7f) break;
        if (StopAtJsonSpecials && (c == '"' || c == '\\')) break;
    }
    return i;
}

/// Length of the well-formed UTF-8 sequence starting at s[i] (a lead byte >= 0x80), or 0 when it is
/// malformed: truncated, overlong, a surrogate, or above U+10FFFF.
[[nodiscard]] inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0, min = 0;
    if ((c & 0xE0) == 0xC0)
        extra = 1, code = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        extra = 2, code = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        extra = 3, code = c & 0x07, min = 0x10000;
    else
        return 0;
    if (i + extra >= s.size()) return 0;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        code = (code << 6) | (cc & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    return extra + 1;
}

/// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
[[nodiscard]] inline bool valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while ((i = printable_ascii_end(s, i)) < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const auto length = utf8_sequence_length(s, i);
        if (length == 0) return false;
        i += length;
    }
    return true;
}

/// True when `s` holds a C0 control byte, DEL or NUL (never valid in a token field).
[[nodiscard]] inline bool has_control_or_nul(std::string_view s) noexcept {
    for (std::size_t i = 0; (i = printable_ascii_end(s, i)) < s.size(); ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
}

/// True when the arrays and objects of `text` nest at most `max_depth` levels (strings are skipped, so
/// brackets inside them do not count). A linear scan without recursion; meant to run before a parse.
template <class = void>
[[nodiscard]] inline bool json_depth_within(std::string_view text, std::size_t max_depth) noexcept {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) return false;
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return true;
}

}  // namespace tokenvault::detail
