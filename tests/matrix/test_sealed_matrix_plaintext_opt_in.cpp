// tests/matrix/test_sealed_matrix_plaintext_opt_in.cpp: the store contract over every sealed-file combination
// with cipher::plaintext_opt_in.
#include "conformance.hpp"
#include "persistent_lists.hpp"

namespace test_sealed_matrix_plaintext_opt_in {  // unity builds: several test files share a translation unit

namespace {
using sealed_stores_plaintext_opt_in = decltype(+tvtest::matrix::valid_stores(
    tvtest::matrix::sealed_backends, boost::hana::tuple_t<tokenvault::cipher::plaintext_opt_in>,
    tvtest::matrix::all_lockings, tvtest::matrix::all_migrations, tvtest::matrix::all_diagnostics))::type;
static_assert(std::tuple_size_v<sealed_stores_plaintext_opt_in> >= 9);
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, sealed_stores_plaintext_opt_in);

}  // namespace test_sealed_matrix_plaintext_opt_in
