// tests/matrix/test_sealed_matrix_aes256gcm.cpp: the store contract over every sealed-file combination with
// cipher::aes256gcm.
#include "conformance.hpp"
#include "persistent_lists.hpp"

namespace test_sealed_matrix_aes256gcm {  // unity builds: several test files share a translation unit

namespace {
using sealed_stores_aes256gcm = decltype(+tvtest::matrix::valid_stores(
    tvtest::matrix::sealed_backends, boost::hana::tuple_t<tokenvault::cipher::aes256gcm>,
    tvtest::matrix::all_lockings, tvtest::matrix::all_migrations, tvtest::matrix::all_diagnostics))::type;
static_assert(std::tuple_size_v<sealed_stores_aes256gcm> >= 9);
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, sealed_stores_aes256gcm);

}  // namespace test_sealed_matrix_aes256gcm
