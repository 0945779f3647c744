// tests/unit/test_keyring_file.cpp: keyring::file on a real file system, with real processes.
//
// Checks modes on disk, the per-install random passphrase (reused on reopen, distinct per directory),
// refusal of tampered, moved, foreign-key and symlinked items, and the concurrent first start: 8 forked
// processes open one fresh directory at the same instant and must end up with exactly one passphrase.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/keyring/file.hpp"

#include "support/temp_dir.hpp"

namespace test_keyring_file {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace tokenvault;
using tokenvault::keyring::file;

namespace {

constexpr std::string_view canary = "CANARY-file-refresh-token-91c2";

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

keyring_options options_for(const fs::path& dir) {
    keyring_options options;
    options.service = "tvtest";
    options.directory = dir;
    return options;
}

file open_file(const keyring_options& options) {
    auto opened = file::open(options);
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
    REQUIRE(opened->has_value());
    return std::move(**opened);
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

fs::path item_path(const file& ring, std::string_view account) {
    auto p = ring.item_path(account);
    REQUIRE(p);
    return *p;
}

}  // namespace

TEST_CASE("file: needs a directory") {
    auto opened = file::open(keyring_options{});
    REQUIRE_FALSE(opened);
    CHECK(opened.error() == errc::invalid_argument);
    CHECK(opened.error().context == "keyring::file needs a directory");
}

TEST_CASE("file: round trip, modes on disk, no plaintext on disk") {
    tvtest::temp_dir scratch;
    const auto dir = scratch / "nested" / "keyring";
    auto ring = open_file(options_for(dir));
    CHECK(ring.tier_name() == "file");
    static_assert(file::persistent);

    std::vector<std::byte> secret = bytes_of(canary);
    secret.push_back(std::byte{0});
    secret.push_back(std::byte{0xfe});
    REQUIRE(ring.write("acct", secret));
    auto got = ring.read("acct");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->equals(secret));

    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(scratch / "nested") == 0700);
    CHECK(mode_of(dir / "passphrase") == 0600);
    CHECK(mode_of(item_path(ring, "acct")) == 0600);
    CHECK(item_path(ring, "acct").parent_path() == dir);
    CHECK(item_path(ring, "acct").filename().string().size() == 64 + 5);  // sha256 hex + ".item"
    for (const auto& entry : fs::directory_iterator(dir)) {
        CHECK_MESSAGE(slurp(entry.path()).find(canary) == std::string::npos, entry.path());
        CHECK(entry.path().filename().string().find("acct") == std::string::npos);
    }

    SUBCASE("missing, replace, erase") {
        auto none = ring.read("other");
        REQUIRE(none);
        CHECK_FALSE(none->has_value());
        REQUIRE(ring.write("acct", bytes_of("v2")));
        got = ring.read("acct");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(bytes_of("v2")));
        auto erased = ring.erase("acct");
        REQUIRE(erased);
        CHECK(*erased);
        CHECK_FALSE(fs::exists(item_path(ring, "acct")));
        erased = ring.erase("acct");
        REQUIRE(erased);
        CHECK_FALSE(*erased);
        got = ring.read("acct");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
    }

    SUBCASE("empty and maximal items") {
        REQUIRE(ring.write("empty", {}));
        got = ring.read("empty");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->empty());
        std::vector<std::byte> big(file::max_item_size, std::byte{7});
        REQUIRE(ring.write("big", big));
        got = ring.read("big");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(big));
        big.push_back(std::byte{7});
        auto refused = ring.write("big", big);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::keyring_item_too_large);
    }

    SUBCASE("services in one directory do not see each other's items") {
        auto options = options_for(dir);
        options.service = "other-app";
        auto other = open_file(options);
        CHECK(item_path(other, "acct") != item_path(ring, "acct"));
        auto none = other.read("acct");
        REQUIRE(none);
        CHECK_FALSE(none->has_value());
    }
}

TEST_CASE("file: the passphrase is random, persisted once, reused on reopen, distinct per directory") {
    tvtest::temp_dir scratch;
    const auto dir_a = scratch / "a";
    const auto dir_b = scratch / "b";
    {
        auto ring = open_file(options_for(dir_a));
        REQUIRE(ring.write("acct", bytes_of(canary)));
    }
    const std::string first = slurp(dir_a / "passphrase");
    CHECK(first.size() == 32);
    CHECK(std::count(first.begin(), first.end(), '\0') < 8);  // not a constant of zeros

    auto reopened = open_file(options_for(dir_a));
    CHECK(slurp(dir_a / "passphrase") == first);
    auto got = reopened.read("acct");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->equals(bytes_of(canary)));

    CHECK_FALSE(fs::exists(dir_b / "passphrase"));  // opening creates no key material: the first write does
    REQUIRE(open_file(options_for(dir_b)).write("acct-b", bytes_of("b")));
    CHECK(slurp(dir_b / "passphrase").size() == 32);
    CHECK(slurp(dir_b / "passphrase") != first);

    SUBCASE("an item sealed under another passphrase is foreign_key, not absent, and left in place") {
        auto ring_b = open_file(options_for(dir_b));
        fs::copy_file(item_path(reopened, "acct"), item_path(ring_b, "acct"));
        auto foreign = ring_b.read("acct");
        REQUIRE_FALSE(foreign);
        CHECK(foreign.error() == errc::foreign_key);
        CHECK(fs::exists(item_path(ring_b, "acct")));
    }

    SUBCASE("a passphrase file of the wrong size is refused and never replaced") {
        { std::ofstream(dir_b / "passphrase", std::ios::binary | std::ios::trunc) << "short"; }
        auto opened = file::open(options_for(dir_b));
        REQUIRE_FALSE(opened);
        CHECK(opened.error() == errc::damaged_key);
        CHECK(slurp(dir_b / "passphrase") == "short");
    }

    SUBCASE("a group-readable passphrase is refused") {
        REQUIRE(::chmod((dir_a / "passphrase").c_str(), 0640) == 0);
        auto opened = file::open(options_for(dir_a));
        REQUIRE_FALSE(opened);
        CHECK(opened.error() == errc::insecure_permissions);
        CHECK(opened.error().context.find("keyring::file") == 0);
    }
}

TEST_CASE("file: tampered, moved, symlinked and exposed items are refused, never treated as absent") {
    tvtest::temp_dir scratch;
    const auto dir = scratch / "k";
    auto ring = open_file(options_for(dir));
    REQUIRE(ring.write("acct", bytes_of(canary)));
    const auto path = item_path(ring, "acct");
    const std::string sealed = slurp(path);

    SUBCASE("a flipped ciphertext byte") {
        std::string tampered = sealed;
        tampered[tampered.size() - 20] = static_cast<char>(tampered[tampered.size() - 20] ^ 0x01);
        { std::ofstream(path, std::ios::binary | std::ios::trunc) << tampered; }
        auto got = ring.read("acct");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::damaged_key);
        CHECK(got.error().message().find(canary) == std::string::npos);
        CHECK(slurp(path) == tampered);  // left in place
    }
    SUBCASE("a truncated item") {
        { std::ofstream(path, std::ios::binary | std::ios::trunc) << sealed.substr(0, 30); }
        auto got = ring.read("acct");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::damaged_key);
    }
    SUBCASE("a newer format version") {
        std::string newer = sealed;
        newer[4] = 2;
        { std::ofstream(path, std::ios::binary | std::ios::trunc) << newer; }
        auto got = ring.read("acct");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::unsupported_format_version);
    }
    SUBCASE("an item copied to another account's name fails authentication") {
        fs::copy_file(path, item_path(ring, "victim"));
        auto got = ring.read("victim");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::damaged_key);
    }
    SUBCASE("a symlinked item") {
        REQUIRE(ring.write("real", bytes_of("other")));
        fs::remove(path);
        fs::create_symlink(item_path(ring, "real"), path);
        auto got = ring.read("acct");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::symlink_refused);
        auto written = ring.write("acct", bytes_of("x"));
        REQUIRE_FALSE(written);
        CHECK(written.error() == errc::symlink_refused);
    }
    SUBCASE("a world-readable item") {
        REQUIRE(::chmod(path.c_str(), 0644) == 0);
        auto got = ring.read("acct");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::insecure_permissions);
    }
}

TEST_CASE("file: concurrent first start of 8 processes ends with exactly one passphrase") {
    tvtest::temp_dir scratch;
    const auto dir = scratch / "fresh" / "keyring";  // not there yet: the processes race on mkdir too
    constexpr int processes = 8;
    int gate[2];
    REQUIRE(::pipe(gate) == 0);
    std::vector<pid_t> children;
    for (int i = 0; i < processes; ++i) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(gate[1]);
            char byte = 0;
            if (::read(gate[0], &byte, 1) != 0) ::_exit(10);  // wait for the gate to open (EOF)
            auto opened = file::open(options_for(dir));
            if (!opened || !opened->has_value()) ::_exit(11);
            const std::string value = std::string(canary) + "-" + std::to_string(i);
            if (!(*opened)->write("proc-" + std::to_string(i), bytes_of(value))) ::_exit(12);
            ::_exit(0);
        }
        children.push_back(pid);
    }
    ::close(gate[0]);
    ::close(gate[1]);  // all children start at once
    for (const pid_t pid : children) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }

    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
    CHECK(names.count("passphrase") == 1);
    CHECK(names.size() == 2 + processes);  // passphrase, passphrase.lock, one item each: no stray temp file
    CHECK(std::count_if(names.begin(), names.end(),
                        [](const std::string& n) { return n.find("passphrase") != std::string::npos; }) == 2);

    auto ring = open_file(options_for(dir));
    for (int i = 0; i < processes; ++i) {
        auto got = ring.read("proc-" + std::to_string(i));
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(bytes_of(std::string(canary) + "-" + std::to_string(i))));
    }
}

}  // namespace test_keyring_file
