// tokenvault/detail/toml_lite.hpp: the small part of TOML needed to read MCP server launch settings from
// Codex's config.toml: table headers ([a.b."c d"]), `key = value` lines with basic and literal strings,
// arrays of strings (over several lines too) and inline tables of strings. Every other value (numbers,
// booleans, dates, nested arrays, multi-line strings) is skipped, and so is a string that is not UTF-8.
// Input is attacker-controlled: one pass, no recursion, at most `max_values` values kept, nesting capped,
// a malformed line is skipped, not fatal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text_checks.hpp"

namespace tokenvault::detail {

/// One `key = value` of a TOML document whose value is a string, an array of strings or an inline table of
/// strings; `path` is the table header's keys followed by the line's (dotted) key.
struct toml_value {
    enum class kind : std::uint8_t { string, string_array, string_table };
    std::vector<std::string> path;
    kind type = kind::string;
    std::string text;                                          ///< kind::string
    std::vector<std::string> items;                            ///< kind::string_array
    std::vector<std::pair<std::string, std::string>> members;  ///< kind::string_table, in order
};

/// Reads the string-valued settings of a TOML document (see the top of this header).
class toml_lite {
public:
    /// Most values kept from one document.
    static constexpr std::size_t max_values = 4096;
    /// Deepest bracket nesting walked inside a value that is skipped.
    static constexpr std::size_t max_depth = 32;

    /// Every string, string-array and string-table value of `text`, in document order.
    [[nodiscard]] static std::vector<toml_value> read(std::string_view text) {
        toml_lite reader(text);
        reader.run();
        return std::move(reader.values_);
    }

private:
    explicit toml_lite(std::string_view text) : text_(text) {}

    void run() {
        while (pos_ < text_.size() && values_.size() < max_values) {
            skip_blank();
            if (pos_ >= text_.size()) break;
            const char c = text_[pos_];
            if (c == '\n' || c == '\r' || c == '#') {
                skip_line();
            } else if (c == '[') {
                if (!table_header()) skip_line();
            } else if (!key_value()) {
                skip_line();
            }
        }
    }

    // [a.b] or [[a.b]] (an array of tables: its members are read as those of the table).
    bool table_header() {
        ++pos_;
        const bool array_of_tables = pos_ < text_.size() && text_[pos_] == '[';
        if (array_of_tables) ++pos_;
        std::vector<std::string> keys;
        if (!dotted_key(keys)) return false;
        skip_blank();
        if (!take(']') || (array_of_tables && !take(']'))) return false;
        table_ = std::move(keys);
        return end_of_line();
    }

    bool key_value() {
        std::vector<std::string> keys;
        if (!dotted_key(keys)) return false;
        skip_blank();
        if (!take('=')) return false;
        skip_blank();
        toml_value value;
        value.path = table_;
        value.path.insert(value.path.end(), keys.begin(), keys.end());
        if (pos_ >= text_.size()) return false;
        const char c = text_[pos_];
        if (c == '"' || c == '\'') {
            if (starts_multiline()) return skip_value();
            if (!string(value.text)) return false;
            value.type = toml_value::kind::string;
        } else if (c == '[') {
            if (!string_array(value.items)) return skip_value();
            value.type = toml_value::kind::string_array;
        } else if (c == '{') {
            if (!string_table(value.members)) return skip_value();
            value.type = toml_value::kind::string_table;
        } else {
            return skip_value();
        }
        if (!end_of_line()) return false;
        values_.push_back(std::move(value));
        return true;
    }

    // key, "quoted key", 'literal key', joined by dots.
    bool dotted_key(std::vector<std::string>& keys) {
        for (;;) {
            skip_blank();
            std::string key;
            if (pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '\'')) {
                if (!string(key)) return false;
            } else {
                const std::size_t start = pos_;
                while (pos_ < text_.size() && bare_key_char(text_[pos_])) ++pos_;
                if (pos_ == start) return false;
                key.assign(text_.substr(start, pos_ - start));
            }
            keys.push_back(std::move(key));
            skip_blank();
            if (pos_ < text_.size() && text_[pos_] == '.') {
                ++pos_;
                continue;
            }
            return true;
        }
    }

    // ["a", 'b', ...] over any number of lines, comments allowed between elements.
    bool string_array(std::vector<std::string>& out) {
        const std::size_t start = pos_;
        ++pos_;
        for (;;) {
            skip_space_and_comments();
            if (pos_ >= text_.size()) return rewind(start);
            if (text_[pos_] == ']') {
                ++pos_;
                return true;
            }
            std::string item;
            if ((text_[pos_] != '"' && text_[pos_] != '\'') || starts_multiline() || !string(item))
                return rewind(start);
            out.push_back(std::move(item));
            skip_space_and_comments();
            if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        }
    }

    // { key = "value", ... } on one line.
    bool string_table(std::vector<std::pair<std::string, std::string>>& out) {
        const std::size_t start = pos_;
        ++pos_;
        for (;;) {
            skip_blank();
            if (pos_ >= text_.size()) return rewind(start);
            if (text_[pos_] == '}') {
                ++pos_;
                return true;
            }
            std::vector<std::string> keys;
            if (!dotted_key(keys) || !take('=')) return rewind(start);
            skip_blank();
            std::string value;
            if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'') || starts_multiline() ||
                !string(value))
                return rewind(start);
            std::string joined;
            for (const auto& k : keys) joined += (joined.empty() ? "" : ".") + k;
            out.emplace_back(std::move(joined), std::move(value));
            skip_blank();
            if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        }
    }

    bool rewind(std::size_t to) {
        pos_ = to;
        return false;
    }

    // Skips a value this reader does not keep: brackets and braces balanced (outside strings), up to the
    // end of the line on which they close.
    bool skip_value() {
        std::size_t depth = 0;
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '"' || c == '\'') {
                if (starts_multiline()) {
                    const std::string_view quote = text_.substr(pos_, 3);
                    const auto end = text_.find(quote, pos_ + 3);
                    pos_ = end == std::string_view::npos ? text_.size() : end + 3;
                    continue;
                }
                std::string ignored;
                if (!string(ignored)) ++pos_;
                continue;
            }
            if (c == '#' && depth == 0) break;
            if (c == '[' || c == '{') {
                if (++depth > max_depth) {
                    pos_ = text_.size();  // give up on the rest of the document
                    return false;
                }
            } else if ((c == ']' || c == '}') && depth > 0) {
                --depth;
            } else if (c == '\n' && depth == 0) {
                break;
            }
            ++pos_;
        }
        skip_line();
        return true;
    }

    // "basic" with escapes or 'literal', on one line, valid UTF-8 (as TOML requires).
    bool string(std::string& out) {
        const char quote = text_[pos_++];
        while (pos_ < text_.size()) {
            const char c = text_[pos_++];
            if (c == quote) return valid_utf8(out);
            if (c == '\n' || c == '\r') return false;
            if (c == '\\' && quote == '"') {
                if (pos_ >= text_.size()) return false;
                const char e = text_[pos_++];
                switch (e) {
                case 'b': out.push_back('\b'); break;
                case 't': out.push_back('\t'); break;
                case 'n': out.push_back('\n'); break;
                case 'f': out.push_back('\f'); break;
                case 'r': out.push_back('\r'); break;
                case 'e': out.push_back('\x1b'); break;
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case 'u':
                case 'U':
                    if (!unicode_escape(e == 'u' ? 4 : 8, out)) return false;
                    break;
                default: return false;
                }
            } else {
                out.push_back(c);
            }
        }
        return false;
    }

    bool unicode_escape(std::size_t digits, std::string& out) {
        if (pos_ + digits > text_.size()) return false;
        std::uint32_t code = 0;
        for (std::size_t i = 0; i < digits; ++i) {
            const char h = text_[pos_ + i];
            const int v = h >= '0' && h <= '9'   ? h - '0'
                          : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                 : -1;
            if (v < 0) return false;
            code = code * 16 + static_cast<std::uint32_t>(v);
        }
        pos_ += digits;
        if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        if (code < 0x80) {
            out.push_back(static_cast<char>(code));
        } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else if (code < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (code >> 18)));
            out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        }
        return true;
    }

    [[nodiscard]] bool starts_multiline() const {
        return text_.substr(pos_, 3) == R"(""")" || text_.substr(pos_, 3) == "'''";
    }
    [[nodiscard]] static bool bare_key_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-';
    }
    bool take(char c) {
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void skip_blank() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    }
    void skip_space_and_comments() {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
            } else {
                break;
            }
        }
    }
    void skip_line() {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
        if (pos_ < text_.size()) ++pos_;
    }
    // Only blanks or a comment may follow a value or header on its line.
    bool end_of_line() {
        skip_blank();
        if (pos_ >= text_.size()) return true;
        if (text_[pos_] == '#' || text_[pos_] == '\n' || text_[pos_] == '\r') {
            skip_line();
            return true;
        }
        return false;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::vector<std::string> table_;
    std::vector<toml_value> values_;
};

}  // namespace tokenvault::detail
