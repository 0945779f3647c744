// tokenvault/token_json.hpp: JSON mapping of tokens (nlohmann/json), and the limits every token obeys.
//
// Expiry is written as an absolute RFC 3339 UTC time ("expires_at"); on read tokenvault also accepts
// unix seconds, unix milliseconds (numbers >= 1e11) and "expires_in" relative to a known issue time.
// Unknown fields are kept and written back. Every malformed input gives a typed error naming the field;
// nothing is partially applied. Secrets in temporary JSON documents are wiped after use.
// Functions are templates (a defaulted parameter, or the JSON type) so that a translation unit compiles
// only those it calls.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "detail/json_writer.hpp"
#include "detail/text_checks.hpp"
#include "result.hpp"
#include "token.hpp"

namespace tokenvault {

/// Size limits applied to every token read or written.
struct token_limits {
    static constexpr std::size_t max_secret_length = 32 * 1024;   ///< access/refresh/id token, client secret
    static constexpr std::size_t max_text_length = 4 * 1024;      ///< token type, issuer, client id, scope
    static constexpr std::size_t max_scopes = 256;                ///< number of scopes
    static constexpr std::size_t max_token_json = 256 * 1024;     ///< one serialized token with extras
    static constexpr std::size_t max_bundle_json = 64u << 20;     ///< one serialized bundle
};

namespace detail {

/// Overwrites every string inside `doc` with zeros (for documents that held secrets).
template <class Json>
inline void scrub(Json& doc) noexcept {
    if (doc.is_string()) {
        auto& s = doc.template get_ref<std::string&>();
        wipe(s);
    } else if (doc.is_structured()) {
        for (auto& child : doc) scrub(child);
    }
}

/// Wipes a JSON document's strings when it goes out of scope.
template <class Json>
struct scrub_on_exit {
    Json& doc;
    explicit scrub_on_exit(Json& d) noexcept : doc(d) {}
    scrub_on_exit(const scrub_on_exit&) = delete;
    scrub_on_exit& operator=(const scrub_on_exit&) = delete;
    ~scrub_on_exit() { scrub(doc); }
};

/// Formats a time point as RFC 3339 UTC with fractional seconds only when they are non-zero.
template <class = void>
inline std::string format_rfc3339(clock::time_point tp) {
    using namespace std::chrono;
    const auto ns_total = duration_cast<nanoseconds>(tp.time_since_epoch());
    auto day_point = floor<days>(tp);
    const year_month_day ymd{day_point};
    const hh_mm_ss<nanoseconds> hms{duration_cast<nanoseconds>(tp - day_point)};
    (void)ns_total;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02lld", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()));
    std::string out = buf;
    if (const auto frac = hms.subseconds().count(); frac != 0) {
        std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    out += 'Z';
    return out;
}

/// Parses RFC 3339 ("2026-11-23T04:00:00Z", "...T04:00:00.5+01:00"); nullopt when malformed.
template <class = void>
inline std::optional<clock::time_point> parse_rfc3339(std::string_view s) {
    using namespace std::chrono;
    const auto digits = [&](std::size_t pos, std::size_t n, int& out) {
        if (pos + n > s.size()) return false;
        out = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (s.size() < 20 || !digits(0, 4, y) || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) ||
        s[16] != ':' || !digits(17, 2, sec))
        return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || y > 2200 || h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 2200: far inside clock range
    std::size_t pos = 19;
    nanoseconds frac{0};
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        long long value = 0;
        int count = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (count < 9) {
                value = value * 10 + (s[pos] - '0');
                ++count;
            }
            ++pos;
        }
        if (count == 0) return std::nullopt;
        for (int i = count; i < 9; ++i) value *= 10;
        frac = nanoseconds{value};
    }
    minutes offset{0};
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh = 0, om = 0;
        if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om))
            return std::nullopt;
        offset = hours{oh} + minutes{om};
        if (s[pos] == '-') offset = -offset;
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    const auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + frac - offset;
    return time_point_cast<clock::duration>(tp);
}

template <class Json>
inline result<std::string> text_field(const Json& doc, const char* name, bool required,
                                      std::size_t max_length) {
    const auto found = doc.find(name);
    if (found == doc.end() || found->is_null()) {
        if (required) return error{errc::missing_field, std::string("token: field '") + name + "'"};
        return std::string{};
    }
    if (!found->is_string()) return error{errc::wrong_type, std::string("token: field '") + name + "' must be a string"};
    const auto& value = found->template get_ref<const std::string&>();
    if (value.size() > max_length)
        return error{errc::too_large, std::string("token: field '") + name + "' is too long"};
    if (has_control_or_nul(value))
        return error{errc::invalid_argument, std::string("token: field '") + name + "' contains a control character"};
    return value;
}

template <class Json>
inline result<std::optional<secret_string>> secret_field(const Json& doc, const char* name, bool required) {
    const auto found = doc.find(name);
    if (found == doc.end() || found->is_null()) {
        if (required) return error{errc::missing_field, std::string("token: field '") + name + "'"};
        return std::optional<secret_string>{};
    }
    if (!found->is_string()) return error{errc::wrong_type, std::string("token: field '") + name + "' must be a string"};
    const auto& value = found->template get_ref<const std::string&>();
    if (value.size() > token_limits::max_secret_length)
        return error{errc::too_large, std::string("token: field '") + name + "' is longer than 32 KiB"};
    if (has_control_or_nul(value))
        return error{errc::invalid_argument, std::string("token: field '") + name + "' contains a control character"};
    return std::optional<secret_string>{secret_string{value}};
}

/// The latest expiry tokenvault accepts (2200-01-01T00:00:00Z): far later than any real token, far inside
/// the range of the nanosecond clock (year 2262), so no conversion can overflow.
inline constexpr double max_expiry_seconds = 7258118400.0;

/// An expiry written as RFC 3339 text.
template <class = void>
inline result<std::optional<clock::time_point>> expiry_from_text(std::string_view text, const char* name) {
    auto tp = parse_rfc3339(text);
    if (!tp) return error{errc::wrong_type, std::string("token: field '") + name + "' is not an RFC 3339 time"};
    return std::optional<clock::time_point>{*tp};
}

/// An expiry written as unix seconds, or unix milliseconds (>= 1e11).
template <class = void>
inline result<std::optional<clock::time_point>> expiry_from_number(double n, const char* name) {
    using namespace std::chrono;
    const bool millis = n >= 1e11;  // 1e11 seconds is the year 5138: larger values are milliseconds
    const double seconds = millis ? n / 1000.0 : n;
    if (!(n >= 0) || seconds > max_expiry_seconds)
        return error{errc::value_out_of_range,
                     std::string("token: field '") + name + "' is out of range (before 1970 or after 2200)"};
    const auto ms = static_cast<std::int64_t>(millis ? n : n * 1000.0);
    return std::optional<clock::time_point>{clock::time_point{duration_cast<clock::duration>(milliseconds{ms})}};
}

/// The error for an expiry that is neither text nor a number.
template <class = void>
inline error expiry_type_error(const char* name) {
    return error{errc::wrong_type, std::string("token: field '") + name + "' must be a time string or a number"};
}

/// Reads an expiry given as RFC 3339 text, unix seconds, or unix milliseconds (>= 1e11).
template <class Json>
inline result<std::optional<clock::time_point>> expiry_field(const Json& value, const char* name) {
    if (value.is_null()) return std::optional<clock::time_point>{};
    if (value.is_string()) return expiry_from_text(value.template get_ref<const std::string&>(), name);
    if (value.is_number()) return expiry_from_number(value.template get<double>(), name);
    return expiry_type_error(name);
}

/// Resolves a relative "expires_in" (seconds after `issued_at`).
template <class = void>
inline result<clock::time_point> expiry_after(double seconds, const std::optional<clock::time_point>& issued_at) {
    if (!(seconds >= 0) || seconds > 1e9)  // about 31 years: anything longer is a server bug
        return error{errc::value_out_of_range, "token: field 'expires_in' must be a non-negative number of seconds"};
    if (!issued_at)
        return error{errc::missing_field, "token: 'expires_in' needs the time the token was issued (issued_at)"};
    return *issued_at + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
}

/// Appends the scopes of a space-separated OAuth "scope" string.
template <class = void>
inline void append_scopes(std::string_view text, std::vector<std::string>& scopes) {
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find(' ', start);
        const auto piece = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (!piece.empty()) scopes.emplace_back(piece);
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
}

}  // namespace detail

/// Checks a token's fields against tokenvault's limits (non-empty access token, sizes, no control bytes).
template <class = void>
[[nodiscard]] inline result<void> validate(const token& t) {
    if (t.access_token.empty()) return error{errc::missing_field, "token: access_token is empty"};
    const auto check_secret = [](const secret_string& s, const char* name) -> result<void> {
        if (s.size() > token_limits::max_secret_length)
            return error{errc::too_large, std::string("token: ") + name + " is longer than 32 KiB"};
        if (detail::has_control_or_nul(s.reveal()))
            return error{errc::invalid_argument, std::string("token: ") + name + " contains a control character"};
        if (!detail::valid_utf8(s.reveal()))
            return error{errc::invalid_argument, std::string("token: ") + name + " is not valid UTF-8"};
        return {};
    };
    const auto check_text = [](const std::string& s, const char* name) -> result<void> {
        if (s.size() > token_limits::max_text_length)
            return error{errc::too_large, std::string("token: ") + name + " is too long"};
        if (detail::has_control_or_nul(s))
            return error{errc::invalid_argument, std::string("token: ") + name + " contains a control character"};
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
    if (!t.extra.is_object()) return error{errc::wrong_type, "token: extra must be a JSON object"};
    return {};
}

/// Options for reading a token from JSON.
struct token_json_options {
    /// The time the token was issued; needed to resolve a relative "expires_in".
    std::optional<clock::time_point> issued_at;
};

/// Reads a token from a JSON object (a stored token or an OAuth token response).
template <class Json = nlohmann::json>
[[nodiscard]] inline result<token> token_from_json(const Json& doc, const token_json_options& options = {}) {
    if (!doc.is_object()) return error{errc::wrong_type, "token: JSON value must be an object"};
    token t;
    {
        auto access = detail::secret_field(doc, "access_token", true);
        if (!access) return access.error();
        t.access_token = std::move(**access);
    }
    {
        auto type = detail::text_field(doc, "token_type", false, token_limits::max_text_length);
        if (!type) return type.error();
        if (!type->empty()) t.token_type = std::move(*type);
    }
    {
        auto refresh = detail::secret_field(doc, "refresh_token", false);
        if (!refresh) return refresh.error();
        t.refresh_token = std::move(*refresh);
        if (t.refresh_token && t.refresh_token->empty()) t.refresh_token.reset();
    }
    for (const char* name : {"client_secret", "id_token"}) {
        auto secret = detail::secret_field(doc, name, false);
        if (!secret) return secret.error();
        (std::string_view(name) == "client_secret" ? t.client_secret : t.id_token) = std::move(*secret);
    }
    for (const char* name : {"issuer", "client_id"}) {
        auto text = detail::text_field(doc, name, false, token_limits::max_text_length);
        if (!text) return text.error();
        (std::string_view(name) == "issuer" ? t.issuer : t.client_id) = std::move(*text);
    }
    if (const auto found = doc.find("expires_at"); found != doc.end()) {
        auto expiry = detail::expiry_field(*found, "expires_at");
        if (!expiry) return expiry.error();
        t.expires_at = *expiry;
    } else if (const auto rel = doc.find("expires_in"); rel != doc.end() && !rel->is_null()) {
        if (!rel->is_number()) return error{errc::wrong_type, "token: field 'expires_in' must be a number"};
        auto expiry = detail::expiry_after(rel->template get<double>(), options.issued_at);
        if (!expiry) return expiry.error();
        t.expires_at = *expiry;
    }
    if (const auto found = doc.find("scopes"); found != doc.end() && !found->is_null()) {
        if (!found->is_array()) return error{errc::wrong_type, "token: field 'scopes' must be an array of strings"};
        for (const auto& scope : *found) {
            if (!scope.is_string()) return error{errc::wrong_type, "token: field 'scopes' must be an array of strings"};
            t.scopes.push_back(scope.template get<std::string>());
        }
    } else if (const auto scope = doc.find("scope"); scope != doc.end() && !scope->is_null()) {
        if (!scope->is_string()) return error{errc::wrong_type, "token: field 'scope' must be a string"};
        detail::append_scopes(scope->template get_ref<const std::string&>(), t.scopes);
    }
    static constexpr std::string_view known[] = {"access_token", "token_type",  "refresh_token", "client_secret",
                                                 "id_token",     "issuer",      "client_id",     "expires_at",
                                                 "expires_in",   "scopes",      "scope"};
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        bool is_known = false;
        for (const auto k : known) is_known = is_known || it.key() == k;
        if (!is_known) t.extra[it.key()] = it.value();
    }
    TOKENVAULT_TRY(validate(t));
    return t;
}

/// Writes a token as a JSON object; the caller must wipe the result with detail::scrub after use.
template <class Json = nlohmann::json>
[[nodiscard]] inline Json token_to_json(const token& t) {
    Json doc = t.extra.is_object() ? Json(t.extra) : Json::object();
    doc["access_token"] = std::string(t.access_token.reveal());
    doc["token_type"] = t.token_type;
    if (t.refresh_token) doc["refresh_token"] = std::string(t.refresh_token->reveal());
    if (t.client_secret) doc["client_secret"] = std::string(t.client_secret->reveal());
    if (t.id_token) doc["id_token"] = std::string(t.id_token->reveal());
    if (!t.issuer.empty()) doc["issuer"] = t.issuer;
    if (!t.client_id.empty()) doc["client_id"] = t.client_id;
    if (t.expires_at) doc["expires_at"] = detail::format_rfc3339(*t.expires_at);
    if (!t.scopes.empty()) doc["scopes"] = t.scopes;
    return doc;
}

namespace detail {

inline bool is_token_field(std::string_view k) noexcept {
    return k == "access_token" || k == "token_type" || k == "refresh_token" || k == "client_secret" ||
           k == "id_token" || k == "issuer" || k == "client_id" || k == "expires_at" || k == "expires_in" ||
           k == "scopes" || k == "scope";
}

/// Writes a token object; false when a string is not valid UTF-8.
template <class = void>
[[nodiscard]] inline bool write_token(json_writer& w, const token& t) {
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
    ok = ok && w.members_of(t.extra, is_token_field);
    w.close_object();
    return ok;
}

}  // namespace detail

}  // namespace tokenvault
