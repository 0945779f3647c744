// tests/matrix/test_sealed_matrix_xchacha20poly1305.cpp: the store contract over every sealed-file
// combination with cipher::xchacha20poly1305.
#include "conformance.hpp"
#include "persistent_lists.hpp"

namespace test_sealed_matrix_xchacha20poly1305 {  // unity builds: several test files share a translation unit

namespace {
using sealed_stores_xchacha20poly1305 = decltype(+tvtest::matrix::valid_stores(
    tvtest::matrix::sealed_backends, boost::hana::tuple_t<tokenvault::cipher::xchacha20poly1305>,
    tvtest::matrix::all_lockings, tvtest::matrix::migrations_with_legacy,
    tvtest::matrix::all_diagnostics))::type;
static_assert(std::tuple_size_v<sealed_stores_xchacha20poly1305> >= 18);
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, sealed_stores_xchacha20poly1305);

}  // namespace test_sealed_matrix_xchacha20poly1305
