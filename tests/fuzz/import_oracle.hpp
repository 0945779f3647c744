// tests/fuzz/import_oracle.hpp: the round-trip oracle of the importer harnesses (tests/fuzz/fuzz_import_*.cpp).
// Whatever an importer accepts from another program must survive the store's bundle round trip unchanged:
// written by serialize_bundle, read back by parse_bundle, equal field for field. A failure aborts (libFuzzer
// then keeps the input as a crash).
#pragma once

#include <cstdio>
#include <cstdlib>

#include <tokenvault/entry.hpp>
#include <tokenvault/json.hpp>

namespace tvfuzz {

/// Aborts with `what` (never the input: it may hold a token).
[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "import oracle: %s\n", what);
    std::abort();
}

/// A login an importer accepted, stored in a bundle and read back, must be unchanged.
inline void require_bundle_round_trip(const tokenvault::credential_id& id, const tokenvault::token& value) {
    tokenvault::bundle b;
    b.last_generation = 1;
    b.entries.emplace(id.hash(), tokenvault::entry{id, value, 1, tokenvault::clock::time_point{}, nlohmann::json::object()});
    auto text = tokenvault::serialize_bundle(b);
    if (!text) fail("an accepted login cannot be written to a bundle");
    auto back = tokenvault::parse_bundle(text->view());
    if (!back) fail("the bundle written for an accepted login does not read back");
    const auto found = back->entries.find(id.hash());
    if (found == back->entries.end()) fail("the accepted login is missing from the bundle read back");
    if (!(found->second.id == id)) fail("the credential id changed in the bundle round trip");
    if (!(found->second.token == value)) fail("the token changed in the bundle round trip");
}

}  // namespace tvfuzz
