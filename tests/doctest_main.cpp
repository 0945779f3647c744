// The doctest runner shared by unit_tests, matrix_tests, integration_tests and unit_tests_single.
// Compiled once into a static library; test files only include <doctest/doctest.h>. Started as
// `--tvtest-role <name> [args...]`, the binary runs that role of a cross-process test instead
// (tests/support/process.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/process.hpp"

int main(int argc, char** argv) {
    if (const auto code = tvtest::run_role_if_asked(argc, argv)) return *code;
    return doctest::Context(argc, argv).run();
}
