// tests/fuzz/fuzz_import_opencode.cpp: libFuzzer harness for migration::from_opencode's reader of opencode's
// mcp-auth.json. Every login it accepts must survive the bundle round trip (tvfuzz::check_storable).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <tokenvault/migration/opencode.hpp>

#include "fuzz_support.hpp"

namespace fuzz_import_opencode {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

TOKENVAULT_FUZZ_TARGET(import_opencode) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto doc = tokenvault::detail::parse_foreign_json(text, "fuzz input");
    if (!doc) return 0;
    tokenvault::migration::from_opencode<>::for_each_login(
        *doc, tokenvault::store_options{}, [](auto login, const std::string&) {
            if (login) tvfuzz::check_storable(login->first, login->second);
        });
    return 0;
}

}  // namespace fuzz_import_opencode
