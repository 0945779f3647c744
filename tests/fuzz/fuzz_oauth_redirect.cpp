// tests/fuzz/fuzz_oauth_redirect.cpp: libFuzzer harness of the loopback redirect parsing: the request line,
// the form-encoded query (decoded by libcurl, as oauth::curl_transport does) and the authorization response.
//
// Oracles: accepted parameters, encoded again (format_query with libcurl's escape), parse back to the same
// parameters (round trip: an empty piece "a&&b" is skipped, "=" is an empty name and value); an accepted
// authorization response holds no control character in its code or state.
#include <tokenvault/oauth/curl.hpp>
#include <tokenvault/oauth/loopback.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"

namespace fuzz_oauth_redirect {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace oauth = tokenvault::oauth;
using tvfuzz::require;

TOKENVAULT_FUZZ_TARGET(oauth_redirect) {
    static oauth::curl_transport transport;
    const std::string_view head(reinterpret_cast<const char*>(data), size);
    auto target = oauth::parse_request_line(head);
    if (!target) return 0;
    require(!target->path.empty() && target->path.front() == '/', "an accepted target is a path");
    const auto decode = [](std::string_view text) { return transport.unescape(text); };
    auto parameters = oauth::parse_query(target->query, decode);
    if (!parameters) return 0;
    const auto encoded =
        oauth::format_query(*parameters, [](std::string_view text) { return transport.escape(text); });
    auto again = oauth::parse_query(std::string_view(encoded.data(), encoded.size()), decode);
    require(again && *again == *parameters, "a query written back reads back equal");
    if (auto response = oauth::read_authorization_response(*parameters)) {
        if (response->code)
            require(!tokenvault::detail::has_control_or_nul(response->code->reveal()),
                    "a code holds no control character");
        if (response->state)
            require(!tokenvault::detail::has_control_or_nul(response->state->reveal()),
                    "a state holds no control character");
    }
    return 0;
}

}  // namespace fuzz_oauth_redirect
