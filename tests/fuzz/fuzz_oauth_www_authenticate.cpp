// tests/fuzz/fuzz_oauth_www_authenticate.cpp: libFuzzer harness of the WWW-Authenticate parser (RFC 9110).
//
// Oracle: accepted challenges, written back by format_www_authenticate, read back to the same challenges
// (round trip); bearer_challenge agrees with the parsed list.
#include <tokenvault/oauth/metadata.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"

namespace fuzz_oauth_www_authenticate {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace oauth = tokenvault::oauth;
using tvfuzz::require;

TOKENVAULT_FUZZ_TARGET(oauth_www_authenticate) {
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    auto challenges = oauth::parse_www_authenticate(header);
    if (!challenges) return 0;
    const auto written = oauth::format_www_authenticate(*challenges);
    auto again = oauth::parse_www_authenticate(written);
    require(again && *again == *challenges, "challenges written back read back equal");
    const auto bearer = oauth::bearer_challenge(header);
    bool has_bearer = false;
    for (const auto& c : *challenges) has_bearer = has_bearer || c.scheme == "bearer";
    require(bearer.has_value() == has_bearer, "bearer_challenge agrees with the parsed list");
    return 0;
}

}  // namespace fuzz_oauth_www_authenticate
