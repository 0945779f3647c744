// tests/unit/test_first_available.cpp: keyring::first_available<K...>, the fallback chain.
//
// Real keyrings (memory with its fault injection, file on a real directory): "not available here" and
// errors fall through and are recorded; nothing opening is errc::keyring_unavailable naming every tier;
// open_tier opens exactly the named tier; calls reach the chosen keyring only.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/keyring/file.hpp"
#include "tokenvault/keyring/first_available.hpp"
#include "tokenvault/keyring/memory.hpp"

#include "support/temp_dir.hpp"

namespace test_first_available {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace tokenvault;
using tokenvault::keyring::file;
using tokenvault::keyring::first_available;
using tokenvault::keyring::memory;

namespace {

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

/// Options with a service name of its own, so memory's process-wide state does not leak between cases.
keyring_options fresh_options(std::string_view name, const fs::path& dir = {}) {
    static int counter = 0;
    keyring_options options;
    options.service = "tvtest-chain-" + std::string(name) + "-" + std::to_string(++counter);
    options.directory = dir;
    return options;
}

using memory_then_file = first_available<memory, file>;
using file_then_memory = first_available<file, memory>;

static_assert(keyring::keyring_policy<memory_then_file>);
static_assert(memory_then_file::tier == "first_available");
static_assert(!memory_then_file::persistent);  // memory is not
static_assert(first_available<file>::persistent);
static_assert(memory_then_file::max_item_size == file::max_item_size);  // the smaller one
static_assert(memory_then_file::contains_tier("file") && memory_then_file::contains_tier("memory"));
static_assert(!memory_then_file::contains_tier("keyctl"));
static_assert(!keyring::enumerable_keyring<memory_then_file>);  // file hashes its account names
static_assert(keyring::enumerable_keyring<first_available<memory>>);

}  // namespace

TEST_CASE("first_available: the first keyring that opens is chosen") {
    tvtest::temp_dir scratch;
    const auto options = fresh_options("first", scratch.path() / "k");
    auto chain = memory_then_file::open(options);
    REQUIRE(chain);
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "memory");
    REQUIRE((*chain)->resolution().size() == 1);
    CHECK((*chain)->resolution()[0].tier == "memory");
    CHECK((*chain)->resolution()[0].opened);
    CHECK(!(*chain)->resolution()[0].reason);
    CHECK_FALSE(fs::exists(scratch.path() / "k"));  // later tiers are not even opened

    // Calls reach the chosen keyring.
    REQUIRE((*chain)->write("acct", bytes_of("value")));
    auto state = memory::control_for(options.service);
    CHECK(state->writes == 1);
    auto got = (*chain)->read("acct");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->equals(bytes_of("value")));
    auto erased = (*chain)->erase("acct");
    REQUIRE(erased);
    CHECK(*erased);

    auto listed = first_available<memory>::open(options);  // enumeration is forwarded when every K has it
    REQUIRE(listed);
    REQUIRE(listed->has_value());
    REQUIRE((*listed)->write("legacy-1", bytes_of("x")));
    auto accounts = (*listed)->list_accounts("legacy-");
    REQUIRE(accounts);
    CHECK(*accounts == std::vector<std::string>{"legacy-1"});
}

TEST_CASE("first_available: an unavailable keyring falls through to the next, and it is recorded") {
    tvtest::temp_dir scratch;
    const auto options = fresh_options("unavailable", scratch.path() / "k");
    memory::control_for(options.service)->unavailable = true;
    auto chain = memory_then_file::open(options);
    REQUIRE(chain);
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "file");
    const auto& tried = (*chain)->resolution();
    REQUIRE(tried.size() == 2);
    CHECK(tried[0].tier == "memory");
    CHECK_FALSE(tried[0].opened);
    CHECK(tried[0].reason == make_error_code(errc::keyring_unavailable));
    CHECK(tried[1].tier == "file");
    CHECK(tried[1].opened);

    REQUIRE((*chain)->write("acct", bytes_of("in the file")));
    CHECK(memory::control_for(options.service)->writes == 0);
    auto direct = file::open(options);
    REQUIRE(direct);
    REQUIRE(direct->has_value());
    auto got = (*direct)->read("acct");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->equals(bytes_of("in the file")));
}

TEST_CASE("first_available: an error falls through to the next, and its code is recorded") {
    const auto options = fresh_options("error");  // no directory: file::open fails with invalid_argument
    auto chain = file_then_memory::open(options);
    REQUIRE(chain);
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "memory");
    const auto& tried = (*chain)->resolution();
    REQUIRE(tried.size() == 2);
    CHECK(tried[0].tier == "file");
    CHECK_FALSE(tried[0].opened);
    CHECK(tried[0].reason == make_error_code(errc::invalid_argument));
    CHECK(tried[1].opened);
}

TEST_CASE("first_available: nothing opens -> keyring_unavailable listing every tier tried") {
    const auto options = fresh_options("none");
    memory::control_for(options.service)->unavailable = true;
    auto chain = memory_then_file::open(options);
    REQUIRE_FALSE(chain);
    CHECK(chain.error() == errc::keyring_unavailable);
    const auto& context = chain.error().context;
    CHECK(context.find("memory: not available here") != std::string::npos);
    CHECK(context.find("file: keyring::file needs a directory") != std::string::npos);
    CHECK(context.find("memory") < context.find("file"));
}

TEST_CASE("first_available: open_tier opens exactly the named tier") {
    tvtest::temp_dir scratch;
    const auto options = fresh_options("named", scratch.path() / "k");

    auto as_file = memory_then_file::open_tier(options, "file");  // memory is available, but not asked
    REQUIRE(as_file);
    REQUIRE(as_file->has_value());
    CHECK((*as_file)->tier_name() == "file");
    REQUIRE((*as_file)->resolution().size() == 1);
    CHECK((*as_file)->resolution()[0].tier == "file");

    auto as_memory = memory_then_file::open_tier(options, "memory");
    REQUIRE(as_memory);
    REQUIRE(as_memory->has_value());
    CHECK((*as_memory)->tier_name() == "memory");

    memory::control_for(options.service)->unavailable = true;
    auto gone = memory_then_file::open_tier(options, "memory");  // unavailable now: no fall-through
    REQUIRE(gone);
    CHECK_FALSE(gone->has_value());

    auto unknown = memory_then_file::open_tier(options, "keyctl");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error() == errc::invalid_argument);

    auto failing = memory_then_file::open_tier(fresh_options("named-nodir"), "file");
    REQUIRE_FALSE(failing);
    CHECK(failing.error() == errc::invalid_argument);  // the tier's own error, not a fall-through
}

TEST_CASE("first_available: nested chains report the inner tier and open it by name") {
    tvtest::temp_dir scratch;
    const auto options = fresh_options("nested", scratch.path() / "k");
    memory::control_for(options.service)->unavailable = true;
    using nested = first_available<first_available<memory, file>, memory>;
    static_assert(nested::contains_tier("file"));
    auto chain = nested::open(options);
    REQUIRE(chain);
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "file");
    auto by_name = nested::open_tier(options, "file");
    REQUIRE(by_name);
    REQUIRE(by_name->has_value());
    CHECK((*by_name)->tier_name() == "file");
}

}  // namespace test_first_available
