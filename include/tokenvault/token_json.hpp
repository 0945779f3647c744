// tokenvault/token_json.hpp: the token JSON schema: its limits, one reader and one writer.
//
// Every door a token comes through reads it with detail::read_token (stored bundles, token endpoint
// responses, the importers) and every token tokenvault writes goes through detail::write_token; validate()
// is the rule both obey, so whatever any door accepts is storable and reads back equal. Expiry is written
// as an absolute RFC 3339 UTC time ("expires_at"); on read tokenvault also accepts unix seconds, unix
// milliseconds (numbers >= 1e11) and "expires_in" relative to a known issue time; every time must lie in
// 1970-2200 (detail/time_text.hpp). Unknown fields are kept (at most 64 levels deep) and written back.
// Every malformed input gives a typed error naming the field; nothing is partially applied. The reader
// works on json_cursor and the writer on json_writer: no copy of a secret is left in unwiped memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/json_cursor.hpp"
#include "detail/json_value.hpp"
#include "detail/json_writer.hpp"
#include "detail/secure_buffer.hpp"
#include "detail/text_checks.hpp"
#include "detail/time_text.hpp"
#include "result.hpp"
#include "token.hpp"

namespace tokenvault {

/// Size limits applied to every token read or written.
struct token_limits {
    static constexpr std::size_t max_secret_length = 32 * 1024;  ///< access/refresh/id token, client secret
    static constexpr std::size_t max_text_length = 4 * 1024;     ///< token type, issuer, client id, scope
    static constexpr std::size_t max_scopes = 256;               ///< number of scopes
    static constexpr std::size_t max_token_json = 256 * 1024;    ///< one serialized token with extras
    static constexpr std::size_t max_bundle_json = 64u << 20;    ///< one serialized bundle
    static constexpr std::size_t max_depth = detail::max_json_depth;  ///< nesting, the token object at 1
};

/// Options for reading a token from JSON.
struct token_json_options {
    /// The time the token was issued; needed to resolve a relative "expires_in".
    std::optional<clock::time_point> issued_at;
};

/// Checks a token against the schema: non-empty access token, sizes, UTF-8 without control bytes, scopes
/// without spaces, an expiry in 1970-2200, and unknown fields that can be written and read back.
template <class = void>
[[nodiscard]] inline result<void> validate(const token& t) {
    if (t.access_token.empty()) return error{errc::missing_field, "token: access_token is empty"};
    const auto check_secret = [](const secret_string& s, const char* name) -> result<void> {
        if (s.size() > token_limits::max_secret_length)
            return error{errc::too_large, std::string("token: ") + name + " is longer than 32 KiB"};
        if (detail::has_control_or_nul(s.reveal()))
            return error{errc::invalid_argument,
                         std::string("token: ") + name + " contains a control character"};
        if (!detail::valid_utf8(s.reveal()))
            return error{errc::invalid_argument, std::string("token: ") + name + " is not valid UTF-8"};
        return {};
    };
    const auto check_text = [](const std::string& s, const char* name) -> result<void> {
        if (s.size() > token_limits::max_text_length)
            return error{errc::too_large, std::string("token: ") + name + " is too long"};
        if (detail::has_control_or_nul(s))
            return error{errc::invalid_argument,
                         std::string("token: ") + name + " contains a control character"};
        if (!detail::valid_utf8(s))
            return error{errc::invalid_argument, std::string("token: ") + name + " is not valid UTF-8"};
        return {};
    };
    TOKENVAULT_TRY(check_secret(t.access_token, "access_token"));
    if (t.refresh_token) TOKENVAULT_TRY(check_secret(*t.refresh_token, "refresh_token"));
    if (t.client_secret) TOKENVAULT_TRY(check_secret(*t.client_secret, "client_secret"));
    if (t.id_token) TOKENVAULT_TRY(check_secret(*t.id_token, "id_token"));
    if (t.token_type.empty()) return error{errc::missing_field, "token: token_type is empty"};
    TOKENVAULT_TRY(check_text(t.token_type, "token_type"));
    TOKENVAULT_TRY(check_text(t.issuer, "issuer"));
    TOKENVAULT_TRY(check_text(t.client_id, "client_id"));
    if (t.scopes.size() > token_limits::max_scopes) return error{errc::too_large, "token: too many scopes"};
    for (const auto& scope : t.scopes) {
        TOKENVAULT_TRY(check_text(scope, "scope"));
        if (scope.empty() || scope.find(' ') != std::string::npos)
            return error{errc::invalid_argument, "token: a scope is empty or contains a space"};
    }
    if (t.expires_at && !detail::storable_time(*t.expires_at))
        return error{errc::value_out_of_range, "token: expires_at is before 1970 or after 2200"};
    if (!t.extra.is_object()) return error{errc::wrong_type, "token: extra must be a JSON object"};
    if (!detail::storable_json_value(t.extra, token_limits::max_depth))
        return error{errc::invalid_argument,
                     "token: an unknown field nests deeper than 64 levels, or holds invalid UTF-8, a "
                     "non-finite number or binary data"};
    return {};
}

namespace detail {

/// The problem with a stored time field.
template <class = void>
[[nodiscard]] inline error time_field_error(std::string_view name, bool out_of_range) {
    if (out_of_range)
        return error{errc::value_out_of_range,
                     "token: field '" + std::string(name) + "' is out of range (before 1970 or after 2200)"};
    return error{errc::wrong_type, "token: field '" + std::string(name) + "' is not an RFC 3339 time"};
}

/// Reads a time at `in`: RFC 3339 text, unix seconds or milliseconds, or null (nullopt). Errors name
/// `name`; a JSON failure is reported by json_read_error (check in.failed()).
template <class = void>
[[nodiscard]] inline result<std::optional<clock::time_point>> read_time(json_cursor& in,
                                                                        std::string_view name) {
    using kind = json_cursor::kind;
    switch (in.peek()) {
    case kind::string: {
        std::string_view text;
        if (!in.string(text)) return json_read_error(in, "token");
        time_text_problem problem = time_text_problem::none;
        auto tp = parse_rfc3339(text, &problem);
        if (!tp) return time_field_error(name, problem == time_text_problem::out_of_range);
        return std::optional<clock::time_point>{*tp};
    }
    case kind::number: {
        json_number n;
        if (!in.number(n)) return json_read_error(in, "token");
        auto tp = time_from_unix_number(n.as_double());
        if (!tp) return time_field_error(name, true);
        return std::optional<clock::time_point>{*tp};
    }
    case kind::null:
        if (!in.null()) return json_read_error(in, "token");
        return std::optional<clock::time_point>{};
    case kind::invalid: return not_json(in, "token");
    default: break;
    }
    return error{errc::wrong_type,
                 "token: field '" + std::string(name) + "' must be a time string or a number"};
}

/// Reads a string or null (nullopt) at `in`, at most `max_length` bytes; the view is valid until the next
/// string read.
template <class = void>
[[nodiscard]] inline result<std::optional<std::string_view>> read_text(json_cursor& in, std::string_view name,
                                                                       std::size_t max_length) {
    using kind = json_cursor::kind;
    switch (in.peek()) {
    case kind::string: {
        std::string_view value;
        if (!in.string(value)) return json_read_error(in, "token");
        if (value.size() > max_length)
            return error{errc::too_large, "token: field '" + std::string(name) + "' is too long"};
        return std::optional<std::string_view>{value};
    }
    case kind::null:
        if (!in.null()) return json_read_error(in, "token");
        return std::optional<std::string_view>{};
    case kind::invalid: return not_json(in, "token");
    default: break;
    }
    return error{errc::wrong_type, "token: field '" + std::string(name) + "' must be a string"};
}

/// Appends the scopes of a space-separated OAuth "scope" string.
template <class = void>
inline void append_scopes(std::string_view text, std::vector<std::string>& scopes) {
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find(' ', start);
        const auto piece =
            text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (!piece.empty()) scopes.emplace_back(piece);
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
}

/// A reader hook that claims no member.
struct no_other_members {
    result<bool> operator()(std::string_view, json_cursor&, token&) const { return false; }
};

/// The token reader: reads the token object at `in` by the schema. `other(key, in, token&) -> result<bool>`
/// sees each member first and returns true when it read the value itself (importers read their own
/// fields so); members neither claims go to `extra`. When `in.failed()` afterwards the text is not JSON;
/// any other error is about the token. The object is read to its end only on success.
template <class Other = no_other_members>
[[nodiscard]] result<token> read_token(json_cursor& in, const token_json_options& options = {},
                                       Other&& other = {}) {
    using kind = json_cursor::kind;
    if (in.peek() != kind::object) {
        if (in.peek() == kind::invalid) return not_json(in, "token");
        return error{errc::wrong_type, "token: JSON value must be an object"};
    }
    token t;
    bool has_access = false, expires_at_seen = false, scopes_seen = false, scope_text_seen = false;
    // A flag and a value, not std::optional<double>: GCC 12 at -O3 reports the optional's payload as
    // maybe-uninitialized once time_after() is inlined (a false positive that -Werror turns fatal).
    bool has_expires_in = false;
    double expires_in = 0;
    std::string scope_text;
    if (!in.begin_object()) return json_read_error(in, "token");
    std::string_view key;
    while (in.next_member(key)) {
        auto claimed = other(key, in, t);
        if (!claimed) return claimed.error();
        if (*claimed) continue;
        if (key == "access_token") {
            auto value = read_text(in, "access_token", token_limits::max_secret_length);
            if (!value) return value.error();
            has_access = value->has_value();
            t.access_token = secret_string{value->value_or(std::string_view{})};
        } else if (key == "refresh_token" || key == "client_secret" || key == "id_token") {
            auto& field = key == "refresh_token"   ? t.refresh_token
                          : key == "client_secret" ? t.client_secret
                                                   : t.id_token;
            const bool refresh = key == "refresh_token";  // an empty refresh token means none
            auto value = read_text(in, key, token_limits::max_secret_length);
            if (!value) return value.error();
            field.reset();
            if (*value && !(refresh && (*value)->empty())) field.emplace(**value);
        } else if (key == "token_type" || key == "issuer" || key == "client_id") {
            auto& field = key == "token_type" ? t.token_type : key == "issuer" ? t.issuer : t.client_id;
            const bool type = key == "token_type";
            auto value = read_text(in, key, token_limits::max_text_length);
            if (!value) return value.error();
            field.assign(value->value_or(std::string_view{}));
            if (type && field.empty()) field = token{}.token_type;
        } else if (key == "expires_at") {
            expires_at_seen = true;
            auto value = read_time(in, "expires_at");
            if (!value) return value.error();
            t.expires_at = *value;
        } else if (key == "expires_in") {
            if (in.peek() == kind::null) {
                if (!in.null()) return json_read_error(in, "token");
                has_expires_in = false;
            } else if (in.peek() != kind::number) {
                if (in.peek() == kind::invalid) return not_json(in, "token");
                return error{errc::wrong_type, "token: field 'expires_in' must be a number"};
            } else {
                json_number n;
                if (!in.number(n)) return json_read_error(in, "token");
                expires_in = n.as_double();
                has_expires_in = true;
            }
        } else if (key == "scopes") {
            t.scopes.clear();
            scopes_seen = false;
            if (in.peek() == kind::null) {
                if (!in.null()) return json_read_error(in, "token");
                continue;
            }
            if (in.peek() != kind::array) {
                if (in.peek() == kind::invalid) return not_json(in, "token");
                return error{errc::wrong_type, "token: field 'scopes' must be an array of strings"};
            }
            scopes_seen = true;
            if (!in.begin_array()) return json_read_error(in, "token");
            while (in.next_element()) {
                if (in.peek() != kind::string || t.scopes.size() >= token_limits::max_scopes)
                    return in.peek() == kind::string
                               ? error{errc::too_large, "token: too many scopes"}
                               : error{errc::wrong_type, "token: field 'scopes' must be an array of strings"};
                std::string_view scope;
                if (!in.string(scope)) return json_read_error(in, "token");
                t.scopes.emplace_back(scope);
            }
            if (in.failed()) return json_read_error(in, "token");
        } else if (key == "scope") {
            auto value = read_text(in, "scope", token_limits::max_text_length * token_limits::max_scopes);
            if (!value) return value.error();
            scope_text_seen = value->has_value();
            scope_text.assign(value->value_or(std::string_view{}));
        } else {
            typename extra_json::string_t name(key.data(), key.size());  // the view dies with the value read
            if (!read_json_value(in, t.extra[name], max_member_depth)) return json_read_error(in, "token");
        }
    }
    if (in.failed()) return json_read_error(in, "token");
    if (!has_access) return error{errc::missing_field, "token: field 'access_token'"};
    if (!expires_at_seen && has_expires_in) {
        if (!(expires_in >= 0) || expires_in > 1e9)
            return error{errc::value_out_of_range, "token: field 'expires_in' must be 0 to 1e9 seconds"};
        if (!options.issued_at)
            return error{errc::missing_field,
                         "token: 'expires_in' needs the time the token was issued (issued_at)"};
        t.expires_at = time_after(*options.issued_at, expires_in);
        if (!t.expires_at)
            return error{errc::value_out_of_range,
                         "token: field 'expires_in' gives an expiry after 2200 (or before 1970)"};
    }
    if (!scopes_seen && scope_text_seen) append_scopes(scope_text, t.scopes);
    TOKENVAULT_TRY(validate(t));
    return t;
}

/// Whether `k` names a field of the token schema (the writer leaves such keys out of `extra`).
inline bool is_token_field(std::string_view k) noexcept {
    return k == "access_token" || k == "token_type" || k == "refresh_token" || k == "client_secret" ||
           k == "id_token" || k == "issuer" || k == "client_id" || k == "expires_at" || k == "expires_in" ||
           k == "scopes" || k == "scope";
}

/// The token writer: writes `t` as a JSON object. False when `t` breaks the schema (see validate): then
/// the text is unusable.
template <class = void>
[[nodiscard]] inline bool write_token(json_writer& w, const token& t) {
    if (t.expires_at && !storable_time(*t.expires_at)) return false;
    w.open_object();
    bool ok = w.key("access_token") && w.string(t.access_token.reveal());
    ok = ok && w.key("token_type") && w.string(t.token_type);
    if (t.refresh_token) ok = ok && w.key("refresh_token") && w.string(t.refresh_token->reveal());
    if (t.client_secret) ok = ok && w.key("client_secret") && w.string(t.client_secret->reveal());
    if (t.id_token) ok = ok && w.key("id_token") && w.string(t.id_token->reveal());
    if (!t.issuer.empty()) ok = ok && w.key("issuer") && w.string(t.issuer);
    if (!t.client_id.empty()) ok = ok && w.key("client_id") && w.string(t.client_id);
    if (t.expires_at) ok = ok && w.key("expires_at") && w.string(format_rfc3339(*t.expires_at));
    if (!t.scopes.empty()) {
        ok = ok && w.key("scopes");
        w.open_array();
        for (const auto& scope : t.scopes) {
            w.element();
            ok = ok && w.string(scope);
        }
        w.close_array();
    }
    ok = ok && write_members(w, t.extra, is_token_field);
    w.close_object();
    return ok;
}

}  // namespace detail

/// Reads a token from JSON text (a stored token, or the body of a token endpoint response). Errors:
/// malformed_json, too_large (also for nesting deeper than 64 levels), and typed field errors.
template <class = void>
[[nodiscard]] inline result<token> parse_token(std::string_view text,
                                               const token_json_options& options = {}) {
    if (text.size() > token_limits::max_bundle_json)
        return error{errc::too_large, "token: larger than 64 MiB"};
    detail::json_cursor in(text);
    if (in.peek() != detail::json_cursor::kind::object) {
        std::string_view ignored;
        if (!in.skip(ignored, token_limits::max_depth) || !in.finish())
            return detail::json_read_error(in, "token");
        return error{errc::wrong_type, "token: JSON value must be an object"};
    }
    auto t = detail::read_token(in, options);
    if (!t) {
        if (in.failed()) return t;
        // The first problem with the token, unless the text is not JSON at all.
        std::string_view ignored;
        detail::json_cursor whole(text);
        if (!whole.skip(ignored) || !whole.finish()) return detail::json_read_error(whole, "token");
        return t;
    }
    if (!in.finish()) return detail::json_read_error(in, "token");
    return t;
}

/// Writes `t` as JSON text in wiped memory. errc::invalid_argument (or the error of validate) when `t`
/// breaks the schema.
template <class = void>
[[nodiscard]] inline result<detail::secure_buffer> serialize_token(const token& t) {
    TOKENVAULT_TRY(validate(t));
    detail::json_writer w(256 + t.access_token.size() + (t.refresh_token ? t.refresh_token->size() : 0));
    if (!detail::write_token(w, t)) return error{errc::invalid_argument, "token: cannot be written as JSON"};
    return detail::secure_buffer::copy_of(std::string_view(w.text().data(), w.text().size()));
}

}  // namespace tokenvault
