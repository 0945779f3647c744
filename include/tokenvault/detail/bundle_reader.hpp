// tokenvault/detail/bundle_reader.hpp: reads a bundle's JSON text straight into a `bundle` (json_cursor.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../credential_id.hpp"
#include "../entry.hpp"
#include "../result.hpp"
#include "../token_json.hpp"
#include "bundle_text.hpp"
#include "json_cursor.hpp"

namespace tokenvault::detail {

/// Reads a bundle straight from its text with json_cursor: no intermediate document, no unwiped copy of
/// a secret (json_cursor.hpp). Field rules are those of token_from_json and docs/FORMAT.md. Any error
/// stops the read; nothing of a failed read escapes.
template <class Json = nlohmann::json>
class bundle_reader {
public:
    /// Reads `text`; records where each entry sits in it into `spans` when given.
    explicit bundle_reader(std::string_view text, bundle_text* spans = nullptr) noexcept
        : text_(text), spans_(spans), in_(text) {}

    [[nodiscard]] result<bundle> read() {
        if (text_.size() > token_limits::max_bundle_json) return error{errc::too_large, "bundle: larger than 64 MiB"};
        if (in_.peek() != json_cursor::kind::object) {
            std::string_view ignored;
            if (in_.skip(ignored) && in_.finish()) return error{errc::wrong_type, "bundle: top level must be an object"};
            return syntax_error(in_);
        }
        if (!top_level() || !in_.finish()) return failure(in_);
        // The header decides how the rest is read: check it before the entries' own errors.
        if (!format_ok_) return error{errc::wrong_type, "bundle: 'format' must be \"tokenvault-bundle\""};
        if (!version_ || !version_->is_integer()) return error{errc::missing_field, "bundle: field 'version'"};
        if (!version_supported()) return error{errc::unsupported_format_version, "bundle"};
        if (!entries_seen_ || entries_not_object_)
            return error{errc::missing_field, "bundle: field 'entries' (an object)"};
        if (last_generation_bad_) return error{errc::wrong_type, "bundle: field 'last_generation' must be unsigned"};
        if (deferred_entries_) {  // 'entries' came before the header: read it now that the header checked out
            json_cursor later(*deferred_entries_);
            if (!read_entries(later, static_cast<std::size_t>(deferred_entries_->data() - text_.data())))
                return failure(later);
        }
        out_.last_generation = std::max(out_.last_generation, highest_generation_);
        return std::move(out_);
    }

private:
    using kind = json_cursor::kind;

    bool version_supported() const noexcept {
        return version_->is_unsigned() ? version_->unsigned_value <= static_cast<std::uint64_t>(bundle_format_version)
                                       : version_->signed_value <= bundle_format_version;
    }

    bool top_level() {
        if (!in_.begin_object()) return false;
        std::string_view key;
        while (in_.next_member(key)) {
            if (key == "format") {
                format_ok_ = false;
                if (in_.peek() != kind::string) {
                    if (!skip(in_)) return false;
                } else {
                    std::string_view value;
                    if (!in_.string(value)) return false;
                    format_ok_ = value == bundle_format_name;
                }
            } else if (key == "version") {
                json_number n;
                if (in_.peek() == kind::number) {
                    if (!in_.number(n)) return false;
                    version_ = n;
                } else {
                    version_ = json_number{};  // present, not an integer
                    if (!skip(in_)) return false;
                }
            } else if (key == "last_generation") {
                json_number n;
                last_generation_bad_ = true;
                if (in_.peek() == kind::number) {
                    if (!in_.number(n)) return false;
                    last_generation_bad_ = !n.is_unsigned();
                    if (!last_generation_bad_) out_.last_generation = n.unsigned_value;
                } else if (!skip(in_)) {
                    return false;
                }
            } else if (key == "entries") {
                entries_seen_ = true;
                out_.entries.clear();
                deferred_entries_.reset();
                highest_generation_ = 0;
                entries_not_object_ = in_.peek() != kind::object;
                if (entries_not_object_) {
                    if (!skip(in_)) return false;
                } else if (format_ok_ && version_ && version_->is_integer() && version_supported()) {
                    if (!read_entries(in_, 0)) return false;
                } else {
                    std::string_view raw;
                    if (!in_.skip(raw)) return false;
                    deferred_entries_ = raw;
                }
            } else if (!keep_unknown(in_, key, out_.extra)) {
                return false;
            }
        }
        return !in_.failed();
    }

    // The entries object; `base`: offset of the cursor's text within the whole bundle text.
    bool read_entries(json_cursor& in, std::size_t base) {
        if (spans_ != nullptr) spans_->entries.clear();
        if (!in.begin_object()) return false;
        std::string_view key;
        while (in.next_member(key)) {
            std::string hash(key);
            (void)in.peek();  // to the entry's first character
            const std::size_t start = in.offset();
            if (!read_entry(in, hash)) return false;
            if (spans_ != nullptr) {
                const auto& e = out_.entries.at(hash);
                spans_->entries.insert_or_assign(
                    std::move(hash), bundle_text::entry_span{e.generation, e.updated_at, base + start, in.offset() - start});
            }
        }
        return !in.failed();
    }

    bool read_entry(json_cursor& in, const std::string& hash) {
        if (in.peek() != kind::object) return problem(errc::wrong_type, "bundle: an entry must be an object");
        std::optional<std::string> resource;
        std::string account;
        std::optional<std::uint64_t> generation;
        std::optional<clock::time_point> updated;
        std::optional<token> tok;
        Json extra = Json::object();
        if (!in.begin_object()) return false;
        std::string_view key;
        while (in.next_member(key)) {
            if (key == "resource") {
                std::string_view value;
                if (in.peek() != kind::string) return problem(errc::missing_field, "bundle entry: field 'resource'");
                if (!in.string(value)) return false;
                resource.emplace(value);
            } else if (key == "account") {
                std::string_view value;
                if (in.peek() != kind::string)
                    return problem(errc::wrong_type, "bundle entry: field 'account' must be a string");
                if (!in.string(value)) return false;
                account.assign(value);
            } else if (key == "generation") {
                json_number n;
                if (in.peek() != kind::number || !in.number(n) || !n.is_unsigned())
                    return in.failed() ? false : problem(errc::missing_field, "bundle entry: field 'generation' (unsigned)");
                generation = n.unsigned_value;
            } else if (key == "updated_at") {
                if (!time_value(in, "updated_at", updated)) return false;
            } else if (key == "token") {
                if (in.peek() != kind::object) return problem(errc::wrong_type, "token: JSON value must be an object");
                tok.emplace();
                if (!token_object(in, *tok)) return false;
            } else if (!keep_unknown(in, key, extra)) {
                return false;
            }
        }
        if (in.failed()) return false;
        if (!resource) return problem(errc::missing_field, "bundle entry: field 'resource'");
        auto id = credential_id::parse(*resource, account);
        if (!id) return problem(id.error());
        if (id->hash() != hash) return problem(errc::corrupt_file, "bundle entry: key does not match its identity");
        if (!generation) return problem(errc::missing_field, "bundle entry: field 'generation' (unsigned)");
        if (!tok) return problem(errc::missing_field, "bundle entry: field 'token'");
        highest_generation_ = std::max(highest_generation_, *generation);
        out_.entries.insert_or_assign(hash, entry{std::move(*id), std::move(*tok), *generation,
                                                             updated.value_or(clock::time_point{}), std::move(extra)});
        return true;
    }

    // A token object, with the rules of token_from_json (no issue time: a stored token has an expiry).
    bool token_object(json_cursor& in, token& t) {
        bool has_access = false, has_expires_at = false, has_scopes_array = false;
        bool has_expires_in = false;
        double expires_in = 0;  // seconds; meaningful when has_expires_in
        bool has_scope_text = false;  // a flag, not an optional: GCC 12 -O3 misreads optional<string> here
        std::string scope_text;
        if (!in.begin_object()) return false;
        std::string_view key;
        std::optional<std::string_view> text;
        while (in.next_member(key)) {
            if (key == "access_token") {
                if (!string_or_null(in, "access_token", text)) return false;
                has_access = text.has_value();
                t.access_token = secret_string{text.value_or(std::string_view{})};
            } else if (key == "token_type") {
                if (!string_or_null(in, "token_type", text)) return false;
                t.token_type = text && !text->empty() ? std::string(*text) : token{}.token_type;
            } else if (key == "refresh_token" || key == "client_secret" || key == "id_token") {
                auto& field = key == "refresh_token" ? t.refresh_token : key == "client_secret" ? t.client_secret : t.id_token;
                const bool is_refresh = key == "refresh_token";
                if (!string_or_null(in, is_refresh ? "refresh_token" : key == "client_secret" ? "client_secret" : "id_token", text))
                    return false;
                field.reset();
                if (text && !(is_refresh && text->empty())) field.emplace(*text);
            } else if (key == "issuer" || key == "client_id") {
                auto& field = key == "issuer" ? t.issuer : t.client_id;
                if (!string_or_null(in, key == "issuer" ? "issuer" : "client_id", text)) return false;
                field.assign(text.value_or(std::string_view{}));
            } else if (key == "expires_at") {
                has_expires_at = true;
                if (!time_value(in, "expires_at", t.expires_at)) return false;
            } else if (key == "expires_in") {
                json_number n;
                if (in.peek() == kind::null) {
                    if (!in.null()) return false;
                    has_expires_in = false;
                } else if (in.peek() != kind::number) {
                    return problem(errc::wrong_type, "token: field 'expires_in' must be a number");
                } else {
                    if (!in.number(n)) return false;
                    expires_in = n.as_double();
                    has_expires_in = true;
                }
            } else if (key == "scopes") {
                if (!scopes(in, t.scopes, has_scopes_array)) return false;
            } else if (key == "scope") {
                if (!string_or_null(in, "scope", text)) return false;
                has_scope_text = text.has_value();
                scope_text.assign(text.value_or(std::string_view{}));
            } else if (!keep_unknown(in, key, t.extra)) {
                return false;
            }
        }
        if (in.failed()) return false;
        if (!has_access) return problem(errc::missing_field, "token: field 'access_token'");
        if (!has_expires_at && has_expires_in) {
            auto expiry = expiry_after(expires_in, std::nullopt);
            if (!expiry) return problem(expiry.error());
        }
        if (!has_scopes_array && has_scope_text) append_scopes(scope_text, t.scopes);
        if (auto valid = validate(t); !valid) return problem(valid.error());
        return true;
    }

    bool scopes(json_cursor& in, std::vector<std::string>& out, bool& is_array) {
        out.clear();
        is_array = false;
        if (in.peek() == kind::null) return in.null();
        if (in.peek() != kind::array) return problem(errc::wrong_type, "token: field 'scopes' must be an array of strings");
        is_array = true;
        if (!in.begin_array()) return false;
        while (in.next_element()) {
            std::string_view scope;
            if (in.peek() != kind::string)
                return problem(errc::wrong_type, "token: field 'scopes' must be an array of strings");
            if (!in.string(scope)) return false;
            out.emplace_back(scope);
        }
        return !in.failed();
    }

    // A string or null (nullopt); any other type is a problem naming the field.
    bool string_or_null(json_cursor& in, const char* field, std::optional<std::string_view>& out) {
        out.reset();
        switch (in.peek()) {
        case kind::string: {
            std::string_view value;
            if (!in.string(value)) return false;
            out = value;
            return true;
        }
        case kind::null: return in.null();
        case kind::invalid: return skip(in);
        default: return problem(errc::wrong_type, std::string("token: field '") + field + "' must be a string");
        }
    }

    // A time: RFC 3339 text, unix seconds or milliseconds, or null.
    bool time_value(json_cursor& in, const char* field, std::optional<clock::time_point>& out) {
        result<std::optional<clock::time_point>> parsed = std::optional<clock::time_point>{};
        switch (in.peek()) {
        case kind::string: {
            std::string_view text;
            if (!in.string(text)) return false;
            parsed = expiry_from_text(text, field);
            break;
        }
        case kind::number: {
            json_number n;
            if (!in.number(n)) return false;
            parsed = expiry_from_number(n.as_double(), field);
            break;
        }
        case kind::null:
            if (!in.null()) return false;
            break;
        case kind::invalid: return skip(in);
        default: return problem(expiry_type_error(field));
        }
        if (!parsed) return problem(parsed.error());
        out = *parsed;
        return true;
    }

    // An unknown member: kept as it is, as JSON.
    bool keep_unknown(json_cursor& in, std::string_view key, Json& into) {
        std::string name(key);  // the key's view does not survive reading the value
        std::string_view raw;
        if (!in.skip(raw)) return false;
        auto value = Json::parse(raw, nullptr, false);
        if (value.is_discarded()) return problem(errc::malformed_json, "bundle: an unknown field does not parse");
        into[std::move(name)] = std::move(value);
        return true;
    }

    static bool skip(json_cursor& in) {
        std::string_view ignored;
        return in.skip(ignored);
    }

    bool problem(errc code, std::string context) { return problem(error{code, std::move(context)}); }
    bool problem(error e) {
        if (!problem_) problem_ = std::move(e);
        return false;
    }

    result<bundle> failure(const json_cursor& in) const {
        if (problem_ && !in.failed()) return *problem_;
        return syntax_error(in);
    }
    static error syntax_error(const json_cursor& in) {
        return error{errc::malformed_json, "bundle: not valid JSON at byte " + std::to_string(in.offset())};
    }

    std::string_view text_;
    bundle_text* spans_;
    json_cursor in_;
    bundle out_;
    bool format_ok_ = false;
    std::optional<json_number> version_;
    bool entries_seen_ = false;
    bool entries_not_object_ = false;
    bool last_generation_bad_ = false;
    std::optional<std::string_view> deferred_entries_;
    std::uint64_t highest_generation_ = 0;
    std::optional<error> problem_;
};

/// parse_bundle that also records the text and where each entry sits in it (see bundle_text).
template <class = void>
[[nodiscard]] inline result<bundle> parse_bundle_text(std::string_view text, bundle_text& record) {
    record = bundle_text{};
    auto parsed = bundle_reader<>(text, &record).read();
    if (!parsed) {
        record = bundle_text{};
        return parsed.error();
    }
    record.text.assign(text.data(), text.size());
    return parsed;
}

}  // namespace tokenvault::detail
