// tests/fuzz/fuzz_oauth_registration.cpp: libFuzzer harness of the RFC 7591 registration response parser.
//
// Oracles: an accepted response is valid JSON to nlohmann with the same client_id (differential); it
// writes back (format_registration_response) and reads back to the same registration (round trip); its
// client record survives the trip through a stored token.
#include <tokenvault/oauth/registration.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"

namespace fuzz_oauth_registration {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace oauth = tokenvault::oauth;
using tvfuzz::require;

TOKENVAULT_FUZZ_TARGET(oauth_registration) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto registration = oauth::parse_registration_response(text);
    if (!registration) return 0;
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    require(!doc.is_discarded() && doc.is_object(), "an accepted registration is a JSON object");
    require(doc["client_id"].get<std::string>() == registration->client_id, "client_id reads as JSON does");

    const auto written = oauth::format_registration_response(*registration);
    auto again = oauth::parse_registration_response(std::string_view(written.data(), written.size()));
    require(again && *again == *registration, "a registration written back reads back equal");

    oauth::client_record record{*registration, "https://issuer.example", "https://mcp.example/mcp", true};
    auto back = oauth::record_from_token(oauth::record_to_token(record));
    require(back && *back == record, "a client record survives a stored token");
    return 0;
}

}  // namespace fuzz_oauth_registration
