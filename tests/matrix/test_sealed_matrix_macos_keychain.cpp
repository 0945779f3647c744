// tests/matrix/test_sealed_matrix_macos_keychain.cpp: the store contract over sealed files whose key is held
// by keyring::macos_keychain (alone, and first in the chain of presets::macos_desktop), against the fake
// keychain of tests/support/fake_keychain.hpp, which this file installs for the whole matrix executable
// (no other matrix file uses the keychain).
#include <tokenvault/keyring/macos_keychain.hpp>

#include "../support/fake_keychain.hpp"
#include "conformance.hpp"
#include "persistent_lists.hpp"

namespace test_sealed_matrix_macos_keychain {  // unity builds: several test files share a translation unit

namespace {
namespace kr = tokenvault::keyring;

const bool fake_keychain_installed = [] {
    tvtest::fake_keychain::install();
    return true;
}();

/// Sealed-file backends whose key the macOS keychain holds.
inline constexpr auto keychain_backends =
    boost::hana::tuple_t<tokenvault::backend::sealed_file<kr::macos_keychain>,
                         tokenvault::backend::sealed_file<kr::first_available<kr::macos_keychain, kr::file>>>;

using keychain_stores = decltype(+tvtest::matrix::valid_stores(
    keychain_backends, boost::hana::tuple_t<tokenvault::cipher::xchacha20poly1305>,
    tvtest::matrix::all_lockings, tvtest::matrix::all_migrations, tvtest::matrix::all_diagnostics))::type;
static_assert(std::tuple_size_v<keychain_stores> >= 6);
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, keychain_stores);

TEST_CASE("macos_keychain matrix: the key of these stores is an item of the fake keychain") {
    REQUIRE(fake_keychain_installed);
    CHECK(tokenvault::keyring::keychain::current_api() == &tvtest::fake_keychain::table);
    using store_t = std::tuple_element_t<0, keychain_stores>;
    tvtest::matrix::fixture<store_t> f;
    REQUIRE(f.store->put(tvtest::id_for(1), tvtest::sample_token("in-keychain")));
    CHECK(f.store->backend().tier() == "macos_keychain");
    const auto key = tvtest::fake_keychain::find(f.options.app_name, "data-key");
    REQUIRE(key);
    CHECK(key->data.size() == 32);
}

}  // namespace test_sealed_matrix_macos_keychain
