// tokenvault/oauth/transport.hpp: the HTTP transport policy of the OAuth client.
//
// A transport sends one request and returns the status, the two headers OAuth needs (Content-Type and
// WWW-Authenticate) and the body. It must honour the request's deadline (one bound on connect, send and
// receive) and refuse a body larger than `max_response_bytes` (errc::too_large) without buffering more.
// It never follows redirects. It also owns percent-encoding (`escape` for query and form values,
// `unescape` for the redirect query), so that encoding comes from the HTTP library, not from hand-written
// code. Bodies are `secret_text` (wiped when freed): token requests and responses hold secrets.
// `oauth::curl_transport` (tokenvault/oauth/curl.hpp, libcurl) is the implementation tokenvault ships.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "../detail/secure_buffer.hpp"
#include "../result.hpp"
#include "../token.hpp"

namespace tokenvault::oauth {

/// A string wiped when freed: request and response bodies, encoded values (they may hold secrets).
using secret_text = ::tokenvault::detail::secret_text;

/// The clock of request deadlines.
using steady_clock = std::chrono::steady_clock;

/// The two request methods OAuth uses.
enum class http_method { get, post };

/// One HTTP request.
struct http_request {
    http_method method = http_method::get;       ///< GET or POST
    std::string url;                             ///< absolute http(s) URL
    std::string content_type;                    ///< of the body (POST only)
    secret_text body;                            ///< the request body; may hold secrets
    std::optional<secret_string> authorization;  ///< the Authorization header value, if any
    steady_clock::time_point deadline = steady_clock::now() + std::chrono::seconds(30);  ///< whole exchange
    std::size_t max_response_bytes = 256 * 1024;  ///< larger bodies fail with errc::too_large
};

/// One HTTP response.
struct http_response {
    int status = 0;                ///< the HTTP status code
    std::string content_type;      ///< the Content-Type header (empty when absent)
    std::string www_authenticate;  ///< every WWW-Authenticate header, joined with ", "
    secret_text body;              ///< the body; may hold secrets
};

/// An HTTP transport: `send` with a deadline and a size cap, and percent-encoding.
template <class T>
concept http_transport = requires(T& transport, const http_request& request, std::string_view text) {
    { transport.send(request) } -> std::same_as<result<http_response>>;
    { transport.escape(text) } -> std::same_as<secret_text>;
    { transport.unescape(text) } -> std::same_as<result<secret_text>>;
};

namespace detail {

template <class>
inline constexpr bool transport_dependent_false = false;

/// Checks `T` against http_transport one requirement at a time, so the one message that fires names the fix.
template <class T>
consteval bool check_transport() {
    if constexpr (!requires(T & t, const http_request& r) {
                      { t.send(r) } -> std::same_as<result<http_response>>;
                  }) {
        static_assert(
            transport_dependent_false<T>,
            "tokenvault: the OAuth transport needs `tokenvault::result<tokenvault::oauth::http_response> "
            "send(const tokenvault::oauth::http_request&)`, honouring the request's deadline and "
            "max_response_bytes (see tokenvault/oauth/transport.hpp, or use oauth::curl_transport)");
        return false;
    } else if constexpr (!requires(T & t, std::string_view s) {
                             { t.escape(s) } -> std::same_as<secret_text>;
                         }) {
        static_assert(transport_dependent_false<T>,
                      "tokenvault: the OAuth transport needs `tokenvault::oauth::secret_text "
                      "escape(std::string_view)`, percent-encoding a query or form value (curl_easy_escape)");
        return false;
    } else if constexpr (!requires(T & t, std::string_view s) {
                             { t.unescape(s) } -> std::same_as<result<secret_text>>;
                         }) {
        static_assert(
            transport_dependent_false<T>,
            "tokenvault: the OAuth transport needs `tokenvault::result<tokenvault::oauth::secret_text> "
            "unescape(std::string_view)`, decoding a percent-encoded value (curl_easy_unescape)");
        return false;
    } else {
        return true;
    }
}

/// A deadline `timeout` from now, saturating instead of overflowing.
[[nodiscard]] inline steady_clock::time_point deadline_after(std::chrono::milliseconds timeout) noexcept {
    if (timeout > std::chrono::hours(24 * 365)) timeout = std::chrono::hours(24 * 365);
    if (timeout < std::chrono::milliseconds::zero()) timeout = std::chrono::milliseconds::zero();
    return steady_clock::now() + timeout;
}

}  // namespace detail

}  // namespace tokenvault::oauth
