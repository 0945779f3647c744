// tokenvault/detail/json_writer.hpp: writes JSON text straight into wiped memory.
//
// The token and bundle writers use it so that no intermediate document holds copies of the secrets;
// unknown fields (extra_json values) are written by json_value.hpp on top of it.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "secure_buffer.hpp"
#include "text_checks.hpp"

namespace tokenvault::detail {

/// Writes JSON text straight into a wiped string: no intermediate document holding copies of secrets.
class json_writer {
public:
    explicit json_writer(std::size_t expected_size) { out_.reserve(expected_size); }
    /// Writes into `buffer` (emptied first; its allocation is reused).
    json_writer(secret_text buffer, std::size_t expected_size) : out_(std::move(buffer)) {
        out_.clear();
        out_.reserve(expected_size);
    }

    /// Appends a JSON string; false when `value` is not valid UTF-8 (the text is then unusable).
    [[nodiscard]] bool string(std::string_view value) {
        static constexpr char hex[] = "0123456789abcdef";
        out_ += '"';
        std::size_t i = 0;
        for (;;) {
            const std::size_t run_end = printable_ascii_end<true>(value, i);
            out_.append(value.data() + i, run_end - i);
            i = run_end;
            if (i == value.size()) break;
            const auto c = static_cast<unsigned char>(value[i]);
            if (c == '"' || c == '\\') {
                const char escaped[] = {'\\', static_cast<char>(c)};
                out_.append(escaped, sizeof escaped);
                ++i;
            } else if (c < 0x20) {
                const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                out_.append(escaped, sizeof escaped);
                ++i;
            } else if (c == 0x7f) {
                out_ += static_cast<char>(c);
                ++i;
            } else {
                const auto length = utf8_sequence_length(value, i);
                if (length == 0) return false;  // the caller discards the whole text
                out_.append(value.data() + i, length);
                i += length;
            }
        }
        out_ += '"';
        return true;
    }
    /// Appends `"key":` (with a leading comma when needed).
    [[nodiscard]] bool key(std::string_view name) {
        separator();
        if (!string(name)) return false;
        out_ += ':';
        return true;
    }
    /// Appends an unsigned number.
    void number(std::uint64_t value) {
        char buf[24];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
        (void)ec;
        append_chars(buf, end);
    }
    /// Appends a signed number.
    void number(std::int64_t value) {
        char buf[24];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
        (void)ec;
        append_chars(buf, end);
    }
    /// Appends a floating-point number in the shortest form that reads back exactly, with ".0" when it
    /// would otherwise read back as an integer; false for infinity and NaN (JSON has no text for them).
    [[nodiscard]] bool number(double value) {
        if (!std::isfinite(value)) return false;
        char buf[40];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 2, value);
        if (ec != std::errc{}) return false;
        if (std::string_view(buf, static_cast<std::size_t>(end - buf)).find_first_of(".e") ==
            std::string_view::npos) {
            *end++ = '.';
            *end++ = '0';
        }
        append_chars(buf, end);
        return true;
    }
    void open_object() {
        out_ += '{';
        first_ = true;
    }
    void close_object() {
        out_ += '}';
        first_ = false;
    }
    void open_array() {
        out_ += '[';
        first_ = true;
    }
    void close_array() {
        out_ += ']';
        first_ = false;
    }
    /// Writes the separator before an array element.
    void element() { separator(); }
    /// Appends JSON text that is already well-formed (a value after `key`).
    void raw(std::string_view json_text) { out_.append(json_text.data(), json_text.size()); }
    /// The number of bytes written so far.
    [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
    /// The text written so far.
    [[nodiscard]] secret_text& text() noexcept { return out_; }

private:
    void append_chars(const char* first, const char* last) {
        // resize + memcpy: GCC 12 at -O3 reports a false -Wrestrict on string::append of a local buffer.
        const auto size = static_cast<std::size_t>(last - first);
        const auto at = out_.size();
        out_.resize(at + size);
        std::memcpy(out_.data() + at, first, size);
    }
    void separator() {
        if (!first_) out_ += ',';
        first_ = false;
    }
    secret_text out_;
    bool first_ = true;
};

}  // namespace tokenvault::detail
