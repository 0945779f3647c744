// tokenvault/oauth/document.hpp: reading JSON documents that a server controls (metadata, registration).
//
// Every such document is attack surface. It is read with the strict pull reader (detail/json_cursor.hpp)
// straight into typed fields, after two checks that need no recursion: a size cap and a nesting cap of
// 64 levels (a linear scan outside strings). Unknown members are skipped, a known member given twice is
// refused (no parser differential can pick another value), every string and array is bounded, and every
// failure is a typed error naming the document and the field. Secret fields are copied only into
// `secret_string`; the reader's scratch memory is wiped.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/json_cursor.hpp"
#include "../detail/text_checks.hpp"
#include "../result.hpp"
#include "../token.hpp"

namespace tokenvault::oauth {

/// Bounds on every server document tokenvault reads.
struct document_limits {
    static constexpr std::size_t max_depth = 64;             ///< nesting of objects and arrays
    static constexpr std::size_t max_document = 256 * 1024;  ///< bytes of one document
    static constexpr std::size_t max_text = 4096;            ///< bytes of one string field
    static constexpr std::size_t max_array = 256;            ///< elements of one array field
};

namespace detail {

/// Refuses text nested deeper than `max_depth` (objects and arrays), scanning once, outside strings.
/// Malformed text passes: the reader refuses it afterwards.
[[nodiscard]] inline result<void> check_nesting(std::string_view text, std::string_view what,
                                                std::size_t max_depth = document_limits::max_depth) {
    if (!::tokenvault::detail::json_depth_within(text, max_depth))
        return error{errc::too_large,
                     std::string(what) + ": nested deeper than " + std::to_string(max_depth) + " levels"};
    return {};
}

/// The error for a document that is not JSON.
[[nodiscard]] inline error not_json(std::string_view what, const ::tokenvault::detail::json_cursor& cursor) {
    return error{errc::malformed_json,
                 std::string(what) + ": not a JSON object (at byte " + std::to_string(cursor.offset()) + ")"};
}

/// Reads the members of the JSON object `text` is. `fn(key, cursor)` returns result<bool>: true when it
/// read the member's value, false to skip it. A key `fn` reads twice is refused.
template <class Fn>
[[nodiscard]] result<void> read_object(std::string_view text, std::string_view what, Fn&& fn) {
    if (text.size() > document_limits::max_document)
        return error{errc::too_large, std::string(what) + ": larger than " +
                                          std::to_string(document_limits::max_document / 1024) + " KiB"};
    TOKENVAULT_TRY(check_nesting(text, what));
    ::tokenvault::detail::json_cursor cursor(text);
    if (cursor.peek() != ::tokenvault::detail::json_cursor::kind::object || !cursor.begin_object())
        return not_json(what, cursor);
    std::vector<std::string> seen;
    std::string_view key;
    while (cursor.next_member(key)) {
        std::string name(key);
        auto handled = fn(std::string_view(name), cursor);
        if (!handled) return handled.error();
        if (*handled) {
            for (const auto& earlier : seen)
                if (earlier == name)
                    return error{errc::invalid_argument,
                                 std::string(what) + ": field '" + name + "' appears twice"};
            seen.push_back(std::move(name));
        } else {
            std::string_view ignored;
            if (!cursor.skip(ignored)) break;
        }
    }
    if (cursor.failed() || !cursor.finish()) return not_json(what, cursor);
    return {};
}

/// A field error: "<what>: field '<name>' <problem>".
[[nodiscard]] inline error field_error(errc code, std::string_view what, std::string_view name,
                                       std::string_view problem) {
    return error{code, std::string(what) + ": field '" + std::string(name) + "' " + std::string(problem)};
}

/// Reads a string value of at most `max` bytes without control characters.
[[nodiscard]] inline result<std::string> read_text(::tokenvault::detail::json_cursor& cursor,
                                                   std::string_view what, std::string_view name,
                                                   std::size_t max = document_limits::max_text) {
    using kind = ::tokenvault::detail::json_cursor::kind;
    if (cursor.peek() != kind::string) return field_error(errc::wrong_type, what, name, "must be a string");
    std::string_view value;
    if (!cursor.string(value)) return not_json(what, cursor);
    if (value.size() > max) return field_error(errc::too_large, what, name, "is too long");
    if (::tokenvault::detail::has_control_or_nul(value))
        return field_error(errc::invalid_argument, what, name, "contains a control character");
    return std::string(value);
}

/// Reads a secret string value (copied only into wiped memory).
[[nodiscard]] inline result<secret_string> read_secret(::tokenvault::detail::json_cursor& cursor,
                                                       std::string_view what, std::string_view name) {
    using kind = ::tokenvault::detail::json_cursor::kind;
    if (cursor.peek() != kind::string) return field_error(errc::wrong_type, what, name, "must be a string");
    std::string_view value;
    if (!cursor.string(value)) return not_json(what, cursor);
    if (value.size() > 32 * 1024) return field_error(errc::too_large, what, name, "is longer than 32 KiB");
    if (::tokenvault::detail::has_control_or_nul(value))
        return field_error(errc::invalid_argument, what, name, "contains a control character");
    return secret_string{value};
}

/// Reads an array of strings (at most document_limits::max_array of them).
[[nodiscard]] inline result<std::vector<std::string>> read_text_array(
    ::tokenvault::detail::json_cursor& cursor, std::string_view what, std::string_view name) {
    using kind = ::tokenvault::detail::json_cursor::kind;
    if (cursor.peek() != kind::array || !cursor.begin_array())
        return field_error(errc::wrong_type, what, name, "must be an array of strings");
    std::vector<std::string> out;
    while (cursor.next_element()) {
        if (out.size() == document_limits::max_array)
            return field_error(errc::too_large, what, name, "has too many elements");
        auto text = read_text(cursor, what, name);
        if (!text) return text.error();
        out.push_back(std::move(*text));
    }
    if (cursor.failed()) return not_json(what, cursor);
    return out;
}

/// Reads `true` or `false`.
[[nodiscard]] inline result<bool> read_bool(::tokenvault::detail::json_cursor& cursor, std::string_view what,
                                            std::string_view name) {
    using kind = ::tokenvault::detail::json_cursor::kind;
    bool value = false;
    if (cursor.peek() != kind::boolean)
        return field_error(errc::wrong_type, what, name, "must be true or false");
    if (!cursor.boolean(value)) return not_json(what, cursor);
    return value;
}

/// Reads a non-negative integer number of seconds (a JSON number without fraction).
[[nodiscard]] inline result<std::uint64_t> read_seconds(::tokenvault::detail::json_cursor& cursor,
                                                        std::string_view what, std::string_view name) {
    using kind = ::tokenvault::detail::json_cursor::kind;
    ::tokenvault::detail::json_number number;
    if (cursor.peek() != kind::number) return field_error(errc::wrong_type, what, name, "must be a number");
    if (!cursor.number(number)) return not_json(what, cursor);
    if (!number.is_unsigned() || number.unsigned_value > 7258118400u)  // 2200-01-01, as token expiries
        return field_error(errc::value_out_of_range, what, name,
                           "must be a whole number of seconds before 2200");
    return number.unsigned_value;
}

/// Whether `text` is a short OAuth error code ([a-z_]+), safe to repeat in an error context.
[[nodiscard]] inline bool is_error_code(std::string_view text) noexcept {
    if (text.empty() || text.size() > 64) return false;
    for (const char c : text)
        if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
    return true;
}

/// The OAuth `error` code of an error body, when it is one and well-formed; empty otherwise.
[[nodiscard]] inline std::string error_code_of(std::string_view body) {
    std::string code;
    const auto read =
        read_object(body, "error response", [&](std::string_view key, auto& cursor) -> result<bool> {
            if (key != "error") return false;
            auto text = read_text(cursor, "error response", key, 64);
            if (!text) return text.error();
            code = std::move(*text);
            return true;
        });
    if (!read || !is_error_code(code)) return {};
    return code;
}

}  // namespace detail

}  // namespace tokenvault::oauth
