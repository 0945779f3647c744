// tests/fuzz/fuzz_token_response.cpp: libFuzzer harness for token endpoint responses (read_token_response)
// and stored token JSON (parse_token).
//
// Input: one byte choosing the HTTP status and the issue time, then the body. Oracles: a refreshed token is
// valid, storable and reads back equal; parse_token reads the same body to the same token; a refusal is a
// failed or rejected outcome with a documented code, never a crash.
#include <tokenvault/lifecycle.hpp>

#include "fuzz_support.hpp"

namespace fuzz_token_response {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;

TOKENVAULT_FUZZ_TARGET(token_response) {
    if (size == 0) return 0;
    static constexpr int statuses[] = {200, 201, 400, 401, 429, 500, 503, 0};
    const int status = statuses[data[0] & 7];
    const tv::clock::time_point issue_times[] = {tv::clock::now(), tv::clock::time_point{},
                                                 tv::clock::time_point{std::chrono::seconds{7258118000}},
                                                 tv::clock::time_point::max()};
    const auto issued = issue_times[(data[0] >> 3) & 3];
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    auto answer = tv::read_token_response(body, issued, status);
    switch (answer.outcome()) {
    case tv::refresh_outcome::refreshed: {
        const auto& t = answer.issued();
        tvfuzz::check_storable(t);
        auto same = tv::parse_token(body, {issued});
        tvfuzz::require(same.has_value() && *same == t, "parse_token reads a response body the same way");
        break;
    }
    case tv::refresh_outcome::rejected:
        tvfuzz::require(answer.failure() == tv::errc::provider_rejected, "a rejection is provider_rejected");
        break;
    case tv::refresh_outcome::failed: {
        const auto& e = answer.failure();
        tvfuzz::require(e == tv::errc::provider_invalid_response || e == tv::errc::provider_rejected ||
                            e == tv::errc::provider_unavailable,
                        "a failed response has a provider code");
        break;
    }
    }
    if (auto stored = tv::parse_token(body); stored) tvfuzz::check_storable(*stored);
    return 0;
}

}  // namespace fuzz_token_response
