// tests/unit/test_store_threads.cpp: stores, diagnostics sinks and keyrings used from many threads at once.
//
// Also built under ThreadSanitizer (tests/thread_sanitizer_tests.txt). Each case runs readers (get,
// get_entry, with_token, list) and writers (put, update, compare_and_swap, erase_if) on one instance while
// a second instance of the same store writes too, so the change check, the reload under the exclusive
// lock, the diagnostics sinks and the keyring paths all run concurrently; then it checks that no update
// was lost and no read was torn.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tokenvault/backend/keyring_bundle.hpp"
#include "tokenvault/backend/sealed_file.hpp"
#include "tokenvault/diagnostics/callback.hpp"
#include "tokenvault/diagnostics/counters.hpp"
#include "tokenvault/diagnostics/resolution_log.hpp"
#include "tokenvault/keyring/file.hpp"
#include "tokenvault/keyring/memory.hpp"
#include "tokenvault/locking/process.hpp"
#include "tokenvault/presets.hpp"
#include "tokenvault/store.hpp"

#include "support/memory_keyring.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_store_threads {  // unity builds put several test files in one translation unit

using namespace tokenvault;
using tvtest::id_for;
using tvtest::sample_token;

namespace {

using memory_key = keyring::allow_volatile<keyring::memory>;
using sealed_counted =
    token_store<backend::sealed_file<memory_key>, cipher::xchacha20poly1305, locking::process,
                migration::none, diagnostics::resolution_log<diagnostics::counters>>;
using sealed_observed = token_store<backend::sealed_file<keyring::file>, cipher::xchacha20poly1305,
                                    locking::process, migration::none, diagnostics::callback>;
using bundle_in_keyring = token_store<backend::keyring_bundle<keyring::memory>, cipher::xchacha20poly1305,
                                      locking::process, migration::none, diagnostics::counters>;

}  // namespace

}  // namespace test_store_threads

// doctest's type names are specializations in doctest's namespace: declared at global scope.
TYPE_TO_STRING_AS("memory_mt", tokenvault::presets::memory_mt);
TYPE_TO_STRING_AS("sealed_file<memory>+resolution_log", test_store_threads::sealed_counted);
TYPE_TO_STRING_AS("sealed_file<file>+callback", test_store_threads::sealed_observed);
TYPE_TO_STRING_AS("keyring_bundle<memory>", test_store_threads::bundle_in_keyring);

namespace test_store_threads {

TEST_CASE_TEMPLATE("threads: readers and writers on two instances of one store lose nothing", S,
                   presets::memory_mt, sealed_counted, sealed_observed, bundle_in_keyring) {
    constexpr int writers = 4;
    constexpr int readers = 3;
    constexpr int rounds = 8;
    tvtest::temp_dir tmp{/*prefer_memory_fs=*/true};
    const auto o = tvtest::fresh_store_options(tmp, "tv-threads-");
    S a(o);
    // A second instance shares the source of truth (a file, a keyring item); the memory store has none.
    constexpr bool shared = S::backend_type::shared;
    std::optional<S> b;
    if constexpr (shared) b.emplace(o);
    std::atomic<int> events{0};
    if constexpr (std::is_same_v<typename S::diagnostics_type, diagnostics::callback>) {
        a.diagnostics().set([&](const events::any&) { events.fetch_add(1, std::memory_order_relaxed); });
        b->diagnostics().set([&](const events::any&) { events.fetch_add(1, std::memory_order_relaxed); });
    }

    const auto counter = id_for(0);
    token zero = sample_token("counter");
    zero.extra["count"] = 0;
    REQUIRE(a.put(counter, zero));
    const auto swapped = id_for(1);
    REQUIRE(a.put(swapped, sample_token("cas")));

    std::atomic<int> failures{0};
    std::atomic<int> swaps{0};
    std::atomic<bool> writing{true};
    std::vector<std::thread> pool;
    for (int t = 0; t < writers; ++t) {
        pool.emplace_back([&, t] {
            S& store = (shared && t % 2 == 1) ? *b : a;
            for (int i = 0; i < rounds; ++i) {
                auto done = store.update(counter, [](std::optional<token>& v) {
                    v->extra["count"] = v->extra["count"].template get<int>() + 1;
                });
                if (!done) failures.fetch_add(1);
                if (!store.put(id_for(100 + t * rounds + i), sample_token(std::to_string(t))))
                    failures.fetch_add(1);
                auto seen = store.get_entry(swapped);  // compare-and-swap: retry until it lands
                for (int attempt = 0; seen && seen->has_value() && attempt < 100; ++attempt) {
                    auto cas = store.compare_and_swap(swapped, (*seen)->generation, sample_token("cas"));
                    if (cas) {
                        swaps.fetch_add(1);
                        break;
                    }
                    if (cas.code() != make_error_code(errc::conflict)) failures.fetch_add(1);
                    seen = store.get_entry(swapped);
                }
                auto gone = store.get_entry(id_for(100 + t * rounds + i));
                if (!gone || !gone->has_value() || !store.erase_if(gone->value().id, (*gone)->generation))
                    failures.fetch_add(1);
            }
        });
    }
    for (int r = 0; r < readers; ++r) {
        pool.emplace_back([&, r] {
            S& store = (shared && r % 2 == 1) ? *b : a;
            while (writing.load()) {
                auto got = store.get(counter);
                if (!got || !got->has_value() || !(*got)->access_token.reveal().starts_with("at-"))
                    failures.fetch_add(1);
                auto listed = store.list();
                if (!listed || listed->size() < 2) failures.fetch_add(1);
                auto length = store.with_token(swapped, [](const token* t) -> result<std::size_t> {
                    return t == nullptr ? 0 : t->access_token.reveal().size();
                });
                if (!length || *length == 0) failures.fetch_add(1);
            }
        });
    }
    for (int t = 0; t < writers; ++t) pool[static_cast<std::size_t>(t)].join();
    writing.store(false);
    for (std::size_t t = writers; t < pool.size(); ++t) pool[t].join();

    CHECK(failures.load() == 0);
    CHECK(swaps.load() == writers * rounds);
    S fresh(o);
    S& check = shared ? fresh : a;
    auto total = check.get(counter);
    REQUIRE(total);
    REQUIRE(total->has_value());
    CHECK((*total)->extra["count"] == writers * rounds);
    auto listed = check.list();
    REQUIRE(listed);
    CHECK(listed->size() == 2);  // every per-round entry was erased again
    if constexpr (std::is_same_v<typename S::diagnostics_type, diagnostics::callback>)
        CHECK(events.load() > 0);
}

TEST_CASE("threads: one keyring::file instance per thread, first use racing on one fresh directory") {
    constexpr int threads = 6;
    tvtest::temp_dir tmp{/*prefer_memory_fs=*/true};
    keyring_options options;
    options.service = "tv-threads";
    options.directory = tmp / "keyring";
    std::atomic<int> failures{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            auto opened = keyring::file::open(options);
            if (!opened || !opened->has_value()) {
                failures.fetch_add(1);
                return;
            }
            const std::string value = "value-" + std::to_string(t);
            const auto account = "account-" + std::to_string(t);
            if (!(*opened)->write(account, std::as_bytes(std::span<const char>(value.data(), value.size()))))
                failures.fetch_add(1);
            auto back = (*opened)->read(account);
            if (!back || !back->has_value() || (*back)->view() != value) failures.fetch_add(1);
        });
    }
    for (auto& th : pool) th.join();
    CHECK(failures.load() == 0);
    auto reader = keyring::file::open(options);
    REQUIRE(reader);
    REQUIRE(reader->has_value());
    for (int t = 0; t < threads; ++t) {
        auto got = (*reader)->read("account-" + std::to_string(t));
        REQUIRE(got);
        CHECK(got->has_value());  // one passphrase for all: every thread's item opens
    }
}

}  // namespace test_store_threads
