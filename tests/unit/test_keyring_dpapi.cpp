// tests/unit/test_keyring_dpapi.cpp: keyring::dpapi, DPAPI-sealed item files (wine or Windows).
//
// Round trip, absence, erase, what is on disk (no plaintext, one file per item in the keyring's private
// directory), damage and a blob moved to another item's name (refused, left in place), and another
// process reading what this one wrote. Wine decrypts DPAPI blobs of any prefix, so the binding to one
// Windows user is not tested here (docs: README, "What is tested where").
#include <doctest/doctest.h>

#include <tokenvault/keyring/dpapi.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace test_keyring_dpapi {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace tv = tokenvault;

namespace {

std::error_code ec(tv::errc c) { return tv::make_error_code(c); }

std::span<const std::byte> bytes_of(const std::string& text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::string read_raw(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

tv::keyring_options options_in(const fs::path& dir, const std::string& service = "tv-dpapi") {
    tv::keyring_options o;
    o.service = service;
    o.directory = dir;
    return o;
}

tv::keyring::dpapi open_in(const tv::keyring_options& o) {
    auto opened = tv::keyring::dpapi::open(o);
    REQUIRE(opened);
    REQUIRE(*opened);
    return std::move(**opened);
}

}  // namespace

/// dpapi_reader <dir> <account>: prints the item it reads ("absent" when there is none).
TVTEST_ROLE(dpapi_reader) {
    auto keyring = tv::keyring::dpapi::open(options_in(args.at(0)));
    if (!keyring || !*keyring) return 2;
    auto item = (*keyring)->read(args.at(1));
    if (!item) return 3;
    tvtest::send_line(*item ? std::string((*item)->view()) : std::string("absent"));
    return 0;
}

TEST_SUITE("unit") {
    TEST_CASE("dpapi: an item round-trips through a sealed file that holds no plaintext") {
        tvtest::temp_dir tmp;
        const auto o = options_in(tmp / "keyring");
        auto k = open_in(o);
        CHECK(k.tier_name() == "dpapi");
        CHECK_FALSE(k.read("data-key").value());
        const std::string secret = "CANARY-dpapi-0123456789abcdef";
        REQUIRE(k.write("data-key", bytes_of(secret)));
        CHECK(k.read("data-key").value()->view() == secret);
        const auto path = k.item_path("data-key").value();
        CHECK(path.parent_path() == o.directory);
        CHECK(path.extension() == ".dpapi");
        const auto on_disk = read_raw(path);
        CHECK(on_disk.rfind("TVDP\x01", 0) == 0);
        CHECK(on_disk.find("CANARY") == std::string::npos);
        CHECK(open_in(o).read("data-key").value()->view() == secret);  // another instance
        CHECK(k.erase("data-key").value());
        CHECK_FALSE(k.erase("data-key").value());
        CHECK_FALSE(fs::exists(path));
    }

    TEST_CASE("dpapi: a damaged item, or one moved to another item's name, is refused and left in place") {
        tvtest::temp_dir tmp;
        auto k = open_in(options_in(tmp / "keyring"));
        REQUIRE(k.write("data-key", bytes_of("key-one")));
        REQUIRE(k.write("other", bytes_of("key-two")));
        const auto path = k.item_path("data-key").value();
        SUBCASE("a flipped byte in the blob") {
            auto bytes = read_raw(path);
            bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
            REQUIRE(tv::platform::write_file_atomically(path, bytes_of(bytes)));
            CHECK(k.read("data-key").code() == ec(tv::errc::corrupt_file));
            CHECK(read_raw(path) == bytes);
        }
        SUBCASE("not an item at all") {
            REQUIRE(tv::platform::write_file_atomically(path, bytes_of("garbage")));
            CHECK(k.read("data-key").code() == ec(tv::errc::corrupt_file));
        }
        SUBCASE("the blob of another item: bound to its own name") {
            REQUIRE(
                tv::platform::write_file_atomically(path, bytes_of(read_raw(k.item_path("other").value()))));
            CHECK(k.read("data-key").code() == ec(tv::errc::corrupt_file));
        }
        SUBCASE("the same name in another service") {
            auto elsewhere = open_in(options_in(tmp / "keyring", "another-service"));
            const auto moved = elsewhere.item_path("data-key").value();
            REQUIRE(tv::platform::write_file_atomically(moved, bytes_of(read_raw(path))));
            CHECK(elsewhere.read("data-key").code() == ec(tv::errc::corrupt_file));
        }
    }

    TEST_CASE("dpapi: items over the limit are refused") {
        tvtest::temp_dir tmp;
        auto k = open_in(options_in(tmp / "keyring"));
        CHECK(k.write("big", bytes_of(std::string(tv::keyring::dpapi::max_item_size + 1, 'x'))).code() ==
              ec(tv::errc::keyring_item_too_large));
        CHECK(tv::keyring::dpapi::open(tv::keyring_options{}).code() == ec(tv::errc::invalid_argument));
    }

    TEST_CASE("dpapi: another process reads what this one wrote") {
        tvtest::temp_dir tmp;
        auto k = open_in(options_in(tmp / "keyring"));
        REQUIRE(k.write("data-key", bytes_of("shared-secret")));
        auto reader = tvtest::child::start("dpapi_reader", {(tmp / "keyring").string(), "data-key"});
        CHECK(reader.receive() == "shared-secret");
        CHECK(reader.wait() == 0);
    }

}  // TEST_SUITE

}  // namespace test_keyring_dpapi
