// tests/matrix/test_windows_matrix_aes256gcm.cpp: the store contract over the Windows matrix's stores with
// cipher::aes256gcm (built for Windows; the pairwise table is in windows_lists.hpp).
#include "conformance.hpp"
#include "windows_lists.hpp"

TEST_CASE_TEMPLATE_APPLY(conformance, tvtest::matrix::windows::stores_aes256gcm);
