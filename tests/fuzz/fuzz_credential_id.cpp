// tests/fuzz/fuzz_credential_id.cpp: libFuzzer harness for credential_id::parse.
//
// Input: the resource URL, optionally followed by '\n' and an account. Oracles: a canonical form is a fixed
// point of parse (same form, same hash), and an id survives a bundle round trip.
#include "fuzz_support.hpp"

namespace fuzz_credential_id {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;

TOKENVAULT_FUZZ_TARGET(credential_id) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto newline = input.find('\n');
    const auto url = input.substr(0, newline);
    const auto account = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
    auto id = tv::credential_id::parse(url, account);
    if (!id) {
        tvfuzz::require(id.error() == tv::errc::invalid_url || id.error() == tv::errc::too_large ||
                            id.error() == tv::errc::invalid_argument,
                        "a refused id has a documented code");
        return 0;
    }
    auto again = tv::credential_id::parse(id->resource(), id->account());
    tvfuzz::require(again.has_value(), "a canonical form parses");
    tvfuzz::require(again->resource() == id->resource() && again->account() == id->account(),
                    "a canonical form is a fixed point");
    tvfuzz::require(again->hash() == id->hash(), "a canonical form keeps its hash");
    tv::token t;
    t.access_token = tv::secret_string{"fuzz"};
    tvfuzz::check_storable(*id, t);
    return 0;
}

}  // namespace fuzz_credential_id
