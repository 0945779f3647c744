// tests/unit/test_lifecycle.cpp: the credential manager inside one process (threads, memory stores).
//
// The decision tree (fast path, refresh, adoption, authorize), the merge of refresh responses, expiry
// skew, 401 handling, login/logout and the legacy forget hook, invalid_grant against a concurrent winner,
// the authoritative reread against a stale cache, a 16-thread stampede, lock timeouts, the lock order
// checker (death tests in forked children), token endpoint responses, every bad input, and canaries.
// The provider is tests/support/oauth_test_server.hpp (rotation and reuse detection, like real servers).
#include <stdlib.h>

#include <doctest/doctest.h>

#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/presets.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/forked.hpp"
#include "support/lifecycle_helpers.hpp"
#include "support/oauth_test_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_lifecycle {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

const std::string canary = "CANARYq7Zt";

using memory_store = tv::presets::memory_mt;
using event_store = tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305, tv::locking::threads,
                                    tv::migration::none, tv::diagnostics::callback>;

std::error_code ec(tv::errc c) { return tv::make_error_code(c); }

/// A temp dir, a test server in it, a store and a manager.
template <class Store = memory_store>
struct world {
    tvtest::temp_dir dir;
    tvtest::oauth_test_server server{dir.path(), canary};
    Store store;
    tv::credential_manager<Store> manager{store};
    tv::credential_id id = tvtest::id_for(1);

    /// Logs in through the server and stores the token; returns it.
    tv::token log_in() {
        auto t = server.authorize();
        REQUIRE(t);
        REQUIRE(store.put(id, *t));
        return *t;
    }
    /// Marks the stored token expired (its refresh token stays live at the server).
    tv::token expire() {
        auto t = store.get(id);
        REQUIRE(t);
        REQUIRE(t->has_value());
        auto old = tvtest::expired_copy(**t);
        REQUIRE(store.put(id, old));
        return old;
    }
    std::optional<tv::entry> stored() {
        auto e = store.get_entry(id);
        REQUIRE(e);
        return *e;
    }
};

/// Result of a child that was expected to die: exit status and what it wrote to stderr.
struct death {
    int status = 0;
    std::string stderr_text;
};

template <class Fn>
death run_dying(Fn fn) {
    int fds[2] = {-1, -1};
    REQUIRE(::pipe(fds) == 0);
    tvtest::forked_child child([&] {
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        fn();
        return 0;
    });
    ::close(fds[1]);
    std::string text;
    char buf[512];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    return death{child.wait(), text};
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("a valid cached token is returned without a provider call and without the credential lock") {
        world<event_store> w;
        tvtest::event_recorder events;
        w.store.diagnostics().set(events.sink());
        const auto t = w.log_in();

        // Another thread holds the credential lock (a login waiting in authorize) the whole time.
        std::atomic<bool> in_authorize{false}, release{false};
        struct blocking_provider {
            std::atomic<bool>* entered;
            std::atomic<bool>* go;
            tv::refresh_result refresh(const tv::token&) { return tv::refresh_result::rejected(); }
            tv::result<tv::token> authorize() {
                entered->store(true);
                while (!go->load()) std::this_thread::sleep_for(1ms);
                return tv::error{tv::errc::not_logged_in, "test: no login"};
            }
        } blocker{&in_authorize, &release};
        std::thread holder([&] { (void)w.manager.login(tvtest::id_for(1), blocker); });
        while (!in_authorize.load()) std::this_thread::sleep_for(1ms);

        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 100; ++i) {
            auto got = w.manager.get_access_token(w.id, w.server);
            REQUIRE(got);
            CHECK(got->access_token == t.access_token);
        }
        CHECK(std::chrono::steady_clock::now() - start < 2s);
        release = true;
        holder.join();
        CHECK(w.server.counts().refresh_calls == 0);
        CHECK(w.server.counts().authorize_calls == 1);
        CHECK(events.count("event credential") == 1);  // only the blocked login's lock_acquired
    }

    TEST_CASE("an expired token is refreshed once and written with compare-and-swap") {
        world<event_store> w;
        tvtest::event_recorder events;
        w.store.diagnostics().set(events.sink());
        const auto t0 = w.log_in();
        w.expire();
        const auto before = w.stored();

        auto got = w.manager.get_access_token(w.id, w.server);
        REQUIRE(got);
        CHECK_FALSE(got->access_token == t0.access_token);
        REQUIRE(got->refresh_token);
        CHECK_FALSE(*got->refresh_token == *t0.refresh_token);  // rotated
        CHECK(w.manager.fresh(*got));
        const auto after = w.stored();
        REQUIRE(after);
        CHECK(after->generation > before->generation);
        CHECK(after->token == *got);
        CHECK(w.server.counts().rotations == 1);
        CHECK(events.count("refreshed") == 1);

        // The next call is served from the cache.
        auto again = w.manager.get_access_token(w.id, w.server);
        REQUIRE(again);
        CHECK(again->access_token == got->access_token);
        CHECK(w.server.counts().refresh_calls == 1);
    }

    TEST_CASE("a refresh response that omits the refresh token or the scopes keeps the previous ones") {
        world w;
        w.server.configure({.rotate = false, .send_scope = false});
        auto t0 = w.log_in();
        t0.scopes = {"read", "write", "admin"};
        t0.extra["tenant"] = "kept";
        REQUIRE(w.store.put(w.id, tvtest::expired_copy(t0)));

        auto got = w.manager.get_access_token(w.id, w.server);
        REQUIRE(got);
        CHECK_FALSE(got->access_token == t0.access_token);
        REQUIRE(got->refresh_token);
        CHECK(*got->refresh_token == *t0.refresh_token);
        CHECK(got->scopes == std::vector<std::string>{"read", "write", "admin"});
        CHECK(got->issuer == t0.issuer);
        CHECK(got->client_id == t0.client_id);
        CHECK(got->extra.value("tenant", "") == "kept");
        CHECK(w.stored()->token == *got);

        // And a response that sends them replaces them.
        w.server.configure({.rotate = true, .send_scope = true});
        REQUIRE(w.store.put(w.id, tvtest::expired_copy(*got)));
        auto next = w.manager.get_access_token(w.id, w.server);
        REQUIRE(next);
        CHECK_FALSE(*next->refresh_token == *t0.refresh_token);
        CHECK(next->scopes == std::vector<std::string>{"read", "write"});
    }

    TEST_CASE("expiry skew: 60 s by default, configurable; unknown expiry is valid until a 401") {
        world w;
        auto t = w.log_in();
        t.expires_at = tv::clock::now() + 30s;
        REQUIRE(w.store.put(w.id, t));

        tv::credential_manager<memory_store> tolerant(w.store, {.expiry_skew = 10s});
        auto kept = tolerant.get_access_token(w.id, w.server);
        REQUIRE(kept);
        CHECK(kept->access_token == t.access_token);
        CHECK(w.server.counts().refresh_calls == 0);

        auto refreshed = w.manager.get_access_token(w.id, w.server);  // 30 s left < 60 s skew
        REQUIRE(refreshed);
        CHECK_FALSE(refreshed->access_token == t.access_token);
        CHECK(w.server.counts().refresh_calls == 1);

        // Unknown expiry: used as is, however long, until the server answers 401.
        auto unknown = *refreshed;
        unknown.expires_at.reset();
        REQUIRE(w.store.put(w.id, unknown));
        for (int i = 0; i < 3; ++i) {
            auto got = w.manager.get_access_token(w.id, w.server);
            REQUIRE(got);
            CHECK(got->access_token == unknown.access_token);
        }
        CHECK(w.server.counts().refresh_calls == 1);
        auto after_401 = w.manager.on_unauthorized(w.id, unknown.access_token, w.server);
        REQUIRE(after_401);
        CHECK_FALSE(after_401->access_token == unknown.access_token);
        CHECK(w.server.counts().refresh_calls == 2);
    }

    TEST_CASE("on_unauthorized adopts a stored token that differs from the rejected one, else refreshes") {
        world w;
        const auto t0 = w.log_in();
        // The caller was handed t0; another component refreshed meanwhile.
        auto t1 = w.server.refresh(t0);
        REQUIRE(t1.outcome() == tv::refresh_outcome::refreshed);
        REQUIRE(w.store.put(w.id, t1.issued()));
        const int calls = w.server.counts().refresh_calls;

        auto adopted = w.manager.on_unauthorized(w.id, t0.access_token, w.server);
        REQUIRE(adopted);
        CHECK(adopted->access_token == t1.issued().access_token);
        CHECK(w.server.counts().refresh_calls == calls);

        // The stored token itself is rejected: force a refresh although its expiry looks fine.
        auto forced = w.manager.on_unauthorized(w.id, adopted->access_token, w.server);
        REQUIRE(forced);
        CHECK_FALSE(forced->access_token == adopted->access_token);
        CHECK(w.server.counts().refresh_calls == calls + 1);
        CHECK(w.server.counts().reuse_detected == 0);
    }

    TEST_CASE(
        "on_unauthorized without a refresh token logs in again; for an unknown id it is not_logged_in") {
        world w;
        auto t0 = w.log_in();
        t0.refresh_token.reset();
        REQUIRE(w.store.put(w.id, t0));
        auto got = w.manager.on_unauthorized(w.id, t0.access_token, w.server);
        REQUIRE(got);
        CHECK_FALSE(got->access_token == t0.access_token);
        CHECK(w.server.counts().authorize_calls == 2);
        CHECK(w.server.counts().refresh_calls == 0);

        auto unknown = w.manager.on_unauthorized(tvtest::id_for(9), t0.access_token, w.server);
        REQUIRE_FALSE(unknown);
        CHECK(unknown.code() == ec(tv::errc::not_logged_in));
        CHECK(w.server.counts().authorize_calls == 2);
        CHECK_FALSE(*w.store.get(tvtest::id_for(9)));
    }

    TEST_CASE("no stored token: authorize, persist, return; an expired token without refresh token too") {
        world<event_store> w;
        tvtest::event_recorder events;
        w.store.diagnostics().set(events.sink());
        auto got = w.manager.get_access_token(w.id, w.server);
        REQUIRE(got);
        CHECK(w.server.counts().authorize_calls == 1);
        CHECK(w.stored()->token == *got);
        const auto lines = events.lines();
        CHECK(std::count(lines.begin(), lines.end(), "event " + w.id.hash()) == 1);  // the login event

        auto no_refresh = tvtest::expired_copy(*got);
        no_refresh.refresh_token.reset();
        REQUIRE(w.store.put(w.id, no_refresh));
        auto again = w.manager.get_access_token(w.id, w.server);
        REQUIRE(again);
        CHECK(w.server.counts().authorize_calls == 2);
        CHECK(w.server.counts().refresh_calls == 0);
    }

    TEST_CASE("invalid_grant erases the credential, then logs in again") {
        world<event_store> w;
        tvtest::event_recorder events;
        w.store.diagnostics().set(events.sink());
        const auto t0 = w.log_in();
        w.expire();
        w.server.revoke_all();

        auto got = w.manager.get_access_token(w.id, w.server);
        REQUIRE(got);
        CHECK(tvtest::oauth_test_server::parse(got->access_token.reveal()).family !=
              tvtest::oauth_test_server::parse(t0.access_token.reveal()).family);
        CHECK(w.server.counts().rejected == 1);
        CHECK(w.server.counts().authorize_calls == 2);
        CHECK(w.stored()->token == *got);
        CHECK(events.count("rejected") == 1);

        // A provider that cannot log in: the dead credential is gone, the error says the grant was revoked.
        w.expire();
        w.server.revoke_all();
        w.server.configure({.authorize_mode = "not_logged_in"});
        auto gone = w.manager.get_access_token(w.id, w.server);
        REQUIRE_FALSE(gone);
        CHECK(gone.code() == ec(tv::errc::grant_revoked));
        CHECK_FALSE(w.stored());
    }

    TEST_CASE("invalid_grant while a concurrent winner writes a new token: the winner's token survives") {
        world w;
        w.log_in();
        w.expire();
        tv::token winner;
        w.server.on_request = [&](std::string_view what) {
            if (what != "refresh") return;
            // Meanwhile: the grant is revoked and another client logs in and stores its token directly.
            w.server.revoke_all();
            tvtest::oauth_test_server other(w.dir.path(), canary);
            winner = other.authorize().value();
            REQUIRE(w.store.put(w.id, winner));
        };
        auto got = w.manager.get_access_token(w.id, w.server);
        w.server.on_request = nullptr;
        REQUIRE(got);
        CHECK(got->access_token == winner.access_token);
        CHECK(w.stored()->token == winner);
        CHECK(w.server.counts().rejected == 1);
        CHECK(w.server.counts().authorize_calls ==
              2);  // the first login and the winner's; none by the manager
    }

    TEST_CASE("a refresh that loses its compare-and-swap never overwrites nor resurrects") {
        SUBCASE("an external writer stored a newer token: it is adopted") {
            world w;
            w.log_in();
            w.expire();
            tv::token external;
            w.server.on_request = [&](std::string_view) {
                tvtest::oauth_test_server other(w.dir.path(), canary);
                external = other.authorize().value();
                REQUIRE(w.store.put(w.id, external));
            };
            auto got = w.manager.get_access_token(w.id, w.server);
            w.server.on_request = nullptr;
            REQUIRE(got);
            CHECK(got->access_token == external.access_token);
            CHECK(w.stored()->token == external);
        }
        SUBCASE("the credential was erased by a writer that bypassed the credential lock: it stays erased") {
            world w;
            w.log_in();
            w.expire();
            w.server.on_request = [&](std::string_view) { REQUIRE(w.store.erase(w.id)); };
            auto got = w.manager.get_access_token(w.id, w.server);
            w.server.on_request = nullptr;
            REQUIRE_FALSE(got);
            CHECK(got.code() == ec(tv::errc::not_logged_in));
            CHECK_FALSE(w.stored());
            CHECK(w.server.counts().authorize_calls == 1);
        }
    }

    TEST_CASE("a transient failure keeps the stored credential and returns the error") {
        for (const char* mode : {"unavailable", "timeout"}) {
            CAPTURE(mode);
            world<event_store> w;
            tvtest::event_recorder events;
            w.store.diagnostics().set(events.sink());
            w.log_in();
            w.expire();
            const auto before = w.stored();
            w.server.configure({.refresh_mode = mode});
            auto got = w.manager.get_access_token(w.id, w.server);
            REQUIRE_FALSE(got);
            CHECK(got.code() == ec(tv::errc::provider_unavailable));
            const auto after = w.stored();
            REQUIRE(after);
            CHECK(after->generation == before->generation);
            CHECK(after->token == before->token);
            CHECK(w.server.counts().authorize_calls == 1);
            CHECK(events.count("transient_failure") == 1);
            // Within refresh_failure_ttl the same failure comes back at once, without another call.
            w.server.configure({});
            const int calls = w.server.counts().refresh_calls;
            auto remembered = w.manager.get_access_token(w.id, w.server);
            REQUIRE_FALSE(remembered);
            CHECK(remembered.code() == ec(tv::errc::provider_unavailable));
            CHECK(w.server.counts().refresh_calls == calls);
            // The lock was released: the next call proceeds (and succeeds once the server is back).
            tv::credential_manager<event_store> unremembering{w.store, tv::lifecycle_options{60s, 60s, 0ms}};
            auto later = unremembering.get_access_token(w.id, w.server);
            REQUIRE(later);
        }
    }

    TEST_CASE("the authoritative reread: a stale cache never replays a rotated refresh token") {
        world w;
        w.log_in();
        const auto old = w.expire();
        // Another component (its own manager, same store) refreshes first: RT0 -> RT1.
        tv::credential_manager<memory_store> other(w.store);
        auto fresh = other.get_access_token(w.id, w.server);
        REQUIRE(fresh);

        // This component's store serves a stale cache that still holds the expired token with RT0.
        tvtest::hooked_store<memory_store> stale(w.store);
        stale.stale = old;
        tv::credential_manager<tvtest::hooked_store<memory_store>> manager(stale);
        auto got = manager.get_access_token(w.id, w.server);
        REQUIRE(got);
        CHECK(got->access_token == fresh->access_token);
        CHECK(stale.rereads == 1);
        CHECK(w.server.counts().refresh_calls == 1);
        CHECK(w.server.counts().reuse_detected == 0);
        CHECK_FALSE(w.server.revoked(*fresh));
    }

    TEST_CASE("logout: under the credential lock, so a refresh in flight cannot resurrect the credential") {
        SUBCASE("logout waits for the refresh in flight, then erases") {
            world w;
            w.log_in();
            w.expire();
            w.server.configure({.request_ms = 200});
            std::atomic<bool> in_refresh{false};
            w.server.on_request = [&](std::string_view) { in_refresh = true; };
            tv::result<tv::token> refreshed = tv::error{tv::errc::invalid_argument};
            std::thread refresher([&] { refreshed = w.manager.get_access_token(w.id, w.server); });
            while (!in_refresh.load()) std::this_thread::sleep_for(1ms);
            auto out = w.manager.logout(w.id);
            refresher.join();
            REQUIRE(out);
            CHECK(*out);
            REQUIRE(refreshed);  // the refresh finished first (it held the lock)
            CHECK_FALSE(w.stored());
            w.server.on_request = nullptr;
            w.server.configure({.authorize_mode = "not_logged_in"});
            auto after = w.manager.get_access_token(w.id, w.server);
            CHECK(after.code() == ec(tv::errc::not_logged_in));
            CHECK_FALSE(w.stored());
        }
        SUBCASE("a logout between the first read and the reread: not_logged_in, no new login") {
            world w;
            w.log_in();
            w.expire();
            tvtest::hooked_store<memory_store> hooked(w.store);
            hooked.before_reload = [&] { REQUIRE(w.store.erase(w.id)); };
            tv::credential_manager<tvtest::hooked_store<memory_store>> manager(hooked);
            auto got = manager.get_access_token(w.id, w.server);
            REQUIRE_FALSE(got);
            CHECK(got.code() == ec(tv::errc::not_logged_in));
            CHECK(w.server.counts().authorize_calls == 1);
            CHECK(w.server.counts().refresh_calls == 0);
            CHECK_FALSE(w.stored());
        }
    }

    TEST_CASE("login replaces the credential; logout reports whether there was one") {
        world w;
        const auto t0 = w.log_in();
        auto t1 = w.manager.login(w.id, w.server);
        REQUIRE(t1);
        CHECK_FALSE(t1->access_token == t0.access_token);
        CHECK(w.stored()->token == *t1);
        auto out = w.manager.logout(w.id);
        REQUIRE(out);
        CHECK(*out);
        auto again = w.manager.logout(w.id);
        REQUIRE(again);
        CHECK_FALSE(*again);
        auto never = w.manager.logout(tvtest::id_for(42));
        REQUIRE(never);
        CHECK_FALSE(*never);
    }

    namespace {

    /// A legacy source (think: per-item keyring entries) that a store imports from on its first load.
    struct legacy_source {
        static std::map<std::string, tv::token>& items() {
            static std::map<std::string, tv::token> m;
            return m;
        }
    };

    struct legacy_migration {
        using policy_family = tv::family::migration;
        static constexpr bool enabled = true;
        explicit legacy_migration(const tv::store_options&) {}
        template <class Context>
        tv::result<bool> import_into(Context&, tv::bundle& b) {
            bool any = false;
            for (const auto& [url, t] : legacy_source::items()) {
                auto id = tv::credential_id::parse(url).value();
                if (b.entries.contains(id.hash())) continue;
                b.entries.emplace(id.hash(), tv::entry{id, t, ++b.last_generation, tv::clock::now(), {}});
                any = true;
            }
            return any;
        }
        template <class Context>
        tv::result<void> after_persist(Context&) {
            return {};  // the legacy copy could not be deleted: it stays
        }
    };

    using legacy_store = tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305,
                                         tv::locking::threads, legacy_migration>;

    }  // namespace

    TEST_CASE("a refresh through a process-local store with a migration leaves its other entries alone") {
        const auto id = tvtest::id_for(3);
        legacy_source::items().clear();
        legacy_source::items().emplace(id.resource(), tvtest::sample_token("legacy"));
        legacy_store store;
        REQUIRE(*store.get(id));  // migrated on first load
        tvtest::temp_dir dir;
        tvtest::oauth_test_server server(dir.path(), canary);
        tv::credential_manager<legacy_store> manager(store);
        REQUIRE(store.put(tvtest::id_for(4), tvtest::sample_token("other")));
        auto t = server.authorize();
        REQUIRE(t);
        REQUIRE(store.put(id, tvtest::expired_copy(*t)));
        auto got = manager.get_access_token(id, server);
        REQUIRE(got);
        CHECK(server.counts().rotations == 1);
        CHECK(*store.get(tvtest::id_for(4)));
        REQUIRE(manager.logout(id));
        legacy_source::items().clear();
    }

    TEST_CASE("16 threads need a token after expiry: one refresh, all get the new token") {
        world w;
        w.log_in();
        w.server.configure({.request_ms = 10});
        for (int round = 0; round < 10; ++round) {
            CAPTURE(round);
            w.expire();
            const auto before = w.server.counts();
            std::vector<std::string> seen(16);
            std::atomic<int> ready{0};
            std::vector<std::thread> threads;
            threads.reserve(16);
            for (int i = 0; i < 16; ++i)
                threads.emplace_back([&, i] {
                    ++ready;
                    while (ready.load() < 16) std::this_thread::yield();
                    seen[static_cast<std::size_t>(i)] =
                        tvtest::describe(w.manager.get_access_token(w.id, w.server));
                });
            for (auto& t : threads) t.join();
            const auto after = w.server.counts();
            CHECK(after.refresh_calls == before.refresh_calls + 1);
            CHECK(after.reuse_detected == 0);
            CHECK(after.rejected == 0);
            CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 1);
            CHECK(seen[0] == std::string(w.stored()->token.access_token.reveal()));
        }
    }

    TEST_CASE("a credential lock wait is bounded: lock_timeout, reported, nothing changed") {
        world<event_store> w;
        tvtest::event_recorder events;
        w.store.diagnostics().set(events.sink());
        w.log_in();
        w.expire();
        w.server.configure({.request_ms = 600});
        std::atomic<bool> in_refresh{false};
        w.server.on_request = [&](std::string_view) { in_refresh = true; };
        std::thread slow([&] { (void)w.manager.get_access_token(w.id, w.server); });
        while (!in_refresh.load()) std::this_thread::sleep_for(1ms);

        tv::credential_manager<event_store> impatient(w.store, {.lock_timeout = 100ms});
        const auto start = std::chrono::steady_clock::now();
        auto got = impatient.get_access_token(w.id, w.server);
        const auto waited = std::chrono::steady_clock::now() - start;
        slow.join();
        w.server.on_request = nullptr;
        REQUIRE_FALSE(got);
        CHECK(got.code() == ec(tv::errc::lock_timeout));
        CHECK(waited >= 100ms);
        CHECK(waited < 500ms);
        CHECK(events.count("event credential") >= 2);  // lock_acquired of the refresher, lock_timed_out
        CHECK(w.server.counts().refresh_calls == 1);
    }

    TEST_CASE("the store lock is not held during a provider call") {
        world w;
        w.log_in();
        w.expire();
        bool wrote = false;
        w.server.on_request = [&](std::string_view) {
            // Inside the provider call, on the refreshing thread: the store is free for other ids.
            CHECK(tv::detail::lock_order::held().store == 0);
            CHECK(tv::detail::lock_order::held().credential == 1);
            wrote = w.store.put(tvtest::id_for(2), tvtest::sample_token("other")).has_value();
            CHECK(w.store.get(tvtest::id_for(2)).has_value());
        };
        auto got = w.manager.get_access_token(w.id, w.server);
        w.server.on_request = nullptr;
        REQUIRE(got);
        CHECK(wrote);
    }

    TEST_CASE("lock order violations abort in debug builds, naming the rule") {
        if constexpr (!tv::detail::lock_order::checked) {
            MESSAGE("lock order checks are off in this build (NDEBUG)");
            return;
        }
        SUBCASE("a provider that asks the manager for another credential (nested credential locks)") {
            tvtest::temp_dir parent;  // the child dies without running destructors: its files go in here
            const auto d = run_dying([&parent] {
                ::setenv("TMPDIR", parent.path().c_str(), 1);  // in the child only
                world w;
                w.log_in();
                w.expire();
                w.server.on_request = [&](std::string_view) {
                    (void)w.manager.get_access_token(tvtest::id_for(2), w.server);
                };
                (void)w.manager.get_access_token(w.id, w.server);
            });
            CHECK(d.status == 128 + SIGABRT);
            CHECK(d.stderr_text.find("credential locks never nest") != std::string::npos);
        }
        SUBCASE("a diagnostics callback that logs out while the store reads under its lock") {
            tvtest::temp_dir dir;  // made and removed here: the child dies without running destructors
            const auto d = run_dying([&dir] {
                using sealed_events = tv::token_store<tv::backend::sealed_file<tv::keyring::file>,
                                                      tv::cipher::xchacha20poly1305, tv::locking::process,
                                                      tv::migration::none, tv::diagnostics::callback>;
                tvtest::oauth_test_server server(dir.path(), canary);
                tv::store_options options;
                options.directory = dir.path() / "store";
                {
                    sealed_events writer(options);
                    REQUIRE(writer.put(tvtest::id_for(1), tvtest::sample_token("x")));
                }
                sealed_events store(options);
                tv::credential_manager<sealed_events> manager(store);
                store.diagnostics().set([&](const tv::events::any& e) {
                    if (std::holds_alternative<tv::events::file_read>(e))
                        (void)manager.logout(tvtest::id_for(2));
                });
                (void)manager.get_access_token(tvtest::id_for(1),
                                               server);  // first load, under the store lock
            });
            CHECK(d.status == 128 + SIGABRT);
            CHECK(d.stderr_text.find("inside a store call") != std::string::npos);
        }
        SUBCASE("a provider called without the credential lock") {
            const auto d = run_dying([] { const tv::detail::lock_order::provider_scope call; });
            CHECK(d.status == 128 + SIGABRT);
            CHECK(d.stderr_text.find("exactly one credential lock") != std::string::npos);
        }
    }

    TEST_CASE("read_token_response maps token endpoint answers") {
        const auto now = tv::clock::now();
        const auto ok = tv::read_token_response(
            R"({"access_token":"a1","token_type":"Bearer","expires_in":60,"refresh_token":"r1","scope":"x y"})",
            now);
        REQUIRE(ok.outcome() == tv::refresh_outcome::refreshed);
        auto issued = ok;
        CHECK(issued.issued().access_token.reveal() == "a1");
        REQUIRE(issued.issued().expires_at);
        CHECK(*issued.issued().expires_at - now == std::chrono::duration_cast<tv::clock::duration>(60s));
        CHECK(issued.issued().scopes == std::vector<std::string>{"x", "y"});

        struct row {
            int status;
            const char* body;
            tv::refresh_outcome outcome;
            tv::errc code;
        };
        const row rows[] = {
            {400, R"({"error":"invalid_grant","error_description":"CANARYq7Zt"})",
             tv::refresh_outcome::rejected, tv::errc::provider_rejected},
            {401, R"({"error":"invalid_client"})", tv::refresh_outcome::failed, tv::errc::provider_rejected},
            {400, R"({"error":"temporarily_unavailable"})", tv::refresh_outcome::failed,
             tv::errc::provider_unavailable},
            {200, R"({"error":"server_error"})", tv::refresh_outcome::failed, tv::errc::provider_unavailable},
            {400, R"({"error":"CANARYq7Zt <script>"})", tv::refresh_outcome::failed,
             tv::errc::provider_invalid_response},
            {503, "<html>down</html>", tv::refresh_outcome::failed, tv::errc::provider_unavailable},
            {429, "", tv::refresh_outcome::failed, tv::errc::provider_unavailable},
            {0, "", tv::refresh_outcome::failed, tv::errc::provider_unavailable},
            {404, "<html>CANARYq7Zt</html>", tv::refresh_outcome::failed,
             tv::errc::provider_invalid_response},
            {200, "<html>CANARYq7Zt</html>", tv::refresh_outcome::failed,
             tv::errc::provider_invalid_response},
            {200, R"({"token_type":"Bearer"})", tv::refresh_outcome::failed,
             tv::errc::provider_invalid_response},
            {200, R"({"access_token":"CANARYq7Zt","expires_in":-1})", tv::refresh_outcome::failed,
             tv::errc::provider_invalid_response},
            {200, R"({"access_token":"CANARYq7Zt","expires_in":"soon"})", tv::refresh_outcome::failed,
             tv::errc::provider_invalid_response},
            {200, R"([1,2])", tv::refresh_outcome::failed, tv::errc::provider_invalid_response},
        };
        for (const auto& r : rows) {
            CAPTURE(r.status);
            CAPTURE(r.body);
            const auto got = tv::read_token_response(r.body, now, r.status);
            CHECK(got.outcome() == r.outcome);
            REQUIRE(got.outcome() != tv::refresh_outcome::refreshed);
            CHECK(got.failure().code == ec(r.code));
            CHECK(got.failure().message().find(canary) == std::string::npos);
        }
        // The message names the OAuth error the server gave, and never claims another one.
        const auto client =
            tv::read_token_response(R"({"error":"invalid_client"})", now, 401).failure().message();
        CHECK(client.find("'invalid_client'") != std::string::npos);
        CHECK(client.find("kept") != std::string::npos);
        CHECK(client.find("rejected the grant") == std::string::npos);
        const std::string huge =
            R"({"access_token":"a","refresh_token":")" + std::string(1 << 20, 'R') + "\"}";
        const auto too_big = tv::read_token_response(huge, now);
        REQUIRE(too_big.outcome() == tv::refresh_outcome::failed);
        CHECK(too_big.failure().code == ec(tv::errc::provider_invalid_response));
        CHECK(tv::token_from_response(R"({"error":"access_denied"})", now, 400).code() ==
              ec(tv::errc::provider_rejected));
    }

    TEST_CASE("bad provider answers: a typed error, the store unchanged") {
        const char* modes[] = {
            "garbage",      "empty_access",        "past_expiry",       "negative_expires_in",
            "huge_refresh", "direct_huge_refresh", "direct_past_expiry"};
        for (const char* mode : modes) {
            CAPTURE(mode);
            world<event_store> w;
            tvtest::event_recorder events;
            w.store.diagnostics().set(events.sink());
            w.log_in();
            w.expire();
            const auto before = w.stored();
            w.server.configure({.refresh_mode = mode});
            auto got = w.manager.get_access_token(w.id, w.server);
            REQUIRE_FALSE(got);
            CHECK(got.code() == ec(tv::errc::provider_invalid_response));
            CHECK(got.error().message().find(canary) == std::string::npos);
            const auto after = w.stored();
            REQUIRE(after);
            CHECK(after->generation == before->generation);
            CHECK(after->token == before->token);
            CHECK(w.server.counts().authorize_calls == 1);
            for (const auto& line : events.lines()) CHECK(line.find(canary) == std::string::npos);
        }
        SUBCASE("an authorize() that returns an unusable token") {
            world w;
            struct empty_login {
                tv::refresh_result refresh(const tv::token&) { return tv::refresh_result::rejected(); }
                tv::result<tv::token> authorize() { return tv::token{}; }
            } provider;
            auto got = w.manager.get_access_token(w.id, provider);
            CHECK(got.code() == ec(tv::errc::provider_invalid_response));
            CHECK_FALSE(w.stored());
            auto login = w.manager.login(w.id, provider);
            CHECK(login.code() == ec(tv::errc::provider_invalid_response));
            CHECK_FALSE(w.stored());
        }
        SUBCASE("an id that was never logged in") {
            world w;
            w.server.configure({.authorize_mode = "not_logged_in"});
            const auto id = tvtest::id_for(77);
            auto got = w.manager.get_access_token(id, w.server);
            CHECK(got.code() == ec(tv::errc::not_logged_in));
            auto on401 = w.manager.on_unauthorized(id, tv::secret_string{"whatever"}, w.server);
            CHECK(on401.code() == ec(tv::errc::not_logged_in));
            CHECK(w.server.counts().refresh_calls == 0);
            CHECK(w.store.list()->empty());
        }
    }

    TEST_CASE("no secret reaches an error or an event") {
        world<event_store> w;
        tvtest::event_recorder events;
        w.store.diagnostics().set(events.sink());
        std::vector<std::string> messages;
        const auto note = [&](const tv::result<tv::token>& r) {
            if (!r) messages.push_back(r.error().message());
        };
        w.log_in();
        for (const char* mode :
             {"normal", "unavailable", "timeout", "invalid_grant", "garbage", "huge_refresh"}) {
            w.server.configure({.refresh_mode = mode});
            w.expire();
            note(w.manager.get_access_token(w.id, w.server));
        }
        w.server.configure({.authorize_mode = "unavailable"});
        w.expire();
        w.server.revoke_all();
        note(w.manager.get_access_token(w.id, w.server));
        note(w.manager.on_unauthorized(tvtest::id_for(8), tv::secret_string{canary}, w.server));
        CHECK(messages.size() >= 6);
        CHECK(events.lines().size() >= 10);
        for (const auto& m : messages) CHECK(m.find(canary) == std::string::npos);
        for (const auto& line : events.lines()) CHECK(line.find(canary) == std::string::npos);
    }

    TEST_CASE("shared_store and shared_manager: one instance per store location, for every thread") {
        tvtest::temp_dir a, b;
        tv::store_options in_a;
        in_a.directory = a.path();
        tv::store_options in_b;
        in_b.directory = b.path();
        std::vector<memory_store*> seen(8);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < seen.size(); ++i)
            threads.emplace_back([&, i] { seen[i] = &tv::shared_store<memory_store>(in_a); });
        for (auto& t : threads) t.join();
        CHECK(std::set<memory_store*>(seen.begin(), seen.end()).size() == 1);
        CHECK(&tv::shared_store<memory_store>(in_b) != seen[0]);
        tv::store_options spelled_differently = in_a;
        spelled_differently.directory = a.path() / "." / "sub" / "..";
        CHECK(&tv::shared_store<memory_store>(spelled_differently) == seen[0]);

        auto& manager = tv::shared_manager<memory_store>(in_a);
        CHECK(&manager == &tv::shared_manager<memory_store>(in_a));
        CHECK(&manager.store() == seen[0]);
        CHECK(&tv::shared_manager<memory_store>(in_b).store() == &tv::shared_store<memory_store>(in_b));
    }

    TEST_CASE("the provider concept") {
        static_assert(tv::token_provider<tvtest::oauth_test_server>);
        struct no_authorize {
            tv::refresh_result refresh(const tv::token&);
        };
        struct wrong_refresh {
            tv::result<tv::token> refresh(const tv::token&);
            tv::result<tv::token> authorize();
        };
        static_assert(!tv::token_provider<no_authorize>);
        static_assert(!tv::token_provider<wrong_refresh>);
        static_assert(tv::lifecycle_store<tv::presets::memory_mt>);
        static_assert(tv::lifecycle_store<tv::presets::embedded>);
        static_assert(tv::lifecycle_store<tvtest::hooked_store<tv::presets::memory_mt>>);
        CHECK(true);
    }

}  // TEST_SUITE

}  // namespace test_lifecycle
