// tests/unit/test_keyring_macos_keychain.cpp: keyring::macos_keychain against the fake keychain.
//
// The fake (tests/support/fake_keychain.hpp) stands in for Security.framework and models its documented
// semantics: these tests check the keyring's contract (round trip, absence, erase, listing), that it
// never rewrites an item, the queries it sends (attributes, data protection keychain, access group), how
// each refusal maps to an error that says what to do, that a denial is never asked again in the process
// and ends a first_available chain, that a timed-out call is joined instead of repeated, that a store
// reads its key once, and that every CoreFoundation object it makes is released exactly once.
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/keyring/macos_keychain.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/codex_keyring.hpp>
#include <tokenvault/presets_macos.hpp>
#include <tokenvault/store.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "support/eventually.hpp"
#include "support/fake_keychain.hpp"
#include "support/keyring_contract.hpp"
#include "support/legacy.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_keyring_macos_keychain {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace fake = tvtest::fake_keychain;
namespace kc = tokenvault::keyring::keychain;
using namespace tokenvault;
using tokenvault::keyring::macos_keychain;

namespace {

constexpr std::string_view canary = "CANARY-keychain-refresh-token-5d1e";

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

keyring_options options_for(std::string_view name) {
    keyring_options options;
    options.service = tvtest::unique_name("tvtest-keychain-" + std::string(name));
    return options;
}

template <class K = macos_keychain>
K open_ring(const keyring_options& options) {
    auto opened = K::open(options);
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
    REQUIRE(opened->has_value());
    return std::move(**opened);
}

/// Installs a fresh in-memory fake; at the end, every CoreFoundation object is released exactly once
/// (a call that timed out releases its objects when it ends, on its own thread: waited for).
struct fake_keychain_fixture {
    fake_keychain_fixture() { fake::install(); }
    ~fake_keychain_fixture() {
        CHECK(tvtest::eventually([] { return fake::live_objects() == 0; }));
        CHECK(fake::misuse().empty());
        fake::uninstall();
    }
    fake_keychain_fixture(const fake_keychain_fixture&) = delete;
    fake_keychain_fixture& operator=(const fake_keychain_fixture&) = delete;
};

/// An access group of this test's own, in the data protection keychain.
struct team_group {
    static constexpr std::string_view tier = "macos_keychain_team";
    static constexpr bool data_protection_keychain = true;
    static constexpr std::string_view access_group = "TEAMID1234.com.example.tokens";
};

}  // namespace

TEST_CASE("macos_keychain: models the keyring concept; not available where no keychain table is installed") {
    static_assert(keyring::keyring_policy<macos_keychain>);
    static_assert(keyring::enumerable_keyring<macos_keychain>);
    static_assert(macos_keychain::persistent);
    static_assert(macos_keychain::tier == "macos_keychain");
    static_assert(keyring::macos_data_protection_keychain::tier == "macos_keychain_dp");

    fake::uninstall();
    REQUIRE(kc::current_api() == nullptr);  // Linux: no Security.framework in this build
    auto opened = macos_keychain::open(options_for("none"));
    REQUIRE(opened);
    CHECK_FALSE(opened->has_value());

    tvtest::temp_dir scratch;
    auto options = options_for("none-chain");
    options.directory = scratch / "keyring";
    auto chain = keyring::first_available<macos_keychain, keyring::file>::open(options);
    REQUIRE(chain);
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "file");
    CHECK((*chain)->resolution().at(0).tier == "macos_keychain");
    CHECK_FALSE((*chain)->resolution().at(0).opened);
}

TEST_CASE("macos_keychain: round trip, absence, erase, listing, limits") {
    fake_keychain_fixture with_fake;
    const auto options = options_for("basics");
    auto ring = open_ring(options);
    CHECK(ring.tier_name() == "macos_keychain");

    auto none = ring.read("data-key");
    REQUIRE(none);
    CHECK_FALSE(none->has_value());

    std::vector<std::byte> secret = bytes_of(canary);
    secret.push_back(std::byte{0});
    secret.push_back(std::byte{0xff});
    REQUIRE(ring.write("data-key", secret));
    auto got = ring.read("data-key");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->equals(secret));

    // One generic-password item, named by service and account, on the creator's access list; the
    // file-based keychain takes no accessibility attribute (Apple: data protection keychain only).
    auto stored = fake::find(options.service, "data-key");
    REQUIRE(stored);
    CHECK(stored->label == "tokenvault " + options.service + " data-key");
    CHECK(stored->accessible.empty());
    CHECK(stored->trusted == std::vector<std::string>{"tvtest"});
    CHECK(stored->data == secret);

    SUBCASE("an item is never rewritten") {
        REQUIRE(ring.write("data-key", secret));  // the same bytes: nothing to do
        auto other = ring.write("data-key", bytes_of("another key"));
        REQUIRE_FALSE(other);
        CHECK(other.error() == errc::conflict);
        CHECK(other.error().context.find("never rewrites") != std::string::npos);
        CHECK(other.error().message().find(std::string(canary)) == std::string::npos);
        const auto counts = fake::snapshot().counts;
        CHECK(counts.adds == 1);
        CHECK(counts.deletes == 0);
        CHECK(counts.updates == 0);
        CHECK(fake::find(options.service, "data-key")->data == secret);
        CHECK(fake::find(options.service, "data-key")->trusted == std::vector<std::string>{"tvtest"});
    }

    SUBCASE("erase, then write anew") {
        auto erased = ring.erase("data-key");
        REQUIRE(erased);
        CHECK(*erased);
        got = ring.read("data-key");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        erased = ring.erase("data-key");
        REQUIRE(erased);
        CHECK_FALSE(*erased);
        REQUIRE(ring.write("data-key", bytes_of("v2")));
        got = ring.read("data-key");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(bytes_of("v2")));
    }

    SUBCASE("listing by prefix, services apart") {
        REQUIRE(ring.write("legacy-b", bytes_of("b")));
        REQUIRE(ring.write("legacy-a", bytes_of("a")));
        auto other_options = options_for("basics-other");
        auto other = open_ring(other_options);
        REQUIRE(other.write("legacy-c", bytes_of("c")));
        auto listed = ring.list_accounts("legacy-");
        REQUIRE(listed);
        CHECK(*listed == std::vector<std::string>{"legacy-a", "legacy-b"});
        auto all = ring.list_accounts("");
        REQUIRE(all);
        CHECK(all->size() == 3);
        auto none_of_other = other.read("legacy-a");
        REQUIRE(none_of_other);
        CHECK_FALSE(none_of_other->has_value());
        auto empty_service = open_ring(options_for("basics-empty")).list_accounts("");
        REQUIRE(empty_service);
        CHECK(empty_service->empty());
    }

    SUBCASE("the item contract of every keyring; names it refuses") {
        tvtest::check_item_contract(ring);
        CHECK(ring.read("").code() == errc::invalid_argument);
        CHECK(ring.write(std::string_view("a\0b", 3), secret).code() == errc::invalid_argument);
        CHECK(ring.write("\xff\xfe", secret).code() == errc::invalid_argument);  // not UTF-8
        keyring_options nameless;
        nameless.service.clear();
        CHECK(macos_keychain::open(nameless).code() == errc::invalid_argument);
    }
}

TEST_CASE("macos_keychain: the data protection keychain: accessibility, access group, entitlement") {
    fake_keychain_fixture with_fake;
    const auto options = options_for("dp");

    SUBCASE("a program without the entitlement is told what it lacks") {
        auto opened = keyring::macos_data_protection_keychain::open(options);
        REQUIRE_FALSE(opened);
        CHECK(opened.error() == errc::keyring_unavailable);
        CHECK(opened.error().context.find("errSecMissingEntitlement") != std::string::npos);
        CHECK(opened.error().context.find("keychain-access-groups") != std::string::npos);
    }

    SUBCASE("default group: readable after first unlock, no access list, no dialog") {
        fake::set_entitlements({"TEAMID1234.com.example.app"});
        auto ring = open_ring<keyring::macos_data_protection_keychain>(options);
        REQUIRE(ring.write("data-key", bytes_of("dp key")));
        const auto state = fake::snapshot();
        REQUIRE(state.items.size() == 1);
        CHECK(state.items[0].data_protection);
        CHECK(state.items[0].accessible == "ck");  // kSecAttrAccessibleAfterFirstUnlock
        CHECK(state.items[0].access_group == "TEAMID1234.com.example.app");
        CHECK(state.items[0].trusted.empty());
        fake::set_identity("another-build");
        fake::set_answer(fake::answer::deny);  // would refuse any dialog: none is shown
        auto got = ring.read("data-key");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK(fake::snapshot().counts.prompts == 0);
        // The file-based keychain is another place: it does not see the item.
        auto file_based = open_ring(options).read("data-key");
        REQUIRE(file_based);
        CHECK_FALSE(file_based->has_value());
    }

    SUBCASE("a named access group") {
        using team = keyring::basic_macos_keychain<team_group>;
        fake::set_entitlements({"TEAMID1234.com.example.app", std::string(team_group::access_group)});
        auto ring = open_ring<team>(options);
        CHECK(ring.tier_name() == "macos_keychain_team");
        REQUIRE(ring.write("data-key", bytes_of("team key")));
        CHECK(fake::snapshot().items.at(0).access_group == team_group::access_group);
        fake::set_entitlements({"TEAMID1234.com.example.app"});  // a program outside the group
        auto refused = ring.read("data-key");
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::keyring_unavailable);
    }
}

TEST_CASE("macos_keychain: another program's item asks once; Always Allow sticks; a rewrite resets it") {
    fake_keychain_fixture with_fake;
    const auto options = options_for("acl");
    fake::seed(options.service, "data-key", "key made by another build", "client-v1");
    fake::set_identity("client-v2");  // e.g. a rebuilt binary: a new code signature
    auto ring = open_ring(options);

    fake::set_answer(fake::answer::allow_once);
    auto got = ring.read("data-key");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK(fake::snapshot().counts.prompts == 1);
    fake::set_answer(fake::answer::always_allow);
    REQUIRE(ring.read("data-key"));  // "Allow" was for that read only
    CHECK(fake::snapshot().counts.prompts == 2);
    for (int i = 0; i < 5; ++i) REQUIRE(ring.read("data-key"));
    CHECK(fake::snapshot().counts.prompts == 2);  // now on the access list
    CHECK(fake::snapshot().counts.prompts_by.at("client-v2") == 2);

    // What per-token layouts do on every refresh: the rewrite resets the access list to the writer.
    fake::set_identity("client-v1");
    REQUIRE(fake::update(options.service, "data-key", "rewritten") == kc::status::success);
    fake::set_identity("client-v2");
    REQUIRE(ring.read("data-key"));
    CHECK(fake::snapshot().counts.prompts == 3);
}

TEST_CASE("macos_keychain: refusals map to errors that say what to do") {
    fake_keychain_fixture with_fake;
    tvtest::temp_dir scratch;
    auto options = options_for("refusals");
    options.directory = scratch / "keyring";
    using chain = keyring::first_available<macos_keychain, keyring::file>;

    SUBCASE("locked, and no dialog possible: keyring_locked; the chain falls through; asked again later") {
        fake::set_locked(true);
        fake::set_answer(fake::answer::no_dialog);
        auto opened = macos_keychain::open(options);
        REQUIRE_FALSE(opened);
        CHECK(opened.error() == errc::keyring_locked);
        CHECK(opened.error().context.find("errSecInteractionNotAllowed") != std::string::npos);
        CHECK(opened.error().context.find("security unlock-keychain") != std::string::npos);
        auto fallen = chain::open(options);
        REQUIRE(fallen);
        REQUIRE(fallen->has_value());
        CHECK((*fallen)->tier_name() == "file");
        CHECK((*fallen)->resolution().at(0).reason == make_error_code(errc::keyring_locked));
        CHECK(fake::snapshot().counts.prompts == 0);
        fake::set_answer(fake::answer::allow_once);  // a session that can show the unlock dialog
        auto unlocked = macos_keychain::open(options);
        REQUIRE(unlocked);
        CHECK(unlocked->has_value());
        CHECK(fake::snapshot().counts.prompts == 1);
    }

    SUBCASE("Deny: keyring_denied, never asked again in this process, and the chain stops there") {
        fake::seed(options.service, "data-key", "their key", "other-tool");
        auto ring = open_ring(options);
        fake::set_answer(fake::answer::deny);
        auto denied = ring.read("data-key");
        REQUIRE_FALSE(denied);
        CHECK(denied.error() == errc::keyring_denied);
        CHECK(denied.error().context.find("errSecUserCanceled") != std::string::npos);
        CHECK(denied.error().context.find("Keychain Access") != std::string::npos);
        const auto calls = fake::snapshot().counts.calls;
        CHECK(fake::snapshot().counts.prompts == 1);

        fake::set_answer(fake::answer::always_allow);  // would allow now: but nothing asks
        auto again = ring.read("data-key");
        REQUIRE_FALSE(again);
        CHECK(again.error() == errc::keyring_denied);
        CHECK(again.error().context.find("denied earlier in this process") != std::string::npos);
        CHECK(ring.write("other", bytes_of("x")).code() == errc::keyring_denied);
        auto reopened = macos_keychain::open(options);
        REQUIRE_FALSE(reopened);
        CHECK(reopened.error() == errc::keyring_denied);
        auto stopped = chain::open(options);
        REQUIRE_FALSE(stopped);
        CHECK(stopped.error() == errc::keyring_denied);
        CHECK_FALSE(fs::exists(options.directory));  // the file tier did not step in
        CHECK(fake::snapshot().counts.calls == calls);
        CHECK(fake::snapshot().counts.prompts == 1);

        auto elsewhere = options_for("refusals-elsewhere");  // another service is another question
        REQUIRE(macos_keychain::open(elsewhere));
    }

    SUBCASE("a refused password: keyring_denied, remembered") {
        fake::seed(options.service, "data-key", "their key", "other-tool");
        auto ring = open_ring(options);
        fake::set_answer(fake::answer::wrong_password);
        auto denied = ring.read("data-key");
        REQUIRE_FALSE(denied);
        CHECK(denied.error() == errc::keyring_denied);
        CHECK(denied.error().context.find("errSecAuthFailed") != std::string::npos);
        CHECK(ring.read("data-key").code() == errc::keyring_denied);
        CHECK(fake::snapshot().counts.prompts == 1);
    }

    SUBCASE("no keychain in this session: not available here") {
        fake::force("copy_matching", kc::status::not_available);
        auto opened = macos_keychain::open(options);
        REQUIRE(opened);
        CHECK_FALSE(opened->has_value());
        fake::force("copy_matching", kc::status::no_such_keychain);
        auto chained = chain::open(options);
        REQUIRE(chained);
        REQUIRE(chained->has_value());
        CHECK((*chained)->tier_name() == "file");
    }

    SUBCASE("a failure of one read is not remembered") {
        auto ring = open_ring(options);
        REQUIRE(ring.write("data-key", bytes_of("k")));
        fake::force("copy_matching", kc::status::interaction_not_allowed);
        CHECK(ring.read("data-key").code() == errc::keyring_locked);
        fake::force("copy_matching", kc::status::in_dark_wake);
        CHECK(ring.read("data-key").code() == errc::keyring_locked);
        fake::force("copy_matching", -9999);
        auto unknown = ring.read("data-key");
        CHECK(unknown.code() == errc::keyring_unavailable);
        CHECK(unknown.error().context.find("OSStatus -9999") != std::string::npos);
        fake::force("copy_matching", kc::status::success);
        auto got = ring.read("data-key");
        REQUIRE(got);
        CHECK(got->has_value());
        fake::force("remove", kc::status::interaction_not_allowed);
        CHECK(ring.erase("data-key").code() == errc::keyring_locked);
    }
}

TEST_CASE("macos_keychain: a call that times out is abandoned; a retry joins it instead of asking again") {
    fake_keychain_fixture with_fake;
    auto options = options_for("timeout");
    options.timeout = std::chrono::milliseconds(100);
    fake::seed(options.service, "data-key", "slow key", "other-tool");
    auto ring = open_ring(options);
    auto other_object = open_ring(options);
    fake::set_answer(fake::answer::allow_once);
    const auto calls_before = fake::snapshot().counts.calls;

    // The user has not answered the dialog yet: the Security call waits.
    fake::hold_calls();
    auto first = ring.read("data-key");
    REQUIRE_FALSE(first);
    CHECK(first.error() == errc::keyring_timeout);
    CHECK(first.error().context.find("joins it") != std::string::npos);
    fake::wait_for_held_calls(1);
    CHECK(ring.read("data-key").code() == errc::keyring_timeout);          // joins the call in flight
    CHECK(other_object.read("data-key").code() == errc::keyring_timeout);  // so does any keyring object
    fake::release_calls();

    // The answer arrives: the next read takes that result (or joins the call, if it is still finishing).
    auto patient_options = options;
    patient_options.timeout = std::chrono::seconds(30);
    auto patient = open_ring(patient_options);
    auto got = patient.read("data-key");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->equals(bytes_of("slow key")));
    auto counts = fake::snapshot().counts;
    CHECK(counts.prompts == 1);
    CHECK(counts.data_reads == 1);
    CHECK(counts.calls == calls_before + 2);  // the one read, and the probe of the last open

    // A write that timed out and landed later: a retry with the same bytes is success, not a conflict.
    fake::hold_calls();
    CHECK(ring.write("new-key", bytes_of("fresh")).code() == errc::keyring_timeout);
    fake::wait_for_held_calls(1);
    fake::release_calls();
    REQUIRE(tvtest::eventually([] { return fake::snapshot().counts.adds == 1; }));  // it landed
    REQUIRE(patient.write("new-key", bytes_of("fresh")));
    CHECK(patient.write("new-key", bytes_of("other")).code() == errc::conflict);
    auto landed = patient.read("new-key");
    REQUIRE(landed);
    REQUIRE(landed->has_value());
    CHECK((*landed)->equals(bytes_of("fresh")));
    CHECK(fake::snapshot().counts.adds == 1);
}

TEST_CASE("macos_keychain: read_item_of reads another program's item read-only") {
    fake_keychain_fixture with_fake;
    const auto options = options_for("foreign");
    fake::seed("Codex Auth", "mcp|server-hash", R"({"access_token":"x"})", "codex");
    auto ring = open_ring(options);
    fake::set_answer(fake::answer::allow_once);
    auto got = ring.read_item_of("Codex Auth", "mcp|server-hash");
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->view() == R"({"access_token":"x"})");
    CHECK(fake::snapshot().counts.prompts == 1);
    auto accounts = ring.list_accounts_of("Codex Auth", "mcp|");
    REQUIRE(accounts);
    CHECK(*accounts == std::vector<std::string>{"mcp|server-hash"});
    CHECK(fake::snapshot().counts.prompts == 1);  // attributes only: no dialog
    const auto state = fake::snapshot();
    CHECK(state.counts.adds == 0);
    CHECK(state.counts.deletes == 0);
    CHECK(fake::find("Codex Auth", "mcp|server-hash")->trusted == std::vector<std::string>{"codex"});

    fake::set_answer(fake::answer::deny);
    fake::seed("Other App", "token", "t", "other");
    CHECK(ring.read_item_of("Other App", "token").code() == errc::keyring_denied);
    CHECK(ring.read_item_of("Other App", "token").code() == errc::keyring_denied);
    CHECK(fake::snapshot().counts.prompts == 2);
    auto own = ring.read("data-key");  // the denial was for that service, not ours
    REQUIRE(own);
}

TEST_CASE("macos_keychain: a store reads its key once per process; a denial ends the chain for every store") {
    fake_keychain_fixture with_fake;
    tvtest::temp_dir scratch;
    store_options options;
    options.app_name = tvtest::unique_name("tvtest-keychain-store");
    options.directory = scratch / "store";
    using store_t = presets::macos_desktop;

    fake::set_identity("setup");
    {
        store_t store(options);
        for (int i = 0; i < 5; ++i)
            REQUIRE(store.put(tvtest::id_for(i), tvtest::sample_token("s" + std::to_string(i))));
        CHECK(store.backend().tier() == "macos_keychain");
    }
    CHECK_FALSE(fs::exists(options.directory / "keyring"));  // the file tier was never needed
    REQUIRE(fake::find(options.app_name, "data-key"));

    SUBCASE("another program: one dialog, then none for every get and put") {
        fake::set_identity("client");
        fake::set_answer(fake::answer::allow_once);
        store_t store(options);
        for (int round = 0; round < 10; ++round) {
            for (int i = 0; i < 5; ++i) {
                auto got = store.get(tvtest::id_for(i));
                REQUIRE(got);
                REQUIRE(got->has_value());
                REQUIRE(store.put(tvtest::id_for(i), tvtest::sample_token("r" + std::to_string(round))));
            }
        }
        CHECK(fake::snapshot().counts.prompts == 1);
        CHECK(fake::snapshot().counts.prompts_by.at("client") == 1);
        CHECK(fake::snapshot().counts.adds == 1);  // the key was made once, by setup
    }

    SUBCASE("Deny: this store fails, and no other store of the process asks or falls back") {
        fake::set_identity("stranger");
        fake::set_answer(fake::answer::deny);
        store_t store(options);
        auto denied = store.get(tvtest::id_for(1));
        REQUIRE_FALSE(denied);
        CHECK(denied.error() == errc::keyring_denied);
        auto second = store_t(options).get(tvtest::id_for(1));
        REQUIRE_FALSE(second);
        CHECK(second.error() == errc::keyring_denied);
        auto write = store_t(options).put(tvtest::id_for(9), tvtest::sample_token("x"));
        REQUIRE_FALSE(write);
        CHECK(write.error() == errc::keyring_denied);
        CHECK(fake::snapshot().counts.prompts == 1);
        CHECK_FALSE(fs::exists(options.directory / "keyring"));
        CHECK(denied.error().message().find("at-s1") == std::string::npos);
    }
}

TEST_CASE("macos_keychain reads Codex's keychain items for from_codex_keyring, and changes none of them") {
    static_assert(keyring::foreign_item_reader<macos_keychain>);
    fake_keychain_fixture with_fake;
    tvtest::temp_dir dir;
    // An item in the layout Codex 0.171.0 writes through the Rust keyring crate (a generic password,
    // service "Codex MCP Credentials", account "<server name>|<16 hex digits>"), and one it could not use.
    const std::string codex_item =
        R"({"server_name":"fixture","url":"http://127.0.0.1:18080/mcp","client_id":"client-1",)"
        R"("token_response":{"access_token":"CANARY-codex-at-7f2","token_type":"bearer","expires_in":3600,)"
        R"("refresh_token":"CANARY-codex-rt-7f2","scope":"mcp.read mcp.write"},"expires_at":1795970053628})";
    fake::seed("Codex MCP Credentials", "fixture|089c68f51447b06b", codex_item, "codex");
    fake::seed("Codex MCP Credentials", "broken|aaaaaaaaaaaaaaaa", "not json {", "codex");
    fake::set_identity("client");
    fake::set_answer(fake::answer::allow_once);

    using store_t =
        token_store<backend::sealed_file<keyring::allow_volatile<keyring::memory>>, cipher::xchacha20poly1305,
                    locking::process, migration::from_codex_keyring<macos_keychain>, diagnostics::callback>;
    store_options options;
    options.app_name = tvtest::unique_name("tv-codex-keychain");
    options.directory = dir.path() / "store";
    std::vector<events::any> seen;
    const auto id = credential_id::parse("http://127.0.0.1:18080/mcp").value();
    {
        store_t store(options);
        store.diagnostics().set([&](const events::any& e) { seen.push_back(e); });
        auto got = store.get(id);
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->access_token.reveal() == "CANARY-codex-at-7f2");
        REQUIRE((*got)->refresh_token);
        CHECK((*got)->refresh_token->reveal() == "CANARY-codex-rt-7f2");
        CHECK((*got)->client_id == "client-1");
        REQUIRE(store.list());
        CHECK(store.list()->size() == 1);
    }
    CHECK(tvtest::migrated(seen, "codex_keyring") == 1);
    CHECK(tvtest::skips(seen, "codex_keyring", make_error_code(errc::malformed_json)) == 1);
    // Read only: nothing added, deleted or updated; each item still trusts only Codex; one dialog per item
    // read.
    const auto state = fake::snapshot();
    CHECK(state.counts.adds == 0);
    CHECK(state.counts.deletes == 0);
    CHECK(state.counts.updates == 0);
    CHECK(state.counts.prompts == 2);
    CHECK(fake::find("Codex MCP Credentials", "fixture|089c68f51447b06b")->trusted ==
          std::vector<std::string>{"codex"});
    // A second start imports nothing again (the import ledger), and still changes no item.
    std::vector<events::any> again;
    {
        store_t store(options);
        store.diagnostics().set([&](const events::any& e) { again.push_back(e); });
        REQUIRE(store.get(id));
    }
    CHECK(tvtest::migrated(again, "codex_keyring") == 0);
    CHECK(fake::snapshot().counts.adds == 0);
    CHECK(fake::snapshot().counts.updates == 0);
}

}  // namespace test_keyring_macos_keychain
