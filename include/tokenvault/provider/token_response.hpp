// tokenvault/provider/token_response.hpp: a token endpoint's answer, read into a provider result.
//
// `read_token_response` maps the HTTP status and body of an OAuth token endpoint (RFC 6749 5.1 and 5.2) to a
// refresh_result (provider/concept.hpp): refreshed, rejected (the grant is dead) or failed with an error that
// says whether a retry can help; `token_from_response` does the same for a login, which must yield a token.
// The body is controlled by the server: it must be one JSON object, only a success is read as a token
// (token_json.hpp), and error texts repeat at most a well-formed OAuth error code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "../token_json.hpp"
#include "concept.hpp"

namespace tokenvault {

namespace detail {

/// Whether `text` is a short OAuth error code ([a-z_]+), safe to repeat in an error context.
template <class = void>
[[nodiscard]] inline bool is_oauth_error_code(std::string_view text) noexcept {
    if (text.empty() || text.size() > 64) return false;
    for (const char c : text)
        if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
    return true;
}

/// Checks that a token endpoint response is one JSON object (at most 64 levels deep) and finds its
/// top-level "error": nullopt when there is none; the code when it is a short OAuth code, else "". Reads
/// nothing else: the token is read by parse_token, and only from a success.
template <class = void>
[[nodiscard]] inline result<std::optional<std::string>> response_error_code(std::string_view body) {
    json_cursor in(body);
    std::optional<std::string> code;
    std::string_view key, ignored;
    TOKENVAULT_TRY(begin_document(in, json_cursor::kind::object, "token response"));
    while (in.next_member(key)) {
        if (key == "error" && in.peek() == json_cursor::kind::string) {
            std::string_view value;
            if (!in.string(value)) break;
            code = is_oauth_error_code(value) ? std::string(value) : std::string{};
            continue;
        }
        if (key == "error") code = std::string{};
        if (!in.skip(ignored, max_member_depth)) break;
    }
    TOKENVAULT_TRY(end_document(in, "token response"));
    return code;
}

}  // namespace detail

/// Reads a token endpoint response (RFC 6749 5.1 and 5.2): 2xx with a token: refreshed; `invalid_grant`:
/// rejected; 429, 5xx, `temporarily_unavailable`, `server_error`, status 0 (no answer): failed with
/// errc::provider_unavailable; other OAuth errors: failed with errc::provider_rejected; anything else
/// (garbage, bad fields, negative expires_in): failed with errc::provider_invalid_response.
/// `issued_at` resolves a relative expires_in: take the time the request was sent.
template <class = void>
[[nodiscard]] inline refresh_result read_token_response(std::string_view body, clock::time_point issued_at,
                                                        int http_status = 200) {
    if (http_status == 0 || http_status == 429 || (http_status >= 500 && http_status <= 599))
        return refresh_result::failed(
            error{errc::provider_unavailable, "token endpoint answered HTTP " + std::to_string(http_status)});
    if (body.size() > token_limits::max_token_json)
        return refresh_result::failed(
            error{errc::provider_invalid_response, "token response: larger than 256 KiB"});
    // First the shape and the OAuth error code, if any; the token itself is read only from a success.
    auto error_code = detail::response_error_code(body);
    if (!error_code)
        return refresh_result::failed(error{errc::provider_invalid_response, error_code.error().context});
    if (*error_code || http_status < 200 || http_status > 299) {
        const std::string name = error_code->value_or(std::string{});
        if (name == "invalid_grant") return refresh_result::rejected();
        if (name == "temporarily_unavailable" || name == "server_error")
            return refresh_result::failed(
                error{errc::provider_unavailable, "token endpoint error '" + name + "'"});
        if (detail::is_oauth_error_code(name))
            return refresh_result::failed(
                error{errc::provider_rejected,
                      "token endpoint error '" + name + "' (the stored credential was kept)"});
        return refresh_result::failed(error{
            errc::provider_invalid_response,
            "token endpoint answered HTTP " + std::to_string(http_status) + " without an OAuth error code"});
    }
    auto parsed = parse_token(body, token_json_options{issued_at});
    if (!parsed) {
        return refresh_result::failed(
            error{errc::provider_invalid_response,
                  "token response: " + parsed.error().context + " (" + parsed.error().code.message() + ")"});
    }
    return refresh_result::refreshed(std::move(*parsed));
}

/// Reads a token endpoint response that must hold a token (for authorize()): the token, or the error.
template <class = void>
[[nodiscard]] inline result<token> token_from_response(std::string_view body, clock::time_point issued_at,
                                                       int http_status = 200) {
    auto read = read_token_response(body, issued_at, http_status);
    if (read.outcome() != refresh_outcome::refreshed) return read.failure();
    return std::move(read.issued());
}

}  // namespace tokenvault
