// tests/matrix/conformance.hpp: the store contract, one suite for every policy combination.
//
// Each matrix TU includes this header and applies `conformance` to its tuple of store types. The suite
// covers the store contract: absent, round trip, overwrite, erase, list, update, compare-and-swap,
// erase_if, generations, bad input, persistence across instances, and many threads where thread-safe.
#pragma once

#include <doctest/doctest.h>

#include <tokenvault/tokenvault.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../support/temp_dir.hpp"
#include "../support/tokens.hpp"

namespace tvtest::matrix {

/// A store of type S in a fresh directory with a keyring service no other test uses.
template <class S>
struct fixture {
    temp_dir dir{/*prefer_memory_fs=*/true};  // the contract, not fsync speed, is under test here
    tokenvault::store_options options;
    std::unique_ptr<S> store;

    fixture() {
        options.app_name = unique_name("tv-matrix");
        options.directory = dir.path() / "store";
        options.lock_timeout = std::chrono::milliseconds(20000);
        store = std::make_unique<S>(options);
    }
    /// Another instance over the same storage (a fresh cache, as a second process would have).
    [[nodiscard]] std::unique_ptr<S> another_instance() const { return std::make_unique<S>(options); }
};

/// Whether the build asks for a smaller workload (meson.build sets TOKENVAULT_TEST_REDUCED_WORKLOAD=1 under
/// the sanitizers).
inline bool reduced_workload() {
    const char* set = std::getenv("TOKENVAULT_TEST_REDUCED_WORKLOAD");
    return set != nullptr && std::string_view(set) == "1";
}

/// A short description of a store type, for failure messages.
template <class S>
std::string describe() {
    return std::string(doctest::toString<S>().c_str());
}

}  // namespace tvtest::matrix

TEST_CASE_TEMPLATE_DEFINE("store contract", S, conformance) {
    using namespace tokenvault;
    using tvtest::id_for;
    using tvtest::sample_token;
    INFO("combination: " << tvtest::matrix::describe<S>());
    tvtest::matrix::fixture<S> f;
    S& store = *f.store;
    const auto a = id_for(1);
    const auto b = id_for(2);

    SUBCASE("a missing id is absent, not an error") {
        auto got = store.get(a);
        REQUIRE(got.has_value());
        CHECK_FALSE(got->has_value());
        auto listed = store.list();
        REQUIRE(listed.has_value());
        CHECK(listed->empty());
    }

    SUBCASE("round trip keeps every field, including unknown ones") {
        const auto t = sample_token("round-trip");
        auto gen = store.put(a, t);
        REQUIRE_MESSAGE(gen.has_value(), gen.error().message());
        CHECK(*gen > 0);
        auto got = store.get(a);
        REQUIRE(got.has_value());
        REQUIRE(got->has_value());
        CHECK(**got == t);
        CHECK((*got)->extra.at("custom_field") == "kept");
        CHECK_FALSE(store.get(b)->has_value());
    }

    SUBCASE("overwrite replaces the token and bumps the generation") {
        const auto g1 = store.put(a, sample_token("one")).value();
        const auto g2 = store.put(a, sample_token("two")).value();
        CHECK(g2 > g1);
        CHECK(store.get(a)->value() == sample_token("two"));
        CHECK(store.get_entry(a)->value().generation == g2);
    }

    SUBCASE("erase removes only its entry") {
        REQUIRE(store.put(a, sample_token("a")).has_value());
        REQUIRE(store.put(b, sample_token("b")).has_value());
        CHECK(store.erase(a).value());
        CHECK_FALSE(store.get(a)->has_value());
        CHECK(store.get(b)->value() == sample_token("b"));
        CHECK_FALSE(store.erase(a).value());  // already gone
    }

    SUBCASE("list shows ids and metadata, never a secret") {
        REQUIRE(store.put(a, sample_token("list-a")).has_value());
        REQUIRE(store.put(b, sample_token("list-b")).has_value());
        auto listed = store.list().value();
        REQUIRE(listed.size() == 2);
        std::set<std::string> resources;
        for (const auto& info : listed) {
            resources.insert(info.id.resource());
            CHECK(info.has_refresh_token);
            CHECK(info.expires_at.has_value());
            CHECK(info.generation > 0);
        }
        CHECK(resources == std::set<std::string>{a.resource(), b.resource()});
    }

    SUBCASE("update reads, modifies and writes one entry") {
        REQUIRE(store.put(a, sample_token("u")).has_value());
        auto gen = store.update(a, [](std::optional<token>& t) {
            REQUIRE(t.has_value());
            t->scopes.push_back("admin");
        });
        REQUIRE(gen.has_value());
        CHECK(store.get(a)->value().scopes.back() == "admin");
        CHECK(store.get_entry(a)->value().generation == *gen);

        auto created = store.update(b, [](std::optional<token>& t) {
            CHECK_FALSE(t.has_value());
            t = sample_token("created");
        });
        REQUIRE(created.has_value());
        CHECK(store.get(b)->value() == sample_token("created"));

        auto aborted = store.update(a, [](std::optional<token>& t) -> result<void> {
            t->scopes.clear();
            return error{errc::invalid_argument, "aborted by caller"};
        });
        CHECK(aborted.code() == errc::invalid_argument);
        CHECK(store.get(a)->value().scopes.back() == "admin");  // unchanged

        auto erased = store.update(a, [](std::optional<token>& t) { t.reset(); });
        REQUIRE(erased.has_value());
        CHECK(*erased == 0);
        CHECK_FALSE(store.get(a)->has_value());
    }

    SUBCASE("compare_and_swap succeeds on the expected generation and conflicts otherwise") {
        auto created = store.compare_and_swap(a, 0, sample_token("first"));
        REQUIRE(created.has_value());
        auto conflict_absent = store.compare_and_swap(a, 0, sample_token("late"));
        CHECK(conflict_absent.code() == errc::conflict);
        auto swapped = store.compare_and_swap(a, *created, sample_token("second"));
        REQUIRE(swapped.has_value());
        CHECK(*swapped > *created);
        auto stale = store.compare_and_swap(a, *created, sample_token("stale"));
        CHECK(stale.code() == errc::conflict);
        CHECK(store.get(a)->value() == sample_token("second"));
    }

    SUBCASE("erase_if erases only an unchanged entry") {
        const auto g1 = store.put(a, sample_token("e1")).value();
        const auto g2 = store.put(a, sample_token("e2")).value();
        CHECK(store.erase_if(a, g1).code() == errc::conflict);
        CHECK(store.get(a)->has_value());
        CHECK(store.erase_if(a, g2).value());
        CHECK_FALSE(store.get(a)->has_value());
        CHECK_FALSE(store.erase_if(a, 0).value());
    }

    SUBCASE("generations are never reused, even after erase and re-create") {
        const auto g1 = store.put(a, sample_token("x")).value();
        REQUIRE(store.erase(a).value());
        const auto g2 = store.put(a, sample_token("x")).value();
        CHECK(g2 > g1);
        CHECK(store.compare_and_swap(a, g1, sample_token("aba")).code() == errc::conflict);
    }

    SUBCASE("invalid tokens are refused and nothing is stored") {
        token empty;
        CHECK(store.put(a, empty).code() == errc::missing_field);
        token with_nul = sample_token("nul");
        with_nul.access_token = secret_string{std::string_view("ab\0cd", 5)};
        CHECK(store.put(a, with_nul).code() == errc::invalid_argument);
        token huge = sample_token("huge");
        huge.refresh_token = secret_string{std::string(1 << 20, 'r')};
        CHECK(store.put(a, huge).code() == errc::too_large);
        CHECK_FALSE(store.get(a)->has_value());
        CHECK(store.list()->empty());
    }

    SUBCASE("a second instance sees what the first stored, when the backend is persistent or shared") {
        REQUIRE(store.put(a, sample_token("persist")).has_value());
        auto other = f.another_instance();
        auto got = other->get(a);
        REQUIRE_MESSAGE(got.has_value(), got.error().message());
        if constexpr (S::backend_type::persistent || S::backend_type::shared) {
            REQUIRE(got->has_value());
            CHECK(**got == sample_token("persist"));
            // ...and the first instance notices the second one's write without being told.
            REQUIRE(other->put(b, sample_token("from-other")).has_value());
            CHECK(store.get(b)->value() == sample_token("from-other"));
        } else {
            CHECK_FALSE(got->has_value());
        }
    }

    if constexpr (S::locking_type::thread_safe) {
        SUBCASE("many threads: no lost update, no torn read") {
            // Under the sanitizers (TOKENVAULT_TEST_REDUCED_WORKLOAD=1, set by meson.build) fewer threads
            // and rounds: the same contention and checks, at a tenth of the writes.
            const int threads = tvtest::matrix::reduced_workload() ? 4 : 8;
            const int increments = tvtest::matrix::reduced_workload() ? 5 : 25;
            const auto counter = id_for(999);
            token zero = sample_token("counter");
            zero.extra["count"] = 0;
            REQUIRE(store.put(counter, zero).has_value());
            std::atomic<int> failures{0};
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t) {
                pool.emplace_back([&, t] {
                    for (int i = 0; i < increments; ++i) {
                        auto done = store.update(counter, [](std::optional<token>& v) {
                            v->extra["count"] = v->extra["count"].template get<int>() + 1;
                        });
                        if (!done) ++failures;
                        if (!store.put(id_for(t * 1000 + i), sample_token(std::to_string(t))).has_value())
                            ++failures;
                        auto read = store.get(counter);
                        if (!read || !read->has_value() || !(*read)->access_token.reveal().starts_with("at-"))
                            ++failures;
                    }
                });
            }
            for (auto& th : pool) th.join();
            CHECK(failures.load() == 0);
            CHECK(store.get(counter)->value().extra["count"] == threads * increments);
            CHECK(store.list()->size() == static_cast<std::size_t>(threads * increments + 1));
        }
    }
}
