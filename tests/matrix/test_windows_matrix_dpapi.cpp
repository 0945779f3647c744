// tests/matrix/test_windows_matrix_dpapi.cpp: the store contract over every valid store on a sealed file
// whose key is in a DPAPI file (built for Windows; the lists are in windows_lists.hpp).
#include "conformance.hpp"
#include "windows_lists.hpp"

namespace test_windows_matrix_dpapi {  // unity builds: several test files share a translation unit

namespace {
namespace kr = tokenvault::keyring;
namespace tv = tokenvault;
using stores = tvtest::matrix::windows::stores_over<tv::backend::sealed_file<kr::dpapi>>;
static_assert(std::tuple_size_v<stores> >= 6);
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, stores);

}  // namespace test_windows_matrix_dpapi
