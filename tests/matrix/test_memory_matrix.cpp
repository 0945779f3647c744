// tests/matrix/test_memory_matrix.cpp: the store contract over every in-memory combination.
#include "conformance.hpp"
#include "matrix.hpp"

namespace test_memory_matrix {  // unity builds: several test files share a translation unit

namespace {
namespace tv = tokenvault;
namespace hana = boost::hana;

using memory_stores = decltype(+tvtest::matrix::valid_stores(
    hana::tuple_t<tv::backend::memory>,
    hana::tuple_t<tv::cipher::xchacha20poly1305, tv::cipher::aes256gcm, tv::cipher::none>,
    hana::tuple_t<tv::locking::none, tv::locking::threads>, hana::tuple_t<tv::migration::none>,
    hana::tuple_t<tv::diagnostics::none, tv::diagnostics::callback, tv::diagnostics::counters>))::type;

static_assert(std::tuple_size_v<memory_stores> == 6, "memory backend: 2 lockings x 3 diagnostics");
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, memory_stores);

}  // namespace test_memory_matrix
