// tests/support/keyring_contract.hpp: what every keyring does with its items, as doctest checks.
//
// check_item_contract(ring) on a freshly opened keyring of a service of its own: a missing item is absent
// (erasing it answers false), binary bytes round trip, an empty and a maximal item round trip, an item
// over K::max_item_size is errc::keyring_item_too_large and leaves nothing behind, and erase removes an
// item. What differs between keyrings (replacing an item, where items live, names refused) stays in each
// keyring's own test.
#pragma once

#include <doctest/doctest.h>

#include <tokenvault/error.hpp>
#include <tokenvault/keyring/concept.hpp>

#include <cstddef>
#include <string_view>
#include <vector>

namespace tvtest {

/// Checks the item contract on `ring`; uses accounts that start with "contract-".
template <tokenvault::keyring::keyring_policy K>
void check_item_contract(K& ring) {
    using tokenvault::errc;
    const auto read_back = [&](std::string_view account, const std::vector<std::byte>& expected) {
        auto got = ring.read(account);
        REQUIRE_MESSAGE(got, (got ? "" : got.error().message()));
        REQUIRE(got->has_value());
        CHECK((*got)->equals(expected));
    };

    auto missing = ring.read("contract-missing");
    REQUIRE(missing);
    CHECK_FALSE(missing->has_value());
    auto not_erased = ring.erase("contract-missing");
    REQUIRE(not_erased);
    CHECK_FALSE(*not_erased);

    const std::vector<std::byte> binary{std::byte{0}, std::byte{0xff}, std::byte{'k'}, std::byte{0},
                                        std::byte{0x80}};
    REQUIRE(ring.write("contract-binary", binary));
    read_back("contract-binary", binary);

    REQUIRE(ring.write("contract-empty", {}));
    read_back("contract-empty", {});

    std::vector<std::byte> big(K::max_item_size, std::byte{7});
    REQUIRE(ring.write("contract-big", big));
    read_back("contract-big", big);
    big.push_back(std::byte{7});
    auto refused = ring.write("contract-bigger", big);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == errc::keyring_item_too_large);
    auto nothing = ring.read("contract-bigger");
    REQUIRE(nothing);
    CHECK_FALSE(nothing->has_value());

    for (const auto* account : {"contract-binary", "contract-empty", "contract-big"}) {
        auto erased = ring.erase(account);
        REQUIRE(erased);
        CHECK(*erased);
        auto gone = ring.read(account);
        REQUIRE(gone);
        CHECK_FALSE(gone->has_value());
    }
}

}  // namespace tvtest
