// tests/unit/test_keyring_keyctl.cpp: keyring::keyctl against the real Linux kernel keyring.
//
// Items go to the user keyring under a service name unique to this run and are erased at the end. Other
// processes (forked, one of them in a fresh anonymous session keyring) must see them. Where the kernel
// keyring is not permitted (seccomp in containers), the test says so and checks the fall-through instead.
#include <doctest/doctest.h>

#include <keyutils.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/keyring/first_available.hpp"
#include "tokenvault/keyring/keyctl.hpp"
#include "tokenvault/keyring/memory.hpp"

namespace test_keyring_keyctl {  // unity builds put several test files in one translation unit

using namespace tokenvault;
// A using-declaration of keyring::keyctl would clash with libkeyutils' C function ::keyctl.
using kernel_keyring = tokenvault::keyring::keyctl;

namespace {

constexpr std::string_view canary = "CANARY-keyctl-refresh-token-7f3a";

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

keyring_options unique_options() {
    keyring_options options;
    options.service = "tvtest-keyctl-" + std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr));
    return options;
}

bool kernel_keyring_usable() {
    auto opened = kernel_keyring::open(keyring_options{});
    return opened && opened->has_value();
}

/// Runs `fn` in a forked child and returns its exit status (fn's return value), or -1.
template <class Fn>
int in_child(Fn fn) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(fn());
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("keyctl: unavailable kernel keyring falls through (or is available here)") {
    if (kernel_keyring_usable()) {
        MESSAGE("kernel keyring is usable here: the real-keyring tests below run");
        return;
    }
    MESSAGE("kernel keyring NOT usable here (keyctl refused): checking fall-through only");
    auto chain = keyring::first_available<kernel_keyring, keyring::memory>::open(unique_options());
    REQUIRE(chain);
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "memory");
    CHECK((*chain)->resolution().at(0).tier == "keyctl");
    CHECK_FALSE((*chain)->resolution().at(0).opened);
}

TEST_CASE("keyctl: real kernel keyring round trip") {
    if (!kernel_keyring_usable()) return;
    const auto options = unique_options();
    auto opened = kernel_keyring::open(options);
    REQUIRE(opened);
    REQUIRE(opened->has_value());
    kernel_keyring ring = std::move(**opened);
    CHECK(ring.tier_name() == "keyctl");
    static_assert(!kernel_keyring::persistent);
    static_assert(kernel_keyring::max_item_size == 32767);

    SUBCASE("missing item is absent, not an error") {
        auto got = ring.read("no-such-account");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        auto erased = ring.erase("no-such-account");
        REQUIRE(erased);
        CHECK_FALSE(*erased);
    }

    SUBCASE("binary bytes round trip, replace, erase") {
        std::vector<std::byte> secret = bytes_of(canary);
        secret.push_back(std::byte{0});
        secret.push_back(std::byte{0xff});
        secret.push_back(std::byte{0});
        auto written = ring.write("acct", secret);
        REQUIRE_MESSAGE(written, (written ? std::string() : written.error().message()));
        auto got = ring.read("acct");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(secret));

        // The item is a "user" key named "<service>:<account>" in the user keyring.
        const std::string description = options.service + ":acct";
        CHECK(::keyctl_search(KEY_SPEC_USER_KEYRING, "user", description.c_str(), 0) > 0);

        const auto replacement = bytes_of("second value");
        REQUIRE(ring.write("acct", replacement));
        got = ring.read("acct");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(replacement));

        auto erased = ring.erase("acct");
        REQUIRE(erased);
        CHECK(*erased);
        got = ring.read("acct");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        erased = ring.erase("acct");
        REQUIRE(erased);
        CHECK_FALSE(*erased);

        REQUIRE(ring.write("acct", secret));  // writable again after an erase
        got = ring.read("acct");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(secret));
        REQUIRE(ring.erase("acct"));
    }

    SUBCASE("size limits") {
        std::vector<std::byte> too_big(kernel_keyring::max_item_size + 1, std::byte{'x'});
        auto refused = ring.write("big", too_big);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::keyring_item_too_large);

        std::vector<std::byte> at_limit(kernel_keyring::max_item_size, std::byte{'y'});
        auto written = ring.write("big", at_limit);
        if (written) {
            auto got = ring.read("big");
            REQUIRE(got);
            REQUIRE(got->has_value());
            CHECK((*got)->equals(at_limit));
            REQUIRE(ring.erase("big"));
        } else {  // an unprivileged user's quota (kernel.keys.maxbytes, 20000 by default) is smaller
            MESSAGE("a 32767-byte key exceeds this user's key quota: " << written.error().message());
            CHECK(written.error() == errc::keyring_item_too_large);
        }

        auto empty = ring.write("empty", {});
        REQUIRE_FALSE(empty);
        CHECK(empty.error() == errc::invalid_argument);
        auto bad = ring.read(std::string_view("a\0b", 3));
        REQUIRE_FALSE(bad);
        CHECK(bad.error() == errc::invalid_argument);
    }

    SUBCASE("other processes of the user see the item, even from another session keyring") {
        const auto secret = bytes_of(canary);
        REQUIRE(ring.write("shared", secret));
        const auto child_reads = [&] {
            auto child = kernel_keyring::open(options);
            if (!child || !child->has_value()) return 2;
            auto got = (*child)->read("shared");
            if (!got) return 3;
            if (!got->has_value()) return 4;
            return (*got)->equals(secret) ? 0 : 5;
        };
        CHECK(in_child(child_reads) == 0);
        CHECK(in_child([&] {
                  // A fresh anonymous session keyring: the user keyring is no longer "possessed".
                  if (::keyctl_join_session_keyring(nullptr) == -1) return 6;
                  return child_reads();
              }) == 0);
        CHECK(in_child([&] {  // and a child in its own session keyring writes what the parent then reads
                  if (::keyctl_join_session_keyring(nullptr) == -1) return 6;
                  auto child = kernel_keyring::open(options);
                  if (!child || !child->has_value()) return 2;
                  return (*child)->write("from-child", bytes_of("child value")) ? 0 : 3;
              }) == 0);
        auto got = ring.read("from-child");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(bytes_of("child value")));
        REQUIRE(ring.erase("from-child"));
        REQUIRE(ring.erase("shared"));
    }

    SUBCASE("list_accounts names this service's items by prefix") {
        REQUIRE(ring.write("legacy-a", bytes_of("1")));
        REQUIRE(ring.write("legacy-b", bytes_of("2")));
        REQUIRE(ring.write("current", bytes_of("3")));
        keyring_options other = options;
        other.service += "-other";
        auto other_ring = kernel_keyring::open(other);
        REQUIRE(other_ring);
        REQUIRE(other_ring->has_value());
        REQUIRE((*other_ring)->write("legacy-c", bytes_of("4")));

        auto legacy = ring.list_accounts("legacy-");
        REQUIRE(legacy);
        CHECK(*legacy == std::vector<std::string>{"legacy-a", "legacy-b"});
        auto all = ring.list_accounts("");
        REQUIRE(all);
        CHECK(*all == std::vector<std::string>{"current", "legacy-a", "legacy-b"});
        for (const auto* account : {"legacy-a", "legacy-b", "current"}) REQUIRE(ring.erase(account));
        REQUIRE((*other_ring)->erase("legacy-c"));
        all = ring.list_accounts("");
        REQUIRE(all);
        CHECK(all->empty());
    }

    SUBCASE("errors never carry the secret") {
        std::vector<std::byte> too_big(kernel_keyring::max_item_size + 1, std::byte{'x'});
        const auto canary_bytes = bytes_of(canary);
        std::copy(canary_bytes.begin(), canary_bytes.end(), too_big.begin());
        auto refused = ring.write("big", too_big);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message().find(canary) == std::string::npos);
    }

    SUBCASE("a service name with ':' is refused (it would make names ambiguous)") {
        keyring_options bad = options;
        bad.service = "a:b";
        auto refused = kernel_keyring::open(bad);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::invalid_argument);
    }
}

}  // namespace test_keyring_keyctl
