// tokenvault/detail/json_writer.hpp: writes JSON text straight into wiped memory.
//
// serialize_bundle uses it so that no intermediate nlohmann document holds copies of the secrets; the
// only nlohmann use is for unknown fields that tokenvault preserves without knowing their shape.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "secure_buffer.hpp"
#include "text_checks.hpp"

namespace tokenvault::detail {

/// Writes JSON text straight into a wiped string: no intermediate document holding copies of secrets.
class json_writer {
public:
    explicit json_writer(std::size_t expected_size) { out_.reserve(expected_size); }

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
        // resize + memcpy: GCC 12 at -O3 reports a false -Wrestrict on string::append of a local buffer.
        const auto digits = static_cast<std::size_t>(end - buf);
        const auto at = out_.size();
        out_.resize(at + digits);
        std::memcpy(out_.data() + at, buf, digits);
    }
    /// Appends an arbitrary JSON value (unknown fields), with invalid UTF-8 replaced.
    template <class Json>
    void value(const Json& v) {
        std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
        out_ += text;
        wipe(text);
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
    /// Appends every member of a JSON object (unknown fields) except `skip(key)` ones.
    template <class Json, class Skip>
    [[nodiscard]] bool members_of(const Json& object, Skip&& skip) {
        if (!object.is_object()) return true;
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (skip(it.key())) continue;
            if (!key(it.key())) return false;
            value(it.value());
        }
        return true;
    }
    [[nodiscard]] secret_text& text() noexcept { return out_; }

private:
    void separator() {
        if (!first_) out_ += ',';
        first_ = false;
    }
    secret_text out_;
    bool first_ = true;
};

}  // namespace tokenvault::detail
