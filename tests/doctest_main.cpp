// The doctest runner shared by unit_tests, matrix_tests, integration_tests and unit_tests_single.
// Compiled once into a static library; test files only include <doctest/doctest.h>.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
