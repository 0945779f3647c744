// tests/pch/tests_pch.hpp: the precompiled header of the test executables built by clang from three or
// more files (unit_tests, matrix_tests, tsan_tests in the sanitizer builds; meson.build decides).
//
// Only third-party and standard headers that nearly every test file parses (nlohmann/json alone is about
// 2.5 s of compile time per file): each test executable compiles this once instead of once per source
// file (meson's cpp_pch, with b_pch on). No tokenvault header belongs here: the tests must see
// tokenvault's headers exactly as a user's program does, and whether every header includes what it uses
// is checked without it by the meta test headers_compile_alone (tests/meta/compile_headers.py). g++
// builds do not use it: loading g++'s precompiled header cost more than parsing these headers.
#ifndef TOKENVAULT_TESTS_PCH_HPP
#define TOKENVAULT_TESTS_PCH_HPP

#include <doctest/doctest.h>
#include <sodium.h>
#include <boost/hana/at.hpp>
#include <boost/hana/bool.hpp>
#include <boost/hana/cartesian_product.hpp>
#include <boost/hana/equal.hpp>
#include <boost/hana/filter.hpp>
#include <boost/hana/find_if.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/transform.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#endif  // TOKENVAULT_TESTS_PCH_HPP
