// tests/unit/test_keyring_wincred.cpp: keyring::wincred against the Credential Manager (wine or Windows).
//
// Round trip, absence, erase, the account listing, the 2560-byte limit (checked by tokenvault: wine
// accepts larger blobs, Windows does not), the target name, and another process reading what this one
// wrote. Every test uses its own service name and removes its items.
#include <doctest/doctest.h>

#include <tokenvault/keyring/wincred.hpp>

#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace test_keyring_wincred {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;

namespace {

std::error_code ec(tv::errc c) { return tv::make_error_code(c); }

std::span<const std::byte> bytes_of(const std::string& text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

/// A wincred keyring with a service no other test uses; its items are erased at scope exit.
struct scoped_keyring {
    tv::keyring_options options = [] {
        tv::keyring_options o;
        o.service = tvtest::unique_name("tv-wincred");
        return o;
    }();
    tv::keyring::wincred keyring = [this] {
        auto opened = tv::keyring::wincred::open(options);
        REQUIRE(opened);
        REQUIRE(*opened);
        return std::move(**opened);
    }();
    std::vector<std::string> used;
    ~scoped_keyring() {
        for (const auto& account : used) (void)keyring.erase(account);
    }
};

}  // namespace

/// wincred_reader <service> <account>: prints the item it reads ("absent" when there is none).
TVTEST_ROLE(wincred_reader) {
    tv::keyring_options o;
    o.service = args.at(0);
    auto keyring = tv::keyring::wincred::open(o);
    if (!keyring || !*keyring) return 2;
    auto item = (*keyring)->read(args.at(1));
    if (!item) return 3;
    tvtest::send_line(*item ? std::string((*item)->view()) : std::string("absent"));
    return 0;
}

TEST_SUITE("unit") {
    TEST_CASE("wincred: an item round-trips, is absent before and after, and is named service/account") {
        scoped_keyring k;
        k.used = {"data-key"};
        CHECK_FALSE(k.keyring.read("data-key").value());
        REQUIRE(k.keyring.write("data-key", bytes_of("0123456789abcdef0123456789abcdef")));
        auto read = k.keyring.read("data-key");
        REQUIRE(read);
        REQUIRE(*read);
        CHECK((*read)->view() == "0123456789abcdef0123456789abcdef");
        REQUIRE(k.keyring.write("data-key", bytes_of("replaced")));
        CHECK(k.keyring.read("data-key").value()->view() == "replaced");
        CHECK(k.keyring.tier_name() == "wincred");
        CHECK(k.keyring.target_of("data-key").value() ==
              std::wstring(k.options.service.begin(), k.options.service.end()) + L"/data-key");
        CHECK(k.keyring.erase("data-key").value());
        CHECK_FALSE(k.keyring.erase("data-key").value());
        CHECK_FALSE(k.keyring.read("data-key").value());
        CHECK(k.keyring.read("").code() == ec(tv::errc::invalid_argument));
    }

    TEST_CASE("wincred: items up to 2560 bytes are stored, larger ones refused before Windows is asked") {
        scoped_keyring k;
        k.used = {"bundle"};
        const std::string fits(2560, 'f');
        REQUIRE(k.keyring.write("bundle", bytes_of(fits)));
        CHECK(k.keyring.read("bundle").value()->view() == fits);
        const auto refused = k.keyring.write("bundle", bytes_of(std::string(2561, 'x')));
        CHECK(refused.code() == ec(tv::errc::keyring_item_too_large));
        CHECK(refused.error().context.find("2560") != std::string::npos);
        CHECK(k.keyring.read("bundle").value()->view() == fits);  // nothing was written
        static_assert(tv::keyring::wincred::max_item_size == 2560);
    }

    TEST_CASE("wincred: list_accounts finds this service's accounts by prefix, and only those") {
        scoped_keyring k;
        scoped_keyring other;
        k.used = {"legacy/a", "legacy/b", "data-key"};
        other.used = {"legacy/z"};
        for (const auto& account : k.used) REQUIRE(k.keyring.write(account, bytes_of("v")));
        REQUIRE(other.keyring.write("legacy/z", bytes_of("v")));
        CHECK(k.keyring.list_accounts("legacy/").value() == std::vector<std::string>{"legacy/a", "legacy/b"});
        CHECK(k.keyring.list_accounts("").value() ==
              std::vector<std::string>{"data-key", "legacy/a", "legacy/b"});
        CHECK(k.keyring.list_accounts("nothing").value().empty());
    }

    TEST_CASE("wincred: another process reads what this one wrote") {
        scoped_keyring k;
        k.used = {"data-key"};
        REQUIRE(k.keyring.write("data-key", bytes_of("shared-secret-value")));
        auto reader = tvtest::child::start("wincred_reader", {k.options.service, "data-key"});
        CHECK(reader.receive() == "shared-secret-value");
        CHECK(reader.wait() == 0);
        auto absent = tvtest::child::start("wincred_reader", {k.options.service, "other"});
        CHECK(absent.receive() == "absent");
        CHECK(absent.wait() == 0);
    }

}  // TEST_SUITE

}  // namespace test_keyring_wincred
