// tests/matrix/test_keyring_bundle_matrix.cpp: the store contract over every keyring-bundle combination.
#include "conformance.hpp"
#include "persistent_lists.hpp"

namespace test_keyring_bundle_matrix {  // unity builds: several test files share a translation unit

namespace {
using bundle_stores = decltype(+tvtest::matrix::valid_stores(
    tvtest::matrix::bundle_backends,
    boost::hana::tuple_t<tokenvault::cipher::xchacha20poly1305, tokenvault::cipher::aes256gcm>,
    tvtest::matrix::all_lockings, tvtest::matrix::all_migrations, tvtest::matrix::all_diagnostics))::type;
static_assert(std::tuple_size_v<bundle_stores> >= 6);
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, bundle_stores);

}  // namespace test_keyring_bundle_matrix
