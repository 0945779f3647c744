// tests/matrix/test_windows_matrix.cpp: the store contract over the Windows matrix's stores with
// cipher::xchacha20poly1305, the keyring bundles and the memory backend (built for Windows; the pairwise
// table is in windows_lists.hpp).
#include "conformance.hpp"
#include "windows_lists.hpp"

TEST_CASE_TEMPLATE_APPLY(conformance, tvtest::matrix::windows::stores_xchacha20poly1305);
