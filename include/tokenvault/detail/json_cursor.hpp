// tokenvault/detail/json_cursor.hpp: a strict JSON pull reader for text that holds secrets.
//
// Every JSON input tokenvault reads goes through it: decrypted bundles, token endpoint responses and the
// files and keyring items of the importers, instead of building an nlohmann document first. Strings
// without escapes are handed out as views into the input (which lives in secure memory); strings with
// escapes are decoded into a scratch buffer that is wiped when it is released. So reading a bundle leaves
// no unwiped copy of a token anywhere, and costs about a third of a document parse.
//
// The grammar is RFC 8259, as strict as nlohmann::json::parse: no comments, no trailing commas, no BOM,
// strings must be well-formed UTF-8 without raw control characters, lone surrogate escapes are refused.
// Every read reports failure by returning false; `failed()` then stays true and `offset()` says where.
// Nesting is only walked by `skip` (and json_value.hpp's reader), with a heap stack and a depth limit:
// deep input cannot overflow the call stack, and input deeper than the limit is told apart from bad JSON
// (`too_deep()`). After a value that the caller refuses for its meaning, `restart_at` goes back to its
// start so that it can be skipped whole.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "secure_buffer.hpp"
#include "text_checks.hpp"

namespace tokenvault::detail {

/// A JSON number as written: an unsigned or signed integer when it has no fraction or exponent and
/// fits in 64 bits (as nlohmann::json reads it), else a double.
struct json_number {
    enum class type { unsigned_integer, signed_integer, floating };
    type kind = type::floating;
    std::uint64_t unsigned_value = 0;
    std::int64_t signed_value = 0;
    double floating_value = 0;

    [[nodiscard]] bool is_unsigned() const noexcept { return kind == type::unsigned_integer; }
    [[nodiscard]] bool is_integer() const noexcept { return kind != type::floating; }
    /// The value as a double, whatever its kind.
    [[nodiscard]] double as_double() const noexcept {
        switch (kind) {
        case type::unsigned_integer: return static_cast<double>(unsigned_value);
        case type::signed_integer: return static_cast<double>(signed_value);
        case type::floating: break;
        }
        return floating_value;
    }
};

class json_cursor {
public:
    /// What the next value is, judged by its first character.
    enum class kind { object, array, string, number, boolean, null, invalid };

    explicit json_cursor(std::string_view text) noexcept : text_(text) {}
    json_cursor(const json_cursor&) = delete;
    json_cursor& operator=(const json_cursor&) = delete;

    /// No depth limit for `skip` (it walks nesting with a heap stack).
    static constexpr std::size_t unlimited_depth = ~std::size_t{0};

    /// True once any read failed (the input is not JSON).
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    /// True when the last `skip` stopped at a value nested deeper than its limit (`failed()` stays false).
    [[nodiscard]] bool too_deep() const noexcept { return too_deep_; }
    /// Goes back to `offset`, where a value starts that an earlier read returned from `offset()`, and
    /// forgets a depth stop. Not after `failed()`: bad JSON stays bad.
    void restart_at(std::size_t offset) noexcept {
        if (failed_) return;
        pos_ = offset;
        too_deep_ = false;
    }
    /// Stops the read here as too deep (for readers of nested values built on this cursor).
    bool stop_too_deep() noexcept {
        too_deep_ = true;
        return false;
    }
    /// Byte offset of the failure, or of the next character to read.
    [[nodiscard]] std::size_t offset() const noexcept { return pos_; }
    /// The text from the next character to read on.
    [[nodiscard]] std::string_view rest() const noexcept { return text_.substr(pos_); }
    /// Steps over the next `size` bytes as `skip` would over a value, for a caller that knows them to be
    /// exactly one complete value (the same bytes as a value read before). At most to the end of the text.
    void step_over(std::size_t size) noexcept {
        if (failed_) return;
        pos_ += std::min(size, text_.size() - pos_);
        first_ = false;
    }

    /// Skips whitespace and tells what the next value is.
    [[nodiscard]] kind peek() noexcept {
        skip_whitespace();
        if (pos_ >= text_.size()) return kind::invalid;
        switch (text_[pos_]) {
        case '{': return kind::object;
        case '[': return kind::array;
        case '"': return kind::string;
        case 't':
        case 'f': return kind::boolean;
        case 'n': return kind::null;
        default: break;
        }
        const char c = text_[pos_];
        return (c == '-' || (c >= '0' && c <= '9')) ? kind::number : kind::invalid;
    }

    /// Consumes '{'. Then call `next_member` until it returns false.
    [[nodiscard]] bool begin_object() { return open('{'); }
    /// Reads the next member's key and the ':' after it; false at the closing '}' (consumed) or on
    /// failure (see `failed`). The key view is valid until the next `next_member`.
    [[nodiscard]] bool next_member(std::string_view& key) {
        if (!next_item('}')) return false;
        if (!read_string(key, key_scratch_)) return false;
        skip_whitespace();
        if (pos_ >= text_.size() || text_[pos_] != ':') return fail();
        ++pos_;
        return true;
    }
    /// Consumes '['. Then call `next_element` until it returns false.
    [[nodiscard]] bool begin_array() { return open('['); }
    /// True when another element follows (read it next); false at the closing ']' (consumed) or on failure.
    [[nodiscard]] bool next_element() { return next_item(']'); }

    /// Reads a string. The view points into the input, or into a scratch buffer when the string had
    /// escapes: it is valid until the next `string` call.
    [[nodiscard]] bool string(std::string_view& out) { return read_string(out, value_scratch_); }

    /// Reads a number.
    [[nodiscard]] bool number(json_number& out) {
        skip_whitespace();
        const std::size_t start = pos_;
        bool integral = true;
        if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '0') {
            ++pos_;
        } else if (!digits()) {
            return fail();
        }
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            integral = false;
            if (!digits()) return fail();
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            integral = false;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
            if (!digits()) return fail();
        }
        const char* first = text_.data() + start;
        const char* last = text_.data() + pos_;
        if (integral) {
            if (*first == '-') {
                if (std::from_chars(first, last, out.signed_value).ec == std::errc{}) {
                    out.kind = json_number::type::signed_integer;
                    return true;
                }
            } else if (std::from_chars(first, last, out.unsigned_value).ec == std::errc{}) {
                out.kind = json_number::type::unsigned_integer;
                return true;
            }
        }
        out.kind = json_number::type::floating;  // with a fraction or exponent, or too large for 64 bits
        const auto converted = std::from_chars(first, last, out.floating_value);
        if (converted.ec == std::errc::result_out_of_range) {
            // Beyond double's range. Overflow is refused (as nlohmann::json does); underflow reads as zero.
            const std::string_view written(first, static_cast<std::size_t>(last - first));
            const bool underflow =
                written.find("e-") != std::string_view::npos || written.find("E-") != std::string_view::npos;
            if (!underflow) return fail(start);
            out.floating_value = *first == '-' ? -0.0 : 0.0;
        } else if (converted.ec != std::errc{}) {
            return fail();
        }
        return true;
    }

    /// Reads `true` or `false`.
    [[nodiscard]] bool boolean(bool& out) {
        skip_whitespace();
        if (literal("true")) {
            out = true;
            return true;
        }
        if (literal("false")) {
            out = false;
            return true;
        }
        return fail();
    }

    /// Reads `null`.
    [[nodiscard]] bool null() {
        skip_whitespace();
        return literal("null") || fail();
    }

    /// Reads any value, checking it completely, and returns its text. A value whose arrays and objects
    /// nest more than `max_depth` deep (the value itself counting as 1) stops the read: false, with
    /// `too_deep()` true and `failed()` false.
    [[nodiscard]] bool skip(std::string_view& raw, std::size_t max_depth = unlimited_depth) {
        skip_whitespace();
        const std::size_t start = pos_;
        std::string open;  // the enclosing containers, '{' or '[', innermost last
        for (;;) {
            // A value starts here.
            switch (peek()) {
            case kind::object:
            case kind::array: {
                if (open.size() >= max_depth) return stop_too_deep();
                const char bracket = text_[pos_++];
                skip_whitespace();
                if (pos_ < text_.size() && text_[pos_] == (bracket == '{' ? '}' : ']')) {
                    ++pos_;  // empty container: a complete value
                    break;
                }
                open.push_back(bracket);
                if (bracket == '{' && !skipped_key()) return false;
                continue;
            }
            case kind::string: {
                std::string_view ignored;
                if (!string(ignored)) return false;
                break;
            }
            case kind::number: {
                json_number ignored;
                if (!number(ignored)) return false;
                break;
            }
            case kind::boolean: {
                bool ignored = false;
                if (!boolean(ignored)) return false;
                break;
            }
            case kind::null:
                if (!null()) return false;
                break;
            case kind::invalid: return fail();
            }
            // A value ended: close containers until one continues with ','.
            for (;;) {
                if (open.empty()) {
                    raw = text_.substr(start, pos_ - start);
                    first_ = false;
                    return true;
                }
                skip_whitespace();
                if (pos_ >= text_.size()) return fail();
                const char c = text_[pos_++];
                if (c == (open.back() == '{' ? '}' : ']')) {
                    open.pop_back();
                    continue;
                }
                if (c != ',') return fail(--pos_);
                if (open.back() == '{' && !skipped_key()) return false;
                break;
            }
        }
    }

    /// True when nothing but whitespace is left.
    [[nodiscard]] bool finish() {
        skip_whitespace();
        return pos_ == text_.size() || fail();
    }

private:
    bool fail() noexcept {
        failed_ = true;
        return false;
    }
    bool fail(std::size_t at) noexcept {
        pos_ = at;
        return fail();
    }

    void skip_whitespace() noexcept {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
            ++pos_;
        }
    }

    bool digits() noexcept {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
        return pos_ != start;
    }

    bool literal(std::string_view word) noexcept {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    bool open(char bracket) {
        skip_whitespace();
        if (pos_ >= text_.size() || text_[pos_] != bracket) return fail();
        ++pos_;
        first_ = true;
        return true;
    }

    // Before an object member or array element: false at the closing bracket (consumed) or on failure.
    bool next_item(char close) {
        if (failed_) return false;
        skip_whitespace();
        if (pos_ >= text_.size()) return fail();
        if (text_[pos_] == close) {
            ++pos_;
            first_ = false;  // the container that holds this one has at least this item
            return false;
        }
        if (!first_) {
            if (text_[pos_] != ',') return fail();
            ++pos_;
        }
        first_ = false;
        return true;
    }

    // Inside `skip`: a key and its colon.
    bool skipped_key() {
        std::string_view ignored;
        if (peek() != kind::string || !read_string(ignored, key_scratch_)) return fail();
        skip_whitespace();
        if (pos_ >= text_.size() || text_[pos_] != ':') return fail();
        ++pos_;
        return true;
    }

    static int hex_value(char c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // Four hex digits at text_[at..at+4), or -1.
    long hex4(std::size_t at) const noexcept {
        if (at + 4 > text_.size()) return -1;
        long value = 0;
        for (std::size_t i = at; i < at + 4; ++i) {
            const int h = hex_value(text_[i]);
            if (h < 0) return -1;
            value = value * 16 + h;
        }
        return value;
    }

    static void append_utf8(secret_text& out, std::uint32_t code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    // One character of a string at text_[i] that is not '"' or '\\': its length, or 0 when it is a raw
    // control character or malformed UTF-8.
    std::size_t plain_character(std::size_t i) const noexcept {
        const auto c = static_cast<unsigned char>(text_[i]);
        if (c < 0x20) return 0;
        if (c < 0x80) return 1;
        return utf8_sequence_length(text_, i);
    }

    bool read_string(std::string_view& out, secret_text& scratch) {
        skip_whitespace();
        if (pos_ >= text_.size() || text_[pos_] != '"') return fail();
        const std::size_t start = ++pos_;
        std::size_t i = start;
        for (;;) {  // fast path: no escapes, the view points into the input
            i = printable_ascii_end<true>(text_, i);
            if (i >= text_.size()) return fail(i);
            const char c = text_[i];
            if (c == '"') {
                out = text_.substr(start, i - start);
                pos_ = i + 1;
                return true;
            }
            if (c == '\\') break;
            const auto length = plain_character(i);
            if (length == 0) return fail(i);
            i += length;
        }
        scratch.assign(text_.data() + start, i - start);
        for (;;) {
            if (i >= text_.size()) return fail(i);
            const char c = text_[i];
            if (c == '"') {
                out = std::string_view(scratch.data(), scratch.size());
                pos_ = i + 1;
                return true;
            }
            if (c != '\\') {
                const auto length = plain_character(i);
                if (length == 0) return fail(i);
                scratch.append(text_.data() + i, length);
                i += length;
                continue;
            }
            if (i + 1 >= text_.size()) return fail(i);
            const char e = text_[i + 1];
            i += 2;
            switch (e) {
            case '"': scratch += '"'; break;
            case '\\': scratch += '\\'; break;
            case '/': scratch += '/'; break;
            case 'b': scratch += '\b'; break;
            case 'f': scratch += '\f'; break;
            case 'n': scratch += '\n'; break;
            case 'r': scratch += '\r'; break;
            case 't': scratch += '\t'; break;
            case 'u': {
                const long high = hex4(i);
                if (high < 0) return fail(i);
                i += 4;
                auto code = static_cast<std::uint32_t>(high);
                if (code >= 0xDC00 && code <= 0xDFFF) return fail(i);  // a low surrogate alone
                if (code >= 0xD800 && code <= 0xDBFF) {
                    if (i + 2 > text_.size() || text_[i] != '\\' || text_[i + 1] != 'u') return fail(i);
                    const long low = hex4(i + 2);
                    if (low < 0xDC00 || low > 0xDFFF) return fail(i);
                    i += 6;
                    code = 0x10000 + ((code - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00);
                }
                append_utf8(scratch, code);
                break;
            }
            default: return fail(i - 1);
            }
        }
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    bool failed_ = false;
    bool too_deep_ = false;
    bool first_ = true;          // no member/element read yet in the innermost open container
    secret_text key_scratch_;    // decoded keys
    secret_text value_scratch_;  // decoded string values (may be secrets)
};

}  // namespace tokenvault::detail
