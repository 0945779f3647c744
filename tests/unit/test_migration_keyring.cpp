// tests/unit/test_migration_keyring.cpp: the legacy keyring layouts drained into a sealed file: per-item
// entries with an index, the single bundle item, chains and their precedence, failure injection (a save
// that fails, deletes that fail, a keyring that denies), crash leftovers and the bad-input list.
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/chain.hpp>
#include <tokenvault/migration/codex.hpp>
#include <tokenvault/migration/mcp_remote.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/store.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../support/legacy.hpp"
#include "../support/temp_dir.hpp"
#include "../support/tokens.hpp"

namespace test_migration_keyring {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;

namespace {

using key_holder = tv::keyring::allow_volatile<tv::keyring::memory>;
template <class M>
using store_t = tv::token_store<tv::backend::sealed_file<key_holder>, tv::cipher::xchacha20poly1305,
                                tv::locking::process, M, tv::diagnostics::callback>;
using items_store = store_t<tv::migration::from_keyring_items<tv::keyring::memory>>;
using bundle_store = store_t<tv::migration::from_keyring_bundle<tv::keyring::memory>>;
using legacy_store = store_t<tv::migration::from_legacy_keyring<tv::keyring::memory>>;
using plain_store = store_t<tv::migration::none>;

const std::string url_a = "https://a.example.com/mcp";
const std::string url_b = "https://b.example.com/mcp";
const std::string url_c = "https://c.example.com/mcp";

tv::credential_id id(const std::string& url) { return tv::credential_id::parse(url).value(); }

/// A store directory, its memory keyring (data key and legacy items share the app's service) and events.
struct fixture {
    tvtest::temp_dir dir;
    tv::store_options options;
    std::shared_ptr<tv::keyring::memory::control> control;
    tv::keyring::memory legacy;
    std::vector<tv::events::any> events;
    std::function<void(const tv::events::any&)> hook;

    fixture()
        : options(make_options(dir)),
          control(tv::keyring::memory::control_for(options.app_name)),
          legacy(std::move(*tv::keyring::memory::open(options.keyring()).value())) {}

    static tv::store_options make_options(const tvtest::temp_dir& d) {
        tv::store_options o;
        o.app_name = tvtest::unique_name("tv-migration");
        o.directory = d.path() / "store";
        return o;
    }
    /// A new store instance over the same storage (as a new process would open it).
    template <class S>
    std::unique_ptr<S> open() {
        auto s = std::make_unique<S>(options);
        s->diagnostics().set([this](const tv::events::any& e) {
            events.push_back(e);
            if (hook) hook(e);
        });
        return s;
    }
    void item(const std::string& url, const nlohmann::json& doc) {
        tvtest::write_item(legacy, "oauth:" + url, doc.dump());
    }
    void raw_item(const std::string& account, const std::string& text) {
        tvtest::write_item(legacy, account, text);
    }
    void index(const nlohmann::json& urls) { tvtest::write_item(legacy, "oauth:index", urls.dump()); }
    bool has(const std::string& account) { return tvtest::has_item(legacy, account); }
    std::filesystem::path sealed_file() const { return options.directory / options.file_name; }
    std::size_t writes() const { return control->writes; }
    std::size_t erases() const { return control->erases; }
};

template <class S>
std::string access_token(S& store, const std::string& url) {
    auto got = store.get(id(url));
    REQUIRE(got.has_value());
    return *got ? std::string((*got)->access_token.reveal()) : std::string{};
}

template <class S>
std::map<std::string, std::uint64_t> generations(S& store) {
    auto all = store.list();
    REQUIRE(all.has_value());
    std::map<std::string, std::uint64_t> out;
    for (const auto& e : *all) out[e.id.resource()] = e.generation;
    return out;
}

}  // namespace

TEST_CASE("from_keyring_items migrates indexed and enumerated items, then deletes them and the index") {
    fixture f;
    f.index({url_a, url_b});
    f.item(url_a, tvtest::legacy_token("a"));
    f.item(url_b, tvtest::legacy_token("b", "0001-01-01T00:00:00Z"));  // Go's zero time: no expiry
    f.item(url_c, tvtest::legacy_token("c"));  // missing from the index: found by listing
    const auto writes_before = f.writes();
    const auto erases_before = f.erases();

    auto store = f.open<items_store>();
    REQUIRE(generations(*store).size() == 3);
    auto a = store->get(id(url_a));
    REQUIRE(a.has_value());
    REQUIRE(a->has_value());
    const tv::token& t = **a;
    CHECK(t.access_token.reveal() == "legacy-at-a");
    REQUIRE(t.refresh_token.has_value());
    CHECK(t.refresh_token->reveal() == "legacy-rt-a");
    CHECK(t.expires_at == tv::detail::parse_rfc3339("2031-02-03T04:05:06Z"));
    CHECK(t.scopes == std::vector<std::string>{"read", "write"});
    CHECK(t.issuer == "https://auth.example.com");
    CHECK(t.client_id == "client-a");
    auto b = store->get(id(url_b));
    REQUIRE(b.has_value());
    REQUIRE(b->has_value());
    CHECK_FALSE((*b)->expires_at.has_value());

    CHECK_FALSE(f.has("oauth:" + url_a));
    CHECK_FALSE(f.has("oauth:" + url_b));
    CHECK_FALSE(f.has("oauth:" + url_c));
    CHECK_FALSE(f.has("oauth:index"));
    CHECK(tvtest::migrated(f.events, "keyring_items") == 3);
    CHECK(f.writes() - writes_before == 1);  // the data key; nothing else is written to the keyring
    CHECK(f.erases() - erases_before == 4);  // three items and the index

    SUBCASE("the migrated store opens in a fresh instance and nothing migrates twice") {
        f.events.clear();
        const auto before = generations(*store);
        auto again = f.open<items_store>();  // finds no legacy data left: drops the import ledger (one save)
        CHECK(access_token(*again, url_c) == "legacy-at-c");
        CHECK(generations(*again) == before);
        CHECK(tvtest::migration_events(f.events).empty());
        const auto identity = tv::platform::stat_identity(f.sealed_file()).value();
        auto third = f.open<items_store>();
        CHECK(generations(*third) == before);
        CHECK(tv::platform::stat_identity(f.sealed_file()).value() ==
              identity);  // from now on: not even rewritten
        CHECK(f.writes() - writes_before == 1);
    }
}

TEST_CASE(
    "bad legacy items are skipped with an event, the rest migrates, and nothing unmigrated is deleted") {
    fixture f;
    f.index(nlohmann::json::array({url_a, "https://garbage.example.com/", "https://missing.example.com/",
                                   "https://badtoken.example.com/", 42}));
    f.item(url_a, tvtest::legacy_token("a"));
    f.raw_item("oauth:https://garbage.example.com/", "{not json at all");
    f.item("https://badtoken.example.com/", nlohmann::json{{"access_token", 5}, {"token_type", "Bearer"}});
    f.raw_item("oauth:not a url", tvtest::legacy_token("u").dump());  // found by listing; bad URL
    f.item("https://far.example.com/", tvtest::legacy_token("far", "9999-01-01T00:00:00Z"));  // out of range

    auto store = f.open<items_store>();
    CHECK(generations(*store).size() == 1);
    CHECK(access_token(*store, url_a) == "legacy-at-a");

    CHECK_FALSE(f.has("oauth:" + url_a));
    CHECK(f.has("oauth:https://garbage.example.com/"));
    CHECK(f.has("oauth:https://badtoken.example.com/"));
    CHECK(f.has("oauth:not a url"));
    CHECK(f.has("oauth:https://far.example.com/"));
    CHECK(f.has("oauth:index"));  // it still lists items that stay

    using tv::errc;
    CHECK(tvtest::skips(f.events, "keyring_items", make_error_code(errc::malformed_json)) == 1);
    CHECK(tvtest::skips(f.events, "keyring_items",
                        std::make_error_code(std::errc::no_such_file_or_directory)) == 1);
    CHECK(tvtest::skips(f.events, "keyring_items", make_error_code(errc::wrong_type)) ==
          2);  // 42; access_token 5
    CHECK(tvtest::skips(f.events, "keyring_items", make_error_code(errc::invalid_url)) == 1);
    CHECK(tvtest::skips(f.events, "keyring_items", make_error_code(errc::value_out_of_range)) == 1);
    CHECK(tvtest::migrated(f.events, "keyring_items") == 1);

    SUBCASE("the next start skips them again and changes nothing") {
        f.events.clear();
        const auto identity = tv::platform::stat_identity(f.sealed_file()).value();
        auto again = f.open<items_store>();
        CHECK(generations(*again).size() == 1);
        CHECK(tvtest::migrated(f.events, "keyring_items") == 0);
        CHECK(tv::platform::stat_identity(f.sealed_file()).value() == identity);
    }
}

TEST_CASE("an index with nothing but missing items is deleted") {
    fixture f;
    f.index({url_a});
    auto store = f.open<items_store>();
    CHECK(generations(*store).empty());
    CHECK_FALSE(f.has("oauth:index"));
}

TEST_CASE("from_keyring_bundle migrates every entry and deletes the bundle item") {
    fixture f;
    SUBCASE("a plain object of resource URL -> token") {
        f.raw_item(
            "oauth:tokens",
            nlohmann::json{{url_a, tvtest::legacy_token("a")}, {url_b, tvtest::legacy_token("b")}}.dump());
    }
    SUBCASE("wrapped in {\"tokens\": ...} with metadata beside it") {
        f.raw_item("oauth:tokens",
                   nlohmann::json{
                       {"version", 1},
                       {"tokens", {{url_a, tvtest::legacy_token("a")}, {url_b, tvtest::legacy_token("b")}}}}
                       .dump());
    }
    auto store = f.open<bundle_store>();
    CHECK(generations(*store).size() == 2);
    CHECK(access_token(*store, url_b) == "legacy-at-b");
    CHECK_FALSE(f.has("oauth:tokens"));
    CHECK(tvtest::migrated(f.events, "keyring_bundle") == 2);
}

TEST_CASE("a bundle that is not JSON is skipped with an event and kept") {
    fixture f;
    f.raw_item("oauth:tokens", "\x01\x02 definitely not json");
    auto store = f.open<bundle_store>();
    CHECK(generations(*store).empty());
    CHECK(f.has("oauth:tokens"));
    CHECK(tvtest::skips(f.events, "keyring_bundle", make_error_code(tv::errc::malformed_json)) == 1);
    CHECK(store->put(id(url_a), tvtest::sample_token("x")).has_value());  // the store works regardless
}

TEST_CASE("a bundle with a bad entry migrates the good ones and is kept") {
    fixture f;
    f.raw_item("oauth:tokens", nlohmann::json{{url_a, tvtest::legacy_token("a")},
                                              {"not-a-url", tvtest::legacy_token("x")},
                                              {url_b, {{"access_token", 1}}}}
                                   .dump());
    auto store = f.open<bundle_store>();
    CHECK(generations(*store).size() == 1);
    CHECK(access_token(*store, url_a) == "legacy-at-a");
    CHECK(f.has("oauth:tokens"));
    CHECK(tvtest::skips(f.events, "keyring_bundle") == 2);

    f.events.clear();
    const auto identity = tv::platform::stat_identity(f.sealed_file()).value();
    auto again = f.open<bundle_store>();
    CHECK(generations(*again).size() == 1);
    CHECK(tvtest::migrated(f.events, "keyring_bundle") == 0);
    CHECK(tv::platform::stat_identity(f.sealed_file()).value() == identity);
}

TEST_CASE("precedence: the current store wins over the legacy bundle, which wins over per-item entries") {
    fixture f;
    {
        auto current = f.open<plain_store>();
        tv::token t;
        t.access_token = tv::secret_string{"current-a"};
        REQUIRE(current->put(id(url_a), t).has_value());
    }
    f.raw_item("oauth:tokens", nlohmann::json{{url_a, tvtest::legacy_token("bundle-a")},
                                              {url_b, tvtest::legacy_token("bundle-b")}}
                                   .dump());
    f.index({url_a, url_b, url_c});
    f.item(url_a, tvtest::legacy_token("item-a"));
    f.item(url_b, tvtest::legacy_token("item-b"));
    f.item(url_c, tvtest::legacy_token("item-c"));

    auto store = f.open<legacy_store>();
    CHECK(access_token(*store, url_a) == "current-a");
    CHECK(access_token(*store, url_b) == "legacy-at-bundle-b");
    CHECK(access_token(*store, url_c) == "legacy-at-item-c");
    CHECK(generations(*store).size() == 3);
    // Everything legacy is gone, including the entries that lost: the store holds the winners durably.
    for (const auto& account : {"oauth:tokens", "oauth:index"}) CHECK_FALSE(f.has(account));
    for (const auto& url : {url_a, url_b, url_c}) CHECK_FALSE(f.has("oauth:" + url));
    CHECK(tvtest::migrated(f.events, "keyring_bundle") == 1);
    CHECK(tvtest::migrated(f.events, "keyring_items") == 1);
}

TEST_CASE("chain checks the keyring layouts' precedence at compile time") {
    using tv::keyring::memory;
    using namespace tv::migration;
    static_assert(tv::detail::in_precedence_order<from_keyring_bundle<memory>, from_keyring_items<memory>>());
    static_assert(
        !tv::detail::in_precedence_order<from_keyring_items<memory>, from_keyring_bundle<memory>>());
    static_assert(tv::detail::in_precedence_order<from_codex<>, from_keyring_bundle<memory>,
                                                  from_mcp_remote<>, from_keyring_items<memory>>());
    static_assert(tv::migration::migration_policy<from_legacy_keyring<memory>>);
    static_assert(traits_of<from_legacy_keyring<memory>>.deletes_source);
    static_assert(!traits_of<chain<from_codex<>, from_mcp_remote<>>>.deletes_source);
    CHECK(true);
}

TEST_CASE("a failed save keeps the legacy data, and this session still serves the migrated tokens") {
    fixture f;
    f.index({url_a, url_b});
    f.item(url_a, tvtest::legacy_token("a"));
    f.item(url_b, tvtest::legacy_token("b"));
    f.control->fail_writes = tv::errc::keyring_denied;  // the data key cannot be created: the save fails

    auto store = f.open<items_store>();
    CHECK(access_token(*store, url_a) == "legacy-at-a");
    CHECK(access_token(*store, url_b) == "legacy-at-b");
    CHECK_FALSE(std::filesystem::exists(f.sealed_file()));
    CHECK(f.has("oauth:" + url_a));
    CHECK(f.has("oauth:" + url_b));
    CHECK(f.has("oauth:index"));
    bool failure_reported = false;
    for (const auto& e : f.events)
        std::visit(
            [&](const auto& ev) {
                if constexpr (requires { ev.failure; })
                    failure_reported = failure_reported || static_cast<bool>(ev.failure);
            },
            e);
    CHECK(failure_reported);

    SUBCASE("the next start with a working keyring finishes the job") {
        f.control->fail_writes.reset();
        store.reset();
        auto next = f.open<items_store>();
        CHECK(generations(*next).size() == 2);
        CHECK(access_token(*next, url_b) == "legacy-at-b");
        CHECK_FALSE(f.has("oauth:" + url_a));
        CHECK_FALSE(f.has("oauth:" + url_b));
        CHECK_FALSE(f.has("oauth:index"));
    }
}

TEST_CASE("a failed delete is retried on the next start, and nothing is duplicated") {
    fixture f;
    f.index({url_a, url_b});
    f.item(url_a, tvtest::legacy_token("a"));
    f.item(url_b, tvtest::legacy_token("b"));
    f.control->fail_erases = tv::errc::keyring_denied;

    auto first = f.open<items_store>();
    const auto before = generations(*first);
    CHECK(before.size() == 2);
    CHECK(f.has("oauth:" + url_a));
    CHECK(f.has("oauth:index"));
    CHECK(tvtest::failures(f.events, "keyring_items") >= 1);

    f.control->fail_erases.reset();
    f.events.clear();

    SUBCASE("the next start deletes the leftovers and imports nothing again") {
        auto next = f.open<items_store>();
        CHECK(generations(*next) == before);
        CHECK(access_token(*next, url_a) == "legacy-at-a");
        CHECK(tvtest::migrated(f.events, "keyring_items") == 0);
        CHECK_FALSE(f.has("oauth:" + url_a));
        CHECK_FALSE(f.has("oauth:" + url_b));
        CHECK_FALSE(f.has("oauth:index"));
    }
    SUBCASE("a credential logged out in between is not resurrected from its leftover item") {
        REQUIRE(first->erase(id(url_a)).value());
        auto next = f.open<items_store>();
        CHECK(access_token(*next, url_a).empty());
        CHECK(access_token(*next, url_b) == "legacy-at-b");
        CHECK_FALSE(f.has("oauth:" + url_a));
    }
}

TEST_CASE("a bundle item or an index that an older version rewrites during the migration is not deleted") {
    fixture f;
    bool rewritten = false;
    std::function<void()> rewrite;
    f.hook = [&](const tv::events::any& e) {
        const auto* written = std::get_if<tv::events::file_write>(&e);
        if (written == nullptr || written->failure || rewritten) return;
        rewritten = true;  // between the durable save and the deletes, the old version logs in to B
        rewrite();
    };
    SUBCASE("the bundle item") {
        f.raw_item("oauth:tokens", nlohmann::json{{url_a, tvtest::legacy_token("a")}}.dump());
        rewrite = [&] {
            f.raw_item("oauth:tokens",
                       nlohmann::json{{url_a, tvtest::legacy_token("a")}, {url_b, tvtest::legacy_token("b")}}
                           .dump());
        };
        auto store = f.open<bundle_store>();
        CHECK(access_token(*store, url_a) == "legacy-at-a");
        REQUIRE(rewritten);
        CHECK(f.has("oauth:tokens"));

        f.hook = nullptr;
        auto next = f.open<bundle_store>();
        CHECK(access_token(*next, url_b) == "legacy-at-b");
        CHECK(generations(*next).size() == 2);
        CHECK(tvtest::migrated(f.events, "keyring_bundle") == 2);  // a once, b once
        CHECK_FALSE(f.has("oauth:tokens"));
    }
    SUBCASE("the index of the per-item layout") {
        f.index({url_a});
        f.item(url_a, tvtest::legacy_token("a"));
        rewrite = [&] {
            f.item(url_b, tvtest::legacy_token("b"));
            f.index({url_a, url_b});
        };
        auto store = f.open<items_store>();
        CHECK(access_token(*store, url_a) == "legacy-at-a");
        REQUIRE(rewritten);
        CHECK(f.has("oauth:index"));
        CHECK(f.has("oauth:" + url_b));

        f.hook = nullptr;
        auto next = f.open<items_store>();
        CHECK(access_token(*next, url_b) == "legacy-at-b");
        CHECK_FALSE(f.has("oauth:" + url_b));
        CHECK_FALSE(f.has("oauth:index"));
    }
}

TEST_CASE("a keyring that denies access stops the migration at the first refusal: no prompt storm") {
    fixture f;
    f.index({url_a, url_b, url_c});
    for (const auto& url : {url_a, url_b, url_c}) f.item(url, tvtest::legacy_token(url));
    f.control->fail_reads = tv::errc::keyring_denied;
    const auto reads_before = f.control->reads;

    auto store = f.open<items_store>();
    CHECK(generations(*store).empty());  // start-up is not blocked
    CHECK(f.control->reads - reads_before == 1);
    CHECK(tvtest::failures(f.events, "keyring_items") == 1);
    f.control->fail_reads.reset();
    CHECK(f.has("oauth:" + url_a));
    CHECK(f.has("oauth:index"));
}

TEST_CASE("a migration failure never reveals a token") {
    fixture f;
    f.index({url_a});
    f.item(url_a, tvtest::legacy_token("canary-7f3a"));
    f.control->fail_erases = tv::errc::keyring_denied;
    tv::migration::from_keyring_items<tv::keyring::memory> policy{f.options};
    tv::diagnostics::callback sink;
    std::vector<tv::events::any> seen;
    sink.set([&](const tv::events::any& e) { seen.push_back(e); });
    tv::store_context<tv::cipher::xchacha20poly1305, tv::diagnostics::callback> ctx{sink, f.options};
    tv::bundle b;
    auto imported = policy.import_into(ctx, b);
    REQUIRE(imported.has_value());
    CHECK(*imported);
    auto deleted = policy.after_persist(ctx);
    REQUIRE_FALSE(deleted.has_value());
    CHECK(deleted.error().message().find("canary") == std::string::npos);
    for (const auto& e : seen)
        std::visit(
            [](const auto& ev) {
                if constexpr (requires { ev.failure.message(); })
                    CHECK(ev.failure.message().find("canary") == std::string::npos);
            },
            e);
    CHECK(b.extra.dump().find("canary") == std::string::npos);  // the ledger holds fingerprints only
}

TEST_CASE("the import ledger holds fingerprints while legacy data remains, and goes once none is left") {
    fixture f;
    f.index({url_a});
    f.item(url_a, tvtest::legacy_token("a"));
    tv::migration::from_keyring_items<tv::keyring::memory> policy{f.options};
    tv::diagnostics::callback sink;
    tv::store_context<tv::cipher::xchacha20poly1305, tv::diagnostics::callback> ctx{sink, f.options};
    tv::bundle b;
    REQUIRE(policy.import_into(ctx, b).value());
    const auto& ledger = b.extra.at("migrations").at("keyring_items");
    REQUIRE(ledger.size() == 1);
    CHECK(ledger.at(id(url_a).hash()).get<std::string>().size() == 32);
    CHECK(b.entries.size() == 1);

    SUBCASE("a second import of the same items adds nothing but still asks for the deletes") {
        tv::bundle copy = b;
        CHECK(policy.import_into(ctx, copy).value());
        CHECK(copy.entries.size() == 1);
        CHECK(copy.last_generation == b.last_generation);
    }
    SUBCASE("after the deletes, the next import drops the ledger") {
        REQUIRE(policy.after_persist(ctx).has_value());
        CHECK_FALSE(f.has("oauth:" + url_a));
        CHECK(policy.import_into(ctx, b).value());  // the ledger went: save once more
        CHECK_FALSE(b.extra.contains("migrations"));
        CHECK_FALSE(policy.import_into(ctx, b).value());  // steady state: nothing to do
    }
}

}  // namespace test_migration_keyring
